/* Row-sparse gradient accumulators: marking a parameter, sizing the
 * accumulator as embedding lookups are differentiated, clearing and reading
 * it. The layout and its invariants are in graph/sparse_grad.h. */
#include "graph/sparse_grad.h"
#include "oclnn/train.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds the accumulator's segment table; far beyond any sensible use. */
#define MAX_RUNS (1 << 20)

oclnn_status oclnn_param_set_sparse_grad(oclnn_tensor *param, int max_runs)
{
    const char *what = "oclnn_param_set_sparse_grad";
    if (!param) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: NULL tensor", what);
    char s[128];
    const char *name = param->name ? param->name : "(unnamed)";
    if (!(param->flags & T_PARAM))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: '%s' %s is not a parameter (only oclnn_param tensors have "
                          "gradient accumulators)", what, name, oclnn_tensor_shape_str(param, s, sizeof s));
    if (param->ndim != 2)
        return oclnn_fail(OCLNN_ERR_SHAPE, "%s: '%s' is %s; a row-sparse gradient needs a 2-D [rows, cols] table",
                          what, name, oclnn_tensor_shape_str(param, s, sizeof s));
    if (max_runs < 0 || max_runs > MAX_RUNS)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: '%s': max_runs %d is outside [0, %d]", what, name, max_runs,
                          MAX_RUNS);
    if (param->graph->has_backward || param->graph->compiled || param->grad)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: '%s': call it before oclnn_graph_backward", what, name);
    if (max_runs == 0) {
        free(param->sparse_grad);
        param->sparse_grad = NULL;
        return OCLNN_OK;
    }
    if (!param->sparse_grad && !(param->sparse_grad = calloc(1, sizeof *param->sparse_grad)))
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", what);
    param->sparse_grad->max_runs = max_runs;
    param->sparse_grad->cols = param->dims[1];
    return OCLNN_OK;
}

int oclnn_param_sparse_grad(const oclnn_tensor *param)
{
    return param && param->sparse_grad ? param->sparse_grad->max_runs : 0;
}

/* Nothing is allocated before compile, so the accumulator tensors may
 * still change size as more lookups of the table are differentiated. */
static void resize_rows(oclnn_tensor *t, int64_t rows)
{
    t->dims[0] = rows;
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->dims[d];
    t->bytes = (size_t)n * oclnn_dtype_size(t->dtype);
}

oclnn_sparse_grad *oclnn_sparse_grad_reserve(oclnn_graph *g, oclnn_tensor *param, int64_t n, const char *op)
{
    oclnn_sparse_grad *sg = param->sparse_grad;
    int64_t per_run = sg->per_run + n, cap = per_run * sg->max_runs;
    int64_t segs = (int64_t)(sg->nodes + 1) * sg->max_runs + 1;
    if (cap > INT32_MAX || (sg->cols && cap > INT32_MAX / sg->cols) || segs > INT32_MAX) {
        oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED,
                         "%s: the row-sparse gradient of '%s' [%lld, %lld] needs room for %lld rows (%d runs x "
                         "%lld ids per run) of %lld values, more than 2^31 - 1 in all; lower max_runs",
                         op, oclnn_tensor_name(param), (long long)param->dims[0], (long long)param->dims[1],
                         (long long)cap, sg->max_runs, (long long)per_run, (long long)sg->cols);
        return NULL;
    }
    if (!sg->values) {
        /* Unnamed state: persistent, allocated once, and neither a weight
         * to save nor a dense gradient for zero_grad to sweep. */
        int64_t vd[2] = {0, sg->cols}, rd[1] = {0};
        sg->rows = oclnn_state_new(g, NULL, OCLNN_DTYPE_I32, 1, rd, 0.0);
        sg->values = oclnn_state_new(g, NULL, OCLNN_DTYPE_F32, 2, vd, 0.0);
        sg->seg = oclnn_state_new(g, NULL, OCLNN_DTYPE_I32, 1, rd, 0.0); /* seg[0] = 0 from here on */
        if (!sg->rows || !sg->values || !sg->seg) return NULL;
    }
    sg->per_run = per_run;
    sg->nodes++;
    resize_rows(sg->rows, cap);
    resize_rows(sg->values, cap);
    resize_rows(sg->seg, segs);
    return sg;
}

oclnn_status oclnn_sparse_grad_check_room(const oclnn_tensor *param, const char *op)
{
    const oclnn_sparse_grad *sg = param->sparse_grad;
    if (!sg || !sg->values) return OCLNN_OK;
    if (sg->upper + sg->per_run <= sg->per_run * sg->max_runs) return OCLNN_OK;
    return oclnn_fail(OCLNN_ERR_UNSUPPORTED,
                      "%s: the row-sparse gradient of '%s' already holds %d runs, its max_runs; call "
                      "oclnn_graph_zero_grad (or mark it with a larger max_runs)",
                      op, oclnn_tensor_name(param), sg->max_runs);
}

void oclnn_sparse_grad_clear(oclnn_sparse_grad *sg)
{
    if (!sg) return;
    sg->nseg = 0;
    sg->upper = 0;
}

static oclnn_status read_i32(oclnn_tensor *t, size_t first, size_t count, void *out, const char *what)
{
    if (!count) return OCLNN_OK;
    cl_int err = clEnqueueReadBuffer(t->graph->ctx->queue, t->buffer, CL_TRUE, first * oclnn_dtype_size(t->dtype),
                                     count * oclnn_dtype_size(t->dtype), out, 0, NULL, NULL);
    return oclnn_cl_check(err, "clEnqueueReadBuffer", what);
}

static oclnn_status usable(oclnn_tensor *param, const char *what)
{
    if (!param) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: NULL tensor", what);
    if (!param->sparse_grad)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: '%s' has no row-sparse gradient (see "
                          "oclnn_param_set_sparse_grad)", what, oclnn_tensor_name(param));
    if (!param->graph->compiled || !param->sparse_grad->values)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: '%s': differentiate and compile the graph first", what,
                          oclnn_tensor_name(param));
    return OCLNN_OK;
}

oclnn_status oclnn_sparse_grad_read(oclnn_tensor *param, int32_t *rows, float *values, int64_t max_count,
                                    int64_t *count)
{
    const char *what = "oclnn_sparse_grad_read";
    oclnn_status s = usable(param, what);
    if (s) return s;
    oclnn_sparse_grad *sg = param->sparse_grad;
    cl_int total = 0;
    if (sg->nseg && (s = read_i32(sg->seg, (size_t)sg->nseg, 1, &total, what))) return s;
    if (count) *count = total;
    if (!rows && !values) return OCLNN_OK;
    if (total > max_count)
        return oclnn_fail(OCLNN_ERR_SHAPE, "%s: '%s' holds %d entries, room was given for %lld", what,
                          oclnn_tensor_name(param), (int)total, (long long)max_count);
    if (rows && (s = read_i32(sg->rows, 0, (size_t)total, rows, what))) return s;
    if (values && (s = read_i32(sg->values, 0, (size_t)total * (size_t)sg->cols, values, what))) return s;
    return OCLNN_OK;
}

oclnn_status oclnn_sparse_grad_densify(oclnn_tensor *param, float *dense, size_t bytes)
{
    const char *what = "oclnn_sparse_grad_densify";
    oclnn_status s = usable(param, what);
    if (s) return s;
    size_t V = (size_t)param->dims[0], D = (size_t)param->dims[1];
    if (!dense || bytes != V * D * sizeof(float))
        return oclnn_fail(OCLNN_ERR_SHAPE, "%s: '%s' is [%zu, %zu] (%zu bytes), %zu bytes given%s", what,
                          oclnn_tensor_name(param), V, D, V * D * sizeof(float), bytes, dense ? "" : " (NULL)");
    int64_t n = 0;
    if ((s = oclnn_sparse_grad_read(param, NULL, NULL, 0, &n))) return s;
    int32_t *rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
    float *vals = malloc((size_t)(n ? n : 1) * (D ? D : 1) * sizeof *vals);
    if (!rows || !vals) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", what);
    if (!s) s = oclnn_sparse_grad_read(param, rows, vals, n, &n);
    if (!s) {
        memset(dense, 0, bytes);
        for (int64_t k = 0; k < n; k++) {
            if (rows[k] < 0 || (size_t)rows[k] >= V) { /* an internal invariant; reported, never trusted */
                s = oclnn_fail(OCLNN_ERR_OPENCL, "%s: '%s': entry %lld has row %d outside [0, %zu)", what,
                               oclnn_tensor_name(param), (long long)k, rows[k], V);
                break;
            }
            for (size_t c = 0; c < D; c++) dense[(size_t)rows[k] * D + c] += vals[(size_t)k * D + c];
        }
    }
    free(rows);
    free(vals);
    return s;
}
