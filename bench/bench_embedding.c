/* Embedding workloads: oclnn_embedding lookups and top-10 cosine search
 * over word-vector-sized tables. bench/pytorch_reference.py --only
 * embedding times the same cases (F.embedding with sparse=True, and
 * torch.topk over a normalised matmul).
 *
 * Lookup: a table [V, D] (a param whose gradient is row-sparse, as
 * sparse=True) and a batch of 64 x 128 i64 ids, uniform over the table.
 *   fwd    y = table[ids] (eval graph);
 *   train  forward + backward of sum(y * r) into the table's row-sparse
 *          gradient (no optimizer step).
 * GB/s counts the bytes that must move: fwd reads the ids and n*D table
 * values and writes n*D outputs (8 n + 8 n D bytes); train adds the
 * backward's read of the ids, of n*D output gradients and its n*D writes
 * (at most n rows), i.e. twice the forward's bytes. The mul/sum of the loss
 * are timed too (PyTorch's run has the same ones) but not counted.
 *
 * Search: top-10 by cosine of m queries against a table of n rows held in
 * an oclnn_knn_index (uploaded and L2-normalised once, not timed). Timed
 * per batch, oclnn_knn_index_search: upload of the m queries, their
 * normalisation, the scores (one GEMM per chunk of the table, the
 * [m, chunk] scores within oclnn_knn_score_bytes), top-10 per chunk on the
 * device, reading the per-chunk lists back and merging them on the host.
 * Reported as queries/s (the img/s column) and GFLOP/s of the GEMMs
 * (2 m n D). A second row per case times oclnn_knn_search, whose table
 * lives on the host: it uploads and normalises the whole table at every
 * call. Bench-only knobs: OCLNN_KNN_SCORE_MB overrides the chunk budget,
 * OCLNN_KNN_NO_FUSED=1 turns off the fused scan of a few queries.
 * Check: each query is a (scaled) table row; its top-1 must be that row
 * with cosine ~1, and the top-10 of two queries must equal a host
 * brute-force search.
 *
 * word2vec training words/s closes the workload (bench/bench_word2vec.c). */
#include "bench.h"
#include "core/error.h"
#include "ops/similarity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LOOKUP_BATCH = 64, LOOKUP_LEN = 128, TOPK = 10 };

typedef struct table_case {
    const char *label;
    int64_t rows, dim;
} table_case;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A deterministic table value in [-1, 1), so any row can be recomputed. */
static float table_value(int64_t row, int64_t col, int64_t dim)
{
    return (float)((double)(mix64((uint64_t)(row * dim + col) + 0x9E3779B97F4A7C15ull) >> 11) * 0x1p-52 - 1.0);
}

static float *make_table(const table_case *c)
{
    float *t = malloc((size_t)(c->rows * c->dim) * sizeof *t);
    for (int64_t i = 0; t && i < c->rows * c->dim; i++) t[i] = table_value(i / c->dim, i % c->dim, c->dim);
    return t;
}

/* ---- Lookup */

/* fwd: every output row equals its table row. train: the gradient entries
 * summed per row equal (runs) x the host's per-row sum of r. */
static int lookup_check(const table_case *c, const int64_t *ids, const float *r, oclnn_tensor *y,
                        oclnn_tensor *table, int runs)
{
    int64_t n = LOOKUP_BATCH * LOOKUP_LEN, D = c->dim, count = 0;
    float *hy = malloc((size_t)(n * D) * sizeof *hy);
    int bad = !hy || oclnn_tensor_read(y, hy, (size_t)(n * D) * sizeof *hy);
    for (int64_t i = 0; i < n * D && !bad; i++) bad = hy[i] != table_value(ids[i / D], i % D, D);
    free(hy);
    if (bad || !r) return bad;
    int32_t *slot = malloc((size_t)c->rows * sizeof *slot), *rows = NULL;
    double *want = calloc((size_t)(n * D), sizeof *want), *got = calloc((size_t)(n * D), sizeof *got);
    float *vals = NULL;
    bad = !slot || !want || !got || oclnn_sparse_grad_read(table, NULL, NULL, 0, &count);
    if (!bad) {
        rows = malloc((size_t)(count ? count : 1) * sizeof *rows);
        vals = malloc((size_t)(count ? count * D : 1) * sizeof *vals);
        bad = !rows || !vals || oclnn_sparse_grad_read(table, rows, vals, count, &count);
    }
    if (!bad) memset(slot, 0xff, (size_t)c->rows * sizeof *slot); /* -1: not looked up */
    for (int64_t i = 0; i < n && !bad; i++) slot[ids[i]] = (int32_t)i; /* any position of the row */
    for (int64_t i = 0; i < n && !bad; i++)
        for (int64_t k = 0; k < D; k++) want[slot[ids[i]] * D + k] += (double)runs * r[i * D + k];
    for (int64_t e = 0; e < count && !bad; e++) {
        bad = rows[e] < 0 || rows[e] >= c->rows || slot[rows[e]] < 0;
        for (int64_t k = 0; k < D && !bad; k++) got[slot[rows[e]] * D + k] += vals[e * D + k];
    }
    for (int64_t i = 0; i < n * D && !bad; i++) bad = !(fabs(got[i] - want[i]) <= 1e-4 * (1 + fabs(want[i])));
    free(slot);
    free(rows);
    free(vals);
    free(want);
    free(got);
    return bad;
}

static void lookup_one(bench_env *env, const table_case *c, int train)
{
    int64_t n = LOOKUP_BATCH * LOOKUP_LEN, D = c->dim;
    char label[64];
    snprintf(label, sizeof label, "lookup.%s.%s", c->label, train ? "train" : "fwd");
    bench_result br = {.bench = "embedding", .label = label};
    snprintf(br.shape, sizeof br.shape, "%lldx%lld ids %dx%d", (long long)c->rows, (long long)D, LOOKUP_BATCH,
             LOOKUP_LEN);
    if (!bench_fits(env, label, (double)(c->rows * D) * 4 * 1.5, (double)(c->rows * D) * 4)) return;
    bench_progress(env, label);
    int64_t *ids = malloc((size_t)n * sizeof *ids);
    float *r = malloc((size_t)(n * D) * sizeof *r), *host = make_table(c);
    oclnn_graph *g = oclnn_graph_create(env->ctx);
    oclnn_tensor *table = oclnn_param(g, "emb.weight", 2, (const int64_t[]){c->rows, D});
    oclnn_tensor *tid = oclnn_input(g, "ids", OCLNN_DTYPE_I64, 2, (const int64_t[]){LOOKUP_BATCH, LOOKUP_LEN});
    oclnn_tensor *y = oclnn_embedding(g, table, tid, -1), *tr = NULL;
    oclnn_status s = ids && r && host ? OCLNN_OK : oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "out of host memory");
    if (!s && train) s = oclnn_param_set_sparse_grad(table, env->repeat + 1);
    if (!s) s = oclnn_graph_output(g, y);
    if (!s && train) {
        tr = oclnn_input(g, "r", OCLNN_DTYPE_F32, 3, (const int64_t[]){LOOKUP_BATCH, LOOKUP_LEN, D});
        s = oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, y, tr)));
    } else if (!s) {
        s = oclnn_graph_set_training(g, 0);
    }
    if (!s) s = oclnn_graph_compile(g, NULL);
    uint64_t state = 12345;
    for (int64_t i = 0; !s && i < n; i++) ids[i] = (int64_t)(mix64(state += 0x9E3779B97F4A7C15ull) % (uint64_t)c->rows);
    for (int64_t i = 0; !s && i < n * D; i++) r[i] = table_value(i, 7, 1);
    if (!s) s = oclnn_tensor_write(table, host, (size_t)(c->rows * D) * sizeof *host);
    if (!s) s = oclnn_tensor_write(tid, ids, (size_t)n * sizeof *ids);
    if (!s && tr) s = oclnn_tensor_write(tr, r, (size_t)(n * D) * sizeof *r);
    if (!s) s = oclnn_graph_zero_grad(g);
    free(host); /* the check recomputes the values */
    br.bytes = (8.0 * n + 8.0 * n * D) * (train ? 2 : 1);
    if (!s) s = bench_time_graph(env, g, &br);
    if (!s) {
        br.check_failed = lookup_check(c, ids, train ? r : NULL, y, table, env->repeat + 1);
        bench_report(env, &br);
    } else {
        bench_fail(env, "embedding", label, br.shape, oclnn_last_error());
    }
    oclnn_graph_release(g);
    free(ids);
    free(r);
}

/* ---- Search */

/* Query q is table row (q * 7919 + 13) mod n, times 3 (cosine ignores it). */
static int64_t query_row(int64_t q, int64_t n) { return (q * 7919 + 13) % n; }

static int search_check(const float *normalised, int64_t n, int64_t D, int64_t m, const float *values,
                        const int32_t *indices)
{
    for (int64_t q = 0; q < m; q++)
        if (indices[q * TOPK] != query_row(q, n) || !(fabsf(values[q * TOPK] - 1.0f) < 1e-4f)) return 1;
    int64_t probes[2] = {0, m - 1};
    for (int p = 0; p < 2; p++) { /* host top-10 in double, by insertion */
        const float *x = normalised + query_row(probes[p], n) * D;
        double best[TOPK];
        int64_t at[TOPK];
        for (int o = 0; o < TOPK; o++) best[o] = -INFINITY, at[o] = -1;
        for (int64_t j = 0; j < n; j++) {
            double dot = 0;
            for (int64_t k = 0; k < D; k++) dot += (double)x[k] * normalised[j * D + k];
            int o = TOPK;
            while (o > 0 && dot > best[o - 1]) o--;
            if (o == TOPK) continue;
            memmove(best + o + 1, best + o, (size_t)(TOPK - 1 - o) * sizeof *best);
            memmove(at + o + 1, at + o, (size_t)(TOPK - 1 - o) * sizeof *at);
            best[o] = dot;
            at[o] = j;
        }
        for (int o = 0; o < TOPK; o++) {
            const float *got = values + probes[p] * TOPK;
            /* A near-tie may swap places: compare scores, and rows where clear. */
            if (!(fabs(got[o] - best[o]) < 1e-5)) return 1;
            if (indices[probes[p] * TOPK + o] != at[o] && (o + 1 >= TOPK || best[o] - best[o + 1] > 1e-5) &&
                (o == 0 || best[o - 1] - best[o] > 1e-5))
                return 1;
        }
    }
    return 0;
}

static void search_report(bench_env *env, const char *label, const table_case *c, int64_t m, double *times,
                          int check_failed)
{
    bench_result br = {.bench = "embedding", .label = label, .repeats = env->repeat};
    snprintf(br.shape, sizeof br.shape, "%lldx%lld q%lld k%d", (long long)c->rows, (long long)c->dim,
             (long long)m, TOPK);
    br.seconds = bench_median(times, env->repeat);
    br.min_seconds = times[0];
    br.flops = 2.0 * m * c->rows * c->dim;
    br.images = (double)m; /* queries per run: the img/s column is queries/s */
    br.check_failed = check_failed;
    bench_report(env, &br);
}

static void search_case(bench_env *env, const table_case *c, const float *normalised, const float *host, int64_t m)
{
    int64_t n = c->rows, D = c->dim;
    char label[64], knn_label[64];
    snprintf(label, sizeof label, "search.%s.q%lld", c->label, (long long)m);
    snprintf(knn_label, sizeof knn_label, "knn_search.%s.q%lld", c->label, (long long)m);
    bench_progress(env, label);
    oclnn_knn_index *ix = NULL;
    float *queries = malloc((size_t)(m * D) * sizeof *queries), *values = malloc((size_t)(m * TOPK) * sizeof(float));
    int32_t *indices = malloc((size_t)(m * TOPK) * sizeof *indices);
    double *times = malloc((size_t)env->repeat * sizeof *times);
    for (int64_t q = 0; queries && q < m * D; q++) queries[q] = 3.0f * host[query_row(q / D, n) * D + q % D];
    oclnn_status s = queries && values && indices && times
                         ? oclnn_knn_index_create(env->ctx, host, n, D, OCLNN_METRIC_COSINE, &ix)
                         : oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int r = -1; r < env->repeat && !s; r++) { /* r = -1: warm-up (builds the search graph) */
        double t0 = bench_now();
        s = oclnn_knn_index_search(ix, queries, m, TOPK, values, indices);
        if (r >= 0) times[r] = bench_now() - t0;
    }
    if (!s) search_report(env, label, c, m, times, search_check(normalised, n, D, m, values, indices));
    else bench_fail(env, "embedding", label, "-", oclnn_last_error());
    oclnn_knn_index_release(&ix);
    /* oclnn_knn_search: the host table is uploaded and scored per call. */
    bench_progress(env, knn_label);
    s = queries && values && indices && times ? OCLNN_OK : OCLNN_ERR_OUT_OF_MEMORY;
    for (int r = -1; r < env->repeat && !s; r++) {
        double t0 = bench_now();
        s = oclnn_knn_search(env->ctx, queries, m, host, n, D, TOPK, OCLNN_METRIC_COSINE, 0, values, indices);
        if (r >= 0) times[r] = bench_now() - t0;
    }
    if (!s) search_report(env, knn_label, c, m, times, search_check(normalised, n, D, m, values, indices));
    else bench_fail(env, "embedding", knn_label, "-", oclnn_last_error());
    free(queries);
    free(values);
    free(indices);
    free(times);
}

static void search_table(bench_env *env, const table_case *c, const int64_t *batches, int nbatches)
{
    int64_t n = c->rows, D = c->dim;
    char what[64];
    snprintf(what, sizeof what, "search.%s", c->label);
    if (!bench_fits(env, what, (double)(n * D) * 4 * 2 + (256 << 20), (double)(n * D) * 4)) return;
    float *host = make_table(c), *normalised = malloc((size_t)(n * D) * sizeof *normalised);
    if (!host || !normalised) {
        bench_fail(env, "embedding", what, "-", "out of host memory");
    } else {
        for (int64_t j = 0; j < n; j++) { /* normalised once, as a resident table would be */
            double ss = 0;
            for (int64_t k = 0; k < D; k++) ss += (double)host[j * D + k] * host[j * D + k];
            float inv = (float)(1.0 / fmax(sqrt(ss), 1e-12));
            for (int64_t k = 0; k < D; k++) normalised[j * D + k] = host[j * D + k] * inv;
        }
        for (int b = 0; b < nbatches; b++) search_case(env, c, normalised, host, batches[b]);
    }
    free(host);
    free(normalised);
}

oclnn_status bench_embedding(bench_env *env)
{
    const char *mb = getenv("OCLNN_KNN_SCORE_MB");
    if (mb && atoi(mb) > 0) oclnn_knn_score_bytes = (size_t)atoi(mb) << 20;
    const char *nf = getenv("OCLNN_KNN_NO_FUSED");
    oclnn_knn_no_fused = nf && atoi(nf) > 0;
    const table_case full[] = {{"1m_x128", 1000000, 128}, {"100k_x300", 100000, 300}};
    const table_case quick[] = {{"100k_x128", 100000, 128}, {"20k_x300", 20000, 300}};
    const table_case tiny[] = {{"2k_x16", 2000, 16}};
    const table_case *cases = env->tiny ? tiny : env->quick ? quick : full;
    int ncases = env->tiny ? 1 : 2;
    const int64_t batches[] = {1, env->tiny ? 16 : env->quick ? 256 : 1024};
    if (env->quick) bench_note(env, "embedding: --quick uses 100k x 128 and 20k x 300 tables, 256 queries");
    for (int i = 0; i < ncases; i++)
        for (int train = 0; train <= 1; train++) lookup_one(env, &cases[i], train);
    for (int i = 0; i < ncases; i++) search_table(env, &cases[i], batches, 2);
    return bench_word2vec(env);
}
