/* safetensors reader (see include/oclnn/safetensors.h; the writer is
 * safetensors_save.c).
 *
 * Opening trusts nothing in the file: every length, offset and shape is
 * checked against the file's real size before any tensor byte is touched,
 * so a truncated download or a hostile header gives a status and a message,
 * never a crash or a huge allocation. The file is mapped, not read: tensors
 * whose bytes are usable as stored point into the mapping, the others
 * (F16/BF16, misaligned, any multi-byte tensor on a big-endian host) get a
 * converted copy the first time they are asked for. */

/* 64-bit off_t for mmap() of files over 2 GB on 32-bit hosts; must precede
 * every include. */
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Same cap as the reference implementation: a real header is kilobytes. */
#define ST_MAX_HEADER_BYTES 100000000ull
/* Copies are aligned for SIMD and for zero-copy CL_MEM_USE_HOST_PTR. */
#define ST_COPY_ALIGN 64
/* cJSON stores numbers as doubles, which are exact only up to 2^53. */
#define ST_MAX_JSON_INT 9007199254740992.0

/* ---- dtypes -------------------------------------------------------------- */

/* How get() turns a tensor's stored bytes into its data. */
typedef enum st_conv {
    ST_AS_IS,     /* F32, I32, I64: used in place when aligned */
    ST_FROM_F16,  /* to f32 */
    ST_FROM_BF16, /* to f32 */
    ST_NONE       /* valid in a file, not usable by oclnn */
} st_conv;

typedef struct st_dtype_info {
    const char *name;
    unsigned bits;  /* per element: F6 and F4 pack elements across bytes */
    st_conv conv;
    oclnn_dtype as; /* the dtype of data (F32 placeholder for ST_NONE) */
} st_dtype_info;

/* Every dtype the format defines. Knowing the sizes of those oclnn cannot
 * use lets open() still check their offsets, and lets such a file open (and
 * fail per tensor with OCLNN_ERR_UNSUPPORTED) instead of being called
 * malformed. */
static const st_dtype_info st_dtypes[] = {
    {"F32", 32, ST_AS_IS, OCLNN_DTYPE_F32},      {"I32", 32, ST_AS_IS, OCLNN_DTYPE_I32},
    {"I64", 64, ST_AS_IS, OCLNN_DTYPE_I64},      {"F16", 16, ST_FROM_F16, OCLNN_DTYPE_F32},
    {"BF16", 16, ST_FROM_BF16, OCLNN_DTYPE_F32}, {"BOOL", 8, ST_NONE, OCLNN_DTYPE_F32},
    {"U8", 8, ST_NONE, OCLNN_DTYPE_F32},         {"I8", 8, ST_NONE, OCLNN_DTYPE_F32},
    {"I16", 16, ST_NONE, OCLNN_DTYPE_F32},       {"U16", 16, ST_NONE, OCLNN_DTYPE_F32},
    {"U32", 32, ST_NONE, OCLNN_DTYPE_F32},       {"U64", 64, ST_NONE, OCLNN_DTYPE_F32},
    {"F64", 64, ST_NONE, OCLNN_DTYPE_F32},       {"C64", 64, ST_NONE, OCLNN_DTYPE_F32},
    {"F8_E4M3", 8, ST_NONE, OCLNN_DTYPE_F32},    {"F8_E5M2", 8, ST_NONE, OCLNN_DTYPE_F32},
    {"F8_E8M0", 8, ST_NONE, OCLNN_DTYPE_F32},    {"F6_E2M3", 6, ST_NONE, OCLNN_DTYPE_F32},
    {"F6_E3M2", 6, ST_NONE, OCLNN_DTYPE_F32},    {"F4", 4, ST_NONE, OCLNN_DTYPE_F32},
};

static const st_dtype_info *dtype_info(const char *name)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(name, st_dtypes[i].name) == 0) return &st_dtypes[i];
    return NULL;
}

/* IEEE binary16 to binary32, as bit patterns. Every binary16 value is exact
 * in binary32: the exponent is rebiased (15 -> 127), the 10 mantissa bits
 * become the top of the 23, subnormals (no implicit 1) become normals, and
 * infinities and NaNs keep their sign and payload. */
static uint32_t f16_to_f32_bits(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return sign | 0x7f800000u | (man << 13);
    if (exp != 0) return sign | ((exp + 127 - 15) << 23) | (man << 13);
    if (man == 0) return sign;
    /* Subnormal: man * 2^-24. Shift the leading 1 up to the implicit-bit
     * position (bit 10), one exponent step down per shift; with bit 10
     * already set the value would be 1.m * 2^-14, exponent field 113. */
    uint32_t e = 127 - 14;
    while (!(man & 0x400u)) {
        man <<= 1;
        e--;
    }
    return sign | (e << 23) | ((man & 0x3ffu) << 13);
}

/* bfloat16 is the top half of a binary32, so widening is a shift. */
static uint32_t bf16_to_f32_bits(uint16_t h) { return (uint32_t)h << 16; }

/* n little-endian 16-bit values at src (any alignment) to f32 at dst. */
static void widen_16(float *dst, const unsigned char *src, size_t n, uint32_t (*to_bits)(uint16_t))
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = to_bits((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
        memcpy(&dst[i], &bits, sizeof bits); /* no aliasing of float as uint32_t */
    }
}

/* ---- small helpers ------------------------------------------------------- */

static uint64_t read_le64(const unsigned char b[8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

const char *oclnn_st_shape_str(const int64_t *shape, int ndim, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? "," : "", shape[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

/* product(shape) into *out; 0 if it overflows 64 bits. A zero dimension
 * makes the product 0 whatever the other dimensions are. */
static int shape_count(const int64_t *shape, int ndim, uint64_t *out)
{
    uint64_t n = 1;
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
    *out = n;
    return !overflow;
}

int oclnn_st_shape_nbytes(const int64_t *shape, int ndim, size_t elem_size, size_t *out)
{
    uint64_t n;
    if (!shape_count(shape, ndim, &n) || n > SIZE_MAX / elem_size) return 0;
    *out = (size_t)n * elem_size;
    return 1;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorting keeps this O(n log n) for checkpoints with thousands of tensors. */
const char *oclnn_st_find_duplicate(const char **names, size_t n)
{
    qsort(names, n, sizeof *names, cmp_str_ptr);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

/* strcmp(s, a followed by b), without building the concatenation. */
static int cmp_joined(const char *s, const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)s, *y = (const unsigned char *)a;
    for (; *y; x++, y++)
        if (*x != *y) return *x < *y ? -1 : 1;
    return strcmp((const char *)x, b);
}

/* ---- the open file ------------------------------------------------------- */

/* Per tensor, what the public struct does not show. */
typedef struct st_slot {
    const st_dtype_info *stored;
    uint64_t begin, end; /* byte range in the data blob */
    int owned;           /* data is our aligned_alloc'ed copy, not the mapping */
} st_slot;

struct oclnn_st_source {
    char *path;           /* for get()'s messages */
    unsigned char *map;   /* the whole file, read-only; NULL until mapped */
    size_t map_size;
    uint64_t blob_start;  /* file offset of the data blob */
    st_slot *slots;       /* one per tensor, same order */
    int *by_name;         /* tensor indices sorted by name, for lookups */
};

/* Where zero-byte tensors point, so that data is never NULL once fetched. */
static _Alignas(ST_COPY_ALIGN) unsigned char st_empty[ST_COPY_ALIGN];

/* Index of the tensor called prefix + name, or -1. */
static int lookup(const oclnn_safetensors *st, const char *prefix, const char *name)
{
    const int *idx = st->source ? st->source->by_name : NULL;
    if (!idx) { /* not from open(): no index */
        for (int i = 0; i < st->count; i++)
            if (cmp_joined(st->tensors[i].name, prefix, name) == 0) return i;
        return -1;
    }
    int lo = 0, hi = st->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = cmp_joined(st->tensors[idx[mid]].name, prefix, name);
        if (c == 0) return idx[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* name, then prefix + name, then name without a leading prefix. */
static int resolve(const oclnn_safetensors *st, const char *name, const char *prefix)
{
    int i = lookup(st, "", name);
    if (i >= 0 || !prefix || !prefix[0]) return i;
    i = lookup(st, prefix, name);
    size_t n = strlen(prefix);
    if (i < 0 && strncmp(name, prefix, n) == 0 && name[n]) i = lookup(st, "", name + n);
    return i;
}

/* ---- parsing ------------------------------------------------------------- */

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

/* Checks one "name": {dtype, shape, data_offsets} entry and fills t (whose
 * name is already set) and its slot. */
static oclnn_status parse_entry(const char *path, const cJSON *item, uint64_t blob_size, oclnn_st_tensor *t,
                                st_slot *sl)
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
    const st_dtype_info *info = dtype_info(dtype->valuestring);
    if (!info)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has unknown dtype '%s'", path, name,
                          dtype->valuestring);
    sl->stored = info;
    t->stored_dtype = info->name;
    t->dtype = info->as;

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
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(offs->child, &sl->begin) ||
        !json_uint(offs->child->next, &sl->end))
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' needs data_offsets of exactly two "
                          "non-negative integers", path, name);
    if (sl->begin > sl->end)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has data_offsets begin %" PRIu64
                          " after end %" PRIu64, path, name, sl->begin, sl->end);
    if (sl->end > blob_size)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has data_offsets end %" PRIu64
                          " past the end of the %" PRIu64 "-byte data blob (truncated file?)", path, name, sl->end,
                          blob_size);

    /* Stored size in bits first: F4 and F6 elements share bytes. */
    uint64_t count;
    if (!shape_count(t->shape, t->ndim, &count) || count > UINT64_MAX / info->bits ||
        (info->conv != ST_NONE && count > SIZE_MAX / st_dtype_size(info->as)))
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' has shape %s, too large to address",
                          path, name, oclnn_st_shape_str(t->shape, t->ndim, sbuf, sizeof sbuf));
    uint64_t bits = count * info->bits;
    if (bits % 8 != 0)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' of shape %s and dtype %s does not fill "
                          "a whole number of bytes", path, name,
                          oclnn_st_shape_str(t->shape, t->ndim, sbuf, sizeof sbuf), info->name);
    if (sl->end - sl->begin != bits / 8)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': tensor '%s' size mismatch: data_offsets cover %"
                          PRIu64 " bytes but shape %s of %s needs %" PRIu64, path, name, sl->end - sl->begin,
                          oclnn_st_shape_str(t->shape, t->ndim, sbuf, sizeof sbuf), info->name, bits / 8);
    t->nbytes = info->conv == ST_NONE ? 0 : (size_t)count * st_dtype_size(info->as);
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
    const char *dup = oclnn_st_find_duplicate(keys, (size_t)st->meta_count);
    oclnn_status s = dup ? oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': duplicate __metadata__ key '%s'", path,
                                      dup)
                         : OCLNN_OK;
    free(keys);
    return s;
}

/* Tensors sorted by begin, for the overlap check. */
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

typedef struct st_named {
    const char *name;
    int index;
} st_named;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const st_named *)a)->name, ((const st_named *)b)->name);
}

/* Rejects duplicate names (JSON allows them, safetensors does not) and keeps
 * the sorted order as the lookup index. */
static oclnn_status index_names(const char *path, oclnn_safetensors *st)
{
    st_named *sorted = malloc(((size_t)st->count + 1) * sizeof *sorted);
    st->source->by_name = malloc(((size_t)st->count + 1) * sizeof *st->source->by_name);
    if (!sorted || !st->source->by_name) {
        free(sorted);
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory", path);
    }
    for (int i = 0; i < st->count; i++) sorted[i] = (st_named){st->tensors[i].name, i};
    qsort(sorted, (size_t)st->count, sizeof *sorted, cmp_named);
    oclnn_status s = OCLNN_OK;
    for (int i = 0; i < st->count && s == OCLNN_OK; i++) {
        if (i > 0 && strcmp(sorted[i - 1].name, sorted[i].name) == 0)
            s = oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': duplicate tensor name '%s'", path, sorted[i].name);
        st->source->by_name[i] = sorted[i].index;
    }
    free(sorted);
    return s;
}

/* Overlaps: after sorting by begin, a non-empty range must start at or after
 * the furthest end seen so far. Empty ranges own no bytes, and holes between
 * ranges are harmless to a reader, so both are allowed. */
static oclnn_status check_overlaps(const char *path, const oclnn_safetensors *st)
{
    st_range *sorted = malloc(((size_t)st->count + 1) * sizeof *sorted);
    if (!sorted) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory", path);
    for (int i = 0; i < st->count; i++)
        sorted[i] = (st_range){st->source->slots[i].begin, st->source->slots[i].end, i};
    qsort(sorted, (size_t)st->count, sizeof *sorted, cmp_range);
    const st_range *furthest = NULL;
    oclnn_status s = OCLNN_OK;
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

/* Turns the parsed header into st's tensors (without data) and slots. */
static oclnn_status parse_root(const char *path, const cJSON *root, uint64_t blob_size, oclnn_safetensors *st)
{
    if (!cJSON_IsObject(root))
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': header is not a JSON object", path);

    int n = cJSON_GetArraySize(root);
    /* +1 so that an empty header still gets non-NULL arrays. */
    st->tensors = calloc((size_t)n + 1, sizeof *st->tensors);
    st->source->slots = calloc((size_t)n + 1, sizeof *st->source->slots);
    if (!st->tensors || !st->source->slots)
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
            st->count++; /* now owned by st, freed by oclnn_safetensors_free() even if parsing fails */
            s = parse_entry(path, item, blob_size, t, &st->source->slots[st->count - 1]);
        }
        if (s != OCLNN_OK) return s;
    }
    oclnn_status s = index_names(path, st);
    return s != OCLNN_OK ? s : check_overlaps(path, st);
}

/* Everything after open(): size checks, mapping, header, parse. */
static oclnn_status map_and_parse(int fd, const char *path, oclnn_safetensors *st)
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
    if (file_size > SIZE_MAX)
        return oclnn_fail(OCLNN_ERR_IO, "safetensors '%s': %" PRIu64 " bytes is too large to map on this host",
                          path, file_size);

    void *map = mmap(NULL, (size_t)file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        return oclnn_fail(OCLNN_ERR_IO, "safetensors '%s': cannot map: %s", path, strerror(errno));
    struct oclnn_st_source *src = st->source;
    src->map = map;
    src->map_size = (size_t)file_size;

    uint64_t header_len = read_le64(src->map);
    if (header_len > ST_MAX_HEADER_BYTES)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': header length %" PRIu64 " exceeds the limit of %llu "
                          "bytes", path, header_len, ST_MAX_HEADER_BYTES);
    if (header_len > file_size - 8)
        return oclnn_fail(OCLNN_ERR_FORMAT, "safetensors '%s': header length %" PRIu64 " is larger than the file "
                          "(%" PRIu64 " bytes follow the length field)", path, header_len, file_size - 8);
    src->blob_start = 8 + header_len;

    /* A NUL-terminated copy, so that no JSON parser bug can read past the
     * header into the blob or off the end of the mapping. */
    char *header = malloc((size_t)header_len + 1);
    if (!header)
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory for a %" PRIu64 "-byte header",
                          path, header_len);
    memcpy(header, src->map + 8, (size_t)header_len);
    header[header_len] = '\0';

    oclnn_status s = OCLNN_OK;
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
    if (s == OCLNN_OK) s = parse_root(path, root, file_size - 8 - header_len, st);
    cJSON_Delete(root);
    free(header);
    return s;
}

/* Makes tensor i's data: the mapping itself where the stored bytes are
 * usable as they are, else a converted, aligned copy. */
static oclnn_status fetch(oclnn_safetensors *st, int i)
{
    oclnn_st_tensor *t = &st->tensors[i];
    if (t->data) return OCLNN_OK;
    struct oclnn_st_source *src = st->source;
    if (!src || !src->map)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "safetensors: tensor '%s' has no data and no file behind it "
                          "(the struct did not come from oclnn_safetensors_open/load)", t->name);
    st_slot *sl = &src->slots[i];
    if (sl->stored->conv == ST_NONE)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED, "safetensors '%s': tensor '%s' has dtype %s, which oclnn cannot "
                          "read (it reads F32, I32 and I64, and F16 and BF16 as F32; convert the file first)",
                          src->path, t->name, sl->stored->name);
    if (t->nbytes == 0) {
        t->data = st_empty;
        return OCLNN_OK;
    }

    unsigned char *bytes = src->map + src->blob_start + sl->begin;
    size_t esize = st_dtype_size(t->dtype);
    if (sl->stored->conv == ST_AS_IS && st_host_is_little_endian() && (uintptr_t)bytes % esize == 0) {
        t->data = bytes;
        return OCLNN_OK;
    }
    /* aligned_alloc wants a multiple of the alignment. */
    void *buf = t->nbytes <= SIZE_MAX - ST_COPY_ALIGN
                    ? aligned_alloc(ST_COPY_ALIGN, (t->nbytes + ST_COPY_ALIGN - 1) / ST_COPY_ALIGN * ST_COPY_ALIGN)
                    : NULL;
    if (!buf)
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory for tensor '%s' (%zu bytes)",
                          src->path, t->name, t->nbytes);
    switch (sl->stored->conv) {
    case ST_FROM_F16: widen_16(buf, bytes, t->nbytes / 4, f16_to_f32_bits); break;
    case ST_FROM_BF16: widen_16(buf, bytes, t->nbytes / 4, bf16_to_f32_bits); break;
    default:
        memcpy(buf, bytes, t->nbytes);
        if (!st_host_is_little_endian()) st_swap_bytes(buf, t->nbytes, esize);
        break;
    }
    t->data = buf;
    sl->owned = 1;
    return OCLNN_OK;
}

/* ---- public API ---------------------------------------------------------- */

static oclnn_status open_file(const char *fn, const char *path, oclnn_safetensors **out)
{
    if (!out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!path) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: path is NULL", fn);

    oclnn_safetensors *st = calloc(1, sizeof *st);
    if (st) st->source = calloc(1, sizeof *st->source);
    if (st && st->source) st->source->path = strdup(path);
    if (!st || !st->source || !st->source->path) {
        oclnn_safetensors_free(st);
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "safetensors '%s': out of memory", path);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    oclnn_status s = OCLNN_OK;
    if (fd < 0) {
        s = oclnn_fail(OCLNN_ERR_IO, "safetensors '%s': cannot open: %s", path, strerror(errno));
    } else {
        s = map_and_parse(fd, path, st);
        close(fd); /* the mapping outlives the descriptor */
    }
    if (s != OCLNN_OK) {
        oclnn_safetensors_free(st);
        return s;
    }
    *out = st;
    return OCLNN_OK;
}

oclnn_status oclnn_safetensors_open(const char *path, oclnn_safetensors **out)
{
    return open_file("oclnn_safetensors_open", path, out);
}

oclnn_status oclnn_safetensors_load(const char *path, oclnn_safetensors **out)
{
    oclnn_safetensors *st;
    oclnn_status s = open_file("oclnn_safetensors_load", path, out);
    if (s != OCLNN_OK) return s;
    st = *out;
    for (int i = 0; i < st->count && s == OCLNN_OK; i++) s = fetch(st, i);
    if (s != OCLNN_OK) {
        oclnn_safetensors_free(st);
        *out = NULL;
    }
    return s;
}

oclnn_status oclnn_safetensors_get_prefixed(oclnn_safetensors *st, const char *name, const char *prefix,
                                            const oclnn_st_tensor **out)
{
    if (!out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_safetensors_get: out is NULL");
    *out = NULL;
    if (!st || !name) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_safetensors_get: %s is NULL", st ? "name" : "st");
    const char *path = st->source && st->source->path ? st->source->path : "(in memory)";
    int i = resolve(st, name, prefix);
    if (i < 0 && prefix && prefix[0])
        return oclnn_fail(OCLNN_ERR_NOT_FOUND, "safetensors '%s': no tensor '%s', with or without the prefix '%s'",
                          path, name, prefix);
    if (i < 0) return oclnn_fail(OCLNN_ERR_NOT_FOUND, "safetensors '%s': no tensor '%s'", path, name);
    oclnn_status s = fetch(st, i);
    if (s == OCLNN_OK) *out = &st->tensors[i];
    return s;
}

oclnn_status oclnn_safetensors_get(oclnn_safetensors *st, const char *name, const oclnn_st_tensor **out)
{
    return oclnn_safetensors_get_prefixed(st, name, NULL, out);
}

const oclnn_st_tensor *oclnn_safetensors_find_prefixed(const oclnn_safetensors *st, const char *name,
                                                       const char *prefix)
{
    if (!st || !name) return NULL;
    int i = resolve(st, name, prefix);
    return i < 0 ? NULL : &st->tensors[i];
}

const oclnn_st_tensor *oclnn_safetensors_find(const oclnn_safetensors *st, const char *name)
{
    return oclnn_safetensors_find_prefixed(st, name, NULL);
}

void oclnn_safetensors_free(oclnn_safetensors *st)
{
    if (!st) return;
    struct oclnn_st_source *src = st->source;
    for (int i = 0; i < st->count; i++) {
        free(st->tensors[i].name);
        if (src && src->slots && src->slots[i].owned) free(st->tensors[i].data);
    }
    free(st->tensors);
    for (int i = 0; i < st->meta_count; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    if (src) {
        if (src->map) munmap(src->map, src->map_size);
        free(src->slots);
        free(src->by_name);
        free(src->path);
        free(src);
    }
    free(st);
}
