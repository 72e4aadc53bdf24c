#include "core/context.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Kernels are written for OpenCL C 1.2; older compilers get their own
 * version so the option is never rejected. The platform version is not
 * used: a 3.0 platform may still expose a 1.2 C compiler. */
static void choose_std(oclnn_context *ctx)
{
    int major = 1, minor = 2;
    if (sscanf(ctx->info.opencl_c_version, "OpenCL C %d.%d", &major, &minor) != 2) major = 1, minor = 2;
    if (major > 1 || (major == 1 && minor > 2)) major = 1, minor = 2;
    snprintf(ctx->std_option, sizeof ctx->std_option, "-cl-std=CL%d.%d", major, minor);
}

oclnn_status oclnn_context_create(const char *device_spec, oclnn_context **out)
{
    if (!out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_context_create: NULL output");
    *out = NULL;
    oclnn_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "context: out of host memory");
    oclnn_status s = oclnn_device_find(device_spec, &ctx->info, &ctx->device);
    if (s) {
        free(ctx);
        return s;
    }
    cl_int err = clGetDeviceInfo(ctx->device, CL_DEVICE_PLATFORM, sizeof ctx->platform, &ctx->platform, NULL);
    if (err) {
        free(ctx);
        return oclnn_cl_check(err, "clGetDeviceInfo(CL_DEVICE_PLATFORM)", "context");
    }
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
    ctx->cl = clCreateContext(props, 1, &ctx->device, NULL, NULL, &err);
    if (err) {
        free(ctx);
        return oclnn_cl_check(err, "clCreateContext", "context");
    }
    ctx->queue = clCreateCommandQueue(ctx->cl, ctx->device, 0, &err);
    if (err) {
        clReleaseContext(ctx->cl);
        free(ctx);
        return oclnn_cl_check(err, "clCreateCommandQueue", "context");
    }
    choose_std(ctx);
    *out = ctx;
    return OCLNN_OK;
}

void oclnn_context_release(oclnn_context *ctx)
{
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    /* Later registrations may build on earlier ones: undo in reverse. */
    for (int i = ctx->ext_count - 1; i >= 0; i--)
        if (ctx->exts[i].release) ctx->exts[i].release(ctx, ctx->exts[i].data);
    free(ctx->exts);
    oclnn_programs_release(ctx);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->cl) clReleaseContext(ctx->cl);
    free(ctx);
}

void *oclnn_context_ext(const oclnn_context *ctx, const void *key)
{
    for (int i = 0; i < ctx->ext_count; i++)
        if (ctx->exts[i].key == key) return ctx->exts[i].data;
    return NULL;
}

oclnn_status oclnn_context_ext_set(oclnn_context *ctx, const void *key, void *data,
                                   void (*release)(oclnn_context *ctx, void *data))
{
    for (int i = 0; i < ctx->ext_count; i++)
        if (ctx->exts[i].key == key)
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "context: per-context state registered twice for one key");
    if (ctx->ext_count == ctx->ext_capacity) {
        int cap = ctx->ext_capacity ? 2 * ctx->ext_capacity : 4;
        oclnn_context_ext_entry *grown = realloc(ctx->exts, (size_t)cap * sizeof *grown);
        if (!grown) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "context: out of host memory for per-context state");
        ctx->exts = grown;
        ctx->ext_capacity = cap;
    }
    ctx->exts[ctx->ext_count++] = (oclnn_context_ext_entry){key, data, release};
    return OCLNN_OK;
}

const oclnn_device_info *oclnn_context_device(const oclnn_context *ctx) { return ctx ? &ctx->info : NULL; }

oclnn_status oclnn_context_finish(oclnn_context *ctx)
{
    if (!ctx) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_context_finish: NULL context");
    return oclnn_cl_check(clFinish(ctx->queue), "clFinish", "finish");
}

oclnn_cache_stats oclnn_context_cache_stats(const oclnn_context *ctx)
{
    oclnn_cache_stats none = {0, 0, 0, 0};
    return ctx ? ctx->stats : none;
}

oclnn_status oclnn_buffer_create(oclnn_context *ctx, size_t bytes, const char *op, cl_mem *out)
{
    cl_int err;
    /* Zero-size buffers are invalid in OpenCL; empty tensors still get one
     * element so every tensor has a valid cl_mem. */
    *out = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &err);
    if (err) {
        oclnn_status s = oclnn_cl_check(err, "clCreateBuffer", op);
        return oclnn_fail_append(s, " (%zu bytes requested on %s)", bytes, ctx->info.name);
    }
    return OCLNN_OK;
}

double oclnn_wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
