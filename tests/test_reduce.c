/* Reductions vs double references: sum/mean/max over every axis (negative
 * axes, keepdim), sum_all/mean_all including the two-stage path, argmax
 * ties and NaN, gradients by finite differences, and shape errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "testutil.h"

enum { R_SUM, R_MEAN, R_MAX, R_SUM_ALL, R_MEAN_ALL };

typedef struct red_user {
    int op, axis, keepdim;
    int64_t outer, n, inner; /* x as [outer, n, inner] */
} red_user;

static oclnn_tensor *build_reduce(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const red_user *u = user;
    switch (u->op) {
    case R_SUM: return oclnn_sum(g, in[0], u->axis, u->keepdim);
    case R_MEAN: return oclnn_mean(g, in[0], u->axis, u->keepdim);
    case R_MAX: return oclnn_max(g, in[0], u->axis, u->keepdim);
    case R_SUM_ALL: return oclnn_sum_all(g, in[0]);
    default: return oclnn_mean_all(g, in[0]);
    }
}

static void ref_reduce(const double *const *in, double *out, const void *user)
{
    const red_user *u = user;
    for (int64_t o = 0; o < u->outer; o++)
        for (int64_t i = 0; i < u->inner; i++) {
            const double *p = in[0] + o * u->n * u->inner + i;
            double acc = u->op == R_MAX ? p[0] : 0;
            for (int64_t a = 0; a < u->n; a++) {
                double v = p[a * u->inner];
                if (u->op == R_MAX) acc = v > acc ? v : acc;
                else acc += v;
            }
            if (u->op == R_MEAN || u->op == R_MEAN_ALL) acc /= (double)u->n;
            out[o * u->inner + i] = acc;
        }
}

/* Fills a case reducing `axis` of the given shape. */
static void reduce_case(int op, int ndim, const int64_t *dims, int axis, int keepdim, tu_op_case *c, red_user *u)
{
    static const char *names[] = {"sum", "mean", "max", "sum_all", "mean_all"};
    memset(c, 0, sizeof *c);
    memset(u, 0, sizeof *u);
    u->op = op;
    u->axis = axis;
    u->keepdim = keepdim;
    int a = axis < 0 ? axis + ndim : axis;
    u->outer = u->n = u->inner = 1;
    for (int d = 0; d < ndim; d++) {
        if (op == R_SUM_ALL || op == R_MEAN_ALL) u->n *= dims[d];
        else if (d < a) u->outer *= dims[d];
        else if (d == a) u->n = dims[d];
        else u->inner *= dims[d];
    }
    c->name = names[op];
    c->ninputs = 1;
    c->ndim[0] = ndim;
    memcpy(c->dims[0], dims, (size_t)ndim * sizeof *dims);
    /* Mean 0.5, not 0: a sum of zero-mean values can cancel to almost
     * nothing, and the NMSE of a near-zero scalar measures only rounding. */
    c->lo[0] = -0.5f;
    c->hi[0] = 1.5f;
    c->build = build_reduce;
    c->reference = ref_reduce;
    c->user = u;
}

static const struct {
    int ndim;
    int64_t dims[4];
} shapes[] = {
    {1, {1}}, {1, {129}}, {2, {7, 33}}, {3, {3, 7, 33}}, {4, {2, 3, 5, 7}}, {3, {1, 1, 129}},
};

START_TEST(test_axis_reductions)
{
    uint64_t rng = tu_seed() + 1;
    for (int op = R_SUM; op <= R_MAX; op++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int axis = -1; axis < shapes[s].ndim; axis++) {
                tu_op_case c;
                red_user u;
                reduce_case(op, shapes[s].ndim, shapes[s].dims, axis, (axis + 2) % 2, &c, &u);
                tu_check_forward(&c, op == R_MAX ? 0.0 : 1e-10, &rng);
                /* max is piecewise linear: a step far below the gap between the two
                 * largest values keeps finite differences on one piece */
                tu_check_gradient(&c, op == R_MAX ? 1e-8 : 1e-3, 1e-6, 32, &rng);
            }
}
END_TEST

START_TEST(test_all_reductions)
{
    uint64_t rng = tu_seed() + 2;
    for (int op = R_SUM_ALL; op <= R_MEAN_ALL; op++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            tu_op_case c;
            red_user u;
            reduce_case(op, shapes[s].ndim, shapes[s].dims, 0, 0, &c, &u);
            tu_check_forward(&c, 1e-10, &rng);
            tu_check_gradient(&c, 1e-3, 1e-6, 32, &rng);
        }
}
END_TEST

/* Long axes with few outputs take the split (two-stage) path. */
START_TEST(test_long_reductions)
{
    uint64_t rng = tu_seed() + 3;
    const int64_t flat[1] = {1000003}, rows[2] = {3, 50001}, mid[3] = {2, 20011, 3};
    tu_op_case c;
    red_user u;
    reduce_case(R_SUM_ALL, 1, flat, 0, 0, &c, &u);
    tu_check_forward(&c, 1e-7, &rng);
    reduce_case(R_MEAN_ALL, 2, rows, 0, 0, &c, &u);
    tu_check_forward(&c, 1e-7, &rng);
    reduce_case(R_SUM, 2, rows, 1, 0, &c, &u);
    tu_check_forward(&c, 1e-7, &rng);
    reduce_case(R_MEAN, 3, mid, -2, 1, &c, &u);
    tu_check_forward(&c, 1e-7, &rng);
    tu_check_gradient(&c, 1e-3, 1e-6, 32, &rng);
    reduce_case(R_MAX, 2, rows, 1, 0, &c, &u);
    tu_check_forward(&c, 0.0, &rng);
}
END_TEST

/* Sums of many values that nearly cancel stay accurate (Kahan + tree). */
START_TEST(test_sum_accuracy)
{
    uint64_t rng = tu_seed() + 4;
    tu_op_case c;
    red_user u;
    const int64_t dims[1] = {300007};
    reduce_case(R_SUM_ALL, 1, dims, 0, 0, &c, &u);
    c.lo[0] = 100;
    c.hi[0] = 101;
    tu_check_forward(&c, 1e-12, &rng);
}
END_TEST

/* A permuted (strided) view is reduced correctly. */
static oclnn_tensor *build_permuted(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    return oclnn_sum(g, oclnn_transpose(g, in[0], 0, 1), 1, 0); /* [5,7] -> [7,5] -> sum over 5 */
}

static void ref_permuted(const double *const *in, double *out, const void *user)
{
    (void)user;
    for (int j = 0; j < 7; j++) {
        out[j] = 0;
        for (int i = 0; i < 5; i++) out[j] += in[0][i * 7 + j];
    }
}

START_TEST(test_strided_input)
{
    uint64_t rng = tu_seed() + 5;
    tu_op_case c = {.name = "sum(transpose)", .ninputs = 1, .ndim = {2}, .dims = {{5, 7}}, .lo = {-1}, .hi = {1},
                    .build = build_permuted, .reference = ref_permuted};
    tu_check_forward(&c, 1e-12, &rng);
    tu_check_gradient(&c, 1e-3, 1e-6, 64, &rng);
}
END_TEST

/* argmax through a cast to f32, so the harness can compare it. */
static oclnn_tensor *build_argmax(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const red_user *u = user;
    return oclnn_cast(g, oclnn_argmax(g, in[0], u->axis, u->keepdim), OCLNN_DTYPE_F32);
}

static void ref_argmax(const double *const *in, double *out, const void *user)
{
    const red_user *u = user;
    for (int64_t o = 0; o < u->outer; o++)
        for (int64_t i = 0; i < u->inner; i++) {
            const double *p = in[0] + o * u->n * u->inner + i;
            int64_t best = 0;
            for (int64_t a = 1; a < u->n; a++)
                if (p[a * u->inner] > p[best * u->inner]) best = a;
            out[o * u->inner + i] = (double)best;
        }
}

/* Every reduction along every axis of inputs that are strided views or
 * start at an offset. */
START_TEST(test_layouts)
{
    uint64_t rng = tu_seed() + 9;
    const int64_t dims[3] = {3, 7, 5};
    for (int op = R_SUM; op <= R_MEAN_ALL; op++)
        for (int axis = 0; axis < (op <= R_MAX ? 3 : 1); axis++) {
            tu_op_case c;
            red_user u;
            reduce_case(op, 3, dims, axis, axis % 2, &c, &u);
            tu_check_forward_strided(&c, op == R_MAX ? 0.0 : 1e-10, &rng);
            tu_check_gradient_strided(&c, op == R_MAX ? 1e-8 : 1e-3, 1e-6, 32, &rng);
        }
    for (int axis = 0; axis < 3; axis++) {
        tu_op_case c;
        red_user u;
        reduce_case(R_MAX, 3, dims, axis, axis % 2, &c, &u);
        c.name = "argmax";
        c.build = build_argmax;
        c.reference = ref_argmax;
        tu_check_forward_strided(&c, 0.0, &rng);
    }
}
END_TEST

START_TEST(test_argmax_ties_and_nan)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 2, 4, 5);
    oclnn_tensor *rows = oclnn_argmax(g, x, 1, 0), *cols = oclnn_argmax(g, x, 0, 1);
    oclnn_tensor *mx = oclnn_max(g, x, -1, 1);
    ck_assert_int_eq(oclnn_tensor_dtype(rows), OCLNN_DTYPE_I32);
    ck_assert_int_eq(oclnn_tensor_ndim(rows), 1);
    ck_assert_int_eq(oclnn_tensor_ndim(cols), 2);
    ck_assert_int_eq(oclnn_tensor_dim(cols, 0), 1);
    TU_OK(oclnn_graph_output(g, rows));
    TU_OK(oclnn_graph_output(g, cols));
    TU_OK(oclnn_graph_output(g, mx));
    TU_OK(oclnn_graph_compile(g, NULL));
    const float data[20] = {1, 3, 3, 2, 3,             /* tie: first wins */
                            -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                            0, NAN, 5, NAN, 7,         /* NaN wins, first NaN */
                            -2, -1, -1.5f, -1, -3};
    TU_OK(oclnn_tensor_write(x, data, sizeof data));
    TU_OK(oclnn_graph_run(g));
    int32_t r[4], cidx[5];
    float m[4];
    TU_OK(oclnn_tensor_read(rows, r, sizeof r));
    TU_OK(oclnn_tensor_read(cols, cidx, sizeof cidx));
    TU_OK(oclnn_tensor_read(mx, m, sizeof m));
    ck_assert_int_eq(r[0], 1);
    ck_assert_int_eq(r[1], 0);
    ck_assert_int_eq(r[2], 1);
    ck_assert_int_eq(r[3], 1);
    const int32_t want_cols[5] = {0, 2, 2, 2, 2};
    for (int j = 0; j < 5; j++) ck_assert_int_eq(cidx[j], want_cols[j]);
    ck_assert(m[0] == 3.0f && isinf(m[1]) && m[1] < 0 && isnan(m[2]) && m[3] == -1.0f);
    oclnn_graph_release(g);
}
END_TEST

/* argmax over long rows: several work-items see candidates. */
START_TEST(test_argmax_long_rows)
{
    uint64_t rng = tu_seed() + 6;
    const int rows = 3, cols = 30522;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 2, rows, cols);
    oclnn_tensor *am = oclnn_argmax(g, x, -1, 0);
    TU_OK(oclnn_graph_output(g, am));
    TU_OK(oclnn_graph_compile(g, NULL));
    float *data = tu_random((size_t)rows * cols, -1, 1, &rng);
    int32_t want[3] = {cols - 1, 0, 12345};
    for (int r = 0; r < rows; r++) data[(size_t)r * cols + want[r]] = 2.0f;
    data[(size_t)2 * cols + 20000] = 2.0f; /* a later tie */
    TU_OK(oclnn_tensor_write(x, data, (size_t)rows * cols * sizeof *data));
    TU_OK(oclnn_graph_run(g));
    int32_t got[3];
    TU_OK(oclnn_tensor_read(am, got, sizeof got));
    for (int r = 0; r < rows; r++) ck_assert_int_eq(got[r], want[r]);
    free(data);
    oclnn_graph_release(g);
}
END_TEST

/* Ties and NaN across vector lanes and the scalar tail (CPU kernels keep
 * 8 lanes), along rows and down 8 columns. Row r of want is the answer. */
START_TEST(test_argmax_lanes)
{
    enum { R = 5, N = 37, C = 8 };
    float rows[R][N];
    for (int r = 0; r < R; r++)
        for (int a = 0; a < N; a++) rows[r][a] = (float)((a * 7 + r) % 11) * 0.1f - 2.0f;
    const int32_t want[R] = {3, 9, 0, 7, 10};
    rows[0][3] = rows[0][20] = 5.0f;  /* tie, earlier vector lane */
    rows[1][30] = rows[1][9] = NAN;   /* first NaN wins */
    rows[1][2] = 9.0f;
    for (int a = 0; a < N; a++) rows[2][a] = -INFINITY;
    rows[3][7] = rows[3][9] = 4.0f;   /* tie, later lane but earlier index */
    rows[4][10] = rows[4][33] = 3.0f; /* tie with the tail */
    float cols[N][C];
    for (int a = 0; a < N; a++)
        for (int j = 0; j < C; j++) cols[a][j] = rows[j % R][a];
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *xr = oclnn_input_f32(g, "xr", 2, R, N), *xc = oclnn_input_f32(g, "xc", 2, N, C);
    oclnn_tensor *ar = oclnn_argmax(g, xr, 1, 0), *ac = oclnn_argmax(g, xc, 0, 0);
    TU_OK(oclnn_graph_output(g, ar));
    TU_OK(oclnn_graph_output(g, ac));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_write(xr, rows, sizeof rows));
    TU_OK(oclnn_tensor_write(xc, cols, sizeof cols));
    TU_OK(oclnn_graph_run(g));
    int32_t gr[R], gc[C];
    TU_OK(oclnn_tensor_read(ar, gr, sizeof gr));
    TU_OK(oclnn_tensor_read(ac, gc, sizeof gc));
    for (int r = 0; r < R; r++) ck_assert_int_eq(gr[r], want[r]);
    for (int j = 0; j < C; j++) ck_assert_int_eq(gc[j], want[j % R]);
    oclnn_graph_release(g);
}
END_TEST

/* Wide rows reduced down a long axis: on CPUs the axis is cut into short
 * chunks streamed row by row, then folded (see sum_node). */
static void check_wide_columns(uint64_t *rng)
{
    const int64_t flat[2] = {300, 257}, mid[3] = {2, 150, 263};
    tu_op_case c;
    red_user u;
    reduce_case(R_SUM, 2, flat, 0, 0, &c, &u);
    tu_check_forward(&c, 1e-7, rng);
    reduce_case(R_MEAN, 3, mid, 1, 1, &c, &u);
    tu_check_forward(&c, 1e-7, rng);
    tu_check_gradient(&c, 1e-3, 1e-6, 32, rng);
    reduce_case(R_MAX, 3, mid, -2, 0, &c, &u);
    tu_check_forward(&c, 0.0, rng);
}

START_TEST(test_wide_columns)
{
    uint64_t rng = tu_seed() + 7;
    check_wide_columns(&rng);
}
END_TEST

/* CPU devices get one-row / one-column-chunk-per-work-item kernels, other
 * devices work-group trees (see reduce.c). Claiming the other device type
 * while graphs are built and compiled runs the kernels this device would
 * not otherwise use, so a CPU-only CI still checks the GPU kernels. */
START_TEST(test_other_device_kernels)
{
    uint64_t rng = tu_seed() + 8;
    oclnn_context *ctx = tu_context();
    int was_cpu = ctx->info.is_cpu;
    ctx->info.is_cpu = !was_cpu;
    const int64_t shape[3] = {3, 7, 33}, rows[2] = {3, 50001};
    for (int op = R_SUM; op <= R_MAX; op++)
        for (int axis = 0; axis < 3; axis++) {
            tu_op_case c;
            red_user u;
            reduce_case(op, 3, shape, axis, axis % 2, &c, &u);
            tu_check_forward(&c, op == R_MAX ? 0.0 : 1e-10, &rng);
        }
    tu_op_case c;
    red_user u;
    reduce_case(R_SUM, 2, rows, 1, 0, &c, &u);
    tu_check_forward(&c, 1e-7, &rng);
    reduce_case(R_SUM_ALL, 2, rows, 0, 0, &c, &u);
    tu_check_forward(&c, 1e-7, &rng);
    check_wide_columns(&rng);
    ctx->info.is_cpu = was_cpu;
}
END_TEST

static void expect_shape_error(oclnn_graph *g, const char *op, const char *shape)
{
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_SHAPE);
    const char *msg = oclnn_graph_error(g);
    ck_assert_msg(strstr(msg, op) && strstr(msg, shape), "message: %s", msg);
    oclnn_graph_release(g);
}

START_TEST(test_bad_axis_is_a_clear_error)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    ck_assert_ptr_null(oclnn_sum(g, oclnn_input_f32(g, "x", 2, 3, 4), 2, 0));
    expect_shape_error(g, "sum", "[3, 4]");

    g = oclnn_graph_create(tu_context());
    ck_assert_ptr_null(oclnn_mean(g, oclnn_input_f32(g, "x", 2, 3, 4), -3, 1));
    expect_shape_error(g, "mean", "[3, 4]");

    g = oclnn_graph_create(tu_context());
    ck_assert_ptr_null(oclnn_max(g, oclnn_input_f32(g, "x", 2, 3, 0), 1, 0));
    expect_shape_error(g, "max", "[3, 0]");

    g = oclnn_graph_create(tu_context());
    oclnn_tensor *ix = oclnn_input(g, "ix", OCLNN_DTYPE_I32, 1, (const int64_t[]){5});
    ck_assert_ptr_null(oclnn_sum_all(g, ix));
    expect_shape_error(g, "sum_all", "[5]");
}
END_TEST

START_TEST(test_empty_axis_sums_to_zero)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 3, 2, 0, 3);
    oclnn_tensor *y = oclnn_sum(g, x, 1, 0);
    ck_assert_int_eq(oclnn_tensor_numel(y), 6);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    float out[6];
    for (int i = 0; i < 6; i++) out[i] = TU_POISON;
    TU_OK(oclnn_tensor_write(y, out, sizeof out));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, out, sizeof out));
    for (int i = 0; i < 6; i++) ck_assert(out[i] == 0.0f);
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reduce");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_axis_reductions);
    tcase_add_test(tc, test_all_reductions);
    tcase_add_test(tc, test_long_reductions);
    tcase_add_test(tc, test_sum_accuracy);
    tcase_add_test(tc, test_strided_input);
    tcase_add_test(tc, test_layouts);
    tcase_add_test(tc, test_argmax_ties_and_nan);
    tcase_add_test(tc, test_argmax_long_rows);
    tcase_add_test(tc, test_argmax_lanes);
    tcase_add_test(tc, test_wide_columns);
    tcase_add_test(tc, test_other_device_kernels);
    tcase_add_test(tc, test_bad_axis_is_a_clear_error);
    tcase_add_test(tc, test_empty_axis_sums_to_zero);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
