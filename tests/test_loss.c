/* Losses vs double references; gradients vs finite differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct loss_user {
    int kind; /* 0 mse, 1 bce, 2 cross entropy, 3 nll */
    oclnn_reduction reduction;
    size_t n;           /* pointwise: elements */
    int64_t rows, C;    /* row losses */
    float smoothing;
} loss_user;

static oclnn_tensor *build_loss(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const loss_user *u = user;
    switch (u->kind) {
    case 0: return oclnn_mse_loss(g, in[0], in[1], u->reduction);
    case 1: return oclnn_bce_with_logits_loss(g, in[0], in[1], u->reduction);
    case 2: return oclnn_cross_entropy_loss(g, in[0], in[1], u->reduction, u->smoothing);
    default: return oclnn_nll_loss(g, in[0], in[1], u->reduction);
    }
}

static void reduce_into(const loss_user *u, const double *terms, size_t n, double count, double *out)
{
    if (u->reduction == OCLNN_REDUCTION_NONE) {
        memcpy(out, terms, n * sizeof *terms);
        return;
    }
    double s = 0;
    for (size_t i = 0; i < n; i++) s += terms[i];
    out[0] = u->reduction == OCLNN_REDUCTION_MEAN ? s / count : s;
}

static void ref_loss(const double *const *in, double *out, const void *user)
{
    const loss_user *u = user;
    size_t n = u->kind < 2 ? u->n : (size_t)u->rows;
    double *terms = malloc((n ? n : 1) * sizeof *terms);
    double count = (double)n;
    if (u->kind < 2) {
        for (size_t i = 0; i < n; i++) {
            double x = in[0][i], t = in[1][i];
            terms[i] = u->kind == 0 ? (x - t) * (x - t) : fmax(x, 0) - x * t + log1p(exp(-fabs(x)));
        }
    } else {
        count = 0;
        for (int64_t r = 0; r < u->rows; r++) {
            const double *x = in[0] + r * u->C;
            int t = (int)in[1][r];
            if (t == OCLNN_IGNORE_INDEX) {
                terms[r] = 0;
                continue;
            }
            count++;
            if (u->kind == 3) {
                terms[r] = -x[t];
                continue;
            }
            double m = x[0], s = 0, sx = 0;
            for (int64_t c = 1; c < u->C; c++) m = fmax(m, x[c]);
            for (int64_t c = 0; c < u->C; c++) {
                s += exp(x[c] - m);
                sx += x[c];
            }
            double lse = m + log(s);
            terms[r] = (1 - u->smoothing) * (lse - x[t]) + u->smoothing * (lse - sx / (double)u->C);
        }
    }
    reduce_into(u, terms, n, count, out);
    free(terms);
}

static const oclnn_reduction reductions[3] = {OCLNN_REDUCTION_NONE, OCLNN_REDUCTION_MEAN, OCLNN_REDUCTION_SUM};

START_TEST(test_pointwise_losses)
{
    uint64_t rng = tu_seed() + 11;
    const struct {
        int ndim;
        int64_t dims[3];
    } shapes[] = {{1, {1}}, {1, {7}}, {2, {33, 5}}, {3, {2, 3, 129}}, {1, {5000}}};
    for (int kind = 0; kind < 2; kind++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            for (int r = 0; r < 3; r++) {
                loss_user u = {.kind = kind, .reduction = reductions[r], .n = 1};
                tu_op_case c = {.name = kind ? "bce_with_logits_loss" : "mse_loss", .ninputs = 2,
                                .ndim = {shapes[s].ndim, shapes[s].ndim}, .lo = {kind ? -8 : -2, kind ? 0 : -2},
                                .hi = {kind ? 8 : 2, kind ? 1 : 2}, .build = build_loss, .reference = ref_loss,
                                .user = &u};
                for (int d = 0; d < shapes[s].ndim; d++) {
                    c.dims[0][d] = c.dims[1][d] = shapes[s].dims[d];
                    u.n *= (size_t)shapes[s].dims[d];
                }
                tu_check_forward(&c, r == 0 ? 1e-10 : 1e-9, &rng);
                if (u.n <= 1000) tu_check_gradient(&c, 1e-3, 1e-6, 48, &rng);
            }
        }
    }
}
END_TEST

START_TEST(test_row_losses)
{
    uint64_t rng = tu_seed() + 12;
    const int64_t shapes[][2] = {{1, 1}, {7, 5}, {33, 10}, {4, 129}, {3, 1000}};
    for (int kind = 2; kind < 4; kind++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            for (int r = 0; r < 3; r++) {
                for (int smooth = 0; smooth < (kind == 2 ? 2 : 1); smooth++) {
                    loss_user u = {.kind = kind, .reduction = reductions[r], .rows = shapes[s][0],
                                   .C = shapes[s][1], .smoothing = smooth ? 0.1f : 0.0f};
                    tu_op_case c = {.name = kind == 2 ? "cross_entropy_loss" : "nll_loss", .ninputs = 2,
                                    .ndim = {2, 1}, .dims = {{shapes[s][0], shapes[s][1]}, {shapes[s][0]}},
                                    .lo = {kind == 2 ? -6 : -5, 0}, .hi = {kind == 2 ? 6 : 0, (float)shapes[s][1]},
                                    .integer = {0, 1}, .build = build_loss, .reference = ref_loss, .user = &u};
                    tu_check_forward(&c, 1e-9, &rng);
                    tu_check_gradient(&c, 1e-3, 1e-6, 48, &rng);
                }
            }
        }
    }
}
END_TEST

/* Every loss with predictions, targets and labels that are strided views
 * or start at an element offset, for each reduction. */
START_TEST(test_layouts)
{
    uint64_t rng = tu_seed() + 13;
    for (int kind = 0; kind < 4; kind++)
        for (int r = 0; r < 3; r++) {
            loss_user u = {.kind = kind, .reduction = reductions[r], .n = 2 * 3 * 7, .rows = 7, .C = 37,
                           .smoothing = kind == 2 && r == 1 ? 0.1f : 0.0f};
            tu_op_case c = {.name = (const char *[]){"mse_loss", "bce_with_logits_loss", "cross_entropy_loss",
                                                     "nll_loss"}[kind],
                            .ninputs = 2, .build = build_loss, .reference = ref_loss, .user = &u};
            if (kind < 2) {
                const int64_t dims[3] = {2, 3, 7};
                c.ndim[0] = c.ndim[1] = 3;
                memcpy(c.dims[0], dims, sizeof dims);
                memcpy(c.dims[1], dims, sizeof dims);
                c.lo[0] = kind ? -8 : -2;
                c.hi[0] = kind ? 8 : 2;
                c.lo[1] = kind ? 0 : -2;
                c.hi[1] = kind ? 1 : 2;
            } else {
                c.ndim[0] = 2;
                c.ndim[1] = 1;
                c.dims[0][0] = c.dims[1][0] = u.rows;
                c.dims[0][1] = u.C;
                c.lo[0] = kind == 2 ? -6 : -5;
                c.hi[0] = kind == 2 ? 6 : 0;
                c.lo[1] = 0;
                c.hi[1] = (float)u.C;
                c.integer[1] = 1;
            }
            tu_check_forward_strided(&c, r == 0 ? 1e-10 : 1e-9, &rng);
            tu_check_gradient_strided(&c, 1e-3, 1e-6, 48, &rng);
        }
}
END_TEST

/* Ignored rows (label -100) count for nothing; out-of-range labels give
 * NaN for their row without reading outside the logits. */
static void run_labels(int ce, oclnn_reduction red, const int32_t *labels, float *loss_out, float *grad_out)
{
    enum { N = 4, C = 3 };
    static const float x[N * C] = {0.5f, -1, 2, 1, 1, 1, -3, 0, 0.25f, 2, -2, 0.5f};
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *logits = oclnn_param(g, "logits", 2, (const int64_t[]){N, C});
    oclnn_tensor *lab = oclnn_input(g, "labels", OCLNN_DTYPE_I32, 1, (const int64_t[]){N});
    oclnn_tensor *loss = ce ? oclnn_cross_entropy_loss(g, logits, lab, red, 0.2f) : oclnn_nll_loss(g, logits, lab, red);
    oclnn_tensor *total = red == OCLNN_REDUCTION_NONE ? oclnn_sum_to(g, loss, 0, NULL) : loss;
    TU_OK(oclnn_graph_output(g, loss));
    TU_OK(oclnn_graph_backward(g, total));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_write(logits, x, sizeof x));
    TU_OK(oclnn_tensor_write(lab, labels, N * sizeof *labels));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(loss, loss_out, (size_t)oclnn_tensor_numel(loss) * sizeof(float)));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(logits), grad_out, sizeof x));
    oclnn_graph_release(g);
}

START_TEST(test_ignored_and_invalid_labels)
{
    const int32_t labels[4] = {0, OCLNN_IGNORE_INDEX, 2, 1};
    for (int ce = 0; ce < 2; ce++) {
        float none[4], mean, sum, grad[12], grad_mean[12];
        run_labels(ce, OCLNN_REDUCTION_NONE, labels, none, grad);
        ck_assert_float_eq(none[1], 0.0f);
        for (int c = 0; c < 3; c++) ck_assert_float_eq(grad[3 + c], 0.0f);
        run_labels(ce, OCLNN_REDUCTION_SUM, labels, &sum, grad);
        run_labels(ce, OCLNN_REDUCTION_MEAN, labels, &mean, grad_mean);
        ck_assert_msg(fabs(sum - (none[0] + none[2] + none[3])) < 1e-5, "sum %g", (double)sum);
        ck_assert_msg(fabs(mean - sum / 3) < 1e-5, "mean %g counts the ignored row (sum %g)", (double)mean,
                      (double)sum);
        for (int k = 0; k < 12; k++) ck_assert_msg(fabsf(grad_mean[k] - grad[k] / 3) < 1e-6, "grad %d", k);

        const int32_t bad[4] = {0, 3, -1, 1000000000};
        run_labels(ce, OCLNN_REDUCTION_NONE, bad, none, grad);
        ck_assert(isfinite(none[0]) && isnan(none[1]) && isnan(none[2]) && isnan(none[3]));
        ck_assert(isfinite(grad[0]) && isnan(grad[3]) && isnan(grad[11]));
        run_labels(ce, OCLNN_REDUCTION_MEAN, bad, &mean, grad);
        ck_assert(isnan(mean));
    }
}
END_TEST

/* Logits far apart must not overflow exp() (max subtraction). */
START_TEST(test_cross_entropy_extreme_logits)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *logits = oclnn_input(g, "logits", OCLNN_DTYPE_F32, 2, (const int64_t[]){2, 3});
    oclnn_tensor *lab = oclnn_input(g, "labels", OCLNN_DTYPE_I32, 1, (const int64_t[]){2});
    oclnn_tensor *ce = oclnn_cross_entropy_loss(g, logits, lab, OCLNN_REDUCTION_NONE, 0.0f);
    oclnn_tensor *bce = oclnn_bce_with_logits_loss(g, logits, oclnn_full_like(g, logits, 1.0f), OCLNN_REDUCTION_NONE);
    TU_OK(oclnn_graph_output(g, ce));
    TU_OK(oclnn_graph_output(g, bce));
    TU_OK(oclnn_graph_compile(g, NULL));
    const float x[6] = {1000, 0, -1000, -200, 300, 299};
    const int32_t t[2] = {1, 2};
    TU_OK(oclnn_tensor_write(logits, x, sizeof x));
    TU_OK(oclnn_tensor_write(lab, t, sizeof t));
    TU_OK(oclnn_graph_run(g));
    float l[2], b[6];
    TU_OK(oclnn_tensor_read(ce, l, sizeof l));
    TU_OK(oclnn_tensor_read(bce, b, sizeof b));
    ck_assert_msg(fabsf(l[0] - 1000) < 1e-3 && fabsf(l[1] - 1.3132616f) < 1e-4, "ce %g %g", (double)l[0],
                  (double)l[1]);
    ck_assert_msg(fabsf(b[2] - 1000) < 1e-3 && b[0] == 0 && fabsf(b[3] - 200) < 1e-3, "bce %g %g %g", (double)b[0],
                  (double)b[2], (double)b[3]);
    oclnn_graph_release(g);
}
END_TEST

static void expect_shape_error(int which)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *a = oclnn_input_f32(g, "a", 2, 3, 4), *b = oclnn_input_f32(g, "b", 2, 3, 5);
    oclnn_tensor *lab = oclnn_input(g, "lab", OCLNN_DTYPE_I32, 1, (const int64_t[]){4});
    oclnn_tensor *flab = oclnn_input_f32(g, "flab", 1, 3);
    const char *want_op = NULL, *want_shape = NULL;
    oclnn_tensor *out = NULL;
    switch (which) {
    case 0:
        out = oclnn_mse_loss(g, a, b, OCLNN_REDUCTION_MEAN);
        want_op = "mse_loss", want_shape = "[3, 5]";
        break;
    case 1:
        out = oclnn_bce_with_logits_loss(g, a, b, OCLNN_REDUCTION_SUM);
        want_op = "bce_with_logits_loss", want_shape = "[3, 5]";
        break;
    case 2:
        out = oclnn_cross_entropy_loss(g, a, lab, OCLNN_REDUCTION_MEAN, 0);
        want_op = "cross_entropy_loss", want_shape = "[4]";
        break;
    default:
        out = oclnn_nll_loss(g, a, flab, OCLNN_REDUCTION_MEAN);
        want_op = "nll_loss", want_shape = "f32";
    }
    ck_assert_ptr_null(out);
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_SHAPE);
    const char *msg = oclnn_last_error();
    ck_assert_msg(strstr(msg, want_op) && strstr(msg, "[3, 4]") && strstr(msg, want_shape), "message: %s", msg);
    oclnn_graph_release(g);
}

START_TEST(test_bad_shapes_and_arguments)
{
    for (int k = 0; k < 4; k++) expect_shape_error(k);
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *a = oclnn_input_f32(g, "a", 2, 3, 4);
    oclnn_tensor *lab = oclnn_input(g, "lab", OCLNN_DTYPE_I32, 1, (const int64_t[]){3});
    ck_assert_ptr_null(oclnn_cross_entropy_loss(g, a, lab, OCLNN_REDUCTION_MEAN, 1.5f));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_graph_error(g), "label_smoothing"), "%s", oclnn_graph_error(g));
    oclnn_graph_release(g);
    g = oclnn_graph_create(tu_context());
    a = oclnn_input_f32(g, "a", 1, 3);
    ck_assert_ptr_null(oclnn_mse_loss(g, a, a, (oclnn_reduction)7));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("losses");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_pointwise_losses);
    tcase_add_test(tc, test_row_losses);
    tcase_add_test(tc, test_layouts);
    tcase_add_test(tc, test_ignored_and_invalid_labels);
    tcase_add_test(tc, test_cross_entropy_extreme_logits);
    tcase_add_test(tc, test_bad_shapes_and_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
