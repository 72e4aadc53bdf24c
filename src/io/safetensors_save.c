/* safetensors writer (see include/oclnn/safetensors.h; the reader is
 * safetensors.c). Saving writes a temporary file and renames it over the
 * target, so readers see the old file or the new one, never half of one. */

/* 64-bit off_t for files over 2 GB on 32-bit hosts; must precede every include. */
#define _FILE_OFFSET_BITS 64

#include "io/safetensors_internal.h"
#include "core/error.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_le64(unsigned char b[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static oclnn_status check_save_args(const char *path, const oclnn_st_tensor *tensors, int count,
                                    const char *const *meta_keys, const char *const *meta_values, int meta_count)
{
    if (!path || !path[0]) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_safetensors_save: path is NULL or empty");
    if (count < 0 || (count > 0 && !tensors))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': bad tensor list (count %d)", path, count);
    if (meta_count < 0 || (meta_count > 0 && (!meta_keys || !meta_values)))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': bad metadata list (count %d)", path,
                          meta_count);

    for (int i = 0; i < count; i++) {
        const oclnn_st_tensor *t = &tensors[i];
        char sbuf[256];
        size_t want;
        if (!t->name || !t->name[0])
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': tensor %d has an empty name", path, i);
        if (strcmp(t->name, "__metadata__") == 0)
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': the tensor name '__metadata__' is "
                              "reserved", path);
        if (!st_dtype_valid(t->dtype))
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': tensor '%s' has invalid dtype %d", path,
                              t->name, (int)t->dtype);
        if (t->ndim < 0 || t->ndim > OCLNN_ST_MAX_DIMS)
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': tensor '%s' has %d dimensions "
                              "(0 to %d allowed)", path, t->name, t->ndim, OCLNN_ST_MAX_DIMS);
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0)
                return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': tensor '%s' has negative shape %s",
                                  path, t->name, oclnn_st_shape_str(t->shape, t->ndim, sbuf, sizeof sbuf));
        if (!oclnn_st_shape_nbytes(t->shape, t->ndim, st_dtype_size(t->dtype), &want) || want != t->nbytes)
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': tensor '%s' has nbytes %zu but shape %s "
                              "of %s needs a different size", path, t->name, t->nbytes,
                              oclnn_st_shape_str(t->shape, t->ndim, sbuf, sizeof sbuf), st_dtype_name(t->dtype));
        if (t->nbytes > 0 && !t->data)
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': tensor '%s' has NULL data", path,
                              t->name);
    }
    for (int i = 0; i < meta_count; i++)
        if (!meta_keys[i] || !meta_values[i])
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': metadata pair %d has a NULL key or "
                              "value", path, i);

    /* Uniqueness of tensor names, then of metadata keys. */
    int most = count > meta_count ? count : meta_count;
    const char **names = malloc(((size_t)most + 1) * sizeof *names);
    if (!names) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors save '%s': out of memory", path);
    for (int i = 0; i < count; i++) names[i] = tensors[i].name;
    const char *dup = oclnn_st_find_duplicate(names, (size_t)count);
    oclnn_status s = OCLNN_OK;
    if (dup) {
        s = oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': duplicate tensor name '%s'", path, dup);
    } else {
        for (int i = 0; i < meta_count; i++) names[i] = meta_keys[i];
        dup = oclnn_st_find_duplicate(names, (size_t)meta_count);
        if (dup) s = oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': duplicate metadata key '%s'", path, dup);
    }
    free(names);
    return s;
}

/* Appends v to a JSON array as a raw integer: cJSON would print large
 * doubles in exponent form, which strict readers reject for u64 fields. */
static int add_u64(cJSON *array, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    cJSON *item = cJSON_CreateRaw(buf);
    if (!item || !cJSON_AddItemToArray(array, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

/* The JSON header text (malloc'ed, unpadded), or NULL when out of memory.
 * Metadata comes first and tensors follow in the caller's order, with data
 * laid out back to back in that same order. */
static char *build_header(const oclnn_st_tensor *tensors, int count, const char *const *meta_keys,
                          const char *const *meta_values, int meta_count)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && meta_count > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (int i = 0; ok && i < meta_count; i++) ok = cJSON_AddStringToObject(meta, meta_keys[i], meta_values[i]) != NULL;
    }
    uint64_t offset = 0;
    for (int i = 0; ok && i < count; i++) {
        const oclnn_st_tensor *t = &tensors[i];
        cJSON *entry = cJSON_AddObjectToObject(root, t->name);
        cJSON *shape = NULL, *offs = NULL;
        ok = entry && cJSON_AddStringToObject(entry, "dtype", st_dtype_name(t->dtype)) &&
             (shape = cJSON_AddArrayToObject(entry, "shape")) != NULL;
        for (int d = 0; ok && d < t->ndim; d++) ok = add_u64(shape, (uint64_t)t->shape[d]);
        ok = ok && (offs = cJSON_AddArrayToObject(entry, "data_offsets")) != NULL && add_u64(offs, offset) &&
             add_u64(offs, offset + t->nbytes);
        offset += t->nbytes;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return 0;
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

/* Tensor data in the file's little-endian order; big-endian hosts swap a
 * bounded chunk at a time rather than copying the whole tensor. */
static int write_tensor(int fd, const oclnn_st_tensor *t)
{
    if (st_host_is_little_endian()) return write_all(fd, t->data, t->nbytes);
    unsigned char chunk[65536];
    const unsigned char *p = t->data;
    for (size_t done = 0; done < t->nbytes;) {
        size_t n = t->nbytes - done < sizeof chunk ? t->nbytes - done : sizeof chunk;
        memcpy(chunk, p + done, n);
        st_swap_bytes(chunk, n, st_dtype_size(t->dtype));
        if (!write_all(fd, chunk, n)) return 0;
        done += n;
    }
    return 1;
}

/* After rename(), the directory entry itself must reach the disk for the new
 * file to survive a power cut. Best effort: some filesystems refuse to fsync
 * a directory, and the data is already safe in the file either way. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

static int open_new(const char *path)
{
    /* O_EXCL|O_NOFOLLOW: never write through a file or symlink someone else
     * planted under the temporary name. */
    return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
}

oclnn_status oclnn_safetensors_save(const char *path, const oclnn_st_tensor *tensors, int count,
                                    const char *const *meta_keys, const char *const *meta_values, int meta_count)
{
    oclnn_status s = check_save_args(path, tensors, count, meta_keys, meta_values, meta_count);
    if (s != OCLNN_OK) return s;

    char *json = build_header(tensors, count, meta_keys, meta_values, meta_count);
    if (!json) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors save '%s': out of memory for the header", path);
    /* Pad with spaces so the data blob starts 8-byte aligned in the file, as
     * the reference implementation does. */
    size_t json_len = strlen(json);
    size_t header_len = (json_len + 7) / 8 * 8;
    size_t tmp_size = strlen(path) + 32;
    unsigned char *header = malloc(8 + header_len);
    char *tmp = malloc(tmp_size);
    if (!header || !tmp) {
        free(json);
        free(header);
        free(tmp);
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors save '%s': out of memory", path);
    }
    write_le64(header, header_len);
    memcpy(header + 8, json, json_len);
    memset(header + 8 + json_len, ' ', header_len - json_len);
    free(json);

    /* The pid keeps concurrent processes saving the same path apart. */
    snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
    int fd = open_new(tmp);
    /* A file of that name can only be left over from a crashed save by an
     * earlier process that had our pid: replace it. */
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) fd = open_new(tmp);
    if (fd < 0) {
        s = oclnn_fail(OCLNN_ERR_IO, "safetensors save '%s': cannot create temporary file '%s': %s", path, tmp,
                       strerror(errno));
        goto done;
    }

    const char *step = "write";
    int ok = write_all(fd, header, 8 + header_len);
    for (int i = 0; ok && i < count; i++) ok = write_tensor(fd, &tensors[i]);
    /* fsync before rename: otherwise a crash can leave the new name pointing
     * at a file whose data never reached the disk. */
    if (ok && fsync(fd) != 0) {
        step = "fsync";
        ok = 0;
    }
    int err = errno;
    if (close(fd) != 0 && ok) { /* NFS reports deferred write errors here */
        err = errno;
        step = "close";
        ok = 0;
    }
    if (ok && rename(tmp, path) != 0) {
        err = errno;
        step = "rename over the target";
        ok = 0;
    }
    if (!ok) {
        unlink(tmp);
        s = oclnn_fail(OCLNN_ERR_IO, "safetensors save '%s': %s of temporary file '%s' failed: %s (the existing file, "
                       "if any, is unchanged)", path, step, tmp, strerror(err));
        goto done;
    }
    sync_parent_dir(path);

done:
    free(header);
    free(tmp);
    return s;
}
