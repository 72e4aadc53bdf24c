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
 * Reading maps the file (POSIX mmap, read-only) rather than copying it, so a
 * 90 MB checkpoint costs page cache, not a second 90 MB of heap, and a caller
 * that wants three tensors of a large file reads only those pages. F32, I32
 * and I64 tensors point straight into the mapping; F16 and BF16 tensors (the
 * usual dtypes of published checkpoints) are converted to f32, exactly, when
 * first asked for.
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
    oclnn_dtype dtype;                  /* of data: F16 and BF16 files give F32 */
    int ndim;                           /* 0 for a scalar */
    int64_t shape[OCLNN_ST_MAX_DIMS];   /* entries past ndim are unused */
    size_t nbytes;                      /* of data: product(shape) * size of dtype; may be 0 */
    /* Row-major, host byte order, aligned to at least its element size, and
     * read-only: it may point into the file's read-only mapping, where a
     * write faults (copy it to change it). Valid until the file is freed.
     * NULL only for a tensor of an opened file that has not been fetched
     * with oclnn_safetensors_get(). Saving reads it and nothing else. */
    void *data;
    /* The dtype as the file spells it ("F32", "BF16", "F64", ...), so that a
     * caller can tell a converted tensor (or warn about lost precision);
     * static storage. Filled by the reader, ignored by the writer. */
    const char *stored_dtype;
} oclnn_st_tensor;

typedef struct oclnn_safetensors {
    int count;                  /* tensors, in the order of the file's header */
    oclnn_st_tensor *tensors;
    int meta_count;             /* "__metadata__" entries */
    char **meta_keys;
    char **meta_values;
    struct oclnn_st_source *source; /* the mapping and lookup index: the reader's, not the caller's */
} oclnn_safetensors;

/* Maps path and checks everything the header says (JSON, dtypes, shapes,
 * offsets inside the file, no overlaps, no duplicate names) without reading
 * any tensor data: tensors are listed with their names, shapes and dtypes
 * and data NULL until oclnn_safetensors_get() asks for them. Use it to take
 * a few tensors out of a large file, or to see what a file holds.
 *
 * A valid file holding dtypes oclnn cannot convert (F64, I8, U8, BOOL, ...)
 * still opens, so its other tensors stay reachable; asking for one of those
 * gives OCLNN_ERR_UNSUPPORTED. Such a tensor is listed with its name, shape
 * and stored_dtype, and with nbytes 0 as there is no data it could have.
 *
 * The file must not be truncated or rewritten in place while it is open:
 * like every mmap-based reader, touching a page that is no longer in the file
 * raises SIGBUS. (oclnn_safetensors_save() replaces files by rename, which
 * is safe; a writer that truncates and rewrites the same path is not.) On
 * failure *out is NULL and
 * oclnn_last_error() names the file and the problem:
 *   OCLNN_ERR_IO          the file cannot be opened or mapped (with strerror)
 *   OCLNN_ERR_FORMAT      the contents are malformed
 *   OCLNN_ERR_OUT_OF_MEMORY */
oclnn_status oclnn_safetensors_open(const char *path, oclnn_safetensors **out);

/* Open, then fetch every tensor: on success each data pointer is set (never
 * NULL, even for zero bytes) and nothing more can fail. Besides open()'s
 * errors, OCLNN_ERR_UNSUPPORTED names the first tensor whose dtype oclnn
 * cannot convert (a file oclnn can only partly use is refused whole here;
 * open() + get() reads the rest). Release it with oclnn_safetensors_free(). */
oclnn_status oclnn_safetensors_load(const char *path, oclnn_safetensors **out);

/* The tensor called name with its data ready, into *out; the first call per
 * tensor converts F16/BF16 (or copies a tensor the file stores misaligned
 * or, on a big-endian host, byte-swapped), later calls only look it up.
 * Modifies st, so one file must not be fetched from by two threads at once.
 *   OCLNN_ERR_NOT_FOUND   no tensor of that name (the message names it)
 *   OCLNN_ERR_UNSUPPORTED its dtype cannot be converted (names it and the dtype)
 *   OCLNN_ERR_OUT_OF_MEMORY, OCLNN_ERR_INVALID_ARG (NULL arguments)
 * On failure *out is NULL. */
oclnn_status oclnn_safetensors_get(oclnn_safetensors *st, const char *name, const oclnn_st_tensor **out);

/* As get(), but for checkpoints that name the same weights with or without a
 * model prefix: Hugging Face saves BertModel as "embeddings.word_embeddings.weight"
 * and BertForMaskedLM as "bert.embeddings.word_embeddings.weight". Looks for
 * name, then prefix + name, then name with a leading prefix removed; the
 * first that exists wins. NULL or "" prefix: exactly get(). */
oclnn_status oclnn_safetensors_get_prefixed(oclnn_safetensors *st, const char *name, const char *prefix,
                                            const oclnn_st_tensor **out);

/* The tensor called name, or NULL if there is none. After open() its data
 * is NULL until get() fetched it; after load() it is always set. */
const oclnn_st_tensor *oclnn_safetensors_find(const oclnn_safetensors *st, const char *name);

/* find() with get_prefixed()'s rules for the prefix. */
const oclnn_st_tensor *oclnn_safetensors_find_prefixed(const oclnn_safetensors *st, const char *name,
                                                       const char *prefix);

/* Unmaps the file and frees everything open() or load() returned, including
 * converted copies; NULL is allowed. Every data pointer dies with it. */
void oclnn_safetensors_free(oclnn_safetensors *st);

/* Writes count tensors (in the given order, contiguous) and meta_count
 * metadata pairs to path. The file is written as "<path>.tmp.<pid>",
 * fsync'ed and renamed over path, so an existing file is replaced whole or
 * not at all. Names must be non-empty, unique and not "__metadata__", and
 * nbytes must equal product(shape) * element size (else
 * OCLNN_ERR_INVALID_ARG); any failure to write gives OCLNN_ERR_IO and leaves
 * no temporary file behind. Tensors are written as their dtype says (a
 * loaded BF16 tensor is saved as F32). */
oclnn_status oclnn_safetensors_save(const char *path, const oclnn_st_tensor *tensors, int count,
                                    const char *const *meta_keys, const char *const *meta_values,
                                    int meta_count);

#ifdef __cplusplus
}
#endif
#endif
