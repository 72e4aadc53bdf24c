/* Softmax / log-softmax vs double references over short and long rows,
 * gradients by finite differences, extreme inputs and shape errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "testutil.h"

typedef struct sm_user {
    int log_mode;
    int64_t rows, cols;
} sm_user;

static oclnn_tensor *build_softmax(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const sm_user *u = user;
    return u->log_mode ? oclnn_log_softmax(g, in[0]) : oclnn_softmax(g, in[0]);
}

static void ref_softmax(const double *const *in, double *out, const void *user)
{
    const sm_user *u = user;
    for (int64_t r = 0; r < u->rows; r++) {
        const double *x = in[0] + r * u->cols;
        double *y = out + r * u->cols;
        double m = -INFINITY, s = 0;
        for (int64_t c = 0; c < u->cols; c++) m = x[c] > m ? x[c] : m;
        for (int64_t c = 0; c < u->cols; c++) s += exp(x[c] - m);
        for (int64_t c = 0; c < u->cols; c++) y[c] = u->log_mode ? x[c] - m - log(s) : exp(x[c] - m) / s;
    }
}

static void softmax_case(int log_mode, int ndim, const int64_t *dims, float lo, float hi, tu_op_case *c, sm_user *u)
{
    memset(c, 0, sizeof *c);
    u->log_mode = log_mode;
    u->cols = dims[ndim - 1];
    u->rows = 1;
    for (int d = 0; d < ndim - 1; d++) u->rows *= dims[d];
    c->name = log_mode ? "log_softmax" : "softmax";
    c->ninputs = 1;
    c->ndim[0] = ndim;
    memcpy(c->dims[0], dims, (size_t)ndim * sizeof *dims);
    c->lo[0] = lo;
    c->hi[0] = hi;
    c->build = build_softmax;
    c->reference = ref_softmax;
    c->user = u;
}

static const struct {
    int ndim;
    int64_t dims[3];
} shapes[] = {
    {1, {1}}, {1, {10}}, {2, {7, 10}}, {2, {33, 1}}, {3, {2, 3, 129}}, {2, {5, 257}}, {2, {3, 1000}},
};

static void check_shapes(uint64_t *rng)
{
    for (int mode = 0; mode < 2; mode++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            tu_op_case c;
            sm_user u;
            softmax_case(mode, shapes[s].ndim, shapes[s].dims, -4, 4, &c, &u);
            tu_check_forward(&c, 1e-10, rng);
            tu_check_gradient(&c, 1e-3, 1e-6, 48, rng);
        }
}

START_TEST(test_softmax_forward_and_gradient)
{
    uint64_t rng = tu_seed() + 1;
    check_shapes(&rng);
}
END_TEST

/* BERT-vocabulary rows and many short rows. */
static void check_long_and_many_rows(uint64_t *rng)
{
    const int64_t vocab[2] = {3, 30522}, many[2] = {4099, 10};
    for (int mode = 0; mode < 2; mode++) {
        tu_op_case c;
        sm_user u;
        softmax_case(mode, 2, vocab, -10, 10, &c, &u);
        tu_check_forward(&c, 1e-10, rng);
        tu_check_gradient(&c, 1e-3, 1e-6, 24, rng);
        softmax_case(mode, 2, many, -10, 10, &c, &u);
        tu_check_forward(&c, 1e-10, rng);
    }
}

START_TEST(test_softmax_long_and_many_rows)
{
    uint64_t rng = tu_seed() + 2;
    check_long_and_many_rows(&rng);
}
END_TEST

/* Max subtraction: huge logits neither overflow nor lose the distribution. */
START_TEST(test_softmax_large_logits)
{
    uint64_t rng = tu_seed() + 3;
    const int64_t dims[2] = {4, 33};
    for (int mode = 0; mode < 2; mode++) {
        tu_op_case c;
        sm_user u;
        softmax_case(mode, 2, dims, 1000, 1040, &c, &u);
        tu_check_forward(&c, 1e-10, &rng);
        softmax_case(mode, 2, dims, -2000, -1950, &c, &u);
        tu_check_forward(&c, 1e-10, &rng);
    }
}
END_TEST

/* -inf entries (masked logits) get probability 0 and leave the rest exact. */
static void check_masked(void)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 2, 2, 4);
    oclnn_tensor *y = oclnn_softmax(g, x), *ly = oclnn_log_softmax(g, x);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_output(g, ly));
    TU_OK(oclnn_graph_compile(g, NULL));
    const float data[8] = {-INFINITY, 0, -INFINITY, 0, 1, -INFINITY, 2, -INFINITY};
    TU_OK(oclnn_tensor_write(x, data, sizeof data));
    TU_OK(oclnn_graph_run(g));
    float p[8], lp[8];
    TU_OK(oclnn_tensor_read(y, p, sizeof p));
    TU_OK(oclnn_tensor_read(ly, lp, sizeof lp));
    const double e = exp(1.0) / (exp(1.0) + exp(2.0));
    const double want[8] = {0, 0.5, 0, 0.5, e, 0, 1 - e, 0};
    for (int i = 0; i < 8; i++) {
        ck_assert_msg(fabs(p[i] - want[i]) < 1e-6, "p[%d] = %g, want %g", i, p[i], want[i]);
        if (want[i] == 0) ck_assert_msg(isinf(lp[i]) && lp[i] < 0, "lp[%d] = %g", i, lp[i]);
        else ck_assert_msg(fabs(lp[i] - log(want[i])) < 1e-6, "lp[%d] = %g", i, lp[i]);
    }
    oclnn_graph_release(g);
}

START_TEST(test_softmax_masked)
{
    check_masked();
}
END_TEST

/* CPU devices get one-row-per-work-item kernels, other devices work-group
 * reductions (see softmax.c). Claiming the other device type while graphs
 * are compiled runs the kernels this device would not otherwise use, so a
 * CPU-only CI still checks the GPU kernels. */
START_TEST(test_softmax_other_device_kernels)
{
    uint64_t rng = tu_seed() + 6;
    oclnn_context *ctx = tu_context();
    int was_cpu = ctx->info.is_cpu;
    ctx->info.is_cpu = !was_cpu;
    check_shapes(&rng);
    check_long_and_many_rows(&rng);
    check_masked();
    ctx->info.is_cpu = was_cpu;
}
END_TEST

/* A strided view is made contiguous first; the gradient flows back to it. */
static oclnn_tensor *build_transposed(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    return oclnn_softmax(g, oclnn_transpose(g, in[0], 0, 1)); /* [9, 6] -> [6, 9] */
}

static void ref_transposed(const double *const *in, double *out, const void *user)
{
    (void)user;
    double t[54];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 9; j++) t[i * 9 + j] = in[0][j * 6 + i];
    const double *tp = t;
    sm_user u = {0, 6, 9};
    ref_softmax(&tp, out, &u);
}

START_TEST(test_softmax_strided_input)
{
    uint64_t rng = tu_seed() + 4;
    tu_op_case c = {.name = "softmax(transpose)", .ninputs = 1, .ndim = {2}, .dims = {{9, 6}}, .lo = {-3},
                    .hi = {3}, .build = build_transposed, .reference = ref_transposed};
    tu_check_forward(&c, 1e-10, &rng);
    tu_check_gradient(&c, 1e-3, 1e-6, 54, &rng);
}
END_TEST

/* Both modes on permuted and offset inputs, with short rows and rows long
 * enough for the vector loops and their tails. */
START_TEST(test_softmax_layouts)
{
    uint64_t rng = tu_seed() + 7;
    const int64_t dims[2][3] = {{2, 5, 7}, {2, 3, 37}};
    for (int mode = 0; mode < 2; mode++)
        for (int s = 0; s < 2; s++) {
            tu_op_case c;
            sm_user u;
            softmax_case(mode, 3, dims[s], -4, 4, &c, &u);
            tu_check_forward_strided(&c, 1e-10, &rng);
            tu_check_gradient_strided(&c, 1e-3, 1e-6, 48, &rng);
        }
}
END_TEST

/* Chained: log_softmax(softmax(x) * 3), exercising in-place reuse. */
static oclnn_tensor *build_chain(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    return oclnn_log_softmax(g, oclnn_scale(g, oclnn_softmax(g, oclnn_scale(g, in[0], 1.0f, 0.0f)), 3.0f, 0.0f));
}

static void ref_chain(const double *const *in, double *out, const void *user)
{
    (void)user;
    double mid[5 * 17];
    sm_user u = {0, 5, 17};
    ref_softmax(in, mid, &u);
    for (int i = 0; i < 5 * 17; i++) mid[i] *= 3;
    const double *mp = mid;
    u.log_mode = 1;
    ref_softmax(&mp, out, &u);
}

START_TEST(test_softmax_chain)
{
    uint64_t rng = tu_seed() + 5;
    tu_op_case c = {.name = "log_softmax(3 softmax)", .ninputs = 1, .ndim = {2}, .dims = {{5, 17}}, .lo = {-3},
                    .hi = {3}, .build = build_chain, .reference = ref_chain};
    tu_check_forward(&c, 1e-10, &rng);
    tu_check_gradient(&c, 1e-3, 1e-6, 85, &rng);
}
END_TEST

START_TEST(test_softmax_bad_input_is_a_clear_error)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *s = oclnn_input(g, "s", OCLNN_DTYPE_F32, 0, NULL);
    ck_assert_ptr_null(oclnn_softmax(g, s));
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_graph_error(g), "softmax") && strstr(oclnn_graph_error(g), "[]"), "message: %s",
                  oclnn_graph_error(g));
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    oclnn_tensor *ix = oclnn_input(g, "ix", OCLNN_DTYPE_I32, 2, (const int64_t[]){2, 3});
    ck_assert_ptr_null(oclnn_log_softmax(g, ix));
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_graph_error(g), "log_softmax") && strstr(oclnn_graph_error(g), "[2, 3]"),
                  "message: %s", oclnn_graph_error(g));
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("softmax");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_softmax_forward_and_gradient);
    tcase_add_test(tc, test_softmax_long_and_many_rows);
    tcase_add_test(tc, test_softmax_large_logits);
    tcase_add_test(tc, test_softmax_masked);
    tcase_add_test(tc, test_softmax_strided_input);
    tcase_add_test(tc, test_softmax_chain);
    tcase_add_test(tc, test_softmax_layouts);
    tcase_add_test(tc, test_softmax_other_device_kernels);
    tcase_add_test(tc, test_softmax_bad_input_is_a_clear_error);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
