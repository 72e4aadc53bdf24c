/* Batch norm vs a double reference: training-mode forward and gradients,
 * running statistics over several runs, eval mode (forward and gradients)
 * with running statistics, loaded state, affine=False and errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct bn_user {
    int64_t outer, c, inner;
    int ndim;
    int affine, eval;
    float momentum, eps;
} bn_user;

static oclnn_tensor *build_bn(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const bn_user *u = user;
    if (u->eval) oclnn_graph_set_training(g, 0);
    oclnn_tensor *w = u->affine ? in[1] : NULL, *b = u->affine ? in[2] : NULL;
    return u->ndim == 4 ? oclnn_batch_norm2d(g, in[0], w, b, "bn", u->momentum, u->eps)
                        : oclnn_batch_norm1d(g, in[0], w, b, "bn", u->momentum, u->eps);
}

static double at(const double *x, const bn_user *u, int64_t o, int64_t c, int64_t k)
{
    return x[(o * u->c + c) * u->inner + k];
}

/* Batch mean and biased variance of channel c. */
static void batch_stats(const double *x, const bn_user *u, int64_t c, double *mean, double *var)
{
    double m = 0, v = 0, n = (double)(u->outer * u->inner);
    for (int64_t o = 0; o < u->outer; o++)
        for (int64_t k = 0; k < u->inner; k++) m += at(x, u, o, c, k);
    m /= n;
    for (int64_t o = 0; o < u->outer; o++)
        for (int64_t k = 0; k < u->inner; k++) v += (at(x, u, o, c, k) - m) * (at(x, u, o, c, k) - m);
    *mean = m;
    *var = v / n;
}

/* Normalises with the given per-channel statistics (NULL: the batch's). */
static void normalize(const double *const *in, double *out, const bn_user *u, const double *rmean,
                      const double *rvar)
{
    for (int64_t c = 0; c < u->c; c++) {
        double mean, var;
        if (rmean) mean = rmean[c], var = rvar[c];
        else batch_stats(in[0], u, c, &mean, &var);
        double inv = 1.0 / sqrt(var + u->eps);
        double w = u->affine ? in[1][c] : 1.0, b = u->affine ? in[2][c] : 0.0;
        for (int64_t o = 0; o < u->outer; o++)
            for (int64_t k = 0; k < u->inner; k++) {
                int64_t i = (o * u->c + c) * u->inner + k;
                out[i] = (in[0][i] - mean) * inv * w + b;
            }
    }
}

static void ref_bn(const double *const *in, double *out, const void *user)
{
    const bn_user *u = user;
    if (!u->eval) {
        normalize(in, out, u, NULL, NULL);
        return;
    }
    /* a fresh graph in eval mode: running_mean 0, running_var 1 */
    double *zeros = calloc((size_t)u->c, sizeof *zeros), *ones = malloc((size_t)u->c * sizeof *ones);
    for (int64_t c = 0; c < u->c; c++) ones[c] = 1.0;
    normalize(in, out, u, zeros, ones);
    free(zeros);
    free(ones);
}

static void bn_case(tu_op_case *c, bn_user *u, int ndim, const int64_t *dims, int affine, int eval, char *name)
{
    memset(u, 0, sizeof *u);
    u->ndim = ndim;
    u->outer = dims[0];
    u->c = dims[1];
    u->inner = 1;
    for (int d = 2; d < ndim; d++) u->inner *= dims[d];
    u->affine = affine;
    u->eval = eval;
    u->momentum = 0.1f;
    u->eps = 1e-5f;
    snprintf(name, 256, "batch_norm%s %s%s [%lld, %lld, x%lld]", ndim == 4 ? "2d" : "1d", eval ? "eval" : "train",
             affine ? "" : " no-affine", (long long)dims[0], (long long)dims[1], (long long)u->inner);
    *c = (tu_op_case){.name = name, .ninputs = affine ? 3 : 1, .ndim = {ndim, 1, 1}, .lo = {-2, 0.5f, -1},
                      .hi = {3, 1.5f, 1}, .build = build_bn, .reference = ref_bn, .user = u};
    memcpy(c->dims[0], dims, (size_t)ndim * sizeof *dims);
    c->dims[1][0] = c->dims[2][0] = dims[1];
}

static const struct {
    int ndim;
    int64_t dims[4];
    int grad; /* N*H*W == 2 makes the output ~ +-1 and its gradient ~0: skip */
} bn_shapes[] = {
    {4, {1, 1, 7, 9}, 1}, {4, {3, 5, 7, 9}, 1}, {4, {2, 3, 1, 1}, 0}, {4, {4, 7, 3, 3}, 1},
    {2, {7, 5}, 1},       {2, {129, 3}, 1},     {3, {3, 4, 9}, 1},    {4, {1, 2, 33, 33}, 1},
};

START_TEST(test_train_forward_and_gradient)
{
    uint64_t rng = tu_seed() + 21;
    for (size_t s = 0; s < sizeof bn_shapes / sizeof bn_shapes[0]; s++)
        for (int affine = 1; affine >= 0; affine--) {
            if (!affine && s % 2) continue;
            tu_op_case c;
            bn_user u;
            char name[256];
            bn_case(&c, &u, bn_shapes[s].ndim, bn_shapes[s].dims, affine, 0, name);
            tu_check_forward(&c, 1e-10, &rng);
            if (bn_shapes[s].grad) tu_check_gradient(&c, 1e-4, 1e-6, 64, &rng); /* few elements, cancellation in sums */
        }
}
END_TEST

START_TEST(test_eval_forward_and_gradient_fresh_state)
{
    /* Compile sets running_var to 1, so a fresh eval graph is x/sqrt(1+eps). */
    uint64_t rng = tu_seed() + 22;
    for (size_t s = 0; s < sizeof bn_shapes / sizeof bn_shapes[0]; s += 3) {
        tu_op_case c;
        bn_user u;
        char name[256];
        bn_case(&c, &u, bn_shapes[s].ndim, bn_shapes[s].dims, 1, 1, name);
        tu_check_forward(&c, 1e-12, &rng);
        tu_check_gradient(&c, 1e-3, 1e-8, 64, &rng);
    }
}
END_TEST

/* Input, weight and bias as strided views or at an element offset, in
 * training and eval mode (the copy of a strided input dies at the node,
 * so it may also be normalised in place). */
START_TEST(test_layouts)
{
    uint64_t rng = tu_seed() + 23;
    const struct {
        int ndim;
        int64_t dims[4];
        int affine, eval;
    } cases[] = {
        {4, {2, 3, 5, 7}, 1, 0}, {4, {3, 2, 3, 5}, 0, 0}, {2, {7, 5}, 1, 0}, {3, {3, 4, 9}, 1, 0}, {4, {2, 3, 5, 7}, 1, 1},
    };
    for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
        tu_op_case c;
        bn_user u;
        char name[256];
        bn_case(&c, &u, cases[s].ndim, cases[s].dims, cases[s].affine, cases[s].eval, name);
        tu_check_forward_strided(&c, cases[s].eval ? 1e-12 : 1e-10, &rng);
        tu_check_gradient_strided(&c, cases[s].eval ? 1e-3 : 1e-4, cases[s].eval ? 1e-8 : 1e-6, 64, &rng);
    }
}
END_TEST

/* Two training runs update the running statistics like PyTorch; eval then
 * normalises with them and leaves them alone. */
START_TEST(test_running_stats_and_eval)
{
    uint64_t rng = tu_seed() + 23;
    const int64_t dims[4] = {3, 5, 7, 9};
    bn_user u;
    tu_op_case c;
    char name[256];
    bn_case(&c, &u, 4, dims, 1, 0, name);
    u.momentum = 0.25f;
    size_t n = (size_t)(dims[0] * dims[1] * dims[2] * dims[3]), C = (size_t)dims[1];
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 4, dims);
    oclnn_tensor *w = oclnn_param(g, "bn.weight", 1, &dims[1]), *b = oclnn_param(g, "bn.bias", 1, &dims[1]);
    oclnn_tensor *y = oclnn_batch_norm2d(g, x, w, b, "bn", u.momentum, u.eps);
    TU_OK(oclnn_graph_status(g));
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    oclnn_tensor *rm = oclnn_graph_find(g, "bn.running_mean"), *rv = oclnn_graph_find(g, "bn.running_var");
    oclnn_tensor *nbt = oclnn_graph_find(g, "bn.num_batches_tracked");
    ck_assert_ptr_nonnull(rm);
    ck_assert_ptr_nonnull(rv);
    ck_assert_ptr_nonnull(nbt);
    ck_assert_int_eq(oclnn_tensor_dtype(nbt), OCLNN_DTYPE_I64);
    ck_assert_int_eq(oclnn_tensor_ndim(nbt), 0);

    float *hw = tu_random(C, 0.5f, 1.5f, &rng), *hb = tu_random(C, -1, 1, &rng);
    TU_OK(oclnn_tensor_write(w, hw, C * sizeof *hw));
    TU_OK(oclnn_tensor_write(b, hb, C * sizeof *hb));
    double *want_rm = calloc(C, sizeof(double)), *want_rv = malloc(C * sizeof(double));
    for (size_t k = 0; k < C; k++) want_rv[k] = 1.0;
    double *xd = malloc(n * sizeof *xd), *wd = malloc(C * sizeof *wd), *bd = malloc(C * sizeof *bd);
    double *want = malloc(n * sizeof *want);
    float *got = malloc(n * sizeof *got), *hx = malloc(n * sizeof *hx);
    for (size_t k = 0; k < C; k++) wd[k] = hw[k], bd[k] = hb[k];
    const double *in[3] = {xd, wd, bd};
    for (int run = 0; run < 2; run++) {
        /* different offsets and spreads per run, so the two batches differ */
        tu_fill_uniform(hx, n, -1.0f + 2.0f * (float)run, 2.0f + 3.0f * (float)run, &rng);
        for (size_t k = 0; k < n; k++) xd[k] = hx[k];
        TU_OK(oclnn_tensor_write(x, hx, n * sizeof *hx));
        TU_OK(oclnn_graph_run(g));
        double m = u.momentum, cnt = (double)(dims[0] * dims[2] * dims[3]);
        for (size_t k = 0; k < C; k++) {
            double mean, var;
            batch_stats(xd, &u, (int64_t)k, &mean, &var);
            want_rm[k] = (1 - m) * want_rm[k] + m * mean;
            want_rv[k] = (1 - m) * want_rv[k] + m * var * cnt / (cnt - 1);
        }
    }
    float frm[8], frv[8];
    int64_t tracked = -1;
    TU_OK(oclnn_tensor_read(rm, frm, C * sizeof *frm));
    TU_OK(oclnn_tensor_read(rv, frv, C * sizeof *frv));
    TU_OK(oclnn_tensor_read(nbt, &tracked, sizeof tracked));
    ck_assert_msg(tu_nmse(frm, want_rm, C) < 1e-10, "running_mean NMSE %g", tu_nmse(frm, want_rm, C));
    ck_assert_msg(tu_nmse(frv, want_rv, C) < 1e-10, "running_var NMSE %g", tu_nmse(frv, want_rv, C));
    ck_assert_int_eq(tracked, 2);

    /* eval: normalise a new batch with the running statistics */
    TU_OK(oclnn_graph_set_training(g, 0));
    tu_fill_uniform(hx, n, -3, 3, &rng);
    for (size_t k = 0; k < n; k++) xd[k] = hx[k];
    TU_OK(oclnn_tensor_write(x, hx, n * sizeof *hx));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, got, n * sizeof *got));
    normalize(in, want, &u, want_rm, want_rv);
    ck_assert_msg(tu_nmse(got, want, n) < 1e-10, "eval NMSE %g", tu_nmse(got, want, n));
    float frm2[8];
    TU_OK(oclnn_tensor_read(rm, frm2, C * sizeof *frm2));
    TU_OK(oclnn_tensor_read(nbt, &tracked, sizeof tracked));
    ck_assert_msg(memcmp(frm, frm2, C * sizeof *frm) == 0, "eval changed running_mean");
    ck_assert_int_eq(tracked, 2);

    /* back to training: batch statistics again */
    TU_OK(oclnn_graph_set_training(g, 1));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, got, n * sizeof *got));
    normalize(in, want, &u, NULL, NULL);
    ck_assert_msg(tu_nmse(got, want, n) < 1e-10, "train NMSE %g", tu_nmse(got, want, n));
    TU_OK(oclnn_tensor_read(nbt, &tracked, sizeof tracked));
    ck_assert_int_eq(tracked, 3);

    free(hw), free(hb), free(want_rm), free(want_rv), free(xd), free(wd), free(bd), free(want), free(got), free(hx);
    oclnn_graph_release(g);
}
END_TEST

/* Statistics written after compile (a loaded checkpoint) are the ones used. */
START_TEST(test_loaded_state_is_kept)
{
    uint64_t rng = tu_seed() + 24;
    const int64_t dims[2] = {6, 4};
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 2, dims);
    oclnn_tensor *y = oclnn_batch_norm1d(g, x, NULL, NULL, "features.3", 0.1f, 1e-3f);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_set_training(g, 0));
    TU_OK(oclnn_graph_compile(g, NULL));
    const float rm[4] = {0.5f, -1, 2, 0}, rv[4] = {4, 0.25f, 1, 9};
    TU_OK(oclnn_tensor_write(oclnn_graph_find(g, "features.3.running_mean"), rm, sizeof rm));
    TU_OK(oclnn_tensor_write(oclnn_graph_find(g, "features.3.running_var"), rv, sizeof rv));
    float hx[24], got[24];
    double want[24];
    tu_fill_uniform(hx, 24, -2, 2, &rng);
    TU_OK(oclnn_tensor_write(x, hx, sizeof hx));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, got, sizeof got));
    for (int i = 0; i < 24; i++) want[i] = (hx[i] - rm[i % 4]) / sqrt((double)rv[i % 4] + 1e-3f);
    ck_assert_msg(tu_nmse(got, want, 24) < 1e-12, "NMSE %g", tu_nmse(got, want, 24));
    oclnn_graph_release(g);
}
END_TEST

/* The output may take over a dying input's memory (stats read it first). */
START_TEST(test_in_place)
{
    uint64_t rng = tu_seed() + 25;
    const int64_t dims[4] = {2, 3, 5, 7};
    const size_t n = 210;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 4, dims);
    oclnn_tensor *y = oclnn_scale(g, oclnn_batch_norm2d(g, oclnn_scale(g, x, 1.0f, 0.5f), NULL, NULL, "bn", 0.1f,
                                                        1e-5f), 1.0f, 0.0f);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    ck_assert_msg(oclnn_graph_arena_bytes(g) < oclnn_graph_naive_bytes(g), "no memory was reused");
    float hx[210], got[210];
    double xd[210], want[210];
    tu_fill_uniform(hx, n, -1, 2, &rng);
    for (size_t i = 0; i < n; i++) xd[i] = hx[i] + 0.5;
    TU_OK(oclnn_tensor_write(x, hx, sizeof hx));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, got, sizeof got));
    bn_user u = {.outer = 2, .c = 3, .inner = 35, .ndim = 4, .eps = 1e-5f};
    const double *in[1] = {xd};
    normalize(in, want, &u, NULL, NULL);
    ck_assert_msg(tu_nmse(got, want, n) < 1e-10, "NMSE %g", tu_nmse(got, want, n));
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_bad_inputs_are_clear_errors)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 3, 2, 3, 4), *w = oclnn_param(g, "w", 1, (int64_t[]){3});
    ck_assert_ptr_null(oclnn_batch_norm2d(g, x, w, w, "bn", 0.1f, 1e-5f));
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_last_error(), "batch_norm2d") && strstr(oclnn_last_error(), "[2, 3, 4]"), "%s",
                  oclnn_last_error());
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    x = oclnn_input_f32(g, "x", 4, 2, 3, 4, 4);
    w = oclnn_param(g, "w", 1, (int64_t[]){4});
    oclnn_tensor *b = oclnn_param(g, "b", 1, (int64_t[]){3});
    ck_assert_ptr_null(oclnn_batch_norm2d(g, x, w, b, "bn", 0.1f, 1e-5f));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_graph_error(g), "weight [4]") && strstr(oclnn_graph_error(g), "[2, 3, 4, 4]"), "%s",
                  oclnn_graph_error(g));
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    x = oclnn_input_f32(g, "x", 2, 5, 3);
    w = oclnn_param(g, "w", 1, (int64_t[]){3});
    ck_assert_ptr_null(oclnn_batch_norm1d(g, x, w, NULL, "bn", 0.1f, 1e-5f));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    x = oclnn_input_f32(g, "x", 2, 5, 3);
    ck_assert_ptr_null(oclnn_batch_norm1d(g, x, NULL, NULL, "bn", 1.5f, 1e-5f));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);

    /* the same prefix twice */
    g = oclnn_graph_create(tu_context());
    x = oclnn_input_f32(g, "x", 2, 5, 3);
    ck_assert_ptr_nonnull(oclnn_batch_norm1d(g, x, NULL, NULL, "bn", 0.1f, 1e-5f));
    ck_assert_ptr_null(oclnn_batch_norm1d(g, x, NULL, NULL, "bn", 0.1f, 1e-5f));
    ck_assert_msg(strstr(oclnn_graph_error(g), "bn.running_mean"), "%s", oclnn_graph_error(g));
    oclnn_graph_release(g);

    /* one value per channel: fine in eval, an error when training */
    g = oclnn_graph_create(tu_context());
    x = oclnn_input_f32(g, "x", 4, 1, 3, 1, 1);
    oclnn_tensor *y = oclnn_batch_norm2d(g, x, NULL, NULL, NULL, 0.1f, 1e-5f);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    const float hx[3] = {1, 2, 3};
    TU_OK(oclnn_tensor_write(x, hx, sizeof hx));
    ck_assert_int_eq(oclnn_graph_run(g), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_last_error(), "more than one value") && strstr(oclnn_last_error(), "[1, 3, 1, 1]"),
                  "%s", oclnn_last_error());
    TU_OK(oclnn_graph_set_training(g, 0));
    TU_OK(oclnn_graph_run(g));
    float got[3];
    TU_OK(oclnn_tensor_read(y, got, sizeof got));
    for (int i = 0; i < 3; i++) ck_assert_float_eq_tol(got[i], hx[i] / sqrtf(1 + 1e-5f), 1e-6f);
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_state_names_default_to_the_module)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 4, (const int64_t[]){2, 3, 4, 4});
    oclnn_tensor *w = oclnn_param(g, "bn1.weight", 1, (const int64_t[]){3});
    oclnn_tensor *b = oclnn_param(g, "bn1.bias", 1, (const int64_t[]){3});
    ck_assert_ptr_nonnull(oclnn_batch_norm2d(g, x, w, b, NULL, 0.1f, 1e-5f));
    ck_assert_ptr_nonnull(oclnn_graph_find(g, "bn1.running_mean"));
    ck_assert_ptr_nonnull(oclnn_graph_find(g, "bn1.running_var"));
    ck_assert_ptr_nonnull(oclnn_graph_find(g, "bn1.num_batches_tracked"));
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_train_forward_and_gradient);
    tcase_add_test(tc, test_eval_forward_and_gradient_fresh_state);
    tcase_add_test(tc, test_layouts);
    tcase_add_test(tc, test_running_stats_and_eval);
    tcase_add_test(tc, test_loaded_state_is_kept);
    tcase_add_test(tc, test_in_place);
    tcase_add_test(tc, test_bad_inputs_are_clear_errors);
    tcase_add_test(tc, test_state_names_default_to_the_module);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
