/* --rounds N: the whole selection run N times back to back on one device,
 * then one summary line per case. On a CPU device one run of a row swings
 * by tens of percent with whatever else the machine does (and with where
 * the OS puts PoCL's threads), so a verdict such as "faster than PyTorch"
 * needs the median over rounds, each round pairing oclnn with the peer
 * measured right after it under the same conditions. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

typedef struct bench_round_row {
    char bench[24], label[48], shape[80];
    double seconds, torch_seconds;
} bench_round_row;

struct bench_rounds {
    bench_round_row *rows;
    int n, cap;
};

bench_rounds *bench_rounds_new(void) { return calloc(1, sizeof(bench_rounds)); }

void bench_rounds_free(bench_rounds *log)
{
    if (!log) return;
    free(log->rows);
    free(log);
}

void bench_rounds_add(bench_rounds *log, const bench_result *r)
{
    if (!log) return;
    if (log->n == log->cap) {
        int cap = log->cap ? 2 * log->cap : 64;
        bench_round_row *rows = realloc(log->rows, (size_t)cap * sizeof *rows);
        if (!rows) return; /* the summary then lacks this row; the table has it */
        log->rows = rows;
        log->cap = cap;
    }
    bench_round_row *row = &log->rows[log->n++];
    snprintf(row->bench, sizeof row->bench, "%s", r->bench);
    snprintf(row->label, sizeof row->label, "%s", r->label);
    snprintf(row->shape, sizeof row->shape, "%s%s%s", r->shape, r->layout[0] ? " " : "", r->layout);
    row->seconds = r->seconds;
    row->torch_seconds = r->torch_seconds;
}

static int same_case(const bench_round_row *a, const bench_round_row *b)
{
    return !strcmp(a->bench, b->bench) && !strcmp(a->label, b->label) && !strcmp(a->shape, b->shape);
}

void bench_rounds_print(const bench_rounds *log, FILE *out, int rounds)
{
    if (!log || !log->n) return;
    double *ms = malloc((size_t)log->n * 3 * sizeof *ms);
    if (!ms) return;
    double *torch_ms = ms + log->n, *ratio = torch_ms + log->n;
    fprintf(out, "\nsummary over %d rounds: median of the per-round medians; ratio = oclnn speed / PyTorch speed in "
                 "the same round\n",
            rounds);
    fprintf(out, "%-12s %-30s %-22s %6s %11s %11s %8s %13s\n", "bench", "case", "shape", "rounds", "oclnn ms",
            "torch ms", "ratio", "ratio range");
    for (int i = 0; i < log->n; i++) {
        const bench_round_row *first = &log->rows[i];
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = same_case(&log->rows[j], first);
        if (seen) continue;
        int n = 0, nt = 0;
        for (int j = i; j < log->n; j++) {
            const bench_round_row *row = &log->rows[j];
            if (!same_case(row, first)) continue;
            ms[n++] = row->seconds * 1e3;
            if (row->torch_seconds > 0) {
                torch_ms[nt] = row->torch_seconds * 1e3;
                ratio[nt++] = row->torch_seconds / row->seconds;
            }
        }
        fprintf(out, "%-12s %-30s %-22s %6d %11.3f", first->bench, first->label, first->shape, n, bench_median(ms, n));
        if (nt) {
            double t = bench_median(torch_ms, nt), q = bench_median(ratio, nt);
            fprintf(out, " %11.3f %7.2fx %6.2f-%.2fx", t, q, ratio[0], ratio[nt - 1]);
        }
        fprintf(out, "\n");
    }
    fflush(out);
    free(ms);
}
