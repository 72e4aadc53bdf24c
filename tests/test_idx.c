/* Tests for IDX loading, MNIST datasets and the batcher (include/oclnn/data.h).
 * Host only: no OpenCL device needed. Fixtures come from
 * tests/gen/make_idx_fixtures.py and live in $OCLNN_TEST_DATA/idx. */
#include "oclnn/data.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REAL_DATA_DIR "/usr/share/datasets/fashion-mnist"

/* Path of a fixture under $OCLNN_TEST_DATA/idx (tests/data when unset, for
 * runs from the repository root). Returns a static buffer. */
static const char *fixture(const char *name) { return tu_data_path("idx/%s", name); }

/* Asserts a failure status and that the message mentions `word`. */
#define ck_fails_with(expr, status, word)                                                   \
    do {                                                                                    \
        oclnn_status st_ = (expr);                                                          \
        ck_assert_msg(st_ == (status), "%s: got %s, expected %s (%s)", #expr,               \
                      oclnn_status_name(st_), oclnn_status_name(status), oclnn_last_error()); \
        ck_assert_msg(strstr(oclnn_last_error(), (word)) != NULL,                           \
                      "message \"%s\" lacks \"%s\"", oclnn_last_error(), (word));           \
    } while (0)

static const uint8_t IMAGES[12] = {0, 255, 51, 102, 1, 2, 3, 4, 200, 201, 202, 203};
static const int32_t LABELS[3] = {7, 0, 9};

/* ---- IDX ------------------------------------------------------------------ */

static void check_images_3x2x2(const oclnn_idx *idx)
{
    ck_assert_int_eq(idx->type_code, OCLNN_IDX_UBYTE);
    ck_assert_int_eq(idx->ndim, 3);
    ck_assert_int_eq(idx->dims[0], 3);
    ck_assert_int_eq(idx->dims[1], 2);
    ck_assert_int_eq(idx->dims[2], 2);
    ck_assert_int_eq(idx->dims[3], 0);
    ck_assert_uint_eq(idx->count, 12);
    ck_assert_ptr_nonnull(idx->data);
    ck_assert_mem_eq(idx->data, IMAGES, sizeof IMAGES);
}

START_TEST(idx_plain)
{
    oclnn_idx idx;
    ck_assert_int_eq(oclnn_idx_load(fixture("images-3x2x2-idx3-ubyte"), &idx), OCLNN_OK);
    check_images_3x2x2(&idx);
    oclnn_idx_free(&idx);
    ck_assert_ptr_null(idx.data);
    oclnn_idx_free(&idx); /* freeing twice is harmless */
    oclnn_idx_free(NULL);
}
END_TEST

START_TEST(idx_gzip)
{
    oclnn_idx idx;
    ck_assert_int_eq(oclnn_idx_load(fixture("images-3x2x2-idx3-ubyte.gz"), &idx), OCLNN_OK);
    check_images_3x2x2(&idx);
    oclnn_idx_free(&idx);
}
END_TEST

START_TEST(idx_labels)
{
    oclnn_idx idx;
    ck_assert_int_eq(oclnn_idx_load(fixture("labels-3-idx1-ubyte"), &idx), OCLNN_OK);
    ck_assert_int_eq(idx.ndim, 1);
    ck_assert_int_eq(idx.dims[0], 3);
    ck_assert_uint_eq(idx.count, 3);
    ck_assert_int_eq(idx.data[0], 7);
    ck_assert_int_eq(idx.data[1], 0);
    ck_assert_int_eq(idx.data[2], 9);
    oclnn_idx_free(&idx);
}
END_TEST

START_TEST(idx_missing_file)
{
    oclnn_idx idx;
    const char *path = fixture("no-such-file-idx1-ubyte");
    ck_fails_with(oclnn_idx_load(path, &idx), OCLNN_ERR_IO, "No such file");
    ck_assert_msg(strstr(oclnn_last_error(), "no-such-file-idx1-ubyte"), "%s", oclnn_last_error());
    ck_assert_ptr_null(idx.data);
}
END_TEST

START_TEST(idx_format_errors)
{
    static const struct {
        const char *file, *word;
    } cases[] = {
        {"truncated-idx3-ubyte", "truncated"},
        {"truncated-stream-idx3-ubyte.gz", "truncated"},
        {"header-only-idx1-ubyte", "truncated"},
        {"big-declared-idx1-ubyte", "truncated"},
        {"bad-magic-idx3-ubyte", "magic"},
        {"bad-ndim-idx-ubyte", "ndim"},
        {"zero-dim-idx1-ubyte", "is 0"},
        {"huge-dims-idx4-ubyte", "too large"},
        {"trailing-idx1-ubyte", "trailing"},
        {"corrupt-block-idx3-ubyte.gz", "gzip"},
        {"corrupt-crc-idx3-ubyte.gz", "gzip"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oclnn_idx idx;
        ck_fails_with(oclnn_idx_load(fixture(cases[i].file), &idx), OCLNN_ERR_FORMAT, cases[i].word);
        /* The message names the file, and nothing is left allocated. */
        ck_assert_msg(strstr(oclnn_last_error(), cases[i].file), "%s", oclnn_last_error());
        ck_assert_ptr_null(idx.data);
        ck_assert_int_eq(idx.ndim, 0);
    }
}
END_TEST

START_TEST(idx_unsupported_type)
{
    oclnn_idx idx;
    ck_fails_with(oclnn_idx_load(fixture("float-idx1-ubyte"), &idx), OCLNN_ERR_UNSUPPORTED, "float");
    ck_assert_ptr_null(idx.data);
}
END_TEST

START_TEST(idx_invalid_args)
{
    oclnn_idx idx;
    ck_fails_with(oclnn_idx_load(NULL, &idx), OCLNN_ERR_INVALID_ARG, "NULL");
    ck_fails_with(oclnn_idx_load(fixture("labels-3-idx1-ubyte"), NULL), OCLNN_ERR_INVALID_ARG,
                  "NULL");
}
END_TEST

START_TEST(idx_directory)
{
    /* A directory opens but cannot be read: an I/O error, not "truncated". */
    oclnn_idx idx;
    ck_fails_with(oclnn_idx_load(fixture("mnist-ok"), &idx), OCLNN_ERR_IO, "mnist-ok");
}
END_TEST

/* ---- Datasets ------------------------------------------------------------- */

START_TEST(mnist_train)
{
    oclnn_dataset d;
    ck_assert_int_eq(oclnn_dataset_load_mnist(fixture("mnist-ok"), 1, 0, &d), OCLNN_OK);
    ck_assert_int_eq(d.count, 3);
    ck_assert_int_eq(d.channels, 1);
    ck_assert_int_eq(d.height, 2);
    ck_assert_int_eq(d.width, 2);
    ck_assert_int_eq(d.num_classes, 10);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(d.images[i], (float)IMAGES[i] / 255.0f);
    ck_assert_float_eq(d.images[0], 0.0f);
    ck_assert_float_eq(d.images[1], 1.0f);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(d.labels[i], LABELS[i]);

    oclnn_dataset_normalize(&d, 0.5f, 0.25f);
    ck_assert_float_eq(d.images[0], -2.0f);
    ck_assert_float_eq(d.images[1], 2.0f);
    ck_assert_float_eq_tol(d.images[2], (51.0f / 255.0f - 0.5f) / 0.25f, 1e-6f);
    oclnn_dataset_normalize(&d, 0.0f, 0.0f); /* std 0 is ignored, not a NaN fill */
    ck_assert_float_eq(d.images[0], -2.0f);

    oclnn_dataset_free(&d);
    ck_assert_ptr_null(d.images);
    ck_assert_ptr_null(d.labels);
    oclnn_dataset_free(&d);
    oclnn_dataset_free(NULL);
}
END_TEST

START_TEST(mnist_test_split_and_limit)
{
    oclnn_dataset d;
    /* t10k: plain images, gzip labels. */
    ck_assert_int_eq(oclnn_dataset_load_mnist(fixture("mnist-ok"), 0, 0, &d), OCLNN_OK);
    ck_assert_int_eq(d.count, 2);
    ck_assert_float_eq(d.images[0], 10.0f / 255.0f);
    ck_assert_float_eq(d.images[7], 253.0f / 255.0f);
    ck_assert_int_eq(d.labels[0], 3);
    ck_assert_int_eq(d.labels[1], 5);
    oclnn_dataset_free(&d);

    ck_assert_int_eq(oclnn_dataset_load_mnist(fixture("mnist-ok"), 1, 2, &d), OCLNN_OK);
    ck_assert_int_eq(d.count, 2);
    ck_assert_int_eq(d.labels[1], 0);
    ck_assert_float_eq(d.images[7], 4.0f / 255.0f);
    oclnn_dataset_free(&d);

    /* A limit above the file's count loads everything. */
    ck_assert_int_eq(oclnn_dataset_load_mnist(fixture("mnist-ok"), 1, 100, &d), OCLNN_OK);
    ck_assert_int_eq(d.count, 3);
    oclnn_dataset_free(&d);

    ck_fails_with(oclnn_dataset_load_mnist(fixture("mnist-ok"), 1, -1, &d), OCLNN_ERR_INVALID_ARG,
                  "limit");
}
END_TEST

START_TEST(mnist_errors)
{
    oclnn_dataset d;
    ck_fails_with(oclnn_dataset_load_mnist(fixture("mnist-bad"), 1, 0, &d), OCLNN_ERR_FORMAT,
                  "mismatch");
    ck_assert_ptr_null(d.images);
    ck_fails_with(oclnn_dataset_load_mnist(fixture("mnist-bad"), 0, 0, &d), OCLNN_ERR_IO,
                  "t10k-labels-idx1-ubyte");
    ck_fails_with(oclnn_dataset_load_mnist(fixture("no-such-dir"), 1, 0, &d), OCLNN_ERR_IO,
                  "train-images-idx3-ubyte");
    ck_fails_with(oclnn_dataset_load_mnist(fixture("mnist-badlabel"), 1, 0, &d), OCLNN_ERR_FORMAT,
                  "label 10");
    /* A limit does not hide a bad label past it. */
    ck_fails_with(oclnn_dataset_load_mnist(fixture("mnist-badlabel"), 1, 1, &d), OCLNN_ERR_FORMAT,
                  "label 10");
    ck_fails_with(oclnn_dataset_load_mnist(fixture("mnist-badlabel"), 0, 0, &d), OCLNN_ERR_FORMAT,
                  "dimensions");
    ck_assert_ptr_null(d.images);
    ck_assert_ptr_null(d.labels);
}
END_TEST

START_TEST(mnist_default_dir)
{
    /* Check forks each test, so changing the environment stays local. */
    setenv("OCLNN_DATA", "/some/where", 1);
    ck_assert_str_eq(oclnn_dataset_default_dir(), "/some/where");
    setenv("OCLNN_DATA", "", 1);
    ck_assert_str_eq(oclnn_dataset_default_dir(), REAL_DATA_DIR);
    unsetenv("OCLNN_DATA");
    ck_assert_str_eq(oclnn_dataset_default_dir(), REAL_DATA_DIR);
    /* dir NULL falls back to $OCLNN_DATA. */
    setenv("OCLNN_DATA", fixture("mnist-ok"), 1);
    oclnn_dataset d;
    ck_assert_int_eq(oclnn_dataset_load_mnist(NULL, 1, 0, &d), OCLNN_OK);
    ck_assert_int_eq(d.count, 3);
    oclnn_dataset_free(&d);
}
END_TEST

START_TEST(mnist_real_test_set)
{
    struct stat sb;
    if (stat(REAL_DATA_DIR, &sb) != 0) {
        printf("note: %s not found; skipping the real Fashion-MNIST test\n", REAL_DATA_DIR);
        return;
    }
    oclnn_dataset d;
    oclnn_status st = oclnn_dataset_load_mnist(REAL_DATA_DIR, 0, 0, &d);
    ck_assert_msg(st == OCLNN_OK, "%s", oclnn_last_error());
    ck_assert_int_eq(d.count, 10000);
    ck_assert_int_eq(d.channels, 1);
    ck_assert_int_eq(d.height, 28);
    ck_assert_int_eq(d.width, 28);
    /* Plain ifs in the loops: each ck_assert costs a message to the runner,
     * which is slow over 7.8 million pixels. */
    int64_t per_class[10] = {0}, bad_labels = 0;
    for (int64_t i = 0; i < d.count; i++) {
        if (d.labels[i] >= 0 && d.labels[i] <= 9)
            per_class[d.labels[i]]++;
        else
            bad_labels++;
    }
    ck_assert_int_eq(bad_labels, 0);
    for (int c = 0; c < 10; c++)
        ck_assert_int_gt(per_class[c], 0);
    double sum = 0;
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < d.count * 28 * 28; i++) {
        float v = d.images[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
    }
    /* All pixels in [0,1], both ends occur; the mean is Fashion-MNIST's
     * ~0.286 (MNIST's is ~0.13). */
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_float_eq(hi, 1.0f);
    double mean = sum / (double)(d.count * 28 * 28);
    ck_assert_msg(mean > 0.1 && mean < 0.4, "mean pixel %f", mean);
    oclnn_dataset_free(&d);
}
END_TEST

/* ---- Batcher -------------------------------------------------------------- */

/* n samples of 1x1x2 pixels: sample i is {i, -i} with label i % 10, so every
 * batch row can be traced back to its sample. */
static oclnn_dataset synthetic(int64_t n)
{
    oclnn_dataset d = {0};
    d.count = n;
    d.channels = 1;
    d.height = 1;
    d.width = 2;
    d.num_classes = 10;
    d.images = malloc((size_t)n * 2 * sizeof(float) + 1);
    d.labels = malloc((size_t)n * sizeof(int32_t) + 1);
    for (int64_t i = 0; i < n; i++) {
        d.images[2 * i] = (float)i;
        d.images[2 * i + 1] = -(float)i;
        d.labels[i] = (int32_t)(i % 10);
    }
    return d;
}

/* Runs one epoch, writing the visiting order to order[] (count entries at
 * most) and the batch sizes to sizes[]; checks each row against its sample.
 * Returns the number of samples visited. */
static int64_t run_epoch(oclnn_batcher *b, const oclnn_dataset *d, int batch_size,
                         int64_t *order, int *sizes, int *nbatches)
{
    float *img = malloc((size_t)batch_size * 2 * sizeof(float));
    int32_t *lbl = malloc((size_t)batch_size * sizeof(int32_t));
    int64_t seen = 0;
    int nb = 0, n;
    while ((n = oclnn_batcher_next(b, img, lbl)) > 0) {
        ck_assert_int_le(n, batch_size);
        for (int k = 0; k < n; k++) {
            int64_t s = (int64_t)img[2 * k];
            ck_assert(s >= 0 && s < d->count);
            ck_assert_float_eq(img[2 * k + 1], -(float)s);
            ck_assert_int_eq(lbl[k], s % 10);
            order[seen++] = s;
        }
        sizes[nb++] = n;
        ck_assert_int_le(nb, d->count + 1);
    }
    ck_assert_int_eq(n, 0);
    *nbatches = nb;
    free(img);
    free(lbl);
    return seen;
}

/* Asserts that order[0..len) holds distinct samples of 0..n-1. */
static void assert_distinct(const int64_t *order, int64_t len, int64_t n)
{
    char *hit = calloc((size_t)n, 1);
    for (int64_t i = 0; i < len; i++) {
        ck_assert(order[i] >= 0 && order[i] < n);
        ck_assert_msg(!hit[order[i]], "sample %lld visited twice", (long long)order[i]);
        hit[order[i]] = 1;
    }
    free(hit);
}

START_TEST(batcher_covers_each_sample_once)
{
    oclnn_dataset d = synthetic(10);
    oclnn_batcher *b;
    ck_assert_int_eq(oclnn_batcher_create(&d, 3, 1, 7, 0, &b), OCLNN_OK);
    ck_assert_int_eq(oclnn_batcher_batches_per_epoch(b), 4);
    for (int epoch = 0; epoch < 3; epoch++) {
        int64_t order[10];
        int sizes[16], nb;
        ck_assert_int_eq(run_epoch(b, &d, 3, order, sizes, &nb), 10);
        assert_distinct(order, 10, 10);
        ck_assert_int_eq(nb, 4);
        ck_assert_int_eq(sizes[0], 3);
        ck_assert_int_eq(sizes[2], 3);
        ck_assert_int_eq(sizes[3], 1); /* the partial last batch */
    }
    oclnn_batcher_free(b);
    oclnn_dataset_free(&d);
}
END_TEST

START_TEST(batcher_drop_last)
{
    oclnn_dataset d = synthetic(10);
    oclnn_batcher *b;
    ck_assert_int_eq(oclnn_batcher_create(&d, 3, 1, 7, 1, &b), OCLNN_OK);
    ck_assert_int_eq(oclnn_batcher_batches_per_epoch(b), 3);
    int dropped_differs = 0;
    int64_t first_dropped = -1;
    for (int epoch = 0; epoch < 6; epoch++) {
        int64_t order[10];
        int sizes[16], nb;
        ck_assert_int_eq(run_epoch(b, &d, 3, order, sizes, &nb), 9);
        ck_assert_int_eq(nb, 3);
        for (int i = 0; i < nb; i++)
            ck_assert_int_eq(sizes[i], 3);
        assert_distinct(order, 9, 10);
        /* Which sample sat out: it should change from epoch to epoch. */
        int64_t dropped = 45;
        for (int i = 0; i < 9; i++)
            dropped -= order[i];
        if (epoch == 0)
            first_dropped = dropped;
        else if (dropped != first_dropped)
            dropped_differs = 1;
    }
    ck_assert(dropped_differs);
    oclnn_batcher_free(b);

    /* Fewer samples than one batch: no batches at all, every epoch. */
    ck_assert_int_eq(oclnn_batcher_create(&d, 11, 1, 7, 1, &b), OCLNN_OK);
    ck_assert_int_eq(oclnn_batcher_batches_per_epoch(b), 0);
    ck_assert_int_eq(oclnn_batcher_next(b, NULL, NULL), 0);
    ck_assert_int_eq(oclnn_batcher_next(b, NULL, NULL), 0);
    oclnn_batcher_free(b);
    /* ... but without drop_last one partial batch. */
    ck_assert_int_eq(oclnn_batcher_create(&d, 11, 1, 7, 0, &b), OCLNN_OK);
    ck_assert_int_eq(oclnn_batcher_batches_per_epoch(b), 1);
    ck_assert_int_eq(oclnn_batcher_next(b, NULL, NULL), 10);
    ck_assert_int_eq(oclnn_batcher_next(b, NULL, NULL), 0);
    ck_assert_int_eq(oclnn_batcher_next(b, NULL, NULL), 10);
    oclnn_batcher_free(b);
    oclnn_dataset_free(&d);
}
END_TEST

/* Visiting orders of `epochs` epochs, concatenated (n each). */
static void orders(const oclnn_dataset *d, int shuffle, uint64_t seed, int epochs, int64_t *out)
{
    oclnn_batcher *b;
    ck_assert_int_eq(oclnn_batcher_create(d, 4, shuffle, seed, 0, &b), OCLNN_OK);
    for (int e = 0; e < epochs; e++) {
        int sizes[64], nb;
        ck_assert_int_eq(run_epoch(b, d, 4, out + e * d->count, sizes, &nb), d->count);
        assert_distinct(out + e * d->count, d->count, d->count);
    }
    oclnn_batcher_free(b);
}

START_TEST(batcher_deterministic)
{
    enum { N = 50 };
    oclnn_dataset d = synthetic(N);
    int64_t a[3 * N], b[3 * N], c[3 * N];
    orders(&d, 1, 1234, 3, a);
    orders(&d, 1, 1234, 3, b);
    orders(&d, 1, 1235, 3, c);
    ck_assert_mem_eq(a, b, sizeof a);                      /* same seed, same orders */
    ck_assert(memcmp(a, c, N * sizeof(int64_t)) != 0);     /* other seed, other order */
    ck_assert(memcmp(a, a + N, N * sizeof(int64_t)) != 0); /* epochs differ */
    ck_assert(memcmp(a + N, a + 2 * N, N * sizeof(int64_t)) != 0);
    int64_t identity[N];
    for (int i = 0; i < N; i++)
        identity[i] = i;
    ck_assert(memcmp(a, identity, sizeof identity) != 0);

    /* Without shuffle: 0..n-1 every epoch, whatever the seed. */
    orders(&d, 0, 99, 3, a);
    for (int e = 0; e < 3; e++)
        ck_assert_mem_eq(a + e * N, identity, sizeof identity);
    oclnn_dataset_free(&d);
}
END_TEST

START_TEST(batcher_golden_order)
{
    /* Pins the shuffle scheme documented in src/io/dataset.c, so that a seed
     * keeps meaning the same order across versions and machines. Values from
     * `python3 tests/gen/make_idx_fixtures.py --golden`, an independent
     * implementation of the same scheme. */
    static const int64_t epoch0[10] = {2, 8, 7, 0, 1, 6, 4, 5, 3, 9};
    static const int64_t epoch1[10] = {5, 6, 4, 3, 2, 8, 0, 1, 7, 9};
    oclnn_dataset d = synthetic(10);
    int64_t got[20];
    orders(&d, 1, 42, 2, got);
    ck_assert_mem_eq(got, epoch0, sizeof epoch0);
    ck_assert_mem_eq(got + 10, epoch1, sizeof epoch1);
    oclnn_dataset_free(&d);
}
END_TEST

START_TEST(batcher_invalid_args)
{
    oclnn_dataset d = synthetic(4);
    oclnn_batcher *b = (oclnn_batcher *)&d; /* must be reset to NULL on failure */
    ck_fails_with(oclnn_batcher_create(&d, 0, 1, 1, 0, &b), OCLNN_ERR_INVALID_ARG, "batch_size");
    ck_assert_ptr_null(b);
    ck_fails_with(oclnn_batcher_create(NULL, 2, 1, 1, 0, &b), OCLNN_ERR_INVALID_ARG, "NULL");
    ck_fails_with(oclnn_batcher_create(&d, 2, 1, 1, 0, NULL), OCLNN_ERR_INVALID_ARG, "NULL");
    float *images = d.images;
    d.images = NULL;
    ck_fails_with(oclnn_batcher_create(&d, 2, 1, 1, 0, &b), OCLNN_ERR_INVALID_ARG, "inconsistent");
    d.images = images;
    ck_assert_int_eq(oclnn_batcher_next(NULL, NULL, NULL), -1);
    ck_assert_int_eq(oclnn_batcher_batches_per_epoch(NULL), 0);
    oclnn_batcher_free(NULL);

    /* An empty dataset is valid and has no batches. */
    oclnn_dataset empty = {0};
    ck_assert_int_eq(oclnn_batcher_create(&empty, 2, 1, 1, 0, &b), OCLNN_OK);
    ck_assert_int_eq(oclnn_batcher_batches_per_epoch(b), 0);
    ck_assert_int_eq(oclnn_batcher_next(b, NULL, NULL), 0);
    oclnn_batcher_free(b);
    oclnn_dataset_free(&d);
}
END_TEST

START_TEST(batcher_on_loaded_dataset)
{
    /* End to end: file -> dataset -> batches of whole 2x2 images. */
    oclnn_dataset d;
    ck_assert_int_eq(oclnn_dataset_load_mnist(fixture("mnist-ok"), 1, 0, &d), OCLNN_OK);
    oclnn_batcher *b;
    ck_assert_int_eq(oclnn_batcher_create(&d, 2, 0, 0, 0, &b), OCLNN_OK);
    float img[2 * 4];
    int32_t lbl[2];
    ck_assert_int_eq(oclnn_batcher_next(b, img, lbl), 2);
    ck_assert_int_eq(oclnn_batcher_next(b, img, lbl), 1);
    ck_assert_int_eq(lbl[0], 9);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(img[i], (float)IMAGES[8 + i] / 255.0f);
    ck_assert_int_eq(oclnn_batcher_next(b, img, lbl), 0);
    oclnn_batcher_free(b);
    oclnn_dataset_free(&d);
}
END_TEST

static Suite *idx_suite(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("idx");
    tcase_add_test(tc, idx_plain);
    tcase_add_test(tc, idx_gzip);
    tcase_add_test(tc, idx_labels);
    tcase_add_test(tc, idx_missing_file);
    tcase_add_test(tc, idx_format_errors);
    tcase_add_test(tc, idx_unsupported_type);
    tcase_add_test(tc, idx_invalid_args);
    tcase_add_test(tc, idx_directory);
    suite_add_tcase(s, tc);

    tc = tcase_create("dataset");
    tcase_add_test(tc, mnist_train);
    tcase_add_test(tc, mnist_test_split_and_limit);
    tcase_add_test(tc, mnist_errors);
    tcase_add_test(tc, mnist_default_dir);
    tcase_add_test(tc, mnist_real_test_set);
    tcase_set_timeout(tc, 60); /* the real set decompresses 4 MB; slow under sanitizers */
    suite_add_tcase(s, tc);

    tc = tcase_create("batcher");
    tcase_add_test(tc, batcher_covers_each_sample_once);
    tcase_add_test(tc, batcher_drop_last);
    tcase_add_test(tc, batcher_deterministic);
    tcase_add_test(tc, batcher_golden_order);
    tcase_add_test(tc, batcher_invalid_args);
    tcase_add_test(tc, batcher_on_loaded_dataset);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(idx_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
