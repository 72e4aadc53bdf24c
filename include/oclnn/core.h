/* oclnn core: status codes, error messages, devices and contexts.
 *
 * Every public function reports failure by returning a status (or NULL for
 * constructors); nothing in the library aborts on bad input or on an OpenCL
 * failure. The human-readable reason for the most recent failure on the
 * calling thread is kept until the next failure and returned by
 * oclnn_last_error(). */
#ifndef OCLNN_CORE_H
#define OCLNN_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OCLNN_VERSION_STRING "0.1.0"

typedef enum oclnn_status {
    OCLNN_OK = 0,
    OCLNN_ERR_INVALID_ARG,   /* a caller passed something meaningless (NULL, negative size, ...) */
    OCLNN_ERR_NO_DEVICE,     /* no OpenCL platform, or no device matches the request */
    OCLNN_ERR_OPENCL,        /* an OpenCL call failed; the message names the call and the op */
    OCLNN_ERR_BUILD,         /* a kernel program failed to compile; the message holds the log */
    OCLNN_ERR_SHAPE,         /* tensor shapes or dtypes do not fit the op */
    OCLNN_ERR_IO,            /* a file could not be opened, read or written */
    OCLNN_ERR_FORMAT,        /* a file's contents are malformed */
    OCLNN_ERR_OUT_OF_MEMORY, /* host or device allocation failed */
    OCLNN_ERR_UNSUPPORTED,   /* valid request that oclnn does not implement (e.g. an op without backward) */
    OCLNN_ERR_NOT_FOUND      /* a named thing (tensor, file entry) does not exist */
} oclnn_status;

/* Short constant name of a status, e.g. "OCLNN_ERR_SHAPE". */
const char *oclnn_status_name(oclnn_status status);

/* Message describing the latest failure on this thread ("" if none). */
const char *oclnn_last_error(void);

/* ---- Devices -------------------------------------------------------------
 * Every device of every OpenCL platform is listed. A device is chosen by a
 * spec string: NULL or "" (use $OCLNN_DEVICE, else the first GPU, else the
 * first CPU), "gpu", "cpu", "P:D" (platform and device index as listed), or a
 * case-insensitive substring of the platform, device or vendor name. */

typedef struct oclnn_device_info {
    int platform_index;
    int device_index;
    char platform[128];
    char name[128];
    char vendor[128];
    char driver[64];
    char opencl_c_version[64]; /* e.g. "OpenCL C 1.2 pocl" */
    int is_gpu;
    int is_cpu;
    unsigned compute_units;
    unsigned clock_mhz;
    uint64_t global_mem_bytes;
    uint64_t local_mem_bytes;
    uint64_t max_alloc_bytes;
    size_t max_work_group_size;
    int has_fp16;      /* cl_khr_fp16 */
    int has_subgroups; /* cl_khr_subgroups or cl_intel_subgroups */
    /* CPU devices: floats per SIMD instruction (the larger of the native and
     * preferred float vector widths, at least what the PoCL device name
     * says: "avx512" 16, "avx"/"haswell"/"skylake"... 8), and the
     * theoretical peak this gives, compute_units x simd_floats x 2 (an FMA)
     * x clock_mhz / 1000 GFLOP/s. An estimate: it assumes one vector FMA
     * per cycle per unit at the reported clock, so cores with two FMA
     * pipes, wider-than-reported units or turbo clocks can exceed it, and
     * units that are hyperthreads of one core share one. 0 for GPUs,
     * whose OpenCL properties do not tell their SIMD width. */
    unsigned simd_floats;
    double peak_gflops;
} oclnn_device_info;

/* Lists every device. *out is malloc'ed; free it with free(). */
oclnn_status oclnn_devices_list(oclnn_device_info **out, int *count);

/* Resolves a device spec (see above) to the list entry it selects. */
oclnn_status oclnn_device_select(const char *spec, oclnn_device_info *out);

/* ---- Context -------------------------------------------------------------
 * A context owns one device, one in-order command queue, the in-memory
 * program cache and CLBlast's per-context state. */

typedef struct oclnn_context oclnn_context;

oclnn_status oclnn_context_create(const char *device_spec, oclnn_context **out);
void oclnn_context_release(oclnn_context *ctx);
const oclnn_device_info *oclnn_context_device(const oclnn_context *ctx);
/* Waits until every enqueued command has finished. */
oclnn_status oclnn_context_finish(oclnn_context *ctx);

/* Kernel binary cache statistics of this context (for tests and tools). */
typedef struct oclnn_cache_stats {
    unsigned programs_built;    /* compiled from source */
    unsigned disk_hits;         /* loaded from the on-disk binary cache */
    unsigned disk_rejected;     /* cache entries found corrupt or stale and rebuilt */
    unsigned memory_hits;       /* reused within this context */
} oclnn_cache_stats;
oclnn_cache_stats oclnn_context_cache_stats(const oclnn_context *ctx);

/* Directory of the on-disk kernel binary cache: $OCLNN_CACHE_DIR, else
 * $XDG_CACHE_HOME/oclnn, else ~/.cache/oclnn. $OCLNN_NO_CACHE=1 disables it.
 * Returns NULL when disabled. */
const char *oclnn_cache_dir(void);

/* ---- Random numbers ------------------------------------------------------
 * Philox-4x32-10: counter-based, so a (seed, stream, index) gives the same
 * number on every device and on the host. Element i of a fill uses counter
 * (i/4, stream) and key = seed; lane i%4 of the output block. */
void oclnn_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);
/* Uniform in [0,1) from a 32-bit word: top 24 bits scaled by 2^-24. */
float oclnn_philox_uniform(uint64_t seed, uint64_t stream, uint64_t index);

#ifdef __cplusplus
}
#endif
#endif
