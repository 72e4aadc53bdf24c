/* A table resident on the device for repeated k-NN searches
 * (include/oclnn/embeddings.h), and oclnn_knn_search as one search of a
 * temporary index.
 *
 * The table lives as params "knn.piece<p>" of a store graph (pieces within
 * the device's allocation limit); a search graph for one (m, k) shares
 * them (oclnn_graph_share_params) and holds, per chunk of a piece, the
 * scores [m, chunk] (one GEMM) and their top-k. The chunk lists are merged
 * on the host. */
#include "core/error.h"
#include "graph/graph.h"
#include "oclnn/embeddings.h"
#include "oclnn/ops.h"
#include "ops/similarity.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t oclnn_knn_score_bytes = (size_t)64 << 20;
int oclnn_knn_no_fused = 0;

struct oclnn_knn_index {
    oclnn_context *ctx;
    oclnn_metric metric;
    int64_t n, dim, piece; /* piece: rows per stored piece */
    int npieces;
    oclnn_graph *store;
    /* the search graph for (gm, gk) */
    oclnn_graph *g;
    int64_t gm, gk;
    oclnn_tensor *q;
    int nlists;
    oclnn_tensor **v, **i;
    int64_t *base, *len; /* per list: first table row, entries per query */
    float *cv;           /* [nlists][gm][len] read back */
    int32_t *ci;
    int64_t *at; /* per list: next entry in the merge */
};

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static void search_graph_free(oclnn_knn_index *ix)
{
    oclnn_graph_release(ix->g);
    free(ix->v);
    free(ix->i);
    free(ix->base);
    free(ix->len);
    free(ix->cv);
    free(ix->ci);
    free(ix->at);
    ix->g = NULL;
    ix->v = ix->i = NULL;
    ix->base = ix->len = ix->at = NULL;
    ix->cv = NULL;
    ix->ci = NULL;
    ix->gm = ix->gk = 0;
    ix->nlists = 0;
}

void oclnn_knn_index_release(oclnn_knn_index **index)
{
    if (!index || !*index) return;
    oclnn_knn_index *ix = *index;
    search_graph_free(ix);
    oclnn_graph_release(ix->store);
    free(ix);
    *index = NULL;
}

/* piece_rows: rows per stored piece, 0 for the allocation limit. */
static oclnn_status index_create(oclnn_context *ctx, const float *table, int64_t n, int64_t dim,
                                 oclnn_metric metric, int64_t piece_rows, oclnn_knn_index **out)
{
    if (!out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_knn_index_create: out is NULL");
    *out = NULL;
    if (!ctx || !table) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_knn_index_create: NULL argument");
    if (oclnn_metric_largest(metric) < 0)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_knn_index_create: unknown metric %d", (int)metric);
    if (n < 1 || dim < 1 || n > INT32_MAX || dim > INT_MAX || piece_rows < 0)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_knn_index_create: bad sizes (n %lld rows of dim %lld)",
                          (long long)n, (long long)dim);
    int64_t piece = (int64_t)(ctx->info.max_alloc_bytes / sizeof(float)) / dim;
    if (piece > INT_MAX / dim) piece = INT_MAX / dim;
    if (piece_rows && piece_rows < piece) piece = piece_rows;
    if (piece < 1)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "oclnn_knn_index_create: a row of dim %lld exceeds the allocation limit",
                          (long long)dim);
    piece = min64(piece, n);
    oclnn_knn_index *ix = calloc(1, sizeof *ix);
    if (!ix) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_knn_index_create: out of host memory");
    *ix = (oclnn_knn_index){.ctx = ctx, .metric = metric, .n = n, .dim = dim, .piece = piece};
    ix->npieces = (int)((n + piece - 1) / piece);
    ix->store = oclnn_graph_create(ctx);
    oclnn_status s = ix->store ? OCLNN_OK : oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_knn_index_create: out of host memory");
    for (int p = 0; p < ix->npieces && !s; p++) {
        char name[32];
        snprintf(name, sizeof name, "knn.piece%d", p);
        if (!oclnn_param(ix->store, name, 2, (const int64_t[]){min64(piece, n - p * piece), dim}))
            s = oclnn_graph_status(ix->store);
    }
    if (!s) s = oclnn_graph_compile(ix->store, NULL);
    /* upload each piece, then (cosine) normalise it in place on the device */
    for (int p = 0; p < ix->npieces && !s; p++) {
        char name[32];
        snprintf(name, sizeof name, "knn.piece%d", p);
        oclnn_tensor *t = oclnn_graph_find(ix->store, name);
        s = oclnn_tensor_write(t, table + p * piece * dim, (size_t)(oclnn_tensor_numel(t)) * sizeof(float));
        if (!s && metric == OCLNN_METRIC_COSINE) s = oclnn_l2_normalize_rows(ctx, t);
    }
    if (s) oclnn_knn_index_release(&ix);
    *out = ix;
    return s;
}

oclnn_status oclnn_knn_index_create(oclnn_context *ctx, const float *table, int64_t n, int64_t dim,
                                    oclnn_metric metric, oclnn_knn_index **out)
{
    return index_create(ctx, table, n, dim, metric, 0, out);
}

/* The search graph for m queries and k: chunks of every piece with their
 * [m, chunk] scores within oclnn_knn_score_bytes. */
static oclnn_status search_graph_build(oclnn_knn_index *ix, int64_t m, int64_t k)
{
    search_graph_free(ix);
    int64_t chunk = (int64_t)(oclnn_knn_score_bytes / sizeof(float)) / m;
    chunk = chunk < 1 ? 1 : min64(chunk, ix->piece);
    if (chunk > INT_MAX / m) chunk = INT_MAX / m;
    int64_t per_piece = (ix->piece + chunk - 1) / chunk, lists = per_piece * ix->npieces;
    if (lists > INT_MAX / 2) return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "oclnn_knn_index_search: too many chunks");
    ix->g = oclnn_graph_create(ix->ctx);
    ix->v = calloc((size_t)lists, sizeof *ix->v);
    ix->i = calloc((size_t)lists, sizeof *ix->i);
    ix->base = calloc((size_t)lists, sizeof *ix->base);
    ix->len = calloc((size_t)lists, sizeof *ix->len);
    ix->at = calloc((size_t)lists, sizeof *ix->at);
    ix->cv = malloc((size_t)(lists * m * k) * sizeof *ix->cv);
    ix->ci = malloc((size_t)(lists * m * k) * sizeof *ix->ci);
    if (!ix->g || !ix->v || !ix->i || !ix->base || !ix->len || !ix->at || !ix->cv || !ix->ci)
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_knn_index_search: out of host memory");
    oclnn_graph *g = ix->g;
    ix->q = oclnn_input(g, "queries", OCLNN_DTYPE_F32, 2, (const int64_t[]){m, ix->dim});
    int cosine = ix->metric == OCLNN_METRIC_COSINE, largest = oclnn_metric_largest(ix->metric);
    oclnn_tensor *q = cosine ? oclnn_l2_normalize(g, ix->q, 0) : ix->q;
    oclnn_status s = OCLNN_OK;
    /* a few queries and small k: the fused scan, one list per piece */
    int fused = ix->metric != OCLNN_METRIC_SQ_EUCLIDEAN && m <= OCLNN_KNN_SCAN_MAX_M && k <= 32 &&
                !oclnn_knn_no_fused;
    for (int p = 0; p < ix->npieces && !s; p++) {
        int64_t prow = min64(ix->piece, ix->n - p * ix->piece);
        char name[32];
        snprintf(name, sizeof name, "knn.piece%d", p);
        oclnn_tensor *t = oclnn_param(g, name, 2, (const int64_t[]){prow, ix->dim});
        if (fused && k <= prow) {
            int l = ix->nlists++;
            ix->base[l] = p * ix->piece;
            ix->len[l] = k;
            ix->v[l] = oclnn_knn_scan_dot(g, q, t, k, largest, &ix->i[l]);
            s = oclnn_graph_output(g, ix->v[l]);
            if (!s) s = oclnn_graph_output(g, ix->i[l]);
            continue;
        }
        for (int64_t c = 0; c < prow && !s; c += chunk) {
            int64_t rows = min64(chunk, prow - c);
            oclnn_tensor *part = rows == prow ? t : oclnn_slice(g, t, 0, c, c + rows);
            oclnn_tensor *sc = oclnn_pairwise(g, q, part, cosine ? OCLNN_METRIC_DOT : ix->metric);
            int l = ix->nlists++;
            ix->base[l] = p * ix->piece + c;
            ix->len[l] = min64(k, rows);
            ix->v[l] = oclnn_topk(g, sc, ix->len[l], largest, &ix->i[l]);
            s = oclnn_graph_output(g, ix->v[l]);
            if (!s) s = oclnn_graph_output(g, ix->i[l]);
        }
    }
    if (!s) s = oclnn_graph_set_training(g, 0);
    if (!s) s = oclnn_graph_share_params(g, ix->store);
    if (!s) s = oclnn_graph_compile(g, NULL);
    if (s) {
        search_graph_free(ix);
        return s;
    }
    ix->gm = m;
    ix->gk = k;
    return OCLNN_OK;
}

/* Exact merge of the chunk lists of query r (each best first): k picks of
 * the best head; equal values go to the lower table row. */
static void merge_lists(oclnn_knn_index *ix, int64_t r, float *values, int32_t *indices)
{
    const int64_t m = ix->gm, k = ix->gk;
    int largest = oclnn_metric_largest(ix->metric);
    memset(ix->at, 0, sizeof *ix->at * (size_t)ix->nlists);
    for (int64_t o = 0; o < k; o++) {
        int best = -1;
        float bv = 0;
        int64_t bi = 0;
        for (int l = 0; l < ix->nlists; l++) {
            if (ix->at[l] >= ix->len[l]) continue;
            size_t e = (size_t)(l * m * k + r * ix->len[l] + ix->at[l]);
            int64_t row = ix->ci[e] + ix->base[l];
            if (best < 0 || oclnn_topk_before(ix->cv[e], row, bv, bi, largest)) {
                best = l;
                bv = ix->cv[e];
                bi = row;
            }
        }
        ix->at[best]++;
        values[r * k + o] = bv;
        indices[r * k + o] = (int32_t)bi;
    }
}

oclnn_status oclnn_knn_index_search(oclnn_knn_index *ix, const float *queries, int64_t m, int64_t k, float *values,
                                    int32_t *indices)
{
    if (!ix || !queries || !values || !indices)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_knn_index_search: NULL argument");
    if (m < 1 || m > INT_MAX / ix->dim)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_knn_index_search: bad query count %lld (dim %lld)",
                          (long long)m, (long long)ix->dim);
    if (k < 1 || k > ix->n || k > OCLNN_TOPK_MAX)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_knn_index_search: k = %lld must be in [1, min(n = %lld, %d)]",
                          (long long)k, (long long)ix->n, OCLNN_TOPK_MAX);
    oclnn_status s = m == ix->gm && k == ix->gk ? OCLNN_OK : search_graph_build(ix, m, k);
    if (!s) s = oclnn_tensor_write(ix->q, queries, (size_t)(m * ix->dim) * sizeof(float));
    if (!s) s = oclnn_graph_run(ix->g);
    for (int l = 0; l < ix->nlists && !s; l++) {
        size_t e = (size_t)(l * m * k), bytes = (size_t)(m * ix->len[l]);
        s = oclnn_tensor_read(ix->v[l], ix->cv + e, bytes * sizeof(float));
        if (!s) s = oclnn_tensor_read(ix->i[l], ix->ci + e, bytes * sizeof(int32_t));
    }
    for (int64_t r = 0; r < m && !s; r++) merge_lists(ix, r, values, indices);
    return s;
}

oclnn_status oclnn_knn_search(oclnn_context *ctx, const float *queries, int64_t m, const float *table, int64_t n,
                              int64_t dim, int64_t k, oclnn_metric metric, int64_t chunk_rows, float *values,
                              int32_t *indices)
{
    if (!ctx || !queries || !table || !values || !indices)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_knn_search: NULL argument");
    if (m < 1 || n < 1 || dim < 1 || n > INT32_MAX || chunk_rows < 0 || m > INT_MAX / dim)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG,
                          "oclnn_knn_search: bad sizes (m %lld queries, n %lld rows of dim %lld, chunk %lld rows)",
                          (long long)m, (long long)n, (long long)dim, (long long)chunk_rows);
    if (k < 1 || k > n || k > OCLNN_TOPK_MAX)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_knn_search: k = %lld must be in [1, min(n = %lld, %d)]",
                          (long long)k, (long long)n, OCLNN_TOPK_MAX);
    oclnn_knn_index *ix;
    oclnn_status s = index_create(ctx, table, n, dim, metric, chunk_rows, &ix);
    if (!s) s = oclnn_knn_index_search(ix, queries, m, k, values, indices);
    oclnn_knn_index_release(&ix);
    return s;
}
