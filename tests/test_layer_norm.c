/* LayerNorm over the last axis (weight and bias each optional) and the tanh
 * form of GELU vs double-precision references: forward on awkward sizes,
 * finite-difference gradients, large-offset rows (two-pass statistics),
 * strided input, fixed values, and shape errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct ln_user {
    int64_t rows, cols;
    int affine; /* 0 none, 1 weight and bias, 2 weight only, 3 bias only */
    float eps;
} ln_user;

static oclnn_tensor *build_ln(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const ln_user *u = user;
    oclnn_tensor *w = (u->affine == 1 || u->affine == 2) ? in[1] : NULL;
    oclnn_tensor *b = (u->affine == 1 || u->affine == 3) ? in[2] : NULL;
    return oclnn_layer_norm(g, in[0], w, b, u->eps);
}

static void ref_ln(const double *const *in, double *out, const void *user)
{
    const ln_user *u = user;
    for (int64_t r = 0; r < u->rows; r++) {
        const double *x = in[0] + r * u->cols;
        double m = 0, v = 0;
        for (int64_t c = 0; c < u->cols; c++) m += x[c];
        m /= (double)u->cols;
        for (int64_t c = 0; c < u->cols; c++) v += (x[c] - m) * (x[c] - m);
        v /= (double)u->cols;
        double rstd = 1 / sqrt(v + u->eps);
        for (int64_t c = 0; c < u->cols; c++) {
            double t = (x[c] - m) * rstd;
            if (u->affine == 1 || u->affine == 2) t *= in[1][c];
            if (u->affine == 1 || u->affine == 3) t += in[2][c];
            out[r * u->cols + c] = t;
        }
    }
}

static void ln_case(int ndim, const int64_t *dims, int affine, float lo, float hi, tu_op_case *c, ln_user *u)
{
    memset(c, 0, sizeof *c);
    u->cols = dims[ndim - 1];
    u->rows = 1;
    for (int d = 0; d < ndim - 1; d++) u->rows *= dims[d];
    u->affine = affine;
    u->eps = 1e-5f;
    c->name = "layer_norm";
    c->ninputs = 3;
    c->ndim[0] = ndim;
    memcpy(c->dims[0], dims, (size_t)ndim * sizeof *dims);
    c->lo[0] = lo;
    c->hi[0] = hi;
    for (int i = 1; i < 3; i++) {
        c->ndim[i] = 1;
        c->dims[i][0] = u->cols;
        c->lo[i] = -1.5f;
        c->hi[i] = 1.5f;
        c->no_grad[i] = !(i == 1 ? (affine == 1 || affine == 2) : (affine == 1 || affine == 3));
    }
    c->build = build_ln;
    c->reference = ref_ln;
    c->user = u;
}

START_TEST(test_layer_norm_forward_and_gradient)
{
    uint64_t rng = tu_seed() + 21;
    static const struct {
        int ndim;
        int64_t dims[3];
    } shapes[] = {{1, {1}}, {2, {7, 33}}, {3, {2, 5, 129}}, {2, {3, 300}}, {2, {4, 768}}, {2, {33, 2}}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int affine = 0; affine < 4; affine++) {
            tu_op_case c;
            ln_user u;
            ln_case(shapes[s].ndim, shapes[s].dims, affine, -3, 3, &c, &u);
            tu_check_forward(&c, 1e-10, &rng);
            /* 1- and 2-wide rows normalise to constants (0, or -1 and 1): d x is only noise */
            if (shapes[s].dims[shapes[s].ndim - 1] > 2)
                tu_check_gradient(&c, 1e-3, 1e-6, 48, &rng);
        }
}
END_TEST

/* Rows far from zero: one-pass E[x^2] - E[x]^2 would cancel in fp32. */
START_TEST(test_layer_norm_large_offset)
{
    uint64_t rng = tu_seed() + 22;
    const int64_t dims[2] = {9, 65};
    tu_op_case c;
    ln_user u;
    ln_case(2, dims, 1, 1000, 1001, &c, &u);
    tu_check_forward(&c, 1e-8, &rng);
}
END_TEST

/* A transposed (strided) input is copied first and its gradient flows back. */
static oclnn_tensor *build_ln_t(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    return oclnn_layer_norm(g, oclnn_transpose(g, in[0], 0, 1), in[1], in[2], 1e-5f); /* [10, 6] -> [6, 10] */
}

static void ref_ln_t(const double *const *in, double *out, const void *user)
{
    (void)user;
    double t[60];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 10; j++) t[i * 10 + j] = in[0][j * 6 + i];
    const double *ins[3] = {t, in[1], in[2]};
    ln_user u = {6, 10, 1, 1e-5f};
    ref_ln(ins, out, &u);
}

START_TEST(test_layer_norm_strided_input)
{
    uint64_t rng = tu_seed() + 23;
    tu_op_case c = {.name = "layer_norm(transpose)", .ninputs = 3, .ndim = {2, 1, 1}, .dims = {{10, 6}, {10}, {10}},
                    .lo = {-2, -1, -1}, .hi = {2, 1, 1}, .build = build_ln_t, .reference = ref_ln_t};
    tu_check_forward(&c, 1e-10, &rng);
    tu_check_gradient(&c, 1e-3, 1e-6, 60, &rng);
}
END_TEST

/* Poisoned intermediates (NaN): the saved statistics and every gradient
 * element must be written before they are read. */
START_TEST(test_layer_norm_poisoned_intermediates)
{
    uint64_t rng = tu_seed() + 25;
    const int rows = 37, C = 129;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_param(g, "x", 2, (int64_t[]){rows, C});
    oclnn_tensor *w = oclnn_param(g, "w", 1, (int64_t[]){C}), *b = oclnn_param(g, "b", 1, (int64_t[]){C});
    oclnn_tensor *y = oclnn_gelu_tanh(g, oclnn_layer_norm(g, oclnn_scale(g, x, 2.0f, 0.5f), w, b, 1e-5f));
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, y, y))));
    oclnn_compile_options opt = {.poison_intermediates = 1};
    TU_OK(oclnn_graph_compile(g, &opt));
    float *hx = tu_random((size_t)rows * C, -2, 2, &rng), *hw = tu_random(C, -1, 1, &rng);
    float *hb = tu_random(C, -1, 1, &rng);
    TU_OK(oclnn_tensor_write(x, hx, (size_t)rows * C * 4));
    TU_OK(oclnn_tensor_write(w, hw, (size_t)C * 4));
    TU_OK(oclnn_tensor_write(b, hb, (size_t)C * 4));
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    oclnn_tensor *outs[4] = {y, oclnn_tensor_grad(x), oclnn_tensor_grad(w), oclnn_tensor_grad(b)};
    float *got = malloc((size_t)rows * C * 4);
    for (int k = 0; k < 4; k++) {
        size_t n = (size_t)oclnn_tensor_numel(outs[k]);
        TU_OK(oclnn_tensor_read(outs[k], got, n * 4));
        for (size_t i = 0; i < n; i++) ck_assert_msg(isfinite(got[i]), "output %d [%zu] = %g", k, i, (double)got[i]);
    }
    free(got);
    free(hx);
    free(hw);
    free(hb);
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_layer_norm_bad_input_is_a_clear_error)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 2, 4, 8), *w = oclnn_input_f32(g, "w", 1, 7);
    ck_assert_ptr_null(oclnn_layer_norm(g, x, w, NULL, 1e-5f));
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_SHAPE);
    const char *m = oclnn_graph_error(g);
    ck_assert_msg(strstr(m, "layer_norm") && strstr(m, "[7]") && strstr(m, "[4, 8]"), "message: %s", m);
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 2, (int64_t[]){4, 0});
    ck_assert_ptr_null(oclnn_layer_norm(g, x, NULL, NULL, 1e-5f));
    ck_assert_msg(strstr(oclnn_graph_error(g), "[4, 0]"), "message: %s", oclnn_graph_error(g));
    oclnn_graph_release(g);
}
END_TEST

/* ---- GELU, tanh form */

static oclnn_tensor *build_gelu_tanh(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    return oclnn_gelu_tanh(g, in[0]);
}

static double gelu_tanh_ref(double x) { return 0.5 * x * (1 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x))); }

static void ref_gelu_tanh(const double *const *in, double *out, const void *user)
{
    const int64_t *n = user;
    for (int64_t i = 0; i < *n; i++) out[i] = gelu_tanh_ref(in[0][i]);
}

START_TEST(test_gelu_tanh_forward_and_gradient)
{
    uint64_t rng = tu_seed() + 24;
    const int64_t sizes[] = {1, 7, 300, 4099};
    for (size_t s = 0; s < 4; s++) {
        tu_op_case c = {.name = "gelu_tanh", .ninputs = 1, .ndim = {1}, .dims = {{sizes[s]}}, .lo = {-6},
                        .hi = {6}, .build = build_gelu_tanh, .reference = ref_gelu_tanh, .user = &sizes[s]};
        tu_check_forward(&c, 1e-10, &rng);
        tu_check_gradient(&c, 1e-3, 1e-7, 64, &rng);
    }
}
END_TEST

/* Fixed values of PyTorch's tanh-form definition (evaluated in float64). */
START_TEST(test_gelu_tanh_fixed_values)
{
    const float x[6] = {-3.0f, -1.0f, -0.5f, 0.0f, 0.5f, 2.0f};
    const double want[6] = {-0.0036373920817729943, -0.15880800939172324, -0.15428599017485606, 0.0,
                            0.34571400982514394, 1.954597694087775};
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *t = oclnn_input_f32(g, "x", 1, 6);
    oclnn_tensor *y = oclnn_gelu_tanh(g, t);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_write(t, x, sizeof x));
    TU_OK(oclnn_graph_run(g));
    float got[6];
    TU_OK(oclnn_tensor_read(y, got, sizeof got));
    for (int i = 0; i < 6; i++)
        ck_assert_msg(fabs(got[i] - want[i]) < 1e-6, "gelu_tanh(%g) = %.9g, want %.9g", (double)x[i],
                      (double)got[i], want[i]);
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layer_norm");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_layer_norm_forward_and_gradient);
    tcase_add_test(tc, test_layer_norm_large_offset);
    tcase_add_test(tc, test_layer_norm_strided_input);
    tcase_add_test(tc, test_layer_norm_poisoned_intermediates);
    tcase_add_test(tc, test_layer_norm_bad_input_is_a_clear_error);
    tcase_add_test(tc, test_gelu_tanh_forward_and_gradient);
    tcase_add_test(tc, test_gelu_tanh_fixed_values);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
