/* Internal knobs of the similarity family (src/ops/similarity.c), for tests. */
#ifndef OCLNN_OPS_SIMILARITY_H
#define OCLNN_OPS_SIMILARITY_H

#include "oclnn/graph.h"

#include <stddef.h>
#include <stdint.h>

/* When > 0, oclnn_topk splits every row into this many parts (clamped so
 * each part holds at least k elements) and merges their candidates in a
 * second pass, whatever the sizes: tests use it to run the two-stage path
 * on small rows. 0 (the default): chosen from the sizes and the device. */
extern int oclnn_topk_force_parts;

/* When > 0 (at most 64, a power of two), the small-k top-k kernel runs
 * this many work items per group whatever the row length (each keeps a
 * list of its best k, even of a stretch shorter than k): tests use it to
 * exercise the merge of many lists on short rows. 0: from the sizes. */
extern int oclnn_topk_force_wg;

/* Fused dot scores and top-k for a few queries (oclnn_knn_index's path
 * for m <= OCLNN_KNN_SCAN_MAX_M, k <= 32): values [m, k] = the k best
 * <q_i, t_j> over the rows j of t [n, D] and their rows in *indices,
 * ordered as oclnn_topk orders them; the [m, n] scores never exist. No
 * gradient. */
#define OCLNN_KNN_SCAN_MAX_M 4
oclnn_tensor *oclnn_knn_scan_dot(oclnn_graph *g, oclnn_tensor *q, oclnn_tensor *t, int64_t k, int largest,
                                 oclnn_tensor **indices);

/* Divides every row of t (f32 [rows, D], contiguous, offset 0, a compiled
 * graph's tensor) by max(|row|, 1e-12) in place on the device and waits. */
oclnn_status oclnn_l2_normalize_rows(oclnn_context *ctx, oclnn_tensor *t);

/* The order top-k uses, on the host: true when (a, ia) comes before
 * (b, ib). Larger (largest) or smaller values first, -0 equal to +0, NaN
 * after every number, equal values by lower index. */
int oclnn_topk_before(float a, int64_t ia, float b, int64_t ib, int largest);

/* Bytes of [m, chunk] scores per chunk of an oclnn_knn_index search (the
 * chunk rows follow from it): small enough that the GEMM's output is still
 * in cache when the top-k reads it. A variable so benches can compare. */
extern size_t oclnn_knn_score_bytes;

/* When nonzero, oclnn_knn_index searches never take the fused scan (tests
 * and benches compare the two paths). */
extern int oclnn_knn_no_fused;

#endif
