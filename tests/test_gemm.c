/* GEMM family vs double references: matmul with every transpose combo,
 * batched (3-D, 4-D), the folded batch-times-matrix case, linear (with and
 * without bias, 3-D input), empty dims, gradients by finite differences and
 * shape errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* C[b] = op(A[b]) op(B[b]) with A stored [.., M, K] (or [.., K, M] when
 * transposed) and B [.., K, N] (or [.., N, K]); B shared when b_batched is 0. */
typedef struct mm_user {
    int ta, tb, b_batched;
    int64_t batch, m, n, k;
} mm_user;

static oclnn_tensor *build_matmul(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const mm_user *u = user;
    if (!u->ta && !u->tb) return oclnn_matmul(g, in[0], in[1]);
    return oclnn_matmul_t(g, in[0], u->ta, in[1], u->tb);
}

static void ref_matmul(const double *const *in, double *out, const void *user)
{
    const mm_user *u = user;
    int64_t M = u->m, N = u->n, K = u->k;
    for (int64_t b = 0; b < u->batch; b++) {
        const double *a = in[0] + b * M * K, *bm = in[1] + (u->b_batched ? b * K * N : 0);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t p = 0; p < K; p++)
                    s += (u->ta ? a[p * M + i] : a[i * K + p]) * (u->tb ? bm[j * K + p] : bm[p * N + j]);
                out[(b * M + i) * N + j] = s;
            }
    }
}

/* nbatch leading dims (batch_dims) on A; on B too unless fold. */
static void matmul_case(int ta, int tb, int nbatch, const int64_t *batch_dims, int fold, int64_t m, int64_t n,
                        int64_t k, tu_op_case *c, mm_user *u)
{
    memset(c, 0, sizeof *c);
    *u = (mm_user){ta, tb, !fold, 1, m, n, k};
    c->name = "matmul";
    c->ninputs = 2;
    c->ndim[0] = nbatch + 2;
    c->ndim[1] = fold ? 2 : nbatch + 2;
    for (int d = 0; d < nbatch; d++) {
        u->batch *= batch_dims[d];
        c->dims[0][d] = batch_dims[d];
        if (!fold) c->dims[1][d] = batch_dims[d];
    }
    int64_t *ad = c->dims[0] + nbatch, *bd = c->dims[1] + (fold ? 0 : nbatch);
    ad[0] = ta ? k : m;
    ad[1] = ta ? m : k;
    bd[0] = tb ? n : k;
    bd[1] = tb ? k : n;
    c->lo[0] = c->lo[1] = -1;
    c->hi[0] = c->hi[1] = 1;
    c->build = build_matmul;
    c->reference = ref_matmul;
    c->user = u;
}

static const int64_t mnk[][3] = {
    {1, 1, 1}, {7, 7, 7}, {33, 33, 33}, {129, 129, 129}, {7, 33, 129}, {129, 1, 33}, {33, 129, 7}, {1, 7, 129},
};
#define NMNK (sizeof mnk / sizeof mnk[0])

START_TEST(test_matmul_2d)
{
    uint64_t rng = tu_seed() + 1;
    for (int t = 0; t < 4; t++)
        for (size_t s = 0; s < NMNK; s++) {
            tu_op_case c;
            mm_user u;
            matmul_case(t & 1, t >> 1, 0, NULL, 0, mnk[s][0], mnk[s][1], mnk[s][2], &c, &u);
            tu_check_forward(&c, 1e-6, &rng);
            /* the big cube's finite differences cost the most; skip it */
            if (s != 3) tu_check_gradient(&c, 1e-2, 1e-6, 24, &rng);
        }
}
END_TEST

START_TEST(test_matmul_batched)
{
    uint64_t rng = tu_seed() + 2;
    const int64_t b3[1] = {3}, b4[2] = {2, 3};
    for (int t = 0; t < 4; t++) {
        tu_op_case c;
        mm_user u;
        matmul_case(t & 1, t >> 1, 1, b3, 0, 7, 33, 5, &c, &u);
        tu_check_forward(&c, 1e-6, &rng);
        tu_check_gradient(&c, 1e-2, 1e-6, 32, &rng);
        matmul_case(t & 1, t >> 1, 2, b4, 0, 33, 7, 129, &c, &u);
        tu_check_forward(&c, 1e-6, &rng);
        tu_check_gradient(&c, 1e-2, 1e-6, 16, &rng);
        matmul_case(t & 1, t >> 1, 1, b3, 0, 1, 1, 1, &c, &u);
        tu_check_forward(&c, 1e-6, &rng);
    }
}
END_TEST

/* [B, T, K] x [K, N]: the batch folds into M (one GEMM). */
START_TEST(test_matmul_folded)
{
    uint64_t rng = tu_seed() + 3;
    const int64_t b3[1] = {5}, b4[2] = {2, 3};
    for (int tb = 0; tb < 2; tb++) {
        tu_op_case c;
        mm_user u;
        matmul_case(0, tb, 1, b3, 1, 7, 33, 129, &c, &u);
        tu_check_forward(&c, 1e-6, &rng);
        tu_check_gradient(&c, 1e-2, 1e-6, 32, &rng);
        matmul_case(0, tb, 2, b4, 1, 1, 7, 33, &c, &u);
        tu_check_forward(&c, 1e-6, &rng);
        tu_check_gradient(&c, 1e-2, 1e-6, 32, &rng);
    }
}
END_TEST

/* Strided (transposed-view) operands are made contiguous first. */
static oclnn_tensor *build_views(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    return oclnn_matmul(g, oclnn_transpose(g, in[0], 0, 1), in[1]); /* A stored [K, M] */
}

START_TEST(test_matmul_view_operand)
{
    uint64_t rng = tu_seed() + 4;
    tu_op_case c;
    mm_user u;
    matmul_case(1, 0, 0, NULL, 0, 9, 7, 33, &c, &u);
    c.build = build_views;
    tu_check_forward(&c, 1e-6, &rng);
    tu_check_gradient(&c, 1e-2, 1e-6, 32, &rng);
}
END_TEST

/* ---- linear: y = x W^T + b, x [..., in], W [out, in] */
typedef struct lin_user {
    int has_bias, xdims;
    int64_t rows, in, out;
} lin_user;

static oclnn_tensor *build_linear(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const lin_user *u = user;
    return oclnn_linear(g, in[0], in[1], u->has_bias ? in[2] : NULL);
}

static void ref_linear(const double *const *in, double *out, const void *user)
{
    const lin_user *u = user;
    for (int64_t r = 0; r < u->rows; r++)
        for (int64_t o = 0; o < u->out; o++) {
            double s = u->has_bias ? in[2][o] : 0;
            for (int64_t i = 0; i < u->in; i++) s += in[0][r * u->in + i] * in[1][o * u->in + i];
            out[r * u->out + o] = s;
        }
}

static void linear_case(int has_bias, int xdims, const int64_t *lead, int64_t in, int64_t out, tu_op_case *c,
                        lin_user *u)
{
    memset(c, 0, sizeof *c);
    *u = (lin_user){has_bias, xdims, 1, in, out};
    c->name = has_bias ? "linear(bias)" : "linear";
    c->ninputs = has_bias ? 3 : 2;
    c->ndim[0] = xdims;
    for (int d = 0; d < xdims - 1; d++) {
        c->dims[0][d] = lead[d];
        u->rows *= lead[d];
    }
    c->dims[0][xdims - 1] = in;
    c->ndim[1] = 2;
    c->dims[1][0] = out;
    c->dims[1][1] = in;
    c->ndim[2] = 1;
    c->dims[2][0] = out;
    for (int i = 0; i < 3; i++) {
        c->lo[i] = -1;
        c->hi[i] = 1;
    }
    c->build = build_linear;
    c->reference = ref_linear;
    c->user = u;
}

START_TEST(test_linear)
{
    uint64_t rng = tu_seed() + 5;
    const struct {
        int xdims;
        int64_t lead[2], in, out;
    } cases[] = {
        {2, {1}, 1, 1}, {2, {7}, 33, 129}, {2, {129}, 7, 1}, {2, {33}, 129, 7}, {3, {2, 5}, 33, 7}, {1, {0}, 7, 33},
    };
    for (int bias = 0; bias < 2; bias++)
        for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
            tu_op_case c;
            lin_user u;
            linear_case(bias, cases[s].xdims, cases[s].lead, cases[s].in, cases[s].out, &c, &u);
            tu_check_forward(&c, 1e-6, &rng);
            tu_check_gradient(&c, 1e-2, 1e-6, 32, &rng);
        }
}
END_TEST

/* Zero-sized M, N or K (an empty product is all zeros). */
START_TEST(test_matmul_empty_dims)
{
    const int64_t shapes[][2][3] = {
        {{2, 3, 0}, {2, 0, 4}}, /* batched, K = 0 */
        {{0, 3, 5}, {0, 5, 4}}, /* empty batch */
        {{1, 3, 0}, {1, 0, 4}}, /* single GEMM, K = 0 */
        {{1, 0, 5}, {1, 5, 4}}, /* M = 0 */
    };
    for (int s = 0; s < 4; s++) {
        oclnn_graph *g = oclnn_graph_create(tu_context());
        oclnn_tensor *a = oclnn_input(g, "a", OCLNN_DTYPE_F32, 3, shapes[s][0]);
        oclnn_tensor *b = oclnn_input(g, "b", OCLNN_DTYPE_F32, 3, shapes[s][1]);
        oclnn_tensor *y = oclnn_matmul(g, a, b);
        ck_assert_msg(y != NULL, "%s", oclnn_graph_error(g));
        TU_OK(oclnn_graph_output(g, y));
        TU_OK(oclnn_graph_compile(g, NULL));
        size_t n = (size_t)oclnn_tensor_numel(y);
        float out[24];
        for (size_t i = 0; i < n; i++) out[i] = TU_POISON;
        TU_OK(oclnn_tensor_write(y, out, n * sizeof *out));
        TU_OK(oclnn_graph_run(g));
        TU_OK(oclnn_tensor_read(y, out, n * sizeof *out));
        for (size_t i = 0; i < n; i++) ck_assert_msg(out[i] == 0.0f, "case %d: out[%zu] = %g", s, i, out[i]);
        oclnn_graph_release(g);
    }
}
END_TEST

/* Builds op(a, b) on fresh inputs and checks the error names the op and
 * both shapes. */
static void expect_error(int op, int na, const int64_t *da, int nb, const int64_t *db, int ta, int tb,
                         const char *name, const char *sa, const char *sb)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *a = oclnn_input(g, "a", OCLNN_DTYPE_F32, na, da), *b = oclnn_input(g, "b", OCLNN_DTYPE_F32, nb, db);
    oclnn_tensor *y = op ? oclnn_linear(g, a, b, NULL) : oclnn_matmul_t(g, a, ta, b, tb);
    ck_assert_ptr_null(y);
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_SHAPE);
    const char *msg = oclnn_graph_error(g);
    ck_assert_msg(strstr(msg, name) && strstr(msg, sa) && strstr(msg, sb), "message: %s", msg);
    oclnn_graph_release(g);
}

START_TEST(test_shape_errors)
{
    const int64_t a23[2] = {2, 3}, a45[2] = {4, 5}, a35[2] = {3, 5}, a7[1] = {7};
    const int64_t b234[3] = {2, 3, 4}, b345[3] = {3, 4, 5}, b2345[4] = {2, 3, 4, 5}, b245[3] = {2, 4, 5};
    expect_error(0, 2, a23, 2, a45, 0, 0, "matmul", "[2, 3]", "[4, 5]");          /* inner dims */
    expect_error(0, 2, a23, 2, a35, 1, 0, "matmul", "[2, 3]", "[3, 5]");          /* inner dims, A^T */
    expect_error(0, 2, a23, 2, a23, 0, 0, "matmul", "[2, 3]", "[2, 3]");          /* inner dims */
    expect_error(0, 2, a23, 2, a35, 0, 1, "matmul", "[2, 3]", "[3, 5]");          /* inner dims, B^T */
    expect_error(0, 3, b234, 3, b345, 0, 0, "matmul", "[2, 3, 4]", "[3, 4, 5]");  /* batch dims */
    expect_error(0, 2, b234 + 1, 3, b345, 0, 0, "matmul", "[3, 4]", "[3, 4, 5]"); /* 2-D x 3-D */
    expect_error(0, 3, b234, 4, b2345, 0, 0, "matmul", "[2, 3, 4]", "[2, 3, 4, 5]");
    expect_error(0, 3, b245, 2, a45, 1, 0, "matmul", "[2, 4, 5]", "[4, 5]");      /* A^T batch x matrix */
    expect_error(0, 1, a7, 2, a45, 0, 0, "matmul", "[7]", "[4, 5]");               /* 1-D operand */
    expect_error(1, 2, a23, 2, a45, 0, 0, "linear", "[2, 3]", "[4, 5]");           /* in features */
    expect_error(1, 2, a23, 1, a7, 0, 0, "linear", "[2, 3]", "[7]");               /* 1-D weight */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_matmul_2d);
    tcase_add_test(tc, test_matmul_batched);
    tcase_add_test(tc, test_matmul_folded);
    tcase_add_test(tc, test_matmul_view_operand);
    tcase_add_test(tc, test_linear);
    tcase_add_test(tc, test_matmul_empty_dims);
    tcase_add_test(tc, test_shape_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
