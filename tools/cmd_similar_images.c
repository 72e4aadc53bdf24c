/* oclnn similar-images: image search with a trained SimpleCNN. The
 * embeddings (fc1 after ReLU) of the Fashion-MNIST test images retrieve
 * each image's nearest neighbours among the others; precision@k says how
 * many share its label, against raw pixels as the baseline, and a PNG grid
 * shows some queries with their neighbours. */
#include "cli.h"
#include "core/context.h" /* oclnn_wall_seconds */

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIXELS (28 * 28)
#define MAX_CLASSES 10

/* The PNG grid's layout (the help text and tests/test_cli.c say the same):
 * each image at SCALE x inside a FRAME-pixel frame, GAP pixels apart and
 * around, QUERY_GAP between a query and its neighbours. */
enum { SCALE = 2, FRAME = 3, GAP = 4, QUERY_GAP = 16, CELL = 28 * SCALE + 2 * FRAME };
static const unsigned char BACKGROUND[3] = {255, 255, 255}, QUERY[3] = {40, 90, 220}, RIGHT[3] = {0, 170, 0},
                           WRONG[3] = {220, 0, 0};

/* A grid of at most this many pixels (768 MiB of RGB). */
#define MAX_GRID_PIXELS ((double)(1 << 28))

static void grid_size(long long k, long long nrows, double *width, double *height)
{
    *width = 2 * GAP + QUERY_GAP + (double)(k + 1) * CELL + (double)(k - 1) * GAP;
    *height = GAP + (double)nrows * (CELL + GAP);
}

/* The error to print when path cannot take a file, or NULL; checked before
 * the work so that a typo does not cost a run. */
static const char *png_path_problem(const char *path, char *buf, size_t size)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return "it is a folder";
        return access(path, W_OK) == 0 ? NULL : strerror(errno);
    }
    snprintf(buf, size, "%s", path);
    char *slash = strrchr(buf, '/');
    const char *dir = !slash ? "." : slash == buf ? "/" : (*slash = 0, buf);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return "its folder does not exist";
    return access(dir, W_OK | X_OK) == 0 ? NULL : strerror(errno);
}

static void fill(unsigned char *rgb, int width, int x0, int y0, int w, int h, const unsigned char color[3])
{
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) memcpy(rgb + 3 * ((size_t)y * (size_t)width + (size_t)x), color, 3);
}

static void draw_cell(unsigned char *rgb, int width, int x0, int y0, const float *image, const unsigned char frame[3])
{
    fill(rgb, width, x0, y0, CELL, CELL, frame);
    for (int y = 0; y < 28 * SCALE; y++)
        for (int x = 0; x < 28 * SCALE; x++) {
            float v = image[(y / SCALE) * 28 + x / SCALE];
            unsigned char grey = (unsigned char)lrintf(fminf(fmaxf(v, 0.0f), 1.0f) * 255.0f);
            unsigned char *p = rgb + 3 * ((size_t)(y0 + FRAME + y) * (size_t)width + (size_t)(x0 + FRAME + x));
            p[0] = p[1] = p[2] = grey;
        }
}

/* One row per query: the query, then its k neighbours framed green (same
 * label) or red. Returns 0 or prints the error and returns -1. */
static int write_grid(const char *path, const oclnn_dataset *d, const int64_t *queries, int nq,
                      const int32_t *neighbours, int k)
{
    double w, h;
    grid_size(k, nq, &w, &h);
    int width = (int)w, height = (int)h;
    unsigned char *rgb = malloc((size_t)width * (size_t)height * 3);
    png_bytep *rows = malloc((size_t)height * sizeof *rows);
    FILE *f = rgb && rows ? fopen(path, "wb") : NULL;
    if (!f) {
        cli_error("cannot write '%s': %s", path, rgb && rows ? strerror(errno) : "out of memory");
        free(rgb);
        free(rows);
        return -1;
    }
    fill(rgb, width, 0, 0, width, height, BACKGROUND);
    for (int r = 0; r < nq; r++) {
        int y = GAP + r * (CELL + GAP);
        int64_t q = queries[r];
        draw_cell(rgb, width, GAP, y, d->images + q * PIXELS, QUERY);
        for (int j = 0; j < k; j++) {
            int32_t nb = neighbours[q * k + j];
            draw_cell(rgb, width, GAP + CELL + QUERY_GAP + j * (CELL + GAP), y, d->images + (int64_t)nb * PIXELS,
                      d->labels[nb] == d->labels[q] ? RIGHT : WRONG);
        }
    }
    for (int y = 0; y < height; y++) rows[y] = rgb + (size_t)y * (size_t)width * 3;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int ok = 0;
    if (info && !setjmp(png_jmpbuf(png))) {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        png_write_image(png, rows);
        png_write_end(png, NULL);
        ok = 1;
    }
    png_destroy_write_struct(&png, &info);
    ok = fclose(f) == 0 && ok;
    free(rgb);
    free(rows);
    if (!ok) cli_error("cannot write '%s': the PNG encoder or the disk failed", path);
    return ok ? 0 : -1;
}

typedef struct retrieval {
    const char *name;
    const float *vectors;
    int64_t dim;
    oclnn_metric metric;
    double overall, per_class[MAX_CLASSES], seconds;
} retrieval;

int cmd_similar_images(int argc, char **argv)
{
    const char *device = NULL, *data = NULL, *weights = NULL, *png = NULL;
    long long k = 10, nqueries = 0, test_limit = 0;
    const cli_option options[] = {
        {"weights", CLI_STRING, &weights, "FILE", "SimpleCNN weights or checkpoint (oclnn train simple-cnn --save)", 0,
         0},
        {"k", CLI_INT, &k, "K", "neighbours per image (default 10, at most 1023)", 1, OCLNN_TOPK_MAX - 1},
        {"png", CLI_STRING, &png, "FILE", "write a PNG grid of queries and their neighbours (cosine, CNN)", 0, 0},
        {"queries", CLI_INT, &nqueries, "N", "grid rows: the first N test images (default: the first of each class)",
         1, 1e9},
        {"test-limit", CLI_INT, &test_limit, "N", "use the first N test images only", 2, 1e9},
        {"device", CLI_STRING, &device, "D", "OpenCL device (gpu, cpu, P:D or part of a name)", 0, 0},
        {"data", CLI_STRING, &data, "DIR", "MNIST-format data ($OCLNN_DATA, default /usr/share/datasets/fashion-mnist)",
         0, 0},
        {0},
    };
    const cli_spec spec = {
        "similar-images", NULL,
        "Embeds the Fashion-MNIST test images with a trained SimpleCNN (fc1 after\n"
        "ReLU, 1000 numbers per image), finds each image's k nearest neighbours among\n"
        "the other test images by cosine and by euclidean distance, and prints\n"
        "precision@k (the fraction of neighbours with the query's label), overall and\n"
        "per class, next to the same search on raw pixels. Then lists, for the first\n"
        "image of each class (or --queries N), its neighbours by cosine as\n"
        "'index (label)'. --png draws them: one row per query, the query framed blue,\n"
        "then its neighbours framed green (same label) or red; images at 2x in a\n"
        "3-pixel frame, 4 pixels apart, 16 between the query and its neighbours.",
        options, 0, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc >= 0) return rc;
    if (!weights) return cli_usage_error("similar-images", "--weights FILE is required");
    double width, height;
    grid_size(k, nqueries ? nqueries : MAX_CLASSES, &width, &height);
    if (png && width * height > MAX_GRID_PIXELS)
        return cli_usage_error("similar-images", "--png: a grid of %lld queries and %lld neighbours would be %.0fx%.0f "
                               "pixels; ask for fewer --queries or a smaller --k", nqueries, k, width, height);
    char buf[4096];
    const char *problem = png ? png_path_problem(png, buf, sizeof buf) : NULL;
    if (problem) {
        cli_error("cannot write the PNG '%s': %s", png, problem);
        return CLI_EXIT_FAIL;
    }

    oclnn_context *ctx;
    if (cli_open_context(device, &ctx)) return CLI_EXIT_FAIL;
    double t0 = oclnn_wall_seconds();
    oclnn_dataset d = {0};
    float *cnn = NULL;
    int32_t *neighbours = NULL;
    int64_t shown[MAX_CLASSES], *rows = shown;
    int nrows = 0;
    rc = CLI_EXIT_FAIL;
    if (oclnn_dataset_load_mnist(data, 0, test_limit, &d)) {
        cli_fail("cannot read the test images");
        goto done;
    }
    if (d.height != 28 || d.width != 28 || d.channels != 1) {
        cli_error("%s: the test images are %dx%d; SimpleCNN takes 28x28", data ? data : oclnn_dataset_default_dir(),
                  d.height, d.width);
        goto done;
    }
    if (k > d.count - 1) {
        rc = cli_usage_error("similar-images", "--k %lld needs more than %lld test images", k, (long long)d.count);
        goto done;
    }
    cnn = malloc((size_t)d.count * OCLNN_SIMPLE_CNN_EMBEDDING * sizeof *cnn);
    neighbours = malloc((size_t)(d.count * k) * sizeof *neighbours);
    if (!cnn || !neighbours) {
        cli_error("out of host memory for %lld embeddings", (long long)d.count);
        goto done;
    }
    printf("device: %s (%s)\n", oclnn_context_device(ctx)->name, oclnn_context_device(ctx)->platform);
    double t = oclnn_wall_seconds();
    if (oclnn_simple_cnn_embed(ctx, weights, d.images, d.count, cnn)) {
        cli_fail("cannot embed the test images");
        goto done;
    }
    t = oclnn_wall_seconds() - t;
    printf("embedded %lld test images (fc1 after ReLU, %d numbers each) in %.1f s, %.0f images/s\n",
           (long long)d.count, OCLNN_SIMPLE_CNN_EMBEDDING, t, (double)d.count / t);
    const int64_t cnn_dim = OCLNN_SIMPLE_CNN_EMBEDDING;
    retrieval runs[4] = {{.name = "cnn cosine", .vectors = cnn, .dim = cnn_dim, .metric = OCLNN_METRIC_COSINE},
                         {.name = "cnn euclidean", .vectors = cnn, .dim = cnn_dim, .metric = OCLNN_METRIC_SQ_EUCLIDEAN},
                         {.name = "pixels cosine", .vectors = d.images, .dim = PIXELS, .metric = OCLNN_METRIC_COSINE},
                         {.name = "pixels euclidean", .vectors = d.images, .dim = PIXELS,
                          .metric = OCLNN_METRIC_SQ_EUCLIDEAN}};
    for (int i = 0; i < 4; i++) {
        retrieval *r = &runs[i];
        r->seconds = oclnn_wall_seconds();
        if (oclnn_knn_precision(ctx, r->vectors, d.count, r->dim, d.labels, MAX_CLASSES, k, r->metric, &r->overall,
                                r->per_class, i == 0 ? neighbours : NULL)) {
            cli_fail("nearest-neighbour search failed");
            goto done;
        }
        r->seconds = oclnn_wall_seconds() - r->seconds;
    }
    printf("\nprecision@%lld (each test image against the other %lld):\n%-7s", k, (long long)d.count - 1, "class");
    for (int i = 0; i < 4; i++) printf(" %17s", runs[i].name);
    for (int c = 0; c <= MAX_CLASSES; c++) {
        if (c < MAX_CLASSES && isnan(runs[0].per_class[c])) continue;
        if (c < MAX_CLASSES) printf("\n%-7d", c);
        else printf("\n%-7s", "all");
        for (int i = 0; i < 4; i++) printf(" %17.4f", c < MAX_CLASSES ? runs[i].per_class[c] : runs[i].overall);
    }
    printf("\n%-7s", "seconds");
    for (int i = 0; i < 4; i++) printf(" %17.1f", runs[i].seconds);
    printf("\n\nnearest by cosine of the CNN embeddings, as 'index (label)':\n");
    if (nqueries) {
        nrows = (int)(nqueries < d.count ? nqueries : d.count);
        rows = malloc((size_t)nrows * sizeof *rows);
        for (int i = 0; rows && i < nrows; i++) rows[i] = i;
    } else {
        for (int c = 0; c < MAX_CLASSES; c++)
            for (int64_t i = 0; i < d.count; i++)
                if (d.labels[i] == c) {
                    shown[nrows++] = i;
                    break;
                }
    }
    if (!rows) {
        cli_error("out of host memory for %lld queries", nqueries);
        goto done;
    }
    for (int r = 0; r < nrows; r++) {
        printf("%lld (%d):", (long long)rows[r], (int)d.labels[rows[r]]);
        for (const int32_t *nb = neighbours + rows[r] * k; nb < neighbours + (rows[r] + 1) * k; nb++)
            printf(" %d (%d)", *nb, (int)d.labels[*nb]);
        printf("\n");
    }
    if (png && write_grid(png, &d, rows, nrows, neighbours, (int)k)) goto done;
    if (png) printf("wrote %s (%d rows of a query and %lld neighbours)\n", png, nrows, k);
    printf("result: k=%lld images=%lld cnn_cosine=%.4f cnn_euclidean=%.4f pixels_cosine=%.4f pixels_euclidean=%.4f "
           "seconds=%.1f\n",
           k, (long long)d.count, runs[0].overall, runs[1].overall, runs[2].overall, runs[3].overall,
           oclnn_wall_seconds() - t0);
    rc = CLI_EXIT_OK;
done:
    if (rows != shown) free(rows);
    free(cnn);
    free(neighbours);
    oclnn_dataset_free(&d);
    oclnn_context_release(ctx);
    return rc;
}
