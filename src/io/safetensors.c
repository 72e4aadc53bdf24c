/* safetensors reader and writer (host only; see include/oclnn/safetensors.h).
 *
 * Loading trusts nothing in the file: every length, offset and shape is
 * checked against the file's real size before anything is allocated or read,
 * so a truncated download or a hostile header gives a status and a message,
 * never a crash or a huge allocation. Saving writes a temporary file and
 * renames it over the target, so readers see the old file or the new one,
 * never half of one. */

/* 64-bit off_t for pread() on 32-bit hosts; must precede every include. */
#define _FILE_OFFSET_BITS 64

#include "oclnn/safetensors.h"
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

/* Same cap as the reference implementation: a real header is kilobytes. */
#define ST_MAX_HEADER_BYTES 100000000ull
/* Tensor copies are aligned for SIMD and for zero-copy CL_MEM_USE_HOST_PTR. */
#define ST_DATA_ALIGN 64
/* cJSON stores numbers as doubles, which are exact only up to 2^53. */
#define ST_MAX_JSON_INT 9007199254740992.0

/* ---- dtypes -------------------------------------------------------------- */

static const char *const dtype_names[] = {"F32", "I32", "I64"};
static const size_t dtype_sizes[] = {4, 4, 8};

/* Other dtypes the safetensors format defines: a file using them is valid,
 * oclnn just cannot use it, so they get OCLNN_ERR_UNSUPPORTED rather than
 * OCLNN_ERR_FORMAT. */
static const char *const foreign_dtypes[] = {
    "BOOL", "U8", "I8", "I16", "U16", "U32", "U64", "F16", "BF16", "F64",
    "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64",
};

static int dtype_valid(oclnn_dtype d) { return d == OCLNN_DTYPE_F32 || d == OCLNN_DTYPE_I32 || d == OCLNN_DTYPE_I64; }

static int dtype_from_name(const char *name, oclnn_dtype *out)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, dtype_names[i]) == 0) {
            *out = (oclnn_dtype)i;
            return 1;
        }
    }
    return 0;
}

static int dtype_is_foreign(const char *name)
{
    for (size_t i = 0; i < sizeof foreign_dtypes / sizeof foreign_dtypes[0]; i++)
        if (strcmp(name, foreign_dtypes[i]) == 0) return 1;
    return 0;
}

/* ---- small helpers ------------------------------------------------------- */

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Converts elements between host order and the file's little-endian order
 * (the same operation both ways). Only big-endian hosts ever call this. */
static void swap_bytes(void *data, size_t nbytes, size_t elem_size)
{
    unsigned char *p = data;
    for (size_t off = 0; off + elem_size <= nbytes; off += elem_size) {
        for (size_t i = 0; i < elem_size / 2; i++) {
            unsigned char tmp = p[off + i];
            p[off + i] = p[off + elem_size - 1 - i];
            p[off + elem_size - 1 - i] = tmp;
        }
    }
}

static uint64_t read_le64(const unsigned char b[8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static void write_le64(unsigned char b[8], uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

/* "[2,3]" for messages; truncated harmlessly if buf is short. */
static const char *shape_str(const int64_t *shape, int ndim, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? "," : "", shape[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

/* product(shape) * elem_size into *out; 0 if it does not fit in a size_t. A
 * zero dimension makes the product 0 whatever the other dimensions are. */
static int shape_nbytes(const int64_t *shape, int ndim, size_t elem_size, size_t *out)
{
    uint64_t n = elem_size;
    int overflow = 0;
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d == 0) {
            *out = 0;
            return 1;
        }
        if (n > UINT64_MAX / d) overflow = 1;
        else n *= d;
    }
    if (overflow || n > SIZE_MAX) return 0;
    *out = (size_t)n;
    return 1;
}

/* A JSON number that is an exact non-negative integer (cJSON has no integer
 * type, so 2.5, -1 and 1e300 all arrive as doubles and are refused here). */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d <= ST_MAX_JSON_INT)) return 0; /* also rejects NaN */
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return 0;
    *out = u;
    return 1;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* First name that occurs twice, or NULL. Sorting a copy keeps this
 * O(n log n) for checkpoints with thousands of tensors. */
static const char *find_duplicate(const char **names, size_t n)
{
    qsort(names, n, sizeof *names, cmp_str_ptr);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

/* Reads exactly n bytes at offset off; a short read means the file shrank
 * after we measured it. */
static oclnn_status read_at(int fd, const char *path, void *buf, size_t n, uint64_t off)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return oclnn_fail(OCLNN_ERR_IO, "safetensors '%s': read failed at byte %" PRIu64 ": %s", path, off,
                              strerror(errno));
        if (r == 0)
            return oclnn_fail(OCLNN_ERR_IO, "safetensors '%s': unexpected end of file at byte %" PRIu64
                              " (was the file truncated while reading?)", path, off);
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return OCLNN_OK;
}

/* ---- loading ------------------------------------------------------------- */

/* Where each tensor's bytes are, kept beside the tensors until they are read. */
typedef struct st_range {
    uint64_t begin, end;
    int index;
} st_range;

static int cmp_range(const void *a, const void *b)
{
    const st_range *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Checks one "name": {dtype, shape, data_offsets} entry and fills t (whose
 * name is already set) and r. */
static oclnn_status parse_entry(const char *path, const cJSON *item, uint64_t blob_size, oclnn_st_tensor *t,
                                st_range *r)
{
    const char *name = t->name;
    char sbuf[256];

    if (!cJSON_IsObject(item))
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': entry '%s' is not an object", path, name);
    if (name[0] == '\0')
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': empty tensor name in header", path);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dtype))
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has a missing or non-string dtype", path,
                          name);
    if (!dtype_from_name(dtype->valuestring, &t->dtype)) {
        if (dtype_is_foreign(dtype->valuestring))
            return oclnn_fail(OCLNN_ERR_UNSUPPORTED,
                              "safetensors '%s': tensor '%s' has dtype %s, which is not supported "
                              "(oclnn reads F32, I32 and I64; convert the file first)", path, name,
                              dtype->valuestring);
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has unknown dtype '%s'", path, name,
                          dtype->valuestring);
    }

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(shape))
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has a missing shape or one that is "
                          "not an array", path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > OCLNN_ST_MAX_DIMS)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has %d dimensions (at most %d supported)",
                          path, name, ndim, OCLNN_ST_MAX_DIMS);
    t->ndim = 0;
    for (const cJSON *d = shape->child; d; d = d->next) {
        uint64_t v;
        if (!json_uint(d, &v))
            return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has a shape entry that is not a "
                              "non-negative integer", path, name);
        t->shape[t->ndim++] = (int64_t)v;
    }

    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, &r->begin) ||
        !json_uint(offs->child->next, &r->end))
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' needs data_offsets of exactly two "
                          "non-negative integers", path, name);
    if (r->begin > r->end)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has data_offsets begin %" PRIu64
                          " after end %" PRIu64, path, name, r->begin, r->end);
    if (r->end > blob_size)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has data_offsets end %" PRIu64
                          " past the end of the %" PRIu64 "-byte data blob (truncated file?)", path, name, r->end,
                          blob_size);

    if (!shape_nbytes(t->shape, t->ndim, dtype_sizes[t->dtype], &t->nbytes))
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has shape %s, too large to address",
                          path, name, shape_str(t->shape, t->ndim, sbuf, sizeof sbuf));
    if (r->end - r->begin != (uint64_t)t->nbytes)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' size mismatch: data_offsets cover %"
                          PRIu64 " bytes but shape %s of %s needs %zu", path, name, r->end - r->begin,
                          shape_str(t->shape, t->ndim, sbuf, sizeof sbuf), dtype_names[t->dtype], t->nbytes);
    return OCLNN_OK;
}

static oclnn_status parse_metadata(const char *path, const cJSON *meta, oclnn_safetensors *st)
{
    if (cJSON_IsNull(meta)) return OCLNN_OK; /* the reference writer emits null for "no metadata" */
    if (!cJSON_IsObject(meta))
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': __metadata__ is not an object", path);

    int n = cJSON_GetArraySize(meta);
    st->meta_keys = calloc((size_t)n + 1, sizeof *st->meta_keys);
    st->meta_values = calloc((size_t)n + 1, sizeof *st->meta_values);
    if (!st->meta_keys || !st->meta_values)
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory for metadata", path);

    for (const cJSON *kv = meta->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': __metadata__ value of '%s' is not a string",
                              path, kv->string);
        /* Counted before the copies so that free() sees any partial pair. */
        int i = st->meta_count++;
        st->meta_keys[i] = strdup(kv->string);
        st->meta_values[i] = strdup(kv->valuestring);
        if (!st->meta_keys[i] || !st->meta_values[i])
            return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory for metadata", path);
    }

    const char **keys = malloc(((size_t)st->meta_count + 1) * sizeof *keys);
    if (!keys) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory", path);
    memcpy(keys, st->meta_keys, (size_t)st->meta_count * sizeof *keys);
    const char *dup = find_duplicate(keys, (size_t)st->meta_count);
    oclnn_status s = dup ? oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': duplicate __metadata__ key '%s'", path,
                                      dup)
                         : OCLNN_OK;
    free(keys);
    return s;
}

/* Turns the parsed header into st's tensors (without data) and ranges. */
static oclnn_status parse_root(const char *path, const cJSON *root, uint64_t blob_size, oclnn_safetensors *st,
                               st_range **ranges_out)
{
    if (!cJSON_IsObject(root))
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': header is not a JSON object", path);

    int n = cJSON_GetArraySize(root);
    /* +1 so that an empty header still gets non-NULL arrays. */
    st->tensors = calloc((size_t)n + 1, sizeof *st->tensors);
    st_range *ranges = calloc((size_t)n + 1, sizeof *ranges);
    *ranges_out = ranges;
    if (!st->tensors || !ranges)
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory for %d header entries", path, n);

    int seen_meta = 0;
    for (const cJSON *item = root->child; item; item = item->next) {
        oclnn_status s;
        if (strcmp(item->string, "__metadata__") == 0) {
            /* cJSON keeps repeated keys, so a second one must be caught here. */
            if (seen_meta++)
                return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': duplicate __metadata__ entry", path);
            s = parse_metadata(path, item, st);
        } else {
            oclnn_st_tensor *t = &st->tensors[st->count];
            t->name = strdup(item->string);
            if (!t->name) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory", path);
            ranges[st->count].index = st->count;
            st->count++; /* now owned by st, freed by oclnn_safetensors_free() even if parsing fails */
            s = parse_entry(path, item, blob_size, t, &ranges[st->count - 1]);
        }
        if (s != OCLNN_OK) return s;
    }

    /* Duplicate tensor names: JSON allows them, safetensors does not. */
    const char **names = malloc(((size_t)st->count + 1) * sizeof *names);
    if (!names) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory", path);
    for (int i = 0; i < st->count; i++) names[i] = st->tensors[i].name;
    const char *dup = find_duplicate(names, (size_t)st->count);
    oclnn_status s = dup ? oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': duplicate tensor name '%s'", path, dup)
                         : OCLNN_OK;
    free(names);
    if (s != OCLNN_OK) return s;

    /* Overlaps: after sorting by begin, a non-empty range must start at or
     * after the furthest end seen so far. Empty ranges own no bytes, and
     * holes between ranges are harmless to a reader, so both are allowed. */
    st_range *sorted = malloc(((size_t)st->count + 1) * sizeof *sorted);
    if (!sorted) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory", path);
    memcpy(sorted, ranges, (size_t)st->count * sizeof *sorted);
    qsort(sorted, (size_t)st->count, sizeof *sorted, cmp_range);
    const st_range *furthest = NULL;
    for (int i = 0; i < st->count && s == OCLNN_OK; i++) {
        const st_range *r = &sorted[i];
        if (r->begin == r->end) continue;
        if (furthest && r->begin < furthest->end)
            s = oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensors '%s' and '%s' overlap in the data blob", path,
                           st->tensors[furthest->index].name, st->tensors[r->index].name);
        if (!furthest || r->end > furthest->end) furthest = r;
    }
    free(sorted);
    return s;
}

/* Everything after open(): size checks, header, parse, data. */
static oclnn_status load_fd(int fd, const char *path, oclnn_safetensors *st)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return oclnn_fail(OCLNN_ERR_IO, "safetensors '%s': cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return oclnn_fail(OCLNN_ERR_IO, "safetensors '%s': not a regular file", path);
    uint64_t file_size = (uint64_t)sb.st_size;
    if (file_size < 8)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': file is too short (%" PRIu64 " bytes) to hold the "
                          "8-byte header length", path, file_size);

    unsigned char len_bytes[8];
    oclnn_status s = read_at(fd, path, len_bytes, 8, 0);
    if (s != OCLNN_OK) return s;
    uint64_t header_len = read_le64(len_bytes);
    if (header_len > ST_MAX_HEADER_BYTES)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': header length %" PRIu64 " exceeds the limit of %llu "
                          "bytes", path, header_len, ST_MAX_HEADER_BYTES);
    if (header_len > file_size - 8)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': header length %" PRIu64 " is larger than the file "
                          "(%" PRIu64 " bytes follow the length field)", path, header_len, file_size - 8);
    uint64_t blob_size = file_size - 8 - header_len;

    char *header = malloc((size_t)header_len + 1);
    if (!header)
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory for a %" PRIu64 "-byte header",
                          path, header_len);
    s = read_at(fd, path, header, (size_t)header_len, 8);
    if (s != OCLNN_OK) {
        free(header);
        return s;
    }
    header[header_len] = '\0';

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(header, (size_t)header_len, &end, 0);
    if (!root) {
        s = oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': header is not valid JSON (error near byte %td of %"
                       PRIu64 ")", path, end ? end - header : 0, header_len);
    } else {
        /* The writer pads with spaces; anything else after the object is
         * corruption that cJSON would otherwise silently ignore. */
        for (const char *p = end; p < header + header_len && s == OCLNN_OK; p++)
            if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                s = oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': trailing data after the JSON header at byte %td",
                               path, p - header);
    }
    st_range *ranges = NULL;
    if (s == OCLNN_OK) s = parse_root(path, root, blob_size, st, &ranges);
    cJSON_Delete(root);
    free(header);

    /* Only now, with every range known to lie inside the file, copy data. */
    uint64_t blob_start = 8 + header_len;
    for (int i = 0; i < st->count && s == OCLNN_OK; i++) {
        oclnn_st_tensor *t = &st->tensors[i];
        /* aligned_alloc wants a multiple of the alignment; never NULL data,
         * even for zero bytes, so callers need no special case. */
        size_t alloc = (t->nbytes + ST_DATA_ALIGN) / ST_DATA_ALIGN * ST_DATA_ALIGN;
        t->data = aligned_alloc(ST_DATA_ALIGN, alloc);
        if (!t->data) {
            s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory for tensor '%s' (%zu bytes)",
                           path, t->name, t->nbytes);
            break;
        }
        s = read_at(fd, path, t->data, t->nbytes, blob_start + ranges[i].begin);
        if (s == OCLNN_OK && !host_is_little_endian()) swap_bytes(t->data, t->nbytes, dtype_sizes[t->dtype]);
    }
    free(ranges);
    return s;
}

oclnn_status oclnn_safetensors_load(const char *path, oclnn_safetensors **out)
{
    if (!out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_safetensors_load: out is NULL");
    *out = NULL;
    if (!path) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_safetensors_load: path is NULL");

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return oclnn_fail(OCLNN_ERR_IO, "safetensors '%s': cannot open: %s", path, strerror(errno));

    oclnn_safetensors *st = calloc(1, sizeof *st);
    oclnn_status s = st ? load_fd(fd, path, st)
                        : oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory", path);
    close(fd);
    if (s != OCLNN_OK) {
        oclnn_safetensors_free(st);
        return s;
    }
    *out = st;
    return OCLNN_OK;
}

const oclnn_st_tensor *oclnn_safetensors_find(const oclnn_safetensors *st, const char *name)
{
    if (!st || !name) return NULL;
    for (int i = 0; i < st->count; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

void oclnn_safetensors_free(oclnn_safetensors *st)
{
    if (!st) return;
    for (int i = 0; i < st->count; i++) {
        free(st->tensors[i].name);
        free(st->tensors[i].data);
    }
    free(st->tensors);
    for (int i = 0; i < st->meta_count; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    free(st);
}

/* ---- saving -------------------------------------------------------------- */

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
        if (!dtype_valid(t->dtype))
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': tensor '%s' has invalid dtype %d", path,
                              t->name, (int)t->dtype);
        if (t->ndim < 0 || t->ndim > OCLNN_ST_MAX_DIMS)
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': tensor '%s' has %d dimensions "
                              "(0 to %d allowed)", path, t->name, t->ndim, OCLNN_ST_MAX_DIMS);
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0)
                return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': tensor '%s' has negative shape %s",
                                  path, t->name, shape_str(t->shape, t->ndim, sbuf, sizeof sbuf));
        if (!shape_nbytes(t->shape, t->ndim, dtype_sizes[t->dtype], &want) || want != t->nbytes)
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': tensor '%s' has nbytes %zu but shape %s "
                              "of %s needs a different size", path, t->name, t->nbytes,
                              shape_str(t->shape, t->ndim, sbuf, sizeof sbuf), dtype_names[t->dtype]);
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
    const char *dup = find_duplicate(names, (size_t)count);
    oclnn_status s = OCLNN_OK;
    if (dup) {
        s = oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors save '%s': duplicate tensor name '%s'", path, dup);
    } else {
        for (int i = 0; i < meta_count; i++) names[i] = meta_keys[i];
        dup = find_duplicate(names, (size_t)meta_count);
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
        ok = entry && cJSON_AddStringToObject(entry, "dtype", dtype_names[t->dtype]) &&
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
    if (host_is_little_endian()) return write_all(fd, t->data, t->nbytes);
    unsigned char chunk[65536];
    const unsigned char *p = t->data;
    for (size_t done = 0; done < t->nbytes;) {
        size_t n = t->nbytes - done < sizeof chunk ? t->nbytes - done : sizeof chunk;
        memcpy(chunk, p + done, n);
        swap_bytes(chunk, n, dtype_sizes[t->dtype]);
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
