/* oclnn embeddings: similarity, top-k search and word-vector files.
 *
 * Similarity ops (src/ops/similarity.c, cl/similarity.cl) are graph ops
 * with gradients; oclnn_knn_search is a host-level call that searches a
 * table of any size in chunks on the device. Word-vector files
 * (src/io/wordvec.c) are read into one contiguous f32 [count, dim] array,
 * ready to upload as an embedding table. */
#ifndef OCLNN_EMBEDDINGS_H
#define OCLNN_EMBEDDINGS_H

#include "oclnn/graph.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Similarity between two sets of vectors a [M, D] and b [N, D] (f32,
 * 2-D, any view) -> [M, N]:
 *   COSINE       <a_i, b_j> / (max(|a_i|, 1e-12) max(|b_j|, 1e-12)): a zero
 *                row has similarity 0 to everything; normalise + one GEMM;
 *   SQ_EUCLIDEAN |a_i - b_j|^2 = |a_i|^2 + |b_j|^2 - 2 <a_i, b_j>, one GEMM
 *                plus the norms, clamped at 0 (rounding); the gradient
 *                ignores the clamp;
 *   DOT          <a_i, b_j>, one GEMM.
 * Gradients flow to both a and b. NaN in a row gives NaN in its scores. */
typedef enum oclnn_metric { OCLNN_METRIC_COSINE = 0, OCLNN_METRIC_SQ_EUCLIDEAN = 1, OCLNN_METRIC_DOT = 2 } oclnn_metric;
oclnn_tensor *oclnn_pairwise(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b, oclnn_metric metric);
/* Whether the metric's best matches are its largest scores (cosine, dot)
 * or its smallest (distance); -1 for an unknown metric. */
int oclnn_metric_largest(oclnn_metric metric);
const char *oclnn_metric_name(oclnn_metric metric);

/* y = x / max(|x|_2, eps) over the last axis (F.normalize(x, dim=-1));
 * eps <= 0 means 1e-12. Rows with norm <= eps come out as x / eps. */
oclnn_tensor *oclnn_l2_normalize(oclnn_graph *g, oclnn_tensor *x, float eps);

/* Top-k along the last axis of scores [..., N] (f32, any view): the values
 * [..., k] (the returned tensor) and, in *indices, their columns [..., k]
 * as i32 (an output without gradient; mark it with oclnn_graph_output to
 * read it). largest != 0: the k largest, else the k smallest. Sorted best
 * first; exact ties (-0 equals +0) go to the lower index, so results are
 * deterministic. NaN ranks after every number in both orders (ties among
 * NaNs by index): NaNs come out only when fewer than k numbers exist.
 * 1 <= k <= min(N, 1024). The gradient of the values goes to the selected
 * scores (zeros elsewhere). A radix selection kernel, not a sort; a long
 * row is split over several work-groups whose candidates are merged. */
#define OCLNN_TOPK_MAX 1024
oclnn_tensor *oclnn_topk(oclnn_graph *g, oclnn_tensor *scores, int64_t k, int largest, oclnn_tensor **indices);

/* Brute-force k nearest neighbours of m queries [m, dim] among n table rows
 * [n, dim] (host row-major f32): values [m, k] and indices [m, k] (rows of
 * the table), best first, ordered as oclnn_topk orders them (the metric
 * says largest or smallest). The table need not fit one device allocation:
 * it is uploaded chunk_rows rows at a time (0: as many as the device's
 * allocation limit allows), each chunk is scored (one GEMM) and
 * top-k-selected on the device, and the per-chunk lists are merged
 * exactly on the host (ties still go to the lower table row).
 * 1 <= k <= min(n, OCLNN_TOPK_MAX), n <= INT32_MAX. */
oclnn_status oclnn_knn_search(oclnn_context *ctx, const float *queries, int64_t m, const float *table, int64_t n,
                              int64_t dim, int64_t k, oclnn_metric metric, int64_t chunk_rows, float *values,
                              int32_t *indices);

#ifdef __cplusplus
}
#endif
#endif
