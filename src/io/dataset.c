/* MNIST-layout datasets and the mini-batch iterator (host side). */
#include "oclnn/data.h"
#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define MNIST_CLASSES 10

const char *oclnn_dataset_default_dir(void)
{
    const char *env = getenv("OCLNN_DATA");
    return env && env[0] ? env : DEFAULT_DATA_DIR;
}

/* Picks "<dir>/<base>.gz", else "<dir>/<base>" into path. Fails with
 * OCLNN_ERR_IO naming the file when neither exists. A file that exists but
 * cannot be read is still chosen, so that oclnn_idx_load reports the real
 * reason (permissions, ...) instead of "missing". */
static oclnn_status find_file(const char *dir, const char *base, char *path, size_t size)
{
    struct stat sb;
    int n = snprintf(path, size, "%s/%s.gz", dir, base);
    if (n < 0 || (size_t)n >= size)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "mnist: directory name too long: %s", dir);
    if (stat(path, &sb) == 0)
        return OCLNN_OK;
    snprintf(path, size, "%s/%s", dir, base);
    if (stat(path, &sb) == 0)
        return OCLNN_OK;
    return oclnn_fail(OCLNN_ERR_IO, "mnist: missing %s: neither %s/%s.gz nor %s/%s exists (%s)",
                      base, dir, base, dir, base, strerror(errno));
}

/* Loads and cross-checks the two files; on success fills *out. */
static oclnn_status load_pair(const char *img_path, const char *lbl_path, int64_t limit,
                              oclnn_idx *images, oclnn_idx *labels, oclnn_dataset *out)
{
    oclnn_status st = oclnn_idx_load(img_path, images);
    if (st != OCLNN_OK)
        return st;
    if (images->ndim != 3)
        return oclnn_fail(OCLNN_ERR_FORMAT, "mnist: %s has %d dimensions; images need 3 (n, h, w)",
                          img_path, images->ndim);
    st = oclnn_idx_load(lbl_path, labels);
    if (st != OCLNN_OK)
        return st;
    if (labels->ndim != 1)
        return oclnn_fail(OCLNN_ERR_FORMAT, "mnist: %s has %d dimensions; labels need 1",
                          lbl_path, labels->ndim);
    if (images->dims[0] != labels->dims[0])
        return oclnn_fail(OCLNN_ERR_FORMAT,
                          "mnist: count mismatch: %s has %lld images but %s has %lld labels",
                          img_path, (long long)images->dims[0], lbl_path,
                          (long long)labels->dims[0]);
    /* Every label is checked, not only the first `limit`: a bad one means a
     * damaged file, which the caller should hear about either way. */
    for (size_t i = 0; i < labels->count; i++)
        if (labels->data[i] >= MNIST_CLASSES)
            return oclnn_fail(OCLNN_ERR_FORMAT, "mnist: %s: label %d at index %zu is not in 0..%d",
                              lbl_path, labels->data[i], i, MNIST_CLASSES - 1);

    int64_t n = images->dims[0];
    if (limit > 0 && limit < n)
        n = limit;
    /* Each sample's pixel count fits in a size_t (idx_load checked the
     * product); the float buffer is 4x the bytes, so check that. */
    size_t pixels = (size_t)(images->dims[1] * images->dims[2]);
    size_t total = (size_t)n * pixels;
    if (images->dims[1] > INT32_MAX || images->dims[2] > INT32_MAX ||
        total > SIZE_MAX / sizeof(float))
        return oclnn_fail(OCLNN_ERR_FORMAT, "mnist: %s: images too large", img_path);

    out->images = malloc(total * sizeof(float)); /* n >= 1: dims are > 0 */
    out->labels = malloc((size_t)n * sizeof(int32_t));
    if (!out->images || !out->labels)
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "mnist: cannot allocate %lld images of %zu pixels",
                          (long long)n, pixels);
    /* 255 maps to exactly 1.0f, and x/255 is the division PyTorch's
     * ToTensor performs, so inputs match a PyTorch pipeline bit for bit. */
    for (size_t i = 0; i < total; i++)
        out->images[i] = (float)images->data[i] / 255.0f;
    for (int64_t i = 0; i < n; i++)
        out->labels[i] = labels->data[i];
    out->count = n;
    out->channels = 1;
    out->height = (int)images->dims[1];
    out->width = (int)images->dims[2];
    out->num_classes = MNIST_CLASSES;
    return OCLNN_OK;
}

oclnn_status oclnn_dataset_load_mnist(const char *dir, int train, int64_t limit,
                                      oclnn_dataset *out)
{
    if (!out)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "mnist: out is NULL");
    memset(out, 0, sizeof *out);
    if (limit < 0)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "mnist: limit %lld is negative", (long long)limit);
    if (!dir || !dir[0])
        dir = oclnn_dataset_default_dir();

    const char *prefix = train ? "train" : "t10k";
    char base[64], img_path[4096], lbl_path[4096];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    oclnn_status st = find_file(dir, base, img_path, sizeof img_path);
    if (st != OCLNN_OK)
        return st;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    st = find_file(dir, base, lbl_path, sizeof lbl_path);
    if (st != OCLNN_OK)
        return st;

    oclnn_idx images, labels;
    memset(&images, 0, sizeof images);
    memset(&labels, 0, sizeof labels);
    st = load_pair(img_path, lbl_path, limit, &images, &labels, out);
    oclnn_idx_free(&images);
    oclnn_idx_free(&labels);
    if (st != OCLNN_OK)
        oclnn_dataset_free(out);
    return st;
}

void oclnn_dataset_normalize(oclnn_dataset *d, float mean, float std)
{
    if (!d || !d->images || !(std > 0.0f))
        return;
    size_t total = (size_t)d->count * (size_t)d->channels * (size_t)d->height * (size_t)d->width;
    /* Divide rather than multiply by 1/std: it is what PyTorch's Normalize
     * does, so normalized inputs also match bit for bit. */
    for (size_t i = 0; i < total; i++)
        d->images[i] = (d->images[i] - mean) / std;
}

void oclnn_dataset_free(oclnn_dataset *d)
{
    if (!d)
        return;
    free(d->images);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

/* ---- Batcher --------------------------------------------------------------
 *
 * Shuffle scheme (changing it changes every seeded run's order, so don't):
 * epoch e's order is a Fisher-Yates shuffle of the identity 0..n-1,
 *
 *     for step = 0, 1, ..., n-2:
 *         i = n-1-step
 *         j = draw(seed, e, step) mod (i+1)
 *         swap(perm[i], perm[j])
 *
 * where draw is one Philox-4x32-10 block (oclnn_philox4x32_10) with
 *     counter = {step lo32, step hi32, e lo32, e hi32}, key = {seed lo32, seed hi32}
 * and the 64-bit value out[0] | out[1] << 32. This is the same counter layout
 * as oclnn_philox_uniform (index in the low half, stream = epoch in the high
 * half), but using two whole output words instead of a 24-bit float: a float
 * in [0,1) cannot pick uniformly among 60000 positions, while the modulo bias
 * of a 64-bit draw is below n/2^64. Integer-only math makes the order the
 * same on every machine, and starting each epoch from the identity makes
 * epoch e's order a function of (seed, e) alone. */

struct oclnn_batcher {
    const oclnn_dataset *d;
    int batch_size;
    int shuffle;
    int drop_last;
    uint64_t seed;
    uint64_t epoch;      /* number of the current epoch, from 0 */
    int64_t pos;         /* next position in perm */
    int epoch_ended;     /* the last call returned 0 */
    size_t sample_floats;
    int64_t *perm;       /* visiting order of the current epoch */
};

static uint64_t shuffle_draw(uint64_t seed, uint64_t epoch, uint64_t step)
{
    const uint32_t counter[4] = {(uint32_t)step, (uint32_t)(step >> 32), (uint32_t)epoch,
                                 (uint32_t)(epoch >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    oclnn_philox4x32_10(counter, key, out);
    return (uint64_t)out[0] | (uint64_t)out[1] << 32;
}

static void start_epoch(oclnn_batcher *b)
{
    int64_t n = b->d->count;
    for (int64_t i = 0; i < n; i++)
        b->perm[i] = i;
    if (b->shuffle) {
        for (int64_t i = n - 1; i > 0; i--) {
            uint64_t step = (uint64_t)(n - 1 - i);
            int64_t j = (int64_t)(shuffle_draw(b->seed, b->epoch, step) % (uint64_t)(i + 1));
            int64_t t = b->perm[i];
            b->perm[i] = b->perm[j];
            b->perm[j] = t;
        }
    }
    b->pos = 0;
    b->epoch_ended = 0;
}

oclnn_status oclnn_batcher_create(const oclnn_dataset *d, int batch_size, int shuffle,
                                  uint64_t seed, int drop_last, oclnn_batcher **out)
{
    if (!out)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "batcher: out is NULL");
    *out = NULL;
    if (!d)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "batcher: dataset is NULL");
    if (batch_size < 1)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "batcher: batch_size %d must be >= 1", batch_size);
    if (d->count < 0 || d->channels < 0 || d->height < 0 || d->width < 0 ||
        (d->count > 0 && (!d->images || !d->labels)))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG,
                          "batcher: dataset is inconsistent (count %lld, %dx%dx%d, images %p, "
                          "labels %p)",
                          (long long)d->count, d->channels, d->height, d->width,
                          (const void *)d->images, (const void *)d->labels);
    if ((uint64_t)d->count > SIZE_MAX / sizeof(int64_t))
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "batcher: %lld samples are too many",
                          (long long)d->count);

    oclnn_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "batcher: out of memory");
    b->perm = malloc((size_t)d->count * sizeof(int64_t) + 1); /* +1: count may be 0 */
    if (!b->perm) {
        free(b);
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "batcher: cannot allocate an order of %lld",
                          (long long)d->count);
    }
    b->d = d;
    b->batch_size = batch_size;
    b->shuffle = shuffle != 0;
    b->drop_last = drop_last != 0;
    b->seed = seed;
    b->sample_floats = (size_t)d->channels * (size_t)d->height * (size_t)d->width;
    start_epoch(b);
    *out = b;
    return OCLNN_OK;
}

int oclnn_batcher_next(oclnn_batcher *b, float *images_out, int32_t *labels_out)
{
    if (!b) {
        oclnn_fail(OCLNN_ERR_INVALID_ARG, "batcher_next: batcher is NULL");
        return -1;
    }
    if (b->epoch_ended) {
        b->epoch++;
        start_epoch(b);
    }
    int64_t left = b->d->count - b->pos;
    if (left <= 0 || (b->drop_last && left < b->batch_size)) {
        b->epoch_ended = 1;
        return 0;
    }
    int n = left < b->batch_size ? (int)left : b->batch_size;
    for (int k = 0; k < n; k++) {
        int64_t s = b->perm[b->pos + k];
        if (images_out)
            memcpy(images_out + (size_t)k * b->sample_floats,
                   b->d->images + (size_t)s * b->sample_floats, b->sample_floats * sizeof(float));
        if (labels_out)
            labels_out[k] = b->d->labels[s];
    }
    b->pos += n;
    return n;
}

int64_t oclnn_batcher_batches_per_epoch(const oclnn_batcher *b)
{
    if (!b)
        return 0;
    int64_t n = b->d->count, bs = b->batch_size;
    return b->drop_last ? n / bs : (n + bs - 1) / bs;
}

void oclnn_batcher_free(oclnn_batcher *b)
{
    if (!b)
        return;
    free(b->perm);
    free(b);
}
