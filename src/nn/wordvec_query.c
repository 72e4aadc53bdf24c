/* Word-vector queries on the device: gensim's most_similar for many
 * queries at once (nearest neighbours, analogies). The query vectors are
 * combined on the host (a few rows each); the table (or its first
 * restrict_vocab rows) goes to the device once per call as an
 * oclnn_knn_index, searched batch by batch (one GEMM and a top-k selection
 * per chunk of the table) for k plus the number of input rows so that
 * dropping the inputs still leaves k. */
#include "core/error.h"
#include "oclnn/embeddings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Queries per index search: bounds the host and device lists. */
#define QUERY_BATCH 8192

oclnn_status oclnn_wordvec_lookup(const oclnn_wordvec *wv, int64_t n, const char *const *words, int64_t *rows)
{
    if (!wv || n < 0 || (n && (!words || !rows)))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_lookup: NULL argument or negative count");
    for (int64_t i = 0; i < n; i++) {
        if (!words[i]) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_lookup: word %lld is NULL", (long long)i);
        rows[i] = oclnn_wordvec_find(wv, words[i]);
        if (rows[i] < 0)
            return oclnn_fail(OCLNN_ERR_NOT_FOUND, "unknown word '%s' (not in the %lld-word vocabulary)", words[i],
                              (long long)oclnn_wordvec_count(wv));
    }
    return OCLNN_OK;
}

/* acc += weight * v / max(|v|, 1e-12), in double. */
static void add_unit(double *acc, const float *v, int64_t dim, double weight)
{
    double nn = 0;
    for (int64_t d = 0; d < dim; d++) nn += (double)v[d] * v[d];
    double norm = sqrt(nn);
    double scale = weight / (norm > 1e-12 ? norm : 1e-12);
    for (int64_t d = 0; d < dim; d++) acc[d] += scale * v[d];
}

/* The combined, unit-normalised query vectors of queries [start, start + b). */
static void build_queries(const oclnn_wordvec *wv, int64_t start, int64_t b, int npos, const int64_t *pos, int nneg,
                          const int64_t *neg, double *acc, float *out)
{
    const int64_t dim = oclnn_wordvec_dim(wv);
    const float *vec = oclnn_wordvec_vectors(wv);
    for (int64_t q = 0; q < b; q++) {
        memset(acc, 0, sizeof *acc * (size_t)dim);
        for (int i = 0; i < npos; i++) add_unit(acc, vec + pos[(start + q) * npos + i] * dim, dim, 1.0);
        for (int i = 0; i < nneg; i++) add_unit(acc, vec + neg[(start + q) * nneg + i] * dim, dim, -1.0);
        double nn = 0;
        for (int64_t d = 0; d < dim; d++) nn += acc[d] * acc[d];
        double scale = nn > 0 ? 1.0 / sqrt(nn) : 0.0;
        for (int64_t d = 0; d < dim; d++) out[q * dim + d] = (float)(acc[d] * scale);
    }
}

static int is_input(int64_t row, int n, const int64_t *list)
{
    for (int i = 0; i < n; i++)
        if (list[i] == row) return 1;
    return 0;
}

static oclnn_status check_rows(const char *what, int64_t count, int64_t n, const int64_t *rows)
{
    for (int64_t i = 0; i < n; i++)
        if (rows[i] < 0 || rows[i] >= count)
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_most_similar: %s row %lld (entry %lld) is outside "
                              "the %lld-word table", what, (long long)rows[i], (long long)i, (long long)count);
    return OCLNN_OK;
}

oclnn_status oclnn_wordvec_most_similar(oclnn_context *ctx, const oclnn_wordvec *wv, int64_t m, int npositive,
                                        const int64_t *positive, int nnegative, const int64_t *negative, int64_t k,
                                        int64_t restrict_vocab, float *scores, int64_t *rows)
{
    if (!ctx || !wv || !positive || (nnegative > 0 && !negative) || !scores || !rows)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_most_similar: NULL argument");
    const int64_t count = oclnn_wordvec_count(wv), dim = oclnn_wordvec_dim(wv);
    if (count < 1) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_wordvec_most_similar: the word vectors are empty");
    if (m < 0 || npositive < 1 || nnegative < 0 || k < 1 || k + npositive + nnegative > OCLNN_TOPK_MAX)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG,
                          "oclnn_wordvec_most_similar: bad sizes (m %lld, %d positive, %d negative, k %lld; "
                          "k + inputs must be at most %d)", (long long)m, npositive, nnegative, (long long)k,
                          OCLNN_TOPK_MAX);
    oclnn_status s = check_rows("positive", count, m * npositive, positive);
    if (!s) s = check_rows("negative", count, m * nnegative, negative);
    if (s || m == 0) return s;
    const int64_t n = restrict_vocab > 0 && restrict_vocab < count ? restrict_vocab : count;
    const int nin = npositive + nnegative;
    const int64_t kk = k + nin < n ? k + nin : n;
    const int64_t batch = m < QUERY_BATCH ? m : QUERY_BATCH;
    double *acc = malloc(sizeof *acc * (size_t)dim);
    float *q = malloc(sizeof *q * (size_t)(batch * dim)), *v = malloc(sizeof *v * (size_t)(batch * kk));
    int32_t *idx = malloc(sizeof *idx * (size_t)(batch * kk));
    int64_t *in = malloc(sizeof *in * (size_t)nin);
    oclnn_knn_index *ix = NULL;
    if (!acc || !q || !v || !idx || !in)
        s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_wordvec_most_similar: out of host memory");
    if (!s) s = oclnn_knn_index_create(ctx, oclnn_wordvec_vectors(wv), n, dim, OCLNN_METRIC_COSINE, &ix);
    for (int64_t start = 0; start < m && !s; start += batch) {
        int64_t b = m - start < batch ? m - start : batch;
        build_queries(wv, start, b, npositive, positive, nnegative, negative, acc, q);
        s = oclnn_knn_index_search(ix, q, b, kk, v, idx);
        for (int64_t r = 0; r < b && !s; r++) {
            const int64_t g = start + r;
            memcpy(in, positive + g * npositive, sizeof *in * (size_t)npositive);
            if (nnegative) memcpy(in + npositive, negative + g * nnegative, sizeof *in * (size_t)nnegative);
            int64_t o = 0;
            for (int64_t j = 0; j < kk && o < k; j++) {
                if (is_input(idx[r * kk + j], nin, in)) continue;
                scores[g * k + o] = v[r * kk + j];
                rows[g * k + o++] = idx[r * kk + j];
            }
            for (; o < k; o++) {
                scores[g * k + o] = NAN;
                rows[g * k + o] = -1;
            }
        }
    }
    oclnn_knn_index_release(&ix);
    free(acc);
    free(q);
    free(v);
    free(idx);
    free(in);
    return s;
}
