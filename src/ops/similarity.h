/* Internal knobs of the similarity family (src/ops/similarity.c), for tests. */
#ifndef OCLNN_OPS_SIMILARITY_H
#define OCLNN_OPS_SIMILARITY_H

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

/* The order top-k uses, on the host: true when (a, ia) comes before
 * (b, ib). Larger (largest) or smaller values first, -0 equal to +0, NaN
 * after every number, equal values by lower index. */
int oclnn_topk_before(float a, int64_t ia, float b, int64_t ib, int largest);

/* Bytes of [m, chunk] scores per chunk of an oclnn_knn_index search (the
 * chunk rows follow from it): small enough that the GEMM's output is still
 * in cache when the top-k reads it. A variable so benches can compare. */
extern size_t oclnn_knn_score_bytes;

#endif
