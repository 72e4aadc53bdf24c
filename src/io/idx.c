/* IDX reader (the MNIST file format), plain or gzip.
 *
 * Everything goes through zlib's gz* API: gzread decompresses gzip input and
 * passes any other input through unchanged, so one code path serves both
 * "x-idx3-ubyte.gz" and "x-idx3-ubyte". The file is validated fully - header,
 * exact data length, nothing after the data - because a short or padded file
 * almost always means a broken download, and silently training on it is
 * worse than refusing it. */
#include "oclnn/data.h"
#include "core/error.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The data buffer starts at this size and doubles up to the size the header
 * declares, so a bogus header on a tiny file ends in "truncated" instead of
 * a multi-gigabyte allocation. */
#define IDX_FIRST_CHUNK ((size_t)1 << 20)
/* gzread takes an unsigned length and returns an int: stay well below INT_MAX. */
#define IDX_MAX_READ ((size_t)1 << 30)

static const char *type_name(int code)
{
    switch (code) {
    case OCLNN_IDX_UBYTE: return "ubyte";
    case OCLNN_IDX_BYTE: return "byte";
    case OCLNN_IDX_SHORT: return "short";
    case OCLNN_IDX_INT: return "int";
    case OCLNN_IDX_FLOAT: return "float";
    case OCLNN_IDX_DOUBLE: return "double";
    }
    return NULL;
}

/* Turns a failed or short gzread into a status. got/want describe the read
 * that came up short; what says which part of the file it was. */
static oclnn_status read_failure(gzFile f, const char *path, const char *what,
                                 size_t got, size_t want)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(f, &zerr);
    if (zerr == Z_ERRNO)
        return oclnn_fail(OCLNN_ERR_IO, "idx: cannot read %s: %s", path, strerror(errno));
    if (zerr == Z_MEM_ERROR)
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "idx: %s: out of memory in zlib", path);
    if (zerr != Z_OK && zerr != Z_BUF_ERROR)
        return oclnn_fail(OCLNN_ERR_FORMAT, "idx: %s: corrupt gzip data (%s)", path, zmsg);
    /* Z_BUF_ERROR is zlib's "unexpected end of file" inside a gzip stream:
     * the same thing as a short plain file, so both read as truncated. */
    return oclnn_fail(OCLNN_ERR_FORMAT, "idx: %s: truncated %s: expected %zu bytes, got %zu%s",
                      path, what, want, got,
                      zerr == Z_BUF_ERROR ? " (gzip stream ends early)" : "");
}

/* Reads exactly len bytes into buf; anything less is an error. */
static oclnn_status read_exact(gzFile f, const char *path, const char *what, void *buf,
                               size_t len)
{
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < IDX_MAX_READ ? len - got : IDX_MAX_READ;
        int n = gzread(f, (unsigned char *)buf + got, (unsigned)want);
        if (n <= 0)
            return read_failure(f, path, what, got, len);
        got += (size_t)n;
    }
    return OCLNN_OK;
}

/* Reads the count data bytes into a fresh buffer, growing it as data
 * actually arrives (see IDX_FIRST_CHUNK). */
static oclnn_status read_data(gzFile f, const char *path, size_t count, uint8_t **out)
{
    size_t cap = count < IDX_FIRST_CHUNK ? count : IDX_FIRST_CHUNK;
    size_t got = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "idx: %s: cannot allocate %zu bytes", path, cap);
    while (got < count) {
        if (got == cap) {
            size_t next = cap > count / 2 ? count : cap * 2;
            uint8_t *grown = realloc(buf, next);
            if (!grown) {
                free(buf);
                return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "idx: %s: cannot allocate %zu bytes",
                                  path, next);
            }
            buf = grown;
            cap = next;
        }
        size_t want = cap - got < IDX_MAX_READ ? cap - got : IDX_MAX_READ;
        int n = gzread(f, buf + got, (unsigned)want);
        if (n <= 0) {
            free(buf);
            return read_failure(f, path, "data", got, count);
        }
        got += (size_t)n;
    }
    *out = buf;
    return OCLNN_OK;
}

/* Parses and checks the header; fills everything in *idx but data. */
static oclnn_status read_header(gzFile f, const char *path, oclnn_idx *idx)
{
    unsigned char magic[4];
    oclnn_status st = read_exact(f, path, "header", magic, sizeof magic);
    if (st != OCLNN_OK)
        return st;
    /* A gzip file whose own header is damaged is passed through raw by zlib
     * and lands here as 1f 8b ..., so "bad magic" also covers that case. */
    if (magic[0] != 0 || magic[1] != 0 || !type_name(magic[2]))
        return oclnn_fail(OCLNN_ERR_FORMAT,
                          "idx: %s: bad magic %02x %02x %02x %02x (expected 00 00 <type 08..0e> "
                          "<ndim>); not an IDX file",
                          path, magic[0], magic[1], magic[2], magic[3]);
    idx->type_code = magic[2];
    idx->ndim = magic[3];
    if (idx->ndim < 1 || idx->ndim > 4)
        return oclnn_fail(OCLNN_ERR_FORMAT, "idx: %s: ndim %d in the magic is not in 1..4", path,
                          idx->ndim);

    unsigned char raw[16];
    st = read_exact(f, path, "header", raw, 4 * (size_t)idx->ndim);
    if (st != OCLNN_OK)
        return st;
    size_t count = 1;
    for (int i = 0; i < idx->ndim; i++) {
        const unsigned char *b = raw + 4 * i;
        uint32_t d = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (d == 0)
            return oclnn_fail(OCLNN_ERR_FORMAT, "idx: %s: dimension %d is 0", path, i);
        /* Keep the product within both size_t and int64_t (the dataset
         * code multiplies it into int64 sample counts). */
        if (count > (size_t)INT64_MAX / d || count > SIZE_MAX / d)
            return oclnn_fail(OCLNN_ERR_FORMAT, "idx: %s: dimensions too large (product overflows)",
                              path);
        count *= d;
        idx->dims[i] = d;
    }
    idx->count = count;
    return OCLNN_OK;
}

oclnn_status oclnn_idx_load(const char *path, oclnn_idx *out)
{
    if (!out)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "idx_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "idx_load: path is NULL");

    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        /* gzopen leaves errno from open(); errno 0 means its own malloc failed. */
        if (errno == 0)
            return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "idx: cannot open %s: out of memory", path);
        return oclnn_fail(OCLNN_ERR_IO, "idx: cannot open %s: %s", path, strerror(errno));
    }
    gzbuffer(f, 1 << 17); /* fewer read() calls than the 8 KiB default on 50 MB files */

    oclnn_idx idx;
    memset(&idx, 0, sizeof idx);
    oclnn_status st = read_header(f, path, &idx);
    if (st == OCLNN_OK && idx.type_code != OCLNN_IDX_UBYTE)
        st = oclnn_fail(OCLNN_ERR_UNSUPPORTED,
                        "idx: %s: data type 0x%02x (%s) is not supported; only ubyte (0x08)", path,
                        idx.type_code, type_name(idx.type_code));
    if (st == OCLNN_OK)
        st = read_data(f, path, idx.count, &idx.data);
    if (st == OCLNN_OK) {
        /* One more byte must not exist. This read also makes zlib check the
         * gzip trailer (CRC and length) if it has not yet. */
        unsigned char extra;
        int n = gzread(f, &extra, 1);
        if (n > 0)
            st = oclnn_fail(OCLNN_ERR_FORMAT,
                            "idx: %s: trailing data after the %zu data bytes the header declares",
                            path, idx.count);
        else if (n < 0)
            st = read_failure(f, path, "data", idx.count, idx.count);
    }
    gzclose(f);
    if (st != OCLNN_OK) {
        free(idx.data);
        return st;
    }
    *out = idx;
    return OCLNN_OK;
}

void oclnn_idx_free(oclnn_idx *idx)
{
    if (!idx)
        return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
