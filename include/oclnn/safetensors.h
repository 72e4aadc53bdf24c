/* oclnn safetensors: host-side reader and writer for the safetensors format
 * (https://github.com/huggingface/safetensors), the weight format oclnn
 * shares with PyTorch (state_dict names, see DESIGN.md "Interop").
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of a JSON object
 *   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...,
 *    "__metadata__": {"key": "value", ...}}          (metadata optional)
 * then the data blob; [b, e) are byte offsets into the blob, data is
 * row-major and little-endian.
 *
 * Nothing here touches OpenCL: loading gives host memory that the caller
 * uploads, saving takes host memory the caller downloaded. */
#ifndef OCLNN_SAFETENSORS_H
#define OCLNN_SAFETENSORS_H

#include "oclnn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types. The graph header defines the same enum under the same
 * guard with the same values, so either header may come first. */
#ifndef OCLNN_DTYPE_DEFINED
#define OCLNN_DTYPE_DEFINED
typedef enum oclnn_dtype {
    OCLNN_DTYPE_F32 = 0,
    OCLNN_DTYPE_I32 = 1,
    OCLNN_DTYPE_I64 = 2
} oclnn_dtype;
#endif

#define OCLNN_ST_MAX_DIMS 8

typedef struct oclnn_st_tensor {
    char *name;                         /* e.g. "conv1.weight" */
    oclnn_dtype dtype;
    int ndim;                           /* 0 for a scalar */
    int64_t shape[OCLNN_ST_MAX_DIMS];   /* entries past ndim are unused */
    size_t nbytes;                      /* product(shape) * element size; may be 0 */
    void *data;                         /* row-major, host byte order */
} oclnn_st_tensor;

typedef struct oclnn_safetensors {
    int count;                  /* tensors, in the order of the file's header */
    oclnn_st_tensor *tensors;
    int meta_count;             /* "__metadata__" entries */
    char **meta_keys;
    char **meta_values;
} oclnn_safetensors;

/* Reads and validates the whole file. On success *out owns copies of every
 * tensor (each data pointer 64-byte aligned and never NULL, even for zero
 * bytes); release it with oclnn_safetensors_free(). On failure *out is NULL
 * and oclnn_last_error() names the file and the problem:
 *   OCLNN_ERR_IO          the file cannot be opened or read (with strerror)
 *   OCLNN_ERR_FORMAT      the contents are malformed
 *   OCLNN_ERR_UNSUPPORTED a valid safetensors dtype other than F32/I32/I64
 *   OCLNN_ERR_OUT_OF_MEMORY */
oclnn_status oclnn_safetensors_load(const char *path, oclnn_safetensors **out);

/* The tensor called name, or NULL if there is none. */
const oclnn_st_tensor *oclnn_safetensors_find(const oclnn_safetensors *st, const char *name);

/* Frees everything load() returned; NULL is allowed. */
void oclnn_safetensors_free(oclnn_safetensors *st);

/* Writes count tensors (in the given order, contiguous) and meta_count
 * metadata pairs to path. The file is written as "<path>.tmp.<pid>",
 * fsync'ed and renamed over path, so an existing file is replaced whole or
 * not at all. Names must be non-empty, unique and not "__metadata__", and
 * nbytes must equal product(shape) * element size (else
 * OCLNN_ERR_INVALID_ARG); any failure to write gives OCLNN_ERR_IO and leaves
 * no temporary file behind. */
oclnn_status oclnn_safetensors_save(const char *path, const oclnn_st_tensor *tensors, int count,
                                    const char *const *meta_keys, const char *const *meta_values,
                                    int meta_count);

#ifdef __cplusplus
}
#endif
#endif
