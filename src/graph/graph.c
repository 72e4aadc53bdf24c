/* Graph construction: leaves, nodes, views, queries and the sticky error. */
#include "graph/graph.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

oclnn_graph *oclnn_graph_create(oclnn_context *ctx)
{
    if (!ctx) {
        oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_create: NULL context");
        return NULL;
    }
    oclnn_graph *g = calloc(1, sizeof *g);
    if (!g) {
        oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_graph_create: out of host memory");
        return NULL;
    }
    g->ctx = ctx;
    g->training = true;
    return g;
}

oclnn_status oclnn_graph_status(const oclnn_graph *g)
{
    return g ? g->error : OCLNN_ERR_INVALID_ARG;
}
const char *oclnn_graph_error(const oclnn_graph *g) { return g ? g->error_message : "NULL graph"; }
oclnn_status oclnn_graph_set_training(oclnn_graph *g, int training)
{
    if (!g) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_set_training: NULL graph");
    g->training = training != 0;
    return OCLNN_OK;
}
int oclnn_graph_training(const oclnn_graph *g) { return g && g->training; }
oclnn_context *oclnn_graph_context(const oclnn_graph *g) { return g ? g->ctx : NULL; }

oclnn_tensor *oclnn_graph_fail(oclnn_graph *g, oclnn_status status, const char *fmt, ...)
{
    if (g && g->error == OCLNN_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->error_message, sizeof g->error_message, fmt, ap);
        va_end(ap);
        g->error = status;
    }
    if (g) oclnn_fail(g->error, "%s", g->error_message);
    return NULL;
}

bool oclnn_graph_usable(oclnn_graph *g, const char *op, int n, oclnn_tensor *const *srcs)
{
    if (!g) return false;
    if (g->error) return false;
    if (g->compiled) {
        oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: graph is already compiled; build a new graph", op);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!srcs[i]) {
            oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: input %d is NULL", op, i);
            return false;
        }
        if (srcs[i]->graph != g) {
            oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: input %d belongs to another graph", op, i);
            return false;
        }
    }
    return true;
}

size_t oclnn_dtype_size(oclnn_dtype dtype) { return dtype == OCLNN_DTYPE_I64 ? 8 : 4; }

const char *oclnn_dtype_name(oclnn_dtype dtype)
{
    switch (dtype) {
    case OCLNN_DTYPE_F32: return "f32";
    case OCLNN_DTYPE_I32: return "i32";
    case OCLNN_DTYPE_I64: return "i64";
    }
    return "?";
}

static void set_contiguous_strides(oclnn_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->strides[i] = s;
        s *= t->dims[i];
    }
}

static oclnn_tensor *tensor_new(oclnn_graph *g, oclnn_dtype dtype, int ndim, const int64_t *dims, const char *op)
{
    if (ndim < 0 || ndim > OCLNN_MAX_DIMS)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: %d dims requested, at most %d supported", op, ndim,
                                OCLNN_MAX_DIMS);
    if (dtype != OCLNN_DTYPE_F32 && dtype != OCLNN_DTYPE_I32 && dtype != OCLNN_DTYPE_I64)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: unknown dtype %d", op, (int)dtype);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "%s: dim %d is negative (%lld)", op, i, (long long)dims[i]);
        numel *= dims[i];
        /* Kernels index elements with int: one limit here keeps every
         * kernel's indices and offsets in range (see graph.h). */
        if (numel > INT32_MAX) {
            char buf[160];
            size_t len = 0;
            for (int k = 0; k < ndim && len < sizeof buf; k++)
                len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%lld", k ? ", " : "", (long long)dims[k]);
            return oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED,
                                    "%s: tensor [%s] has more than 2^31 - 1 elements, the most one tensor may hold",
                                    op, buf);
        }
    }
    if (g->count == g->capacity) {
        int cap = g->capacity ? g->capacity * 2 : 64;
        oclnn_tensor **grown = realloc(g->tensors, (size_t)cap * sizeof *grown);
        if (!grown) return oclnn_graph_fail(g, OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", op);
        g->tensors = grown;
        g->capacity = cap;
    }
    oclnn_tensor *t = calloc(1, sizeof *t);
    if (!t) return oclnn_graph_fail(g, OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", op);
    t->graph = g;
    t->id = g->count;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    set_contiguous_strides(t);
    t->storage = t;
    t->node_index = -1;
    t->bytes = (size_t)numel * oclnn_dtype_size(dtype);
    g->tensors[g->count++] = t;
    return t;
}

static oclnn_tensor *leaf_new(oclnn_graph *g, const char *name, oclnn_dtype dtype, int ndim, const int64_t *dims,
                              unsigned flags, const char *what)
{
    if (!oclnn_graph_usable(g, what, 0, NULL)) return NULL;
    if (ndim > 0 && !dims) return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: NULL dims", what);
    if (name && oclnn_graph_find(g, name))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: name '%s' is already used in this graph", what, name);
    oclnn_tensor *t = tensor_new(g, dtype, ndim, dims, what);
    if (!t) return NULL;
    t->flags = flags;
    if (name && !(t->name = strdup(name))) return oclnn_graph_fail(g, OCLNN_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
    return t;
}

oclnn_tensor *oclnn_input(oclnn_graph *g, const char *name, oclnn_dtype dtype, int ndim, const int64_t *dims)
{
    return leaf_new(g, name, dtype, ndim, dims, T_INPUT, "input");
}

oclnn_tensor *oclnn_param(oclnn_graph *g, const char *name, int ndim, const int64_t *dims)
{
    return leaf_new(g, name, OCLNN_DTYPE_F32, ndim, dims, T_PARAM | T_NEEDS_GRAD, "param");
}

oclnn_tensor *oclnn_state_new(oclnn_graph *g, const char *name, oclnn_dtype dtype, int ndim, const int64_t *dims,
                              double init)
{
    oclnn_tensor *t = leaf_new(g, name, dtype, ndim, dims, T_STATE, "state");
    if (t) t->init_value = init;
    return t;
}

oclnn_tensor *oclnn_input_f32(oclnn_graph *g, const char *name, int ndim, ...)
{
    int64_t dims[OCLNN_MAX_DIMS];
    if (ndim < 0 || ndim > OCLNN_MAX_DIMS)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "input '%s': %d dims requested", name ? name : "", ndim);
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++) dims[i] = va_arg(ap, int);
    va_end(ap);
    return oclnn_input(g, name, OCLNN_DTYPE_F32, ndim, dims);
}

oclnn_tensor *oclnn_node_new(oclnn_graph *g, const oclnn_op_def *op, oclnn_dtype dtype, int ndim,
                             const int64_t *dims, int nsrc, oclnn_tensor *const *srcs)
{
    if (!oclnn_graph_usable(g, op->name, nsrc, srcs)) return NULL;
    if (!oclnn_op_registered(op))
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: op is not in the op registry (src/ops/registry.c)",
                                op->name);
    if (nsrc > OCLNN_MAX_SRC)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: %d inputs, at most %d per node", op->name, nsrc,
                                OCLNN_MAX_SRC);
    /* The input contract: a source the kernel would read as if it were
     * dense gets a contiguous copy first, whatever the constructor did. */
    oclnn_tensor *in[OCLNN_MAX_SRC];
    for (int i = 0; i < nsrc; i++) {
        in[i] = srcs[i];
        if (!(op->strided_inputs & (1u << i)) && !oclnn_tensor_is_contiguous(in[i]) &&
            !(in[i] = oclnn_contiguous(g, in[i])))
            return NULL;
    }
    oclnn_tensor *t = tensor_new(g, dtype, ndim, dims, op->name);
    if (!t) return NULL;
    t->op = op;
    t->nsrc = nsrc;
    for (int i = 0; i < nsrc; i++) {
        t->src[i] = in[i];
        if (in[i]->flags & T_NEEDS_GRAD) t->flags |= T_NEEDS_GRAD;
    }
    return t;
}

static oclnn_tensor *extra_output_new(oclnn_tensor *node, oclnn_dtype dtype, int ndim, const int64_t *dims,
                                      unsigned flags)
{
    if (!node) return NULL;
    oclnn_graph *g = node->graph;
    if (node->naux == OCLNN_MAX_AUX)
        return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s: more than %d extra outputs", node->op->name,
                                OCLNN_MAX_AUX);
    oclnn_tensor *t = tensor_new(g, dtype, ndim, dims, node->op->name);
    if (!t) return NULL;
    t->flags = flags;
    t->aux_of = node;
    node->aux[node->naux++] = t;
    return t;
}

oclnn_tensor *oclnn_aux_new(oclnn_tensor *node, oclnn_dtype dtype, int ndim, const int64_t *dims)
{
    return extra_output_new(node, dtype, ndim, dims, T_AUX);
}

oclnn_tensor *oclnn_diff_output_new(oclnn_tensor *node, int ndim, const int64_t *dims)
{
    if (!node) return NULL;
    return extra_output_new(node, OCLNN_DTYPE_F32, ndim, dims, T_AUX | T_DIFF_OUTPUT | (node->flags & T_NEEDS_GRAD));
}

/* ---- queries */

int oclnn_tensor_ndim(const oclnn_tensor *t) { return t ? t->ndim : 0; }
int64_t oclnn_tensor_dim(const oclnn_tensor *t, int axis)
{
    if (!t) return 0;
    if (axis < 0) axis += t->ndim;
    return (axis >= 0 && axis < t->ndim) ? t->dims[axis] : 0;
}
int64_t oclnn_tensor_numel(const oclnn_tensor *t)
{
    if (!t) return 0;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}
oclnn_dtype oclnn_tensor_dtype(const oclnn_tensor *t) { return t ? t->dtype : OCLNN_DTYPE_F32; }
const char *oclnn_tensor_name(const oclnn_tensor *t) { return t && t->name ? t->name : ""; }

oclnn_status oclnn_tensor_set_name(oclnn_tensor *t, const char *name)
{
    if (!t || !name) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_tensor_set_name: NULL argument");
    oclnn_tensor *other = oclnn_graph_find(t->graph, name);
    if (other && other != t) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "tensor name '%s' is already used", name);
    char *copy = strdup(name);
    if (!copy) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "oclnn_tensor_set_name: out of memory");
    free(t->name);
    t->name = copy;
    return OCLNN_OK;
}

const char *oclnn_tensor_shape_str(const oclnn_tensor *t, char *buf, size_t size)
{
    if (!t) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
    if (len < size) snprintf(buf + len, size - len, "]");
    return buf;
}

oclnn_tensor *oclnn_graph_find(oclnn_graph *g, const char *name)
{
    if (!g || !name) return NULL;
    for (int i = 0; i < g->count; i++)
        if (g->tensors[i]->name && strcmp(g->tensors[i]->name, name) == 0) return g->tensors[i];
    return NULL;
}

int oclnn_graph_param_count(const oclnn_graph *g)
{
    int n = 0;
    for (int i = 0; g && i < g->count; i++) n += (g->tensors[i]->flags & T_PARAM) != 0;
    return n;
}

oclnn_tensor *oclnn_graph_param(const oclnn_graph *g, int k)
{
    for (int i = 0; g && i < g->count; i++)
        if ((g->tensors[i]->flags & T_PARAM) && k-- == 0) return g->tensors[i];
    return NULL;
}

bool oclnn_tensor_is_contiguous(const oclnn_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->dims[i] != 1 && t->strides[i] != s) return false;
        s *= t->dims[i];
    }
    return true;
}

bool oclnn_same_shape(const oclnn_tensor *a, const oclnn_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

/* ---- views */

static oclnn_tensor *view_new(oclnn_graph *g, oclnn_tensor *x, int ndim, const int64_t *dims, const char *op)
{
    if (!oclnn_graph_usable(g, op, 1, &x)) return NULL;
    oclnn_tensor *t = tensor_new(g, x->dtype, ndim, dims, op);
    if (!t) return NULL;
    t->flags = T_VIEW | (x->flags & T_NEEDS_GRAD);
    t->storage = x->storage;
    t->offset = x->offset;
    t->src[0] = x;
    t->nsrc = 1;
    t->bytes = 0;
    return t;
}

oclnn_tensor *oclnn_reshape(oclnn_graph *g, oclnn_tensor *x, int ndim, const int64_t *dims)
{
    if (!oclnn_graph_usable(g, "reshape", 1, &x)) return NULL;
    if (ndim < 0 || ndim > OCLNN_MAX_DIMS || (ndim && !dims))
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "reshape: bad rank %d", ndim);
    int64_t d[OCLNN_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        d[i] = dims[i];
        if (d[i] == -1 && infer < 0) infer = i;
        else if (d[i] < 0) return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "reshape: bad dim %lld", (long long)d[i]);
        else known *= d[i];
    }
    char xs[128];
    int64_t n = oclnn_tensor_numel(x);
    if (infer >= 0) {
        if (known == 0 || n % known)
            return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "reshape: cannot infer -1 for %s",
                                    oclnn_tensor_shape_str(x, xs, sizeof xs));
        d[infer] = n / known;
        known = n;
    }
    if (known != n)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "reshape: %s has %lld elements, new shape has %lld",
                                oclnn_tensor_shape_str(x, xs, sizeof xs), (long long)n, (long long)known);
    if (!oclnn_tensor_is_contiguous(x)) x = oclnn_contiguous(g, x);
    return view_new(g, x, ndim, d, "reshape");
}

oclnn_tensor *oclnn_flatten(oclnn_graph *g, oclnn_tensor *x, int start_axis)
{
    if (!oclnn_graph_usable(g, "flatten", 1, &x)) return NULL;
    if (start_axis < 0) start_axis += x->ndim;
    if (start_axis < 0 || start_axis >= x->ndim)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "flatten: axis %d out of range for %d dims", start_axis, x->ndim);
    int64_t dims[OCLNN_MAX_DIMS];
    for (int i = 0; i < start_axis; i++) dims[i] = x->dims[i];
    dims[start_axis] = -1;
    return oclnn_reshape(g, x, start_axis + 1, dims);
}

oclnn_tensor *oclnn_permute(oclnn_graph *g, oclnn_tensor *x, const int *perm)
{
    if (!oclnn_graph_usable(g, "permute", 1, &x)) return NULL;
    int seen[OCLNN_MAX_DIMS] = {0};
    int64_t dims[OCLNN_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        if (!perm || perm[i] < 0 || perm[i] >= x->ndim || seen[perm[i]]++)
            return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "permute: not a permutation of %d axes", x->ndim);
        dims[i] = x->dims[perm[i]];
    }
    oclnn_tensor *t = view_new(g, x, x->ndim, dims, "permute");
    if (!t) return NULL;
    for (int i = 0; i < x->ndim; i++) t->strides[i] = x->strides[perm[i]];
    t->iparam[0] = 1; /* kind: permutation, perm in iparam[1..] */
    for (int i = 0; i < x->ndim; i++) t->iparam[1 + i] = perm[i];
    return t;
}

oclnn_tensor *oclnn_transpose(oclnn_graph *g, oclnn_tensor *x, int a, int b)
{
    if (!oclnn_graph_usable(g, "transpose", 1, &x)) return NULL;
    if (a < 0) a += x->ndim;
    if (b < 0) b += x->ndim;
    if (a < 0 || b < 0 || a >= x->ndim || b >= x->ndim)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "transpose: axes out of range for %d dims", x->ndim);
    int perm[OCLNN_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return oclnn_permute(g, x, perm);
}

oclnn_tensor *oclnn_slice(oclnn_graph *g, oclnn_tensor *x, int axis, int64_t start, int64_t end)
{
    if (!oclnn_graph_usable(g, "slice", 1, &x)) return NULL;
    if (axis < 0) axis += x->ndim;
    if (axis < 0 || axis >= x->ndim)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "slice: axis out of range for %d dims", x->ndim);
    if (start < 0) start += x->dims[axis];
    if (end < 0) end += x->dims[axis];
    if (start < 0 || end > x->dims[axis] || start > end)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "slice: [%lld, %lld) out of range for axis %d of size %lld",
                                (long long)start, (long long)end, axis, (long long)x->dims[axis]);
    int64_t dims[OCLNN_MAX_DIMS];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = end - start;
    oclnn_tensor *t = view_new(g, x, x->ndim, dims, "slice");
    if (!t) return NULL;
    memcpy(t->strides, x->strides, sizeof t->strides);
    t->offset = x->offset + start * x->strides[axis];
    t->iparam[0] = 2; /* kind: slice */
    t->iparam[1] = axis;
    t->iparam[2] = start;
    return t;
}

void oclnn_graph_profile_report(const oclnn_graph *g);

void oclnn_graph_release(oclnn_graph *g)
{
    if (!g) return;
    /* Work still queued may use this graph's kernels and buffers: let it
     * finish first (PoCL may even be compiling one of them). */
    if (g->compiled && g->ctx->queue) clFinish(g->ctx->queue);
    oclnn_graph_profile_report(g);
    free(g->node_seconds);
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        for (int k = 0; k < t->nlaunch; k++)
            if (t->launch[k].kernel) clReleaseKernel(t->launch[k].kernel);
        if (t->op && t->op->release) t->op->release(t);
        if (t->buffer && t->owns_buffer) clReleaseMemObject(t->buffer);
        free(t->sparse_grad);
        free(t->name);
        free(t);
    }
    if (g->arena) clReleaseMemObject(g->arena);
    if (g->param_block) clReleaseMemObject(g->param_block); /* after its sub-buffers */
    if (g->grad_block) clReleaseMemObject(g->grad_block);
    free(g->tensors);
    free(g);
}
