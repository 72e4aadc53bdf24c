/* Dropout: the device mask is the host Philox stream bit for bit, new each
 * run and reproducible per seed; statistics; the backward reuses the
 * forward's mask; eval, p = 0 and p = 1 are exact. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int kept(uint64_t seed, uint64_t run, size_t i, float p) { return oclnn_philox_uniform(seed, run, i) >= p; }

/* ---- as an op case: the first run (run 0) has a known mask */
typedef struct drop_user {
    float p;
    uint64_t seed;
    size_t n;
} drop_user;

static oclnn_tensor *build_drop(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const drop_user *u = user;
    return oclnn_dropout_seeded(g, in[0], u->p, u->seed);
}

static void ref_drop(const double *const *in, double *out, const void *user)
{
    const drop_user *u = user;
    float scale = u->p < 1.0f ? 1.0f / (1.0f - u->p) : 0.0f;
    for (size_t i = 0; i < u->n; i++) out[i] = kept(u->seed, 0, i, u->p) ? in[0][i] * scale : 0.0;
}

START_TEST(test_forward_and_gradient_run0)
{
    uint64_t rng = tu_seed() + 31;
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {1, 1, 1, 7}, {1, 1, 1, 129}, {3, 5, 7, 9}};
    const float ps[] = {0.0f, 0.25f, 0.5f, 0.9f, 1.0f};
    for (size_t s = 0; s < 4; s++)
        for (size_t k = 0; k < 5; k++) {
            drop_user u = {ps[k], 0x1234567890abcdefull + s, 1};
            for (int d = 0; d < 4; d++) u.n *= (size_t)shapes[s][d];
            char name[64];
            snprintf(name, sizeof name, "dropout p=%g n=%zu", (double)u.p, u.n);
            tu_op_case c = {.name = name, .ninputs = 1, .ndim = {4}, .lo = {-2}, .hi = {2}, .build = build_drop,
                            .reference = ref_drop, .user = &u};
            memcpy(c.dims[0], shapes[s], sizeof shapes[s]);
            tu_check_forward(&c, 1e-14, &rng);
            tu_check_gradient(&c, 1e-3, 1e-8, 64, &rng);
        }
}
END_TEST

/* The mask follows the element's place in the op's (contiguous) output,
 * whatever the layout of the input's memory. */
START_TEST(test_layouts)
{
    uint64_t rng = tu_seed() + 32;
    const int64_t shape[4] = {3, 5, 7, 9};
    const float ps[] = {0.25f, 0.5f};
    for (size_t k = 0; k < 2; k++) {
        drop_user u = {ps[k], 0xfedcba0987654321ull + k, 3 * 5 * 7 * 9};
        tu_op_case c = {.name = "dropout", .ninputs = 1, .ndim = {4}, .lo = {-2}, .hi = {2}, .build = build_drop,
                        .reference = ref_drop, .user = &u};
        memcpy(c.dims[0], shape, sizeof shape);
        tu_check_forward_strided(&c, 1e-14, &rng);
        tu_check_gradient_strided(&c, 1e-3, 1e-8, 64, &rng);
    }
}
END_TEST

/* A graph y = dropout(x), L = sum(w * y), with gradients. */
typedef struct drop_graph {
    oclnn_graph *g;
    oclnn_tensor *x, *w, *y;
} drop_graph;

static drop_graph make_graph(int64_t n, float p, const uint64_t *seed)
{
    drop_graph d;
    d.g = oclnn_graph_create(tu_context());
    d.x = oclnn_param(d.g, "x", 1, &n);
    d.w = oclnn_input(d.g, "w", OCLNN_DTYPE_F32, 1, &n);
    d.y = seed ? oclnn_dropout_seeded(d.g, d.x, p, *seed) : oclnn_dropout(d.g, d.x, p);
    TU_OK(oclnn_graph_output(d.g, d.y));
    TU_OK(oclnn_graph_backward(d.g, oclnn_sum_to(d.g, oclnn_mul(d.g, d.y, d.w), 0, NULL)));
    TU_OK(oclnn_graph_compile(d.g, NULL));
    return d;
}

/* Runs once with fresh gradients; y and dx are read back. */
static void run_once(drop_graph *d, const float *x, const float *w, size_t n, float *y, float *dx)
{
    TU_OK(oclnn_graph_zero_grad(d->g));
    TU_OK(oclnn_tensor_write(d->x, x, n * sizeof *x));
    TU_OK(oclnn_tensor_write(d->w, w, n * sizeof *w));
    TU_OK(oclnn_graph_run(d->g));
    TU_OK(oclnn_tensor_read(d->y, y, n * sizeof *y));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(d->x), dx, n * sizeof *dx));
}

START_TEST(test_mask_per_run_and_backward)
{
    uint64_t rng = tu_seed() + 32;
    const size_t n = 4099; /* not a multiple of the 4-element Philox block; several work-groups */
    const float p = 0.3f, scale = 1.0f / (1.0f - p);
    const uint64_t seed = 0xfeedbeef12345ull;
    drop_graph d = make_graph((int64_t)n, p, &seed);
    float *x = tu_random(n, 0.5f, 1.5f, &rng), *w = tu_random(n, -1, 1, &rng);
    float *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx);
    int differs = 0;
    for (uint64_t run = 0; run < 3; run++) {
        run_once(&d, x, w, n, y, dx);
        for (size_t i = 0; i < n; i++) {
            int keep = kept(seed, run, i, p);
            ck_assert_msg(y[i] == (keep ? x[i] * scale : 0.0f), "run %d y[%zu] = %g, x %g keep %d", (int)run, i,
                          (double)y[i], (double)x[i], keep);
            /* the backward drops the same elements: dx = w * y / x */
            ck_assert_msg(dx[i] == (keep ? w[i] * scale : 0.0f), "run %d dx[%zu] = %g", (int)run, i, (double)dx[i]);
            ck_assert(fabsf(dx[i] - w[i] * y[i] / x[i]) <= 1e-6f * fabsf(dx[i]) + 1e-30f);
            if (run) differs += keep != kept(seed, run - 1, i, p);
        }
    }
    ck_assert_msg(differs > (int)n / 4, "masks of consecutive runs differ in only %d of %zu places", differs, n);

    /* eval: identity forward and backward, and the run still counts */
    TU_OK(oclnn_graph_set_training(d.g, 0));
    run_once(&d, x, w, n, y, dx);
    ck_assert(memcmp(x, y, n * sizeof *x) == 0);
    ck_assert(memcmp(w, dx, n * sizeof *w) == 0);
    TU_OK(oclnn_graph_set_training(d.g, 1));
    run_once(&d, x, w, n, y, dx);
    for (size_t i = 0; i < n; i++) ck_assert(y[i] == (kept(seed, 4, i, p) ? x[i] * scale : 0.0f));
    free(x), free(w), free(y), free(dx);
    oclnn_graph_release(d.g);
}
END_TEST

START_TEST(test_default_seed)
{
    /* Identical graphs draw identical masks; two layers in one graph differ. */
    const size_t n = 257;
    float x[257], w[257], y1[257], y2[257], dx[257];
    for (size_t i = 0; i < n; i++) x[i] = 1.0f, w[i] = 1.0f;
    drop_graph a = make_graph((int64_t)n, 0.5f, NULL), b = make_graph((int64_t)n, 0.5f, NULL);
    run_once(&a, x, w, n, y1, dx);
    run_once(&b, x, w, n, y2, dx);
    ck_assert(memcmp(y1, y2, sizeof y1) == 0);
    oclnn_graph_release(a.g);
    oclnn_graph_release(b.g);

    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *in = oclnn_input_f32(g, "x", 1, (int)n);
    oclnn_tensor *d1 = oclnn_dropout(g, in, 0.5f), *d2 = oclnn_dropout(g, in, 0.5f);
    TU_OK(oclnn_graph_output(g, d1));
    TU_OK(oclnn_graph_output(g, d2));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_write(in, x, sizeof x));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(d1, y1, sizeof y1));
    TU_OK(oclnn_tensor_read(d2, y2, sizeof y2));
    ck_assert(memcmp(y1, y2, sizeof y1) != 0);
    oclnn_graph_release(g);
}
END_TEST

/* The output may take over a dying input's memory: still the same mask. */
START_TEST(test_in_place)
{
    uint64_t rng = tu_seed() + 34;
    const size_t n = 1001;
    const uint64_t seed = 77;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 1, (int)n);
    oclnn_tensor *y = oclnn_scale(g, oclnn_dropout_seeded(g, oclnn_scale(g, x, 2.0f, 0.0f), 0.5f, seed), 1.0f, 1.0f);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    ck_assert_msg(oclnn_graph_arena_bytes(g) < oclnn_graph_naive_bytes(g), "no memory was reused");
    float *hx = tu_random(n, -1, 1, &rng), *hy = malloc(n * sizeof *hy);
    TU_OK(oclnn_tensor_write(x, hx, n * sizeof *hx));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, hy, n * sizeof *hy));
    for (size_t i = 0; i < n; i++)
        ck_assert(hy[i] == (kept(seed, 0, i, 0.5f) ? 2.0f * hx[i] * 2.0f : 0.0f) + 1.0f);
    free(hx), free(hy);
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_statistics)
{
    uint64_t rng = tu_seed() + 33;
    const int64_t n = 100003;
    float *x = tu_random((size_t)n, 0, 2, &rng), *y = malloc((size_t)n * sizeof *y);
    const float ps[] = {0.1f, 0.5f, 0.9f};
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *in = oclnn_input(g, "x", OCLNN_DTYPE_F32, 1, &n), *out[3];
    for (int k = 0; k < 3; k++) {
        out[k] = oclnn_dropout(g, in, ps[k]);
        TU_OK(oclnn_graph_output(g, out[k]));
    }
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_write(in, x, (size_t)n * sizeof *x));
    double mean_x = 0, var_x = 0;
    for (int64_t i = 0; i < n; i++) mean_x += x[i];
    mean_x /= (double)n;
    for (int64_t i = 0; i < n; i++) var_x += (x[i] - mean_x) * (x[i] - mean_x);
    var_x /= (double)n;
    for (int run = 0; run < 2; run++) {
        TU_OK(oclnn_graph_run(g));
        for (int k = 0; k < 3; k++) {
            TU_OK(oclnn_tensor_read(out[k], y, (size_t)n * sizeof *y));
            double p = ps[k], zeros = 0, mean_y = 0;
            for (int64_t i = 0; i < n; i++) zeros += y[i] == 0.0f, mean_y += y[i];
            mean_y /= (double)n;
            double frac = zeros / (double)n, sigma_frac = sqrt(p * (1 - p) / (double)n);
            /* y = x * b / (1-p), b ~ Bernoulli(1-p): var = (E[x^2] / (1-p) - E[x]^2) / n */
            double sigma_mean = sqrt(((var_x + mean_x * mean_x) / (1 - p) - mean_x * mean_x) / (double)n);
            ck_assert_msg(fabs(frac - p) < 5 * sigma_frac, "p=%g: zero fraction %g", p, frac);
            ck_assert_msg(fabs(mean_y - mean_x) < 5 * sigma_mean, "p=%g: mean %g vs %g (sigma %g)", p, mean_y,
                          mean_x, sigma_mean);
        }
    }
    free(x), free(y);
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_bad_arguments)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 2, 3, 4);
    ck_assert_ptr_null(oclnn_dropout(g, x, 1.5f));
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "dropout") && strstr(oclnn_last_error(), "1.5"), "%s",
                  oclnn_last_error());
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    x = oclnn_input_f32(g, "x", 2, 3, 4);
    ck_assert_ptr_null(oclnn_dropout(g, x, NAN));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    x = oclnn_input(g, "labels", OCLNN_DTYPE_I32, 1, (int64_t[]){5});
    ck_assert_ptr_null(oclnn_dropout(g, x, 0.5f));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_graph_error(g), "i32 [5]"), "%s", oclnn_graph_error(g));
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dropout");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_forward_and_gradient_run0);
    tcase_add_test(tc, test_layouts);
    tcase_add_test(tc, test_mask_per_run_and_backward);
    tcase_add_test(tc, test_default_seed);
    tcase_add_test(tc, test_in_place);
    tcase_add_test(tc, test_statistics);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
