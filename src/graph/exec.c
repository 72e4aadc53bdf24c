/* Compile (plan + allocate + prepare kernels) and run. */
#include "graph/graph.h"

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

extern const char oclnn_cl_random[];

oclnn_status oclnn_graph_plan(oclnn_graph *g, bool reuse);

oclnn_status oclnn_graph_output(oclnn_graph *g, oclnn_tensor *t)
{
    if (!g || !t) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_output: NULL argument");
    if (g->error) return oclnn_fail(g->error, "%s", g->error_message);
    if (t->graph != g) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_output: tensor belongs to another graph");
    if (g->compiled) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_output: graph already compiled");
    t->flags |= T_OUTPUT;
    t->storage->flags |= T_OUTPUT;
    return OCLNN_OK;
}

/* Fills a fresh persistent buffer with the tensor's declared initial value
 * (zero for parameters, gradients, inputs and outputs). */
static oclnn_status fill_initial(oclnn_graph *g, oclnn_tensor *t)
{
    union {
        float f;
        cl_int i;
        cl_long l;
    } v;
    size_t size = 4;
    if (t->dtype == OCLNN_DTYPE_F32) v.f = (float)t->init_value;
    else if (t->dtype == OCLNN_DTYPE_I32) v.i = (cl_int)t->init_value;
    else v.l = (cl_long)t->init_value, size = 8;
    if (!t->bytes) return OCLNN_OK;
    cl_int err = clEnqueueFillBuffer(g->ctx->queue, t->buffer, &v, size, 0, t->bytes, 0, NULL, NULL);
    return oclnn_cl_check(err, "clEnqueueFillBuffer", t->name ? t->name : "compile");
}

/* Own persistent storage that is not shared from another graph. */
static bool needs_buffer(const oclnn_tensor *t)
{
    return t->storage == t && (t->flags & T_PERSISTENT) && !t->buffer;
}

static bool block_member(const oclnn_tensor *t, unsigned flag) { return needs_buffer(t) && (t->flags & flag); }

/* Bytes a tensor takes in a block: aligned, and at least one byte, since an
 * empty tensor still gets a (1-byte) sub-buffer. */
static size_t block_span(const oclnn_tensor *t, size_t align)
{
    return ((t->bytes ? t->bytes : 1) + align - 1) / align * align;
}

/* Puts every parameter (flag T_PARAM) or every dense gradient accumulator
 * (T_GRAD) not yet allocated into one block, each tensor a sub-buffer at an
 * offset aligned for sub-buffer origins. One buffer per kind lets the
 * optimizer update all parameters in one launch and zero_grad clear all
 * gradients with one fill; each tensor still sees its own buffer at 0.
 * Tensors left without a buffer (none, or a block too large for one
 * allocation) get their own in allocate_persistent. */
static oclnn_status allocate_block(oclnn_graph *g, unsigned flag, cl_mem *block, size_t *block_bytes)
{
    size_t total = 0, align = g->arena_align;
    for (int i = 0; i < g->count; i++)
        if (block_member(g->tensors[i], flag)) total += block_span(g->tensors[i], align);
    /* past the device's largest allocation: one buffer each, as before */
    if (!total || (g->ctx->info.max_alloc_bytes && total > g->ctx->info.max_alloc_bytes)) return OCLNN_OK;
    const char *what = flag == T_PARAM ? "parameter block" : "gradient block";
    oclnn_status s = oclnn_buffer_create(g->ctx, total, what, block);
    if (s) return s;
    *block_bytes = total;
    size_t off = 0;
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        if (!block_member(t, flag)) continue;
        cl_buffer_region region = {off, t->bytes ? t->bytes : 1};
        cl_int err = CL_SUCCESS;
        t->buffer = clCreateSubBuffer(*block, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &err);
        if (err) {
            t->buffer = NULL;
            return oclnn_cl_check(err, "clCreateSubBuffer", t->name ? t->name : what);
        }
        t->owns_buffer = t->in_block = true;
        t->byte_offset = 0;
        off += block_span(t, align);
        if ((s = fill_initial(g, t))) return s;
    }
    return OCLNN_OK;
}

static oclnn_status allocate_persistent(oclnn_graph *g)
{
    size_t param_bytes = 0;
    oclnn_status s = g->param_block ? OCLNN_OK : allocate_block(g, T_PARAM, &g->param_block, &param_bytes);
    if (!s && !g->grad_block) s = allocate_block(g, T_GRAD, &g->grad_block, &g->grad_block_bytes);
    for (int i = 0; i < g->count && !s; i++) {
        oclnn_tensor *t = g->tensors[i];
        if (!needs_buffer(t)) continue; /* t->buffer: shared or in a block */
        s = oclnn_buffer_create(g->ctx, t->bytes, t->name ? t->name : "persistent tensor", &t->buffer);
        if (s) return s;
        t->owns_buffer = true;
        t->byte_offset = 0;
        s = fill_initial(g, t);
    }
    return s;
}

/* Each intermediate gets a sub-buffer of its arena range, so kernels see
 * offsets within the tensor, never within the arena (which may exceed what
 * an int offset reaches). An in-place node shares its source's sub-buffer:
 * two overlapping sub-buffers in one kernel would be undefined. */
static oclnn_status allocate_intermediates(oclnn_graph *g)
{
    if (g->arena_bytes) {
        oclnn_status s = oclnn_buffer_create(g->ctx, g->arena_bytes, "graph arena", &g->arena);
        if (s) return s;
    }
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        if (t->storage != t || t->buffer) continue;
        if (t->inplace_of) {
            t->buffer = t->inplace_of->buffer;
            clRetainMemObject(t->buffer);
        } else {
            cl_buffer_region region = {t->byte_offset, t->bytes ? t->bytes : 1};
            cl_int err = CL_SUCCESS;
            t->buffer = clCreateSubBuffer(g->arena, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &err);
            if (err) {
                t->buffer = NULL;
                return oclnn_cl_check(err, "clCreateSubBuffer", t->op ? t->op->name : "compile");
            }
        }
        t->owns_buffer = true;
        t->byte_offset = 0;
    }
    return OCLNN_OK;
}

/* Puts the graph back as it was before a failed compile, so that compiling
 * again (say after freeing device memory) neither leaks nor double-frees. */
static void compile_undo(oclnn_graph *g)
{
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        for (int k = 0; k < t->nlaunch; k++)
            if (t->launch[k].kernel) clReleaseKernel(t->launch[k].kernel);
        t->nlaunch = 0;
        bool persistent = t->storage == t && (t->flags & T_PERSISTENT);
        if (persistent) continue; /* allocated (or shared) once; kept for the next try */
        if (t->buffer && t->owns_buffer) clReleaseMemObject(t->buffer);
        t->buffer = NULL;
        t->owns_buffer = false;
    }
    if (g->arena) clReleaseMemObject(g->arena);
    g->arena = NULL;
}

/* Quiet NaN in every intermediate: an element a kernel reads but nothing
 * wrote turns every result it reaches into NaN, which tests catch. */
static oclnn_status poison_arena(oclnn_graph *g)
{
    if (!g->arena) return OCLNN_OK;
    const cl_uint nan_bits = 0x7fc00000u;
    cl_int err = clEnqueueFillBuffer(g->ctx->queue, g->arena, &nan_bits, sizeof nan_bits, 0, g->arena_bytes, 0, NULL,
                                     NULL);
    return oclnn_cl_check(err, "clEnqueueFillBuffer (poison)", "compile");
}

static oclnn_status compile_steps(oclnn_graph *g, bool reuse)
{
    cl_uint align_bits = 0;
    if (clGetDeviceInfo(g->ctx->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL) !=
        CL_SUCCESS)
        align_bits = 0;
    g->arena_align = align_bits / 8 > 256 ? align_bits / 8 : 256;
    oclnn_status s = oclnn_graph_plan(g, reuse);
    if (!s) s = allocate_persistent(g);
    if (!s) s = allocate_intermediates(g);
    if (s) return s;
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        if (t->storage != t) {
            t->buffer = t->storage->buffer;
            t->byte_offset = t->storage->byte_offset;
        }
    }
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        if (!t->op || !t->op->prepare || t->fused_away) continue;
        if ((s = t->op->prepare(g->ctx, t))) return s;
    }
    return OCLNN_OK;
}

oclnn_status oclnn_graph_share_params(oclnn_graph *dst, const oclnn_graph *src)
{
    if (!dst || !src) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_share_params: NULL graph");
    if (!src->compiled) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_share_params: compile the source first");
    if (dst->compiled) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_share_params: target already compiled");
    if (dst->ctx != src->ctx) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_share_params: different contexts");
    for (int i = 0; i < dst->count; i++) {
        oclnn_tensor *t = dst->tensors[i];
        if (!(t->flags & (T_PARAM | T_STATE)) || !t->name || t->storage != t) continue;
        oclnn_tensor *s = oclnn_graph_find((oclnn_graph *)src, t->name);
        if (!s) continue;
        char a[128], b[128];
        if (!oclnn_same_shape(s, t) || s->dtype != t->dtype || s->storage != s)
            return oclnn_fail(OCLNN_ERR_SHAPE, "oclnn_graph_share_params: '%s' is %s in one graph and %s in the other",
                              t->name, oclnn_tensor_shape_str(t, a, sizeof a), oclnn_tensor_shape_str(s, b, sizeof b));
        if (t->buffer && t->owns_buffer) clReleaseMemObject(t->buffer);
        clRetainMemObject(s->buffer);
        t->buffer = s->buffer;
        t->owns_buffer = true;
    }
    return OCLNN_OK;
}

oclnn_status oclnn_graph_compile(oclnn_graph *g, const oclnn_compile_options *options)
{
    if (!g) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_compile: NULL graph");
    if (g->error) return oclnn_fail(g->error, "%s", g->error_message);
    if (g->compiled) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_compile: already compiled");
    oclnn_status s = compile_steps(g, !(options && options->no_memory_reuse));
    if (s) {
        compile_undo(g);
        return s;
    }
    if (options && options->poison_intermediates) {
        s = poison_arena(g);
        if (s) {
            compile_undo(g);
            return s;
        }
    }
    g->compiled = true;
    const char *profile = getenv("OCLNN_PROFILE");
    if (profile && *profile && strcmp(profile, "0") != 0) g->node_seconds = calloc((size_t)g->node_count + 1, sizeof(double));
    return OCLNN_OK;
}

oclnn_status oclnn_launch_enqueue(oclnn_context *ctx, const oclnn_launch *l, const char *op)
{
    if (l->global[0] == 0 || (l->dims > 1 && l->global[1] == 0) || (l->dims > 2 && l->global[2] == 0))
        return OCLNN_OK; /* empty tensor: nothing to do */
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, l->kernel, l->dims, NULL, l->global,
                                        l->local[0] ? l->local : NULL, 0, NULL, NULL);
    ctx->launch_count++;
    return oclnn_cl_check(err, "clEnqueueNDRangeKernel", op);
}

oclnn_status oclnn_launches_enqueue(oclnn_context *ctx, const oclnn_tensor *node)
{
    oclnn_status s = OCLNN_OK;
    for (int k = 0; k < node->nlaunch && !s; k++) s = oclnn_launch_enqueue(ctx, &node->launch[k], node->op->name);
    return s;
}

oclnn_status oclnn_graph_run(oclnn_graph *g)
{
    if (!g) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_run: NULL graph");
    if (!g->compiled) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_run: compile the graph first");
    if (g->node_seconds) clFinish(g->ctx->queue);
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        if (!t->op) continue;
        double t0 = g->node_seconds ? oclnn_wall_seconds() : 0;
        oclnn_status s = t->op->forward ? t->op->forward(g->ctx, t) : oclnn_launches_enqueue(g->ctx, t);
        if (s) return s;
        if (g->node_seconds) {
            /* Profiling serialises the queue: wall clock per node, since
             * event timestamps are unreliable on some drivers (PoCL). */
            clFinish(g->ctx->queue);
            g->node_seconds[t->node_index] += oclnn_wall_seconds() - t0;
        }
    }
    g->run_count++;
    return OCLNN_OK;
}

size_t oclnn_graph_arena_bytes(const oclnn_graph *g) { return g ? g->arena_bytes : 0; }
size_t oclnn_graph_naive_bytes(const oclnn_graph *g) { return g ? g->naive_bytes : 0; }
int oclnn_graph_node_count(const oclnn_graph *g) { return g ? g->node_count : 0; }

/* ---- kernel argument helpers */

int64_t oclnn_tensor_elem_offset(const oclnn_tensor *t)
{
    return (int64_t)(t->byte_offset / oclnn_dtype_size(t->dtype)) + t->offset;
}

oclnn_status oclnn_arg_count(cl_kernel k, cl_uint *index, int64_t n, const char *op)
{
    if (n < 0 || n > INT32_MAX)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "%s: size %lld does not fit the kernel's int argument", op,
                          (long long)n);
    cl_int v = (cl_int)n;
    return oclnn_arg(k, index, sizeof v, &v, op);
}

oclnn_status oclnn_arg_counts(cl_kernel k, cl_uint *index, int n, const int64_t *values, const char *op)
{
    oclnn_status s = OCLNN_OK;
    for (int a = 0; a < n && !s; a++) s = oclnn_arg_count(k, index, values[a], op);
    return s;
}

oclnn_status oclnn_arg(cl_kernel k, cl_uint *index, size_t size, const void *value, const char *op)
{
    cl_int err = clSetKernelArg(k, *index, size, value);
    if (err) {
        oclnn_cl_check(err, "clSetKernelArg", op);
        return oclnn_fail_append(OCLNN_ERR_OPENCL, " (argument %u)", *index);
    }
    (*index)++;
    return OCLNN_OK;
}

oclnn_status oclnn_arg_tensor(cl_kernel k, cl_uint *index, const oclnn_tensor *t, const char *op)
{
    int64_t elems = oclnn_tensor_elem_offset(t);
    if (elems < 0 || elems > INT32_MAX) /* cannot happen below the graph's element limit; checked all the same */
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "%s: tensor offset %lld beyond 2^31 elements", op, (long long)elems);
    cl_int off = (cl_int)elems;
    oclnn_status s = oclnn_arg(k, index, sizeof(cl_mem), &t->buffer, op);
    return s ? s : oclnn_arg(k, index, sizeof off, &off, op);
}

oclnn_status oclnn_launch_kernel(oclnn_context *ctx, oclnn_tensor *node, const char *source, const char *options,
                                 const char *kernel_name, oclnn_launch **out)
{
    if (node->nlaunch == OCLNN_MAX_LAUNCH)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: too many kernels for one node", node->op->name);
    oclnn_launch *l = &node->launch[node->nlaunch];
    memset(l, 0, sizeof *l);
    oclnn_status s = oclnn_kernel_create(ctx, source, options, kernel_name, node->op->name, &l->kernel);
    if (s) return s;
    node->nlaunch++;
    l->dims = 1;
    *out = l;
    return OCLNN_OK;
}

void oclnn_launch_1d(oclnn_launch *l, size_t n)
{
    l->dims = 1;
    l->global[0] = n;
    l->local[0] = 0;
}

void oclnn_magic_div(int64_t d, cl_uint *m, cl_uint *s)
{
    if (d < 1) d = 1; /* an empty dim: no index is ever split by it */
    int l = 0;
    while (((int64_t)1 << l) < d) l++;
    *m = (cl_uint)(((uint64_t)1 << (31 + l)) / (uint64_t)d + 1);
    *s = (cl_uint)(31 + l);
}

oclnn_status oclnn_launch_1d_groups(oclnn_context *ctx, oclnn_launch *l, size_t n, const char *op)
{
    size_t wg = 0, lx = 256;
    cl_int err = clGetKernelWorkGroupInfo(l->kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    if (err) return oclnn_cl_check(err, "clGetKernelWorkGroupInfo", op);
    while (lx > 1 && (lx > wg || lx > ctx->info.max_work_group_size)) lx /= 2;
    l->dims = 1;
    l->local[0] = lx;
    l->global[0] = (n + lx - 1) / lx * lx; /* 0 for an empty tensor: nothing is launched */
    return OCLNN_OK;
}

/* ---- host <-> device */

static oclnn_status check_transfer(const oclnn_tensor *t, size_t bytes, const char *what)
{
    if (!t) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: NULL tensor", what);
    const char *name = t->name ? t->name : "(unnamed)";
    if (!t->graph->compiled)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s '%s': compile the graph first", what, name);
    if (!(t->storage->flags & T_PERSISTENT))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG,
                          "%s '%s': tensor is an intermediate; mark it with oclnn_graph_output before compiling",
                          what, name);
    if (!oclnn_tensor_is_contiguous(t))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s '%s': tensor is a strided view; use oclnn_contiguous", what, name);
    size_t want = (size_t)oclnn_tensor_numel(t) * oclnn_dtype_size(t->dtype);
    if (bytes != want)
        return oclnn_fail(OCLNN_ERR_SHAPE, "%s '%s': %zu bytes given, tensor holds %zu", what, name, bytes, want);
    return OCLNN_OK;
}

static size_t tensor_byte_offset(const oclnn_tensor *t)
{
    return t->byte_offset + (size_t)t->offset * oclnn_dtype_size(t->dtype);
}

/* Blocking (done NULL) or not: then *done gets an event to wait on or
 * release, and data must stay untouched until it completes. */
static oclnn_status transfer(oclnn_tensor *t, void *data, size_t bytes, bool write, cl_event *done)
{
    const char *what = write ? "oclnn_tensor_write" : "oclnn_tensor_read";
    if (done) *done = NULL;
    oclnn_status s = check_transfer(t, bytes, what);
    if (s || bytes == 0) return s;
    cl_command_queue q = t->graph->ctx->queue;
    cl_bool blocking = done ? CL_FALSE : CL_TRUE;
    cl_int err = write ? clEnqueueWriteBuffer(q, t->buffer, blocking, tensor_byte_offset(t), bytes, data, 0, NULL, done)
                       : clEnqueueReadBuffer(q, t->buffer, blocking, tensor_byte_offset(t), bytes, data, 0, NULL, done);
    return oclnn_cl_check(err, write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer", t->name ? t->name : what);
}

oclnn_status oclnn_tensor_write(oclnn_tensor *t, const void *data, size_t bytes)
{
    return transfer(t, (void *)data, bytes, true, NULL);
}

oclnn_status oclnn_tensor_read(oclnn_tensor *t, void *data, size_t bytes)
{
    return transfer(t, data, bytes, false, NULL);
}

oclnn_status oclnn_tensor_write_async(oclnn_tensor *t, const void *data, size_t bytes, cl_event *done)
{
    return transfer(t, (void *)data, bytes, true, done);
}

oclnn_status oclnn_tensor_read_async(oclnn_tensor *t, void *data, size_t bytes, cl_event *done)
{
    return transfer(t, data, bytes, false, done);
}

oclnn_status oclnn_tensor_fill(oclnn_tensor *t, float value)
{
    oclnn_status s = check_transfer(t, t ? (size_t)oclnn_tensor_numel(t) * oclnn_dtype_size(t->dtype) : 0,
                                    "oclnn_tensor_fill");
    if (s) return s;
    size_t size = oclnn_dtype_size(t->dtype), bytes = (size_t)oclnn_tensor_numel(t) * size;
    if (!bytes) return OCLNN_OK;
    union {
        float f;
        cl_int i;
        cl_long l;
    } v;
    if (t->dtype == OCLNN_DTYPE_F32) v.f = value;
    else if (t->dtype == OCLNN_DTYPE_I32) v.i = (cl_int)value;
    else v.l = (cl_long)value;
    cl_int err = clEnqueueFillBuffer(t->graph->ctx->queue, t->buffer, &v, size, tensor_byte_offset(t), bytes, 0,
                                     NULL, NULL);
    return oclnn_cl_check(err, "clEnqueueFillBuffer", t->name ? t->name : "tensor_fill");
}

static oclnn_status fill_random(oclnn_tensor *t, const char *kernel_name, uint64_t seed, uint64_t stream, float a,
                                float b)
{
    oclnn_status s = check_transfer(t, t ? (size_t)oclnn_tensor_numel(t) * oclnn_dtype_size(t->dtype) : 0,
                                    kernel_name);
    if (s) return s;
    if (t->dtype != OCLNN_DTYPE_F32) return oclnn_fail(OCLNN_ERR_SHAPE, "%s: tensor must be f32", kernel_name);
    oclnn_context *ctx = t->graph->ctx;
    cl_kernel k;
    s = oclnn_kernel_create(ctx, oclnn_cl_random, "", kernel_name, kernel_name, &k);
    if (s) return s;
    cl_uint i = 0;
    cl_int n = (cl_int)oclnn_tensor_numel(t);
    cl_uint key[2] = {(cl_uint)seed, (cl_uint)(seed >> 32)};
    cl_uint str[2] = {(cl_uint)stream, (cl_uint)(stream >> 32)};
    if (!(s = oclnn_arg_tensor(k, &i, t, kernel_name)) && !(s = oclnn_arg(k, &i, sizeof n, &n, kernel_name)) &&
        !(s = oclnn_arg(k, &i, sizeof key[0], &key[0], kernel_name)) &&
        !(s = oclnn_arg(k, &i, sizeof key[1], &key[1], kernel_name)) &&
        !(s = oclnn_arg(k, &i, sizeof str[0], &str[0], kernel_name)) &&
        !(s = oclnn_arg(k, &i, sizeof str[1], &str[1], kernel_name)) &&
        !(s = oclnn_arg(k, &i, sizeof a, &a, kernel_name)) && !(s = oclnn_arg(k, &i, sizeof b, &b, kernel_name))) {
        oclnn_launch l = {.kernel = k, .dims = 1, .global = {(size_t)(n + 3) / 4}};
        s = oclnn_launch_enqueue(ctx, &l, kernel_name);
    }
    clReleaseKernel(k);
    return s;
}

oclnn_status oclnn_tensor_fill_uniform(oclnn_tensor *t, uint64_t seed, uint64_t stream, float low, float high)
{
    return fill_random(t, "fill_uniform", seed, stream, low, high);
}

oclnn_status oclnn_tensor_fill_normal(oclnn_tensor *t, uint64_t seed, uint64_t stream, float mean, float stddev)
{
    return fill_random(t, "fill_normal", seed, stream, mean, stddev);
}

/* Prints the $OCLNN_PROFILE table: wall time per op name, largest first. */
void oclnn_graph_profile_report(const oclnn_graph *g)
{
    if (!g || !g->node_seconds || g->run_count == 0) return;
    const char *names[256];
    double secs[256];
    int count[256], n = 0;
    double total = 0;
    for (int i = 0; i < g->count; i++) {
        const oclnn_tensor *t = g->tensors[i];
        if (!t->op) continue;
        int k = 0;
        while (k < n && strcmp(names[k], t->op->name) != 0) k++;
        if (k == n) {
            if (n == 256) continue;
            names[n] = t->op->name;
            secs[n] = 0;
            count[n++] = 0;
        }
        secs[k] += g->node_seconds[t->node_index];
        count[k]++;
        total += g->node_seconds[t->node_index];
    }
    fprintf(stderr, "oclnn profile: %d nodes, %llu runs, %.3f ms per run\n", g->node_count,
            (unsigned long long)g->run_count, total * 1e3 / (double)g->run_count);
    for (int done = 0; done < n; done++) {
        int best = -1;
        for (int k = 0; k < n; k++)
            if (count[k] >= 0 && (best < 0 || secs[k] > secs[best])) best = k;
        fprintf(stderr, "  %-24s %3d nodes %9.3f ms/run %5.1f%%\n", names[best], count[best],
                secs[best] * 1e3 / (double)g->run_count, total > 0 ? 100 * secs[best] / total : 0);
        count[best] = -1;
    }
}
