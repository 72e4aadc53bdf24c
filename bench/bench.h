/* oclnn bench: shared state, timing and reporting for benchmark workloads.
 *
 * A workload is one function `oclnn_status bench_<name>(bench_env *env)`
 * (in bench/<file>.c) plus one line in the table in bench/bench.c. It
 * builds graphs on env->ctx, times them with bench_time_graph() and hands
 * each measurement to bench_report(), which prints the table row and the
 * JSON line. It returns non-OK only when the device is unusable for the
 * rest of the run; a failed measurement is reported with bench_fail() and
 * the workload goes on with the next one.
 *
 * Timing is wall clock (CLOCK_MONOTONIC) around oclnn_graph_run +
 * oclnn_context_finish: PoCL's event timestamps are wrong. Only kernels are
 * timed: graphs are compiled, inputs filled and a warm-up run done first. */
#ifndef OCLNN_BENCH_H
#define OCLNN_BENCH_H

#include <stdio.h>

#include "cli.h"
#include "oclnn/oclnn.h"

/* The PyTorch reference process of --compare-pytorch (bench/bench_torch.c). */
typedef struct bench_torch {
    int pid;
    FILE *in, *out;
    char version[256]; /* "torch 2.x, 2 threads" as the server announced itself */
} bench_torch;

/* The rows of every round of --rounds, for the summary (bench_rounds.c). */
typedef struct bench_rounds bench_rounds;

typedef struct bench_env {
    oclnn_context *ctx;
    const oclnn_device_info *dev;
    char date[32];           /* ISO 8601 UTC, when this device's run began */
    int repeat;              /* timed runs per measurement (median reported) */
    int quick, tiny;         /* smaller problems: --quick for a short look, --tiny for tests */
    const long long *sizes;  /* square SGEMM sizes from --sizes, or NULL for the defaults */
    int nsizes;
    FILE *table;             /* human-readable rows */
    FILE *json;              /* JSON lines, or NULL */
    cli_progress progress;   /* "running ..." line, shown on a terminal only */
    int failures;            /* measurements that failed or gave wrong results */
    double host_load;        /* 1-minute load average at the start, -1 if unknown */
    bench_torch *torch;      /* --compare-pytorch: the reference process, else NULL */
    int round, rounds;       /* --rounds: this round (1-based) of how many */
    bench_rounds *log;       /* every reported row when rounds > 1, else NULL */
} bench_env;

/* One measurement. flops / bytes are the work of one run (0: not
 * meaningful for this bench); the report turns them into GFLOP/s and GB/s. */
typedef struct bench_result {
    const char *bench;  /* "sgemm", "add", ... */
    const char *label;  /* which case: "square", "bert.ffn_up", ... */
    char shape[64];     /* "256x256x256" (M x N x K for GEMMs) */
    char layout[8];     /* "NT" etc. for GEMMs, "" otherwise */
    double seconds;     /* median of the timed runs */
    double min_seconds;
    int repeats;
    double flops, bytes;
    double images;      /* images processed per run (model workloads), 0 otherwise */
    int check_failed;   /* the spot check of the output disagreed with the host */
    double torch_seconds; /* --compare-pytorch: PyTorch's median on the same workload, 0 if none */
} bench_result;

double bench_now(void);
/* Sorts v[0..n) (n >= 1) in place and returns its median; v[0] is then the minimum. */
double bench_median(double *v, int n);

/* Warm-up run, then env->repeat timed runs of a compiled graph. */
oclnn_status bench_time_graph(bench_env *env, oclnn_graph *g, bench_result *r);
/* The same for a training step: zero_grad, run (forward + backward) and
 * the optimizer's update, all inside the timing. */
oclnn_status bench_time_train_step(bench_env *env, oclnn_graph *g, oclnn_optimizer *opt, bench_result *r);

/* Prints the row and the JSON line; counts a failed check. */
void bench_report(bench_env *env, const bench_result *r);
/* Reports a measurement that could not be made ("error" in JSON). */
void bench_fail(bench_env *env, const char *bench, const char *label, const char *shape, const char *why);
/* A note under the table (skipped sizes and the like). */
void bench_note(bench_env *env, const char *fmt, ...) CLI_PRINTF(2, 3);
/* "running <what>" on the progress line (terminal only). */
void bench_progress(bench_env *env, const char *what);

/* Whether `bytes` of device buffers (largest single one `largest`) fit the
 * device; if not, notes the skip and returns 0. */
int bench_fits(bench_env *env, const char *what, double bytes, double largest);

/* Sanity check of a timed output whose elements must all lie in
 * [-bound, bound] and not all be zero: 0 if so, 1 if an element is out of
 * range, NaN or unreadable (an unwritten or wrong result shows). */
int bench_check_bounded(oclnn_tensor *y, float bound);

/* --compare-pytorch: starts bench/pytorch_reference.py --serve with the
 * given torch thread count (CLI exit status, message printed), times one
 * request ("gemm M N K TA TB REPEAT"; 0, or 1 with the reason in why), and
 * stops it. */
int bench_torch_start(bench_torch *t, int threads);
int bench_torch_time(bench_torch *t, const char *request, double *median, double *min, char *why, size_t why_size);
void bench_torch_stop(bench_torch *t);

/* ---- Workloads */
bench_rounds *bench_rounds_new(void);
void bench_rounds_free(bench_rounds *log);
/* Keeps r's case, time and PyTorch's time (NULL log: nothing). */
void bench_rounds_add(bench_rounds *log, const bench_result *r);
/* One line per case: rounds, median ms, PyTorch's median ms, the median
 * ratio and its range over the rounds. */
void bench_rounds_print(const bench_rounds *log, FILE *out, int rounds);

typedef struct bench_workload {
    const char *name;
    const char *summary;
    oclnn_status (*run)(bench_env *env);
} bench_workload;

oclnn_status bench_sgemm(bench_env *env);       /* square SGEMMs, growing until a run takes > 2 s */
oclnn_status bench_sgemm_dl(bench_env *env);    /* GEMM shapes of SimpleCNN and BERT-base layers */
oclnn_status bench_elementwise(bench_env *env); /* add and scale bandwidth */
oclnn_status bench_softmax(bench_env *env);     /* row softmax bandwidth */
oclnn_status bench_conv(bench_env *env);        /* conv2d fwd and fwd+bwd per algorithm (bench/bench_cnn.c) */
oclnn_status bench_simplecnn(bench_env *env);   /* SimpleCNN training and inference images/s */
oclnn_status bench_ops(bench_env *env);         /* the other op families, GB/s (bench/bench_ops.c) */
oclnn_status bench_rnn(bench_env *env);         /* LSTM and GRU fwd and fwd+bwd (bench/bench_rnn.c) */
oclnn_status bench_minilm(bench_env *env);      /* all-MiniLM-L6-v2 sentences/s, batch 1 and 32 (bench/bench_bert.c) */
oclnn_status bench_attention(bench_env *env);   /* SDPA fused/unfused, LayerNorm, GELU (bench/bench_attention.c) */
oclnn_status bench_embedding(bench_env *env);   /* embedding lookup GB/s, top-10 cosine search (bench/bench_embedding.c) */
oclnn_status bench_word2vec(bench_env *env);    /* word2vec training words/s, run by bench_embedding (bench/bench_word2vec.c) */

#endif
