/* oclnn data: IDX files (the MNIST file format), MNIST-style datasets and a
 * mini-batch iterator. Host side only: nothing here touches OpenCL; the
 * caller uploads the batches it gets.
 *
 * IDX layout (http://yann.lecun.com/exdb/mnist/): the magic bytes
 * 0x00 0x00 <type> <ndim>, then ndim big-endian uint32 dimensions, then
 * product(dims) values, row-major. Files may be gzip-compressed (.gz) or
 * plain; both are read through zlib, which passes plain files through. */
#ifndef OCLNN_DATA_H
#define OCLNN_DATA_H

#include "oclnn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- IDX files ----------------------------------------------------------- */

/* IDX type codes (the third magic byte). Only UBYTE data can be loaded; the
 * others are recognised so that a valid file of another type is reported as
 * OCLNN_ERR_UNSUPPORTED rather than as malformed. */
#define OCLNN_IDX_UBYTE  0x08
#define OCLNN_IDX_BYTE   0x09
#define OCLNN_IDX_SHORT  0x0B
#define OCLNN_IDX_INT    0x0C
#define OCLNN_IDX_FLOAT  0x0D
#define OCLNN_IDX_DOUBLE 0x0E

typedef struct oclnn_idx {
    int type_code;    /* OCLNN_IDX_UBYTE (the only type loaded) */
    int ndim;         /* 1..4 */
    int64_t dims[4];  /* dims[0..ndim-1] are > 0; unused entries are 0 */
    size_t count;     /* product of the dims = number of values */
    uint8_t *data;    /* count raw values, row-major; malloc'ed */
} oclnn_idx;

/* Reads a whole IDX file, plain or gzip. On failure *out is zeroed and the
 * message names the file:
 *   OCLNN_ERR_IO          cannot open or read it (with strerror)
 *   OCLNN_ERR_FORMAT      bad magic, ndim not in 1..4, a zero dimension, dims
 *                         whose product overflows, fewer data bytes than the
 *                         dims say ("truncated"), bytes after the data
 *                         ("trailing"), corrupt gzip data
 *   OCLNN_ERR_UNSUPPORTED a valid IDX type other than ubyte
 *   OCLNN_ERR_OUT_OF_MEMORY */
oclnn_status oclnn_idx_load(const char *path, oclnn_idx *out);
/* Frees the data and zeroes *idx; NULL and zeroed structs are fine. */
void oclnn_idx_free(oclnn_idx *idx);

/* ---- Datasets ------------------------------------------------------------ */

typedef struct oclnn_dataset {
    int64_t count;              /* number of samples */
    int channels, height, width;
    float *images;              /* [count, channels, height, width]: pixel/255, so in
                                   [0,1]; then (x-mean)/std after oclnn_dataset_normalize */
    int32_t *labels;            /* [count], each in 0..num_classes-1 */
    int num_classes;
} oclnn_dataset;

/* Loads an MNIST-layout dataset (MNIST, Fashion-MNIST, ...) from dir, which
 * holds train-images-idx3-ubyte, train-labels-idx1-ubyte (train = 1) or
 * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (train = 0), each with or
 * without a .gz suffix (.gz is tried first). dir NULL or "" means
 * oclnn_dataset_default_dir(). limit 0 loads every sample, limit N > 0 the
 * first N (all of them if the file has fewer). Gives channels = 1 and
 * num_classes = 10. Fails with OCLNN_ERR_IO naming a missing file, and with
 * OCLNN_ERR_FORMAT when image and label counts differ or a label is >= 10.
 * On failure *out is zeroed. */
oclnn_status oclnn_dataset_load_mnist(const char *dir, int train, int64_t limit,
                                      oclnn_dataset *out);

/* $OCLNN_DATA if set and non-empty, else "/usr/share/datasets/fashion-mnist". */
const char *oclnn_dataset_default_dir(void);

/* x = (x - mean) / std over every pixel, in place. Call once, after loading
 * (e.g. mean 0.2860, std 0.3530 for Fashion-MNIST). Does nothing when d has
 * no images or std is not > 0 (which would only produce inf/NaN). */
void oclnn_dataset_normalize(oclnn_dataset *d, float mean, float std);

/* Frees images and labels and zeroes *d; NULL and zeroed structs are fine. */
void oclnn_dataset_free(oclnn_dataset *d);

/* ---- Mini-batches -------------------------------------------------------- */

/* Walks a dataset in batches of batch_size samples, one epoch after another.
 * With shuffle, each epoch visits the samples in a fresh order that depends
 * only on (seed, epoch number), so runs repeat exactly on every machine and
 * epoch k's order does not depend on how earlier epochs were consumed.
 * Without shuffle the order is 0..count-1 every epoch. With drop_last a final
 * batch smaller than batch_size is skipped (those samples are not visited
 * that epoch); without it the last batch may be partial.
 *
 * The batcher keeps a pointer to the dataset, which must outlive it and
 * must not be resized meanwhile. */
typedef struct oclnn_batcher oclnn_batcher;

/* OCLNN_ERR_INVALID_ARG for a NULL/inconsistent dataset or batch_size < 1. */
oclnn_status oclnn_batcher_create(const oclnn_dataset *d, int batch_size, int shuffle,
                                  uint64_t seed, int drop_last, oclnn_batcher **out);

/* Copies the next batch into images_out ([batch_size, C, H, W] floats) and
 * labels_out ([batch_size]); either may be NULL to skip it. Returns the
 * number of samples written (batch_size, or less for a last partial batch),
 * 0 at the end of an epoch (the next call then starts a new epoch with a new
 * order), or -1 if b is NULL. */
int oclnn_batcher_next(oclnn_batcher *b, float *images_out, int32_t *labels_out);

/* Number of non-empty batches oclnn_batcher_next returns per epoch. */
int64_t oclnn_batcher_batches_per_epoch(const oclnn_batcher *b);

void oclnn_batcher_free(oclnn_batcher *b);

#ifdef __cplusplus
}
#endif
#endif
