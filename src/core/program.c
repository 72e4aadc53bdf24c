/* Lazy program builds with an in-memory table and an on-disk binary cache.
 *
 * Disk entries are keyed by a hash of everything that can change the binary
 * (source, options, platform, device, driver, format version) and carry a
 * header with a checksum of the payload, so a truncated, garbage or stale
 * entry is detected, rebuilt from source and rewritten; it is never trusted.
 * Writes go to a temporary file renamed into place, so concurrent processes
 * never see half an entry. */
#include "core/context.h"
#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_FORMAT_VERSION 1u
static const char CACHE_MAGIC[8] = {'O', 'C', 'L', 'N', 'N', 'B', 'I', 'N'};

typedef struct cache_header {
    char magic[8];
    uint32_t version;
    uint32_t reserved;
    uint64_t key[2];
    uint64_t payload_bytes;
    uint64_t payload_hash;
} cache_header;

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t hash_parts(uint64_t seed, const char *const *parts, int n)
{
    uint64_t h = seed;
    for (int i = 0; i < n; i++) {
        h = fnv1a(h, parts[i], strlen(parts[i]));
        h = fnv1a(h, "\x1f", 1); /* separator: ("ab","c") != ("a","bc") */
    }
    return h;
}

const char *oclnn_cache_dir(void)
{
    static _Thread_local char dir[1024];
    const char *off = getenv("OCLNN_NO_CACHE");
    if (off && *off && strcmp(off, "0") != 0) return NULL;
    const char *env = getenv("OCLNN_CACHE_DIR");
    if (env && *env) {
        snprintf(dir, sizeof dir, "%s", env);
        return dir;
    }
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && *xdg) {
        snprintf(dir, sizeof dir, "%s/oclnn", xdg);
        return dir;
    }
    const char *home = getenv("HOME");
    if (!home || !*home) return NULL;
    snprintf(dir, sizeof dir, "%s/.cache/oclnn", home);
    return dir;
}

static void make_dirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    mkdir(tmp, 0755);
}

static void cache_key(const oclnn_context *ctx, const char *source, const char *options, uint64_t key[2])
{
    char version[16];
    snprintf(version, sizeof version, "%u", CACHE_FORMAT_VERSION);
    const char *parts[] = {source, options, ctx->info.platform, ctx->info.name, ctx->info.vendor,
                           ctx->info.driver, ctx->info.opencl_c_version, version};
    key[0] = hash_parts(0xcbf29ce484222325ull, parts, 8);
    key[1] = hash_parts(0x84222325cbf29ce4ull, parts, 8);
}

static int cache_path(const uint64_t key[2], char *out, size_t size)
{
    const char *dir = oclnn_cache_dir();
    if (!dir) return 0;
    snprintf(out, size, "%s/%016llx%016llx.bin", dir, (unsigned long long)key[0], (unsigned long long)key[1]);
    return 1;
}

/* Loads a binary if a valid entry exists: returns malloc'ed payload or NULL.
 * *rejected is set when a file existed but failed validation. */
static unsigned char *cache_read(const char *path, const uint64_t key[2], size_t *bytes, int *rejected)
{
    *rejected = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    cache_header h;
    unsigned char *payload = NULL;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, CACHE_MAGIC, 8) != 0 ||
        h.version != CACHE_FORMAT_VERSION || h.key[0] != key[0] || h.key[1] != key[1] ||
        h.payload_bytes == 0 || h.payload_bytes > ((uint64_t)1 << 31))
        goto bad;
    payload = malloc(h.payload_bytes);
    if (!payload || fread(payload, 1, h.payload_bytes, f) != h.payload_bytes) goto bad;
    if (fgetc(f) != EOF) goto bad; /* trailing bytes: not what we wrote */
    if (fnv1a(0xcbf29ce484222325ull, payload, h.payload_bytes) != h.payload_hash) goto bad;
    fclose(f);
    *bytes = h.payload_bytes;
    return payload;
bad:
    free(payload);
    fclose(f);
    *rejected = 1;
    return NULL;
}

static void cache_write(const char *path, const uint64_t key[2], const unsigned char *payload, size_t bytes)
{
    const char *dir = oclnn_cache_dir();
    if (!dir) return;
    make_dirs(dir);
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%.1200s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return; /* the cache is an optimisation: failing to write it is not an error */
    cache_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.version = CACHE_FORMAT_VERSION;
    h.key[0] = key[0];
    h.key[1] = key[1];
    h.payload_bytes = bytes;
    h.payload_hash = fnv1a(0xcbf29ce484222325ull, payload, bytes);
    int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(payload, 1, bytes, f) == bytes;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) remove(tmp);
}

static oclnn_status build_log_error(oclnn_context *ctx, cl_program prog, cl_int err, const char *op,
                                    const char *options)
{
    size_t size = 0;
    clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &size);
    char *log = malloc(size + 1);
    if (log) {
        log[0] = 0;
        clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, size, log, NULL);
        log[size] = 0;
    }
    oclnn_status s = oclnn_fail(OCLNN_ERR_BUILD, "clBuildProgram failed with %s for op '%s' (options '%s'):\n%s",
                                oclnn_cl_error_name(err), op, options, log ? log : "(no log)");
    free(log);
    return s;
}

static cl_program build_from_binary(oclnn_context *ctx, const unsigned char *bin, size_t bytes,
                                    const char *options)
{
    cl_int err, status;
    cl_program prog = clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &bytes, &bin, &status, &err);
    if (err || status) {
        if (prog) clReleaseProgram(prog);
        return NULL;
    }
    if (clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(prog);
        return NULL;
    }
    return prog;
}

static unsigned char *program_binary(oclnn_context *ctx, cl_program prog, size_t *bytes)
{
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) || size == 0) return NULL;
    unsigned char *bin = malloc(size);
    if (!bin) return NULL;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL)) {
        free(bin);
        return NULL;
    }
    (void)ctx;
    *bytes = size;
    return bin;
}

oclnn_status oclnn_program_get(oclnn_context *ctx, const char *source, const char *options, const char *op,
                               cl_program *out)
{
    if (!options) options = "";
    for (int i = 0; i < ctx->program_count; i++) {
        oclnn_program_entry *e = &ctx->programs[i];
        if (e->source == source && strcmp(e->options, options) == 0) {
            ctx->stats.memory_hits++;
            *out = e->program;
            return OCLNN_OK;
        }
    }
    if (ctx->program_count == ctx->program_capacity) {
        int cap = ctx->program_capacity ? ctx->program_capacity * 2 : 16;
        oclnn_program_entry *grown = realloc(ctx->programs, (size_t)cap * sizeof *grown);
        if (!grown) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "program cache: out of host memory");
        ctx->programs = grown;
        ctx->program_capacity = cap;
    }
    size_t optlen = strlen(options) + strlen(ctx->std_option) + 2;
    char *full = malloc(optlen);
    if (!full) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "program cache: out of host memory");
    snprintf(full, optlen, "%s %s", ctx->std_option, options);

    uint64_t key[2];
    cache_key(ctx, source, full, key);
    char path[1200];
    int cached = cache_path(key, path, sizeof path);
    cl_program prog = NULL;
    if (cached) {
        size_t bytes = 0;
        int rejected = 0;
        unsigned char *bin = cache_read(path, key, &bytes, &rejected);
        if (bin) {
            prog = build_from_binary(ctx, bin, bytes, full);
            free(bin);
            if (prog) ctx->stats.disk_hits++;
            else rejected = 1; /* driver refused it: stale, rebuild and overwrite */
        }
        if (rejected) ctx->stats.disk_rejected++;
    }
    if (!prog) {
        cl_int err;
        prog = clCreateProgramWithSource(ctx->cl, 1, &source, NULL, &err);
        if (err) {
            free(full);
            return oclnn_cl_check(err, "clCreateProgramWithSource", op);
        }
        err = clBuildProgram(prog, 1, &ctx->device, full, NULL, NULL);
        if (err) {
            oclnn_status s = build_log_error(ctx, prog, err, op, full);
            clReleaseProgram(prog);
            free(full);
            return s;
        }
        ctx->stats.programs_built++;
        if (cached) {
            size_t bytes = 0;
            unsigned char *bin = program_binary(ctx, prog, &bytes);
            if (bin) cache_write(path, key, bin, bytes);
            free(bin);
        }
    }
    free(full);
    char *saved = strdup(options);
    if (!saved) {
        clReleaseProgram(prog);
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "program cache: out of host memory");
    }
    ctx->programs[ctx->program_count++] = (oclnn_program_entry){source, saved, prog};
    *out = prog;
    return OCLNN_OK;
}

oclnn_status oclnn_kernel_create(oclnn_context *ctx, const char *source, const char *options,
                                 const char *kernel_name, const char *op, cl_kernel *out)
{
    cl_program prog;
    oclnn_status s = oclnn_program_get(ctx, source, options, op, &prog);
    if (s) return s;
    cl_int err;
    *out = clCreateKernel(prog, kernel_name, &err);
    if (err) {
        oclnn_cl_check(err, "clCreateKernel", op);
        return oclnn_fail_append(OCLNN_ERR_OPENCL, " (kernel '%s')", kernel_name);
    }
    return OCLNN_OK;
}

void oclnn_programs_release(oclnn_context *ctx)
{
    for (int i = 0; i < ctx->program_count; i++) {
        clReleaseProgram(ctx->programs[i].program);
        free(ctx->programs[i].options);
    }
    free(ctx->programs);
    ctx->programs = NULL;
    ctx->program_count = ctx->program_capacity = 0;
}
