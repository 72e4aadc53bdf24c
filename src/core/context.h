/* Internal view of a context, shared by the graph executor and the ops. */
#ifndef OCLNN_CONTEXT_H
#define OCLNN_CONTEXT_H

#include <CL/cl.h>
#include <stdint.h>

#include "oclnn/core.h"

/* Per-context state of an op family (workspaces, library handles), found
 * by the address of a static in that family: src/core knows no op. */
typedef struct oclnn_context_ext_entry {
    const void *key;
    void *data;
    void (*release)(oclnn_context *ctx, void *data);
} oclnn_context_ext_entry;

typedef struct oclnn_program_entry {
    const char *source; /* embedded source: identity is the pointer */
    char *options;
    cl_program program;
} oclnn_program_entry;

struct oclnn_context {
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl;
    cl_command_queue queue;
    oclnn_device_info info;
    char std_option[24];          /* -cl-std=CLx.y chosen from the device's OpenCL C version */
    oclnn_program_entry *programs;
    int program_count, program_capacity;
    oclnn_cache_stats stats;
    oclnn_context_ext_entry *exts;
    int ext_count, ext_capacity;
    uint64_t launch_count; /* kernels enqueued through oclnn_launch_enqueue (tests count launches per step) */
};

/* Finds the device a spec selects (see oclnn_device_select) and its id. */
oclnn_status oclnn_device_find(const char *spec, oclnn_device_info *info, cl_device_id *id);

/* Runtime settings read from the environment at the runtime's start
 * (runtime_env.c): init applies the defaults once per process, before
 * device.c's first OpenCL call; defaults is the check itself, for tests. */
void oclnn_runtime_env_init(void);
void oclnn_runtime_env_defaults(void);

/* Returns the program for (source, options), building it lazily: in-memory
 * reuse first, then the on-disk binary cache, then a compile from source.
 * `op` names the caller in error messages. The context owns the program. */
oclnn_status oclnn_program_get(oclnn_context *ctx, const char *source, const char *options, const char *op,
                               cl_program *out);

/* Creates a kernel from a (lazily built) program. The caller releases it. */
oclnn_status oclnn_kernel_create(oclnn_context *ctx, const char *source, const char *options,
                                 const char *kernel_name, const char *op, cl_kernel *out);

void oclnn_programs_release(oclnn_context *ctx);

/* Device buffer helpers; errors name the op. */
oclnn_status oclnn_buffer_create(oclnn_context *ctx, size_t bytes, const char *op, cl_mem *out);

/* Monotonic wall clock in seconds: what timings here are measured with
 * (event timestamps are unreliable on PoCL). */
double oclnn_wall_seconds(void);

/* The data an op family registered on ctx under key, or NULL. */
void *oclnn_context_ext(const oclnn_context *ctx, const void *key);

/* Registers data under key (one registration per key). On release of the
 * context, release(ctx, data) runs in reverse registration order, after
 * the queue has finished and while programs, queue and context are still
 * alive. release may be NULL. On failure nothing is registered and the
 * caller still owns data. */
oclnn_status oclnn_context_ext_set(oclnn_context *ctx, const void *key, void *data,
                                   void (*release)(oclnn_context *ctx, void *data));

#endif
