/* Row-sparse gradient accumulators (parameters marked with
 * oclnn_param_set_sparse_grad; written by embedding backward nodes, read by
 * the optimizers and oclnn_sparse_grad_read).
 *
 * Layout: each embedding node that reads the table appends, once per run,
 * one *segment*: the unique rows its ids touched, sorted ascending, with the
 * sum of their gradient rows (coalesced on the device without atomics).
 * Segment k occupies entries [seg[k], seg[k+1]) of rows/values; seg[0] is 0
 * from allocation on and is never written. A row may therefore appear in
 * several segments (once per run and per node), never twice in one, so a
 * reader coalesces an entry by binary searches in the other segments, in
 * segment order: the result is deterministic.
 *
 * Capacity is fixed at compile: per_run rows (the id counts of all nodes
 * feeding the table) times max_runs. The host counts the segments and their
 * row bound since the last zero_grad (nseg, upper); clearing is resetting
 * those two numbers, whatever the table's size. */
#ifndef OCLNN_SPARSE_GRAD_H
#define OCLNN_SPARSE_GRAD_H

#include "graph/graph.h"

typedef struct oclnn_sparse_grad {
    int max_runs;          /* runs the accumulator holds between zero_grads */
    int nodes;             /* embedding nodes appending to it per run */
    int64_t per_run;       /* rows they may append per run (sum of their id counts) */
    int64_t cols;          /* D: the table's row length */
    oclnn_tensor *rows;    /* i32 [max_runs * per_run]: row index of each entry */
    oclnn_tensor *values;  /* f32 [max_runs * per_run, D]: gradient row of each entry */
    oclnn_tensor *seg;     /* i32 [max_runs * nodes + 1]: segment starts */
    int nseg;              /* host: segments appended since the last zero_grad */
    int64_t upper;         /* host: rows those segments may hold (their id counts) */
} oclnn_sparse_grad;

/* Grows (or creates) the accumulator of a sparse param for one more node
 * reading n ids per run; a graph error when it would pass 2^31 - 1 values. */
oclnn_sparse_grad *oclnn_sparse_grad_reserve(oclnn_graph *g, oclnn_tensor *param, int64_t n, const char *op);
/* Room for one more run of every node? Fails naming the param otherwise. */
oclnn_status oclnn_sparse_grad_check_room(const oclnn_tensor *param, const char *op);
/* Forgets every entry (zero_grad). NULL is ignored. */
void oclnn_sparse_grad_clear(oclnn_sparse_grad *sg);

#endif
