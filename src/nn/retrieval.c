/* Embeddings for retrieval and how well they retrieve: SimpleCNN's
 * penultimate activations for a set of images, and leave-one-out k-NN
 * precision of labelled vectors (include/oclnn/nn.h, embeddings.h). */
#include "core/error.h"
#include "oclnn/oclnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EMBED_BATCH 500
#define PRECISION_BATCH 8192

oclnn_status oclnn_simple_cnn_embed(oclnn_context *ctx, const char *weights_path, const float *images, int64_t n,
                                    float *embeddings)
{
    if (!ctx || !weights_path || !images || !embeddings)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_simple_cnn_embed: NULL argument");
    if (n < 1) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_simple_cnn_embed: %lld images", (long long)n);
    const int64_t batch = n < EMBED_BATCH ? n : EMBED_BATCH, pixels = 28 * 28, dim = OCLNN_SIMPLE_CNN_EMBEDDING;
    oclnn_graph *g = oclnn_graph_create(ctx);
    if (!g) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_simple_cnn_embed: out of host memory");
    oclnn_tensor *x = oclnn_input(g, "images", OCLNN_DTYPE_F32, 4, (const int64_t[]){batch, 1, 28, 28});
    oclnn_tensor *e = oclnn_simple_cnn_embedding(g, x, NULL);
    oclnn_status s = oclnn_graph_output(g, e);
    if (!s) s = oclnn_graph_set_training(g, 0);
    if (!s) s = oclnn_graph_compile(g, NULL);
    if (!s) s = oclnn_graph_load_weights(g, weights_path);
    /* the last, partial batch runs padded with zeros */
    float *pad = s || n % batch == 0 ? NULL : calloc((size_t)(batch * pixels), sizeof *pad);
    float *out = s ? NULL : malloc((size_t)(batch * dim) * sizeof *out);
    if (!s && (!out || (n % batch && !pad)))
        s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_simple_cnn_embed: out of host memory");
    for (int64_t start = 0; start < n && !s; start += batch) {
        int64_t rows = n - start < batch ? n - start : batch;
        const float *in = images + start * pixels;
        if (rows < batch) in = memcpy(pad, in, (size_t)(rows * pixels) * sizeof *pad);
        s = oclnn_tensor_write(x, in, (size_t)(batch * pixels) * sizeof *in);
        if (!s) s = oclnn_graph_run(g);
        if (!s) s = oclnn_tensor_read(e, out, (size_t)(batch * dim) * sizeof *out);
        if (!s) memcpy(embeddings + start * dim, out, (size_t)(rows * dim) * sizeof *out);
    }
    free(pad);
    free(out);
    oclnn_graph_release(g);
    return s;
}

oclnn_status oclnn_knn_precision(oclnn_context *ctx, const float *vectors, int64_t n, int64_t dim,
                                 const int32_t *labels, int num_classes, int64_t k, oclnn_metric metric,
                                 double *overall, double *per_class, int32_t *neighbours)
{
    if (!ctx || !vectors || !labels || !overall)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_knn_precision: NULL argument");
    if (num_classes < 1 || n < 2 || k < 1 || k > n - 1 || k > OCLNN_TOPK_MAX - 1)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG,
                          "oclnn_knn_precision: k = %lld must be in [1, min(n - 1 = %lld, %d)] (%d classes)",
                          (long long)k, (long long)(n - 1), OCLNN_TOPK_MAX - 1, num_classes);
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= num_classes)
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_knn_precision: labels[%lld] = %d is not in [0, %d)",
                              (long long)i, (int)labels[i], num_classes);
    const int64_t kk = k + 1; /* the row itself is (almost always) among them */
    float *values = malloc((size_t)(n * kk) * sizeof *values);
    int32_t *found = malloc((size_t)(n * kk) * sizeof *found);
    double *sum = calloc((size_t)num_classes, sizeof *sum);
    int64_t *rows = calloc((size_t)num_classes, sizeof *rows);
    oclnn_knn_index *ix = NULL;
    oclnn_status s = values && found && sum && rows
                         ? oclnn_knn_index_create(ctx, vectors, n, dim, metric, &ix)
                         : oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_knn_precision: out of host memory");
    /* every row queries the table uploaded once, in batches that bound the
     * host and device lists */
    for (int64_t start = 0; start < n && !s; start += PRECISION_BATCH) {
        int64_t b = n - start < PRECISION_BATCH ? n - start : PRECISION_BATCH;
        s = oclnn_knn_index_search(ix, vectors + start * dim, b, kk, values + start * kk, found + start * kk);
    }
    oclnn_knn_index_release(&ix);
    double total = 0;
    for (int64_t i = 0; i < n && !s; i++) {
        const int32_t *list = found + i * kk;
        int64_t hits = 0;
        /* drop the row itself wherever it ranks (an exact duplicate with a
         * lower index ranks before it), else the last of the k + 1 */
        for (int64_t j = 0, kept = 0; j < kk && kept < k; j++) {
            if (list[j] == i) continue;
            hits += labels[list[j]] == labels[i];
            if (neighbours) neighbours[i * k + kept] = list[j];
            kept++;
        }
        sum[labels[i]] += (double)hits / (double)k;
        rows[labels[i]]++;
        total += (double)hits / (double)k;
    }
    if (!s) {
        *overall = total / (double)n;
        for (int c = 0; per_class && c < num_classes; c++) per_class[c] = rows[c] ? sum[c] / (double)rows[c] : NAN;
    }
    free(values);
    free(found);
    free(sum);
    free(rows);
    return s;
}
