/* oclnn bench: the same workloads timed on one or every device.
 *
 * This file holds the command (options, device loop, timing, reporting)
 * and the basic workloads: SGEMM through the graph's matmul, elementwise
 * bandwidth and softmax. Bigger workloads (conv2d, model training) live in
 * their own files under bench/ and join the table below. */
#include "bench.h"
#include "core/context.h"
#include "core/error.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const bench_workload workloads[] = {
    {"sgemm", "square SGEMM 256..4096 (stops growing once a run takes > 2 s)", bench_sgemm},
    {"sgemm-dl", "GEMMs of SimpleCNN fc1 (fwd, bwd data, bwd weight) and BERT-base layers", bench_sgemm_dl},
    {"elementwise", "add (3 x 4 bytes per element) and scale (2 x 4 bytes) bandwidth", bench_elementwise},
    {"softmax", "row softmax over the last axis (2 x 4 bytes per element)", bench_softmax},
    {"conv", "conv2d of SimpleCNN and a 3x3 64->64 56x56 layer, forward and forward+backward, per algorithm",
     bench_conv},
    {"simplecnn", "SimpleCNN training step (batch 64, 256) and inference images/s", bench_simplecnn},
    {"ops", "activations, bias, reductions, log-softmax, transpose, concat, cross entropy, pooling, batch norm, "
            "dropout: forward and forward+backward GB/s",
     bench_ops},
    {"rnn", "LSTM and GRU (I 256, H 256 and I 10, H 20; 2 layers, N 64, T 100 and 50) forward and forward+backward",
     bench_rnn},
    {"minilm", "all-MiniLM-L6-v2 sentence embeddings/s (tokenize + encoder + pooling), batch 1 and 32, "
               "8-64 tokens (skipped without scripts/get-model.sh minilm)",
     bench_minilm},
    {"attention", "SDPA fused and unfused, forward and forward+backward (N 8 H 12 L 512 D 64, N 1 H 16 L 4096 D 64, "
                  "N 32 H 12 L 128 D 32); LayerNorm and GELU GB/s",
     bench_attention},
    {"embedding", "embedding lookup (1M x 128, 100k x 300; 64 x 128 ids) forward and forward+backward (row-sparse) "
                  "GB/s; top-10 cosine search, 1 and 1024 queries, resident table and oclnn_knn_search; word2vec words/s",
     bench_embedding},
};
#define NWORKLOADS ((int)(sizeof workloads / sizeof workloads[0]))

/* ---- Timing and reporting */

double bench_now(void) { return oclnn_wall_seconds(); }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static oclnn_status run_once(bench_env *env, oclnn_graph *g, oclnn_optimizer *opt, double *seconds)
{
    double t0 = bench_now();
    oclnn_status s = opt ? oclnn_graph_zero_grad(g) : OCLNN_OK;
    if (!s) s = oclnn_graph_run(g);
    if (!s && opt) s = oclnn_optimizer_step(opt);
    if (!s) s = oclnn_context_finish(env->ctx);
    *seconds = bench_now() - t0;
    return s;
}

oclnn_status bench_time_graph(bench_env *env, oclnn_graph *g, bench_result *r)
{
    return bench_time_train_step(env, g, NULL, r);
}

oclnn_status bench_time_train_step(bench_env *env, oclnn_graph *g, oclnn_optimizer *opt, bench_result *r)
{
    /* The warm-up also drains what compile and the input fills enqueued, and
     * lets CLBlast build the kernels of this shape class outside the timing. */
    double t;
    oclnn_status s = oclnn_context_finish(env->ctx);
    if (!s) s = run_once(env, g, opt, &t);
    if (s) return s;
    double *times = malloc((size_t)env->repeat * sizeof *times);
    if (!times) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int i = 0; i < env->repeat && !s; i++) s = run_once(env, g, opt, &times[i]);
    if (!s) {
        r->seconds = bench_median(times, env->repeat);
        r->min_seconds = times[0];
        r->repeats = env->repeat;
    }
    free(times);
    return s;
}

static void json_head(bench_env *env, const char *bench, const char *label, const char *shape)
{
    fprintf(env->json, "{\"device\":");
    cli_json_string(env->json, env->dev->name);
    fprintf(env->json, ",\"index\":\"%d:%d\",\"platform\":", env->dev->platform_index, env->dev->device_index);
    cli_json_string(env->json, env->dev->platform);
    fprintf(env->json, ",\"driver\":");
    cli_json_string(env->json, env->dev->driver);
    fprintf(env->json, ",\"date\":\"%s\",\"oclnn\":\"%s\",\"bench\":", env->date, OCLNN_VERSION_STRING);
    cli_json_string(env->json, bench);
    fprintf(env->json, ",\"case\":");
    cli_json_string(env->json, label);
    fprintf(env->json, ",\"shape\":");
    cli_json_string(env->json, shape);
    if (env->host_load >= 0) fprintf(env->json, ",\"host_load\":%.2f", env->host_load);
    if (env->rounds > 1) fprintf(env->json, ",\"round\":%d", env->round);
}

void bench_report(bench_env *env, const bench_result *r)
{
    cli_progress_clear(&env->progress);
    double gflops = r->flops > 0 ? r->flops / r->seconds * 1e-9 : 0;
    double gbps = r->bytes > 0 ? r->bytes / r->seconds * 1e-9 : 0;
    char shape[80], gf[32] = "-", gb[32] = "-";
    snprintf(shape, sizeof shape, "%s%s%s", r->shape, r->layout[0] ? " " : "", r->layout);
    if (r->flops > 0) snprintf(gf, sizeof gf, "%.1f", gflops);
    if (r->bytes > 0) snprintf(gb, sizeof gb, "%.1f", gbps);
    char img[32] = "", peak[32] = "", torch[80] = "";
    if (r->images > 0) snprintf(img, sizeof img, " %9.1f img/s", r->images / r->seconds);
    double peak_pct = r->flops > 0 && env->dev->peak_gflops > 0 ? 100 * gflops / env->dev->peak_gflops : 0;
    if (peak_pct > 0) snprintf(peak, sizeof peak, " %5.0f%% peak", peak_pct);
    /* ratio > 1: oclnn is faster */
    double ratio = r->torch_seconds > 0 ? r->torch_seconds / r->seconds : 0;
    if (ratio > 0 && r->flops > 0)
        snprintf(torch, sizeof torch, "  torch %7.1f GFLOP/s  %5.2fx", r->flops / r->torch_seconds * 1e-9, ratio);
    else if (ratio > 0)
        snprintf(torch, sizeof torch, "  torch %9.3f ms  %5.2fx", r->torch_seconds * 1e3, ratio);
    fprintf(env->table, "%-12s %-30s %-22s %11.3f %11.3f %10s %9s%s%s%s%s\n", r->bench, r->label, shape,
            r->seconds * 1e3, r->min_seconds * 1e3, gf, gb, img, peak, torch, r->check_failed ? "  WRONG RESULT" : "");
    fflush(env->table);
    if (r->check_failed) env->failures++;
    bench_rounds_add(env->log, r);
    if (!env->json) return;
    json_head(env, r->bench, r->label, r->shape);
    if (r->layout[0]) fprintf(env->json, ",\"layout\":\"%s\"", r->layout);
    fprintf(env->json, ",\"ms\":%.6g,\"min_ms\":%.6g,\"repeats\":%d", r->seconds * 1e3, r->min_seconds * 1e3,
            r->repeats);
    if (r->flops > 0) fprintf(env->json, ",\"gflops\":%.6g", gflops);
    if (r->bytes > 0) fprintf(env->json, ",\"gbps\":%.6g", gbps);
    if (r->images > 0) fprintf(env->json, ",\"images_per_s\":%.6g", r->images / r->seconds);
    if (peak_pct > 0) fprintf(env->json, ",\"peak_pct\":%.4g", peak_pct);
    if (ratio > 0) fprintf(env->json, ",\"torch_ms\":%.6g,\"ratio_vs_torch\":%.4g", r->torch_seconds * 1e3, ratio);
    fprintf(env->json, ",\"check\":\"%s\"}\n", r->check_failed ? "fail" : "ok");
    fflush(env->json);
}

/* The --only name that reruns a bench ("add" is in "elementwise"). */
static const char *bench_workload_of(const char *bench, const char *label)
{
    if (!strcmp(bench, "add") || !strcmp(bench, "scale")) return "elementwise";
    if (!strcmp(bench, "sgemm") && strcmp(label, "square") && strcmp(label, "-")) return "sgemm-dl";
    return bench;
}

void bench_fail(bench_env *env, const char *bench, const char *label, const char *shape, const char *why)
{
    cli_progress_clear(&env->progress);
    env->failures++;
    /* The table may be on stdout; failures belong on stderr as well. */
    cli_error("bench %s %s %s on %s failed: %s - rerun with '--only %s' to reproduce it", bench, label, shape,
              env->dev->name, why, bench_workload_of(bench, label));
    if (env->table != stderr) fprintf(env->table, "%-12s %-30s %-22s FAILED (see stderr)\n", bench, label, shape);
    if (!env->json) return;
    json_head(env, bench, label, shape);
    fprintf(env->json, ",\"error\":");
    cli_json_string(env->json, why);
    fprintf(env->json, "}\n");
    fflush(env->json);
}

void bench_note(bench_env *env, const char *fmt, ...)
{
    cli_progress_clear(&env->progress);
    va_list ap;
    va_start(ap, fmt);
    fprintf(env->table, "  note: ");
    vfprintf(env->table, fmt, ap);
    fprintf(env->table, "\n");
    va_end(ap);
    fflush(env->table);
}

void bench_progress(bench_env *env, const char *what)
{
    if (env->progress.tty) cli_progress_update(&env->progress, "  running %s ...", what);
}

int bench_check_bounded(oclnn_tensor *y, float bound)
{
    int64_t n = oclnn_tensor_numel(y);
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    if (!h) return 1;
    int bad = oclnn_tensor_read(y, h, (size_t)n * sizeof *h) != OCLNN_OK;
    double sum = 0;
    for (int64_t i = 0; i < n && !bad; i++) {
        bad = !(fabsf(h[i]) <= bound);
        sum += fabsf(h[i]);
    }
    free(h);
    return bad || !(sum > 0);
}

int bench_fits(bench_env *env, const char *what, double bytes, double largest)
{
    /* Leave a quarter of the memory to the driver, CLBlast's temp buffer
     * and whatever else runs on the device. */
    char need[32], have[32];
    if (largest > (double)env->dev->max_alloc_bytes) {
        bench_note(env, "%s skipped: a %s buffer exceeds the device's largest allocation (%s)", what,
                   cli_format_bytes((unsigned long long)largest, need, sizeof need),
                   cli_format_bytes(env->dev->max_alloc_bytes, have, sizeof have));
        return 0;
    }
    if (bytes > 0.75 * (double)env->dev->global_mem_bytes) {
        bench_note(env, "%s skipped: needs %s, over 3/4 of the device's %s", what,
                   cli_format_bytes((unsigned long long)bytes, need, sizeof need),
                   cli_format_bytes(env->dev->global_mem_bytes, have, sizeof have));
        return 0;
    }
    return 1;
}

/* ---- SGEMM */

typedef struct gemm_case {
    const char *label;
    int64_t m, n, k;
    int ta, tb;
} gemm_case;

/* Recomputes a few entries of C in double on the host. */
static int gemm_check(const gemm_case *c, const float *a, const float *b, const float *out)
{
    for (int s = 0; s < 16; s++) {
        int64_t i = (c->m - 1) * s / 15, j = (c->n - 1) * ((s * 7) % 16) / 15;
        double ref = 0, mag = 0;
        for (int64_t p = 0; p < c->k; p++) {
            double x = c->ta ? a[p * c->m + i] : a[i * c->k + p];
            double y = c->tb ? b[j * c->k + p] : b[p * c->n + j];
            ref += x * y;
            mag += fabs(x * y);
        }
        if (!(fabs(out[i * c->n + j] - ref) <= 1e-4 * mag + 1e-6)) return 1;
    }
    return 0;
}

static oclnn_status read_host(oclnn_tensor *t, float **out)
{
    size_t bytes = (size_t)oclnn_tensor_numel(t) * sizeof(float);
    *out = malloc(bytes ? bytes : 1);
    if (!*out) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "out of host memory for a %zu-byte readback", bytes);
    return oclnn_tensor_read(t, *out, bytes);
}

/* Times one GEMM; *seconds gets the median run time (0 on failure). */
static void gemm_run(bench_env *env, const gemm_case *c, double *seconds)
{
    char shape[64], what[128];
    snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)c->m, (long long)c->n, (long long)c->k);
    *seconds = 0;
    double sa = 4.0 * (double)c->m * (double)c->k, sb = 4.0 * (double)c->k * (double)c->n,
           sc = 4.0 * (double)c->m * (double)c->n;
    snprintf(what, sizeof what, "sgemm %s", shape);
    if (!bench_fits(env, what, sa + sb + sc, fmax(sa, fmax(sb, sc)))) return;
    bench_progress(env, what);

    oclnn_graph *g = oclnn_graph_create(env->ctx);
    int64_t da[2] = {c->ta ? c->k : c->m, c->ta ? c->m : c->k};
    int64_t db[2] = {c->tb ? c->n : c->k, c->tb ? c->k : c->n};
    oclnn_tensor *a = oclnn_input(g, "a", OCLNN_DTYPE_F32, 2, da);
    oclnn_tensor *b = oclnn_input(g, "b", OCLNN_DTYPE_F32, 2, db);
    oclnn_tensor *y = oclnn_matmul_t(g, a, c->ta, b, c->tb);
    bench_result r = {.bench = "sgemm", .label = c->label};
    snprintf(r.shape, sizeof r.shape, "%s", shape);
    snprintf(r.layout, sizeof r.layout, "%c%c", c->ta ? 'T' : 'N', c->tb ? 'T' : 'N');
    r.flops = 2.0 * (double)c->m * (double)c->n * (double)c->k;
    float *ha = NULL, *hb = NULL, *hy = NULL;
    oclnn_status s = g ? oclnn_graph_output(g, y) : oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "out of host memory");
    if (!s) s = oclnn_graph_compile(g, NULL);
    if (!s) s = oclnn_tensor_fill_uniform(a, 1, 0, -1, 1);
    if (!s) s = oclnn_tensor_fill_uniform(b, 1, 1, -1, 1);
    if (!s) s = bench_time_graph(env, g, &r);
    if (!s) s = read_host(a, &ha);
    if (!s) s = read_host(b, &hb);
    if (!s) s = read_host(y, &hy);
    if (!s && env->torch) {
        /* PyTorch on the same shape right after oclnn: both under the same load */
        char req[128], why[256];
        double tmin;
        snprintf(req, sizeof req, "gemm %lld %lld %lld %d %d %d", (long long)c->m, (long long)c->n, (long long)c->k,
                 c->ta, c->tb, env->repeat);
        if (bench_torch_time(env->torch, req, &r.torch_seconds, &tmin, why, sizeof why))
            bench_note(env, "sgemm %s: no PyTorch figure: %s", shape, why);
    }
    if (!s) {
        r.check_failed = gemm_check(c, ha, hb, hy);
        bench_report(env, &r);
        *seconds = r.seconds;
    } else {
        bench_fail(env, "sgemm", c->label, shape, oclnn_last_error());
    }
    free(ha);
    free(hb);
    free(hy);
    oclnn_graph_release(g);
}

oclnn_status bench_sgemm(bench_env *env)
{
    static const long long defaults[] = {256, 512, 1024, 2048, 4096}, tiny[] = {64, 128};
    const long long *sizes = env->sizes ? env->sizes : env->tiny ? tiny : defaults;
    int n = env->sizes ? env->nsizes : env->tiny ? 2 : env->quick ? 3 : 5;
    for (int i = 0; i < n; i++) {
        gemm_case c = {"square", sizes[i], sizes[i], sizes[i], 0, 0};
        double t;
        gemm_run(env, &c, &t);
        /* Explicit --sizes are all run; the default ladder stops on slow devices. */
        if (!env->sizes && t > 2.0 && i + 1 < n) {
            bench_note(env, "larger SGEMMs skipped: %lld^3 took %.1f s per run (> 2 s)", sizes[i], t);
            break;
        }
    }
    return OCLNN_OK;
}

oclnn_status bench_sgemm_dl(bench_env *env)
{
    /* Row-major with PyTorch's weight layout W[out, in]: forward is x W^T,
     * backward data dy W, backward weight dy^T x. */
    static const gemm_case cases[] = {
        {"simplecnn.fc1.fwd", 64, 1000, 3136, 0, 1},  /* [64,3136] x [1000,3136]^T */
        {"simplecnn.fc1.bwd_data", 64, 3136, 1000, 0, 0}, /* [64,1000] x [1000,3136] */
        {"simplecnn.fc1.bwd_weight", 1000, 3136, 64, 1, 0}, /* [64,1000]^T x [64,3136] */
        {"simplecnn.fc1.fwd.b256", 256, 1000, 3136, 0, 1}, /* the same at batch 256 */
        {"simplecnn.fc1.bwd_data.b256", 256, 3136, 1000, 0, 0},
        {"simplecnn.fc1.bwd_weight.b256", 1000, 3136, 256, 1, 0},
        {"minilm.attn_proj", 128, 384, 384, 0, 1},    /* all-MiniLM-L6-v2 (hidden 384) at 128 tokens */
        {"minilm.ffn_up", 128, 1536, 384, 0, 1},
        {"minilm.ffn_down", 128, 384, 1536, 0, 1},
        {"bert.attn_proj", 128, 768, 768, 0, 1},      /* 128 tokens x [768,768]^T */
        {"bert.ffn_up", 128, 3072, 768, 0, 1},        /* [128,768] x [3072,768]^T */
        {"bert.ffn_down", 128, 768, 3072, 0, 1},      /* [128,3072] x [768,3072]^T */
    };
    if (env->tiny) return OCLNN_OK; /* the square cases already cover every code path */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double t;
        gemm_run(env, &cases[i], &t);
    }
    return OCLNN_OK;
}

/* ---- Bandwidth: elementwise and softmax */

typedef enum { BW_ADD, BW_SCALE, BW_SOFTMAX } bw_kind;

static int bw_check(bw_kind kind, int64_t rows, int64_t cols, const float *x0, const float *x1, const float *y)
{
    int64_t n = rows * cols;
    for (int s = 0; s < 16; s++) {
        int64_t i = (n - 1) * s / 15;
        if (kind == BW_ADD && fabsf(y[i] - (x0[i] + x1[i])) > 1e-6f * (1 + fabsf(y[i]))) return 1;
        if (kind == BW_SCALE && fabsf(y[i] - (2.0f * x0[i] + 1.0f)) > 1e-6f * (1 + fabsf(y[i]))) return 1;
        if (kind == BW_SOFTMAX) {
            int64_t row = i / cols;
            double sum = 0;
            for (int64_t j = 0; j < cols; j++) sum += y[row * cols + j];
            if (fabs(sum - 1) > 1e-4) return 1;
        }
    }
    return 0;
}

static void bw_run(bench_env *env, bw_kind kind, int64_t rows, int64_t cols)
{
    static const char *names[] = {"add", "scale", "softmax"};
    const char *bench = names[kind];
    const char *label = kind == BW_SOFTMAX ? (cols >= 1000 ? "classifier_rows" : "attention_rows") : "contiguous";
    int64_t n = rows * cols;
    int ninputs = kind == BW_ADD ? 2 : 1;
    char shape[64], what[128];
    if (kind == BW_SOFTMAX) snprintf(shape, sizeof shape, "%lldx%lld", (long long)rows, (long long)cols);
    else snprintf(shape, sizeof shape, "%lld", (long long)n);
    snprintf(what, sizeof what, "%s %s", bench, shape);
    if (!bench_fits(env, what, 4.0 * (double)n * (ninputs + 1), 4.0 * (double)n)) return;
    bench_progress(env, what);

    oclnn_graph *g = oclnn_graph_create(env->ctx);
    int64_t dims[2] = {rows, cols};
    oclnn_tensor *x[2] = {NULL, NULL}, *y = NULL;
    for (int i = 0; i < ninputs; i++) x[i] = oclnn_input(g, i ? "b" : "a", OCLNN_DTYPE_F32, 2, dims);
    if (kind == BW_ADD) y = oclnn_add(g, x[0], x[1]);
    else if (kind == BW_SCALE) y = oclnn_scale(g, x[0], 2.0f, 1.0f);
    else y = oclnn_softmax(g, x[0]);
    bench_result r = {.bench = bench, .label = label};
    snprintf(r.shape, sizeof r.shape, "%s", shape);
    /* Bytes that must move at least once: every input read, the output written. */
    r.bytes = 4.0 * (double)n * (ninputs + 1);
    float *hx[2] = {NULL, NULL}, *hy = NULL;
    oclnn_status s = g ? oclnn_graph_output(g, y) : oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "out of host memory");
    if (!s) s = oclnn_graph_compile(g, NULL);
    for (int i = 0; i < ninputs && !s; i++) s = oclnn_tensor_fill_uniform(x[i], 2, (uint64_t)i, -4, 4);
    if (!s) s = bench_time_graph(env, g, &r);
    for (int i = 0; i < ninputs && !s; i++) s = read_host(x[i], &hx[i]);
    if (!s) s = read_host(y, &hy);
    if (!s) {
        r.check_failed = bw_check(kind, rows, cols, hx[0], hx[1], hy);
        bench_report(env, &r);
    } else {
        bench_fail(env, bench, label, shape, oclnn_last_error());
    }
    free(hx[0]);
    free(hx[1]);
    free(hy);
    oclnn_graph_release(g);
}

oclnn_status bench_elementwise(bench_env *env)
{
    int64_t n = env->tiny ? (int64_t)1 << 16 : env->quick ? (int64_t)1 << 22 : (int64_t)1 << 24;
    bw_run(env, BW_ADD, 1, n);
    bw_run(env, BW_SCALE, 1, n);
    return OCLNN_OK;
}

oclnn_status bench_softmax(bench_env *env)
{
    /* Wide rows like a 1000-class classifier, and short ones like attention
     * scores (64 sequences x 12 heads x 128 queries over 128 keys). */
    int div = env->tiny ? 256 : env->quick ? 4 : 1;
    bw_run(env, BW_SOFTMAX, 16384 / div, 1000);
    bw_run(env, BW_SOFTMAX, 98304 / div, 128);
    return OCLNN_OK;
}

/* ---- The command */

typedef struct bench_options {
    const char *device, *json_path, *only;
    long long repeat, rounds;
    int quick, tiny;
    long long sizes[16];
    int nsizes;
    int compare_pytorch;
    long long torch_threads;
    bench_torch *torch; /* running when compare_pytorch */
} bench_options;

static int selected(const bench_options *o, const char *name)
{
    if (!o->only) return 1;
    size_t len = strlen(name);
    for (const char *p = o->only; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == len && !strncmp(p, name, n)) return 1;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

/* The 1-minute load average: other processes on the machine (a build,
 * another test) distort CPU-device numbers, so results carry it. */
static double host_load(void)
{
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1) load = -1;
        fclose(f);
    }
    return load;
}

/* Runs every selected workload on one device; returns the failure count. */
static int bench_device(const bench_options *o, const char *spec, FILE *table, FILE *json)
{
    bench_env env = {.repeat = (int)o->repeat, .quick = o->quick, .tiny = o->tiny, .table = table, .json = json,
                     .torch = o->torch, .rounds = (int)o->rounds};
    if (o->nsizes) {
        env.sizes = o->sizes;
        env.nsizes = o->nsizes;
    }
    if (cli_open_context(spec, &env.ctx)) return 1;
    env.dev = oclnn_context_device(env.ctx);
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(env.date, sizeof env.date, "%Y-%m-%dT%H:%M:%SZ", &utc);
    cli_progress_init(&env.progress, table);
    env.host_load = host_load();

    const oclnn_device_info *d = env.dev;
    fprintf(table, "\n== %d:%d %s (%s)\n", d->platform_index, d->device_index, d->name, d->platform);
    fprintf(table, "   driver %s, %s, %u compute units @ %u MHz\n", d->driver, d->opencl_c_version,
            d->compute_units, d->clock_mhz);
    fprintf(table, "   date %s, oclnn %s, median of %d run%s (wall clock, after a warm-up run)\n", env.date,
            OCLNN_VERSION_STRING, env.repeat, env.repeat == 1 ? "" : "s");
    if (d->peak_gflops > 0)
        fprintf(table, "   peak %.0f GFLOP/s fp32 (estimate: %u units x %u floats x 2 FMA x %u MHz; see oclnn devices)\n",
                d->peak_gflops, d->compute_units, d->simd_floats, d->clock_mhz);
    if (env.host_load >= 0) fprintf(table, "   host load average %.2f at the start\n", env.host_load);
    if (o->torch)
        fprintf(table, "   beside it: %s, timed right after each oclnn row (ratio = oclnn speed / PyTorch speed)\n",
                o->torch->version);
    fprintf(table, "\n");
    fprintf(table, "%-12s %-30s %-22s %11s %11s %10s %9s\n", "bench", "case", "shape", "median ms", "min ms",
            "GFLOP/s", "GB/s");
    fflush(table);
    if (env.rounds > 1 && !(env.log = bench_rounds_new())) {
        cli_error("bench: out of host memory");
        env.failures++;
        env.rounds = 0;
    }
    int stop = 0;
    for (env.round = 1; env.round <= env.rounds && !stop; env.round++) {
        if (env.rounds > 1) fprintf(table, "-- round %d of %d (host load %.2f)\n", env.round, env.rounds, host_load());
        for (int i = 0; i < NWORKLOADS && !stop; i++) {
            if (!selected(o, workloads[i].name)) continue;
            if (workloads[i].run(&env)) {
                bench_fail(&env, workloads[i].name, "-", "-", oclnn_last_error());
                stop = 1;
            }
        }
    }
    cli_progress_clear(&env.progress);
    bench_rounds_print(env.log, table, env.rounds);
    bench_rounds_free(env.log);
    oclnn_context_release(env.ctx);
    return env.failures;
}

int cmd_bench(int argc, char **argv)
{
    bench_options o = {.repeat = -1, .rounds = 1, .torch_threads = -1};
    const char *sizes = NULL;
    const cli_option options[] = {
        {"device", CLI_STRING, &o.device, "D", "device to run on (gpu, cpu, P:D, part of a name) or 'all'", 0, 0},
        {"quick", CLI_FLAG, &o.quick, NULL, "smaller problems: SGEMM up to 1024, 4M-element vectors", 0, 0},
        {"repeat", CLI_INT, &o.repeat, "N", "timed runs per measurement, median reported (default 5)", 1, 1000},
        {"rounds", CLI_INT, &o.rounds, "N",
         "run the selection N times back to back and end with the median of each row over the rounds "
         "(and of its ratio to PyTorch with --compare-pytorch)",
         1, 100},
        {"json", CLI_STRING, &o.json_path, "FILE", "also write one JSON object per measurement ('-': stdout)", 0, 0},
        {"sizes", CLI_STRING, &sizes, "N,N,...", "square SGEMM sizes to run instead of the default ladder", 0, 0},
        {"only", CLI_STRING, &o.only, "W,W,...", "run only these workloads (see the list above)", 0, 0},
        {"compare-pytorch", CLI_FLAG, &o.compare_pytorch, NULL,
         "time PyTorch on the same GEMMs right after each oclnn row and print the ratio "
         "(bench/setup-torch-venv.sh; $OCLNN_TORCH_VENV or $OCLNN_TORCH_PYTHON pick the Python)",
         0, 0},
        {"torch-threads", CLI_INT, &o.torch_threads, "N", "PyTorch's threads (default: the machine's cores)", 1, 1024},
        {"tiny", CLI_FLAG, &o.tiny, NULL, NULL, 0, 0}, /* hidden: seconds-long run for the tests */
        {0},
    };
    char description[1024];
    int len = snprintf(description, sizeof description,
                       "Times kernels through the library's graphs (compile once, warm-up run, then\n"
                       "the median of N runs by wall clock around run + finish) and prints a table\n"
                       "per device. Workloads:\n");
    for (int i = 0; i < NWORKLOADS && len < (int)sizeof description; i++)
        len += snprintf(description + len, sizeof description - (size_t)len, "  %-12s %s\n", workloads[i].name,
                        workloads[i].summary);
    if (len > 0 && len < (int)sizeof description) description[len - 1] = 0;
    const cli_spec spec = {"bench", NULL, description, options, 0, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc >= 0) return rc;
    if (o.repeat < 0) o.repeat = o.tiny ? 2 : 5;
    if (sizes && (rc = cli_parse_int_list("bench", "--sizes", sizes, 1, 65536, o.sizes, 16, &o.nsizes))) return rc;
    if (o.only) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", o.only);
        for (char *save = NULL, *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
            int known = 0;
            for (int i = 0; i < NWORKLOADS; i++) known |= !strcmp(w, workloads[i].name);
            if (!known) return cli_usage_error("bench", "--only: unknown workload '%s'", w);
        }
    }

    FILE *json = NULL, *table = stdout;
    if (o.json_path && !strcmp(o.json_path, "-")) {
        json = stdout;
        table = stderr; /* stdout stays pure JSON lines for pipes */
    } else if (o.json_path) {
        json = fopen(o.json_path, "w");
        if (!json) {
            cli_error("cannot write '%s': %s - check the path and permissions", o.json_path, strerror(errno));
            return CLI_EXIT_FAIL;
        }
    }

    bench_torch torch;
    if (o.compare_pytorch) {
        if (o.torch_threads <= 0) o.torch_threads = sysconf(_SC_NPROCESSORS_ONLN);
        rc = bench_torch_start(&torch, (int)(o.torch_threads > 0 ? o.torch_threads : 1));
        if (rc) {
            if (json && json != stdout) fclose(json);
            return rc;
        }
        o.torch = &torch;
    }
    int failures = 0;
    if (o.device && !strcmp(o.device, "all")) {
        oclnn_device_info *devs;
        int n;
        if (oclnn_devices_list(&devs, &n)) {
            failures = 1;
            cli_fail("cannot list OpenCL devices");
        } else {
            for (int i = 0; i < n; i++) {
                char spec_pd[32];
                snprintf(spec_pd, sizeof spec_pd, "%d:%d", devs[i].platform_index, devs[i].device_index);
                failures += bench_device(&o, spec_pd, table, json);
            }
            free(devs);
        }
    } else {
        failures = bench_device(&o, o.device, table, json);
    }
    if (o.torch) bench_torch_stop(o.torch);
    if (json && json != stdout && fclose(json)) {
        cli_error("writing '%s' failed: %s - check the free disk space", o.json_path, strerror(errno));
        failures++;
    }
    return failures ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
