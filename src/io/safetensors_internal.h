/* What the safetensors reader (safetensors.c) and writer (safetensors_save.c)
 * share. Internal: not installed. */
#ifndef OCLNN_SAFETENSORS_INTERNAL_H
#define OCLNN_SAFETENSORS_INTERNAL_H

#include "oclnn/safetensors.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The oclnn dtypes a file can hold as they are (the writer writes only these). */
static inline int st_dtype_valid(oclnn_dtype d)
{
    return d == OCLNN_DTYPE_F32 || d == OCLNN_DTYPE_I32 || d == OCLNN_DTYPE_I64;
}

static inline const char *st_dtype_name(oclnn_dtype d)
{
    return d == OCLNN_DTYPE_F32 ? "F32" : d == OCLNN_DTYPE_I32 ? "I32" : "I64";
}

static inline size_t st_dtype_size(oclnn_dtype d) { return d == OCLNN_DTYPE_I64 ? 8 : 4; }

static inline int st_host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Converts elements between host order and the file's little-endian order
 * (the same operation both ways). Only big-endian hosts ever call this. */
static inline void st_swap_bytes(void *data, size_t nbytes, size_t elem_size)
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

/* "[2,3]" for messages; truncated harmlessly if buf is short. */
const char *oclnn_st_shape_str(const int64_t *shape, int ndim, char *buf, size_t size);

/* product(shape) * elem_size into *out; 0 if it does not fit in a size_t. */
int oclnn_st_shape_nbytes(const int64_t *shape, int ndim, size_t elem_size, size_t *out);

/* Sorts names in place and returns the first that occurs twice, or NULL. */
const char *oclnn_st_find_duplicate(const char **names, size_t n);

#endif
