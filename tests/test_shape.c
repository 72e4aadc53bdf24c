/* concat vs host references: every axis, up to 6 graph inputs in one node,
 * long lists (a tree of nodes) built from slices, strided inputs, i32, empty
 * pieces, gradients by finite differences, and shape errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Output element i of a concat along `axis` of inputs with the given axis
 * lengths (all other dims shared): which input and which element. */
static void concat_source(int64_t i, int64_t total, int64_t inner, int n, const int64_t *len, int *k, int64_t *j)
{
    int64_t in = i % inner, a = (i / inner) % total, o = i / (inner * total), start = 0;
    for (*k = 0; *k < n - 1 && a >= start + len[*k]; (*k)++) start += len[*k];
    *j = (o * len[*k] + a - start) * inner + in;
}

typedef struct cat_user {
    int n, axis, ndim;
    int64_t dims[4]; /* shape with the axis dim of the result */
    int64_t len[6];
} cat_user;

static oclnn_tensor *build_cat(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const cat_user *u = user;
    return oclnn_concat(g, u->n, in, u->axis - u->ndim); /* negative axis */
}

static int64_t inner_of(int ndim, const int64_t *dims, int axis)
{
    int64_t inner = 1;
    for (int d = axis + 1; d < ndim; d++) inner *= dims[d];
    return inner;
}

static void ref_cat(const double *const *in, double *out, const void *user)
{
    const cat_user *u = user;
    int64_t numel = 1;
    for (int d = 0; d < u->ndim; d++) numel *= u->dims[d];
    int64_t inner = inner_of(u->ndim, u->dims, u->axis);
    for (int64_t i = 0; i < numel; i++) {
        int k;
        int64_t j;
        concat_source(i, u->dims[u->axis], inner, u->n, u->len, &k, &j);
        out[i] = in[k][j];
    }
}

START_TEST(test_concat_forward_and_gradient)
{
    uint64_t rng = tu_seed() + 1;
    const struct {
        int n, ndim, axis;
        int64_t dims[3];
        int64_t len[6];
    } cases[] = {
        {1, 1, 0, {0}, {7}},
        {2, 1, 0, {0}, {1, 129}},
        {3, 2, 0, {0, 33}, {7, 1, 5}},
        {3, 2, 1, {7, 0}, {33, 2, 1}},
        {4, 3, 1, {3, 0, 5}, {2, 0, 7, 1}},
        {6, 3, 2, {2, 3, 0}, {1, 2, 3, 4, 5, 6}},
        {2, 3, 0, {0, 4, 5}, {1, 2}},
    };
    for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
        cat_user u = {.n = cases[s].n, .axis = cases[s].axis, .ndim = cases[s].ndim};
        memcpy(u.dims, cases[s].dims, sizeof cases[s].dims);
        tu_op_case c = {.name = "concat", .ninputs = u.n, .build = build_cat, .reference = ref_cat, .user = &u};
        for (int k = 0; k < u.n; k++) {
            u.len[k] = cases[s].len[k];
            u.dims[u.axis] += u.len[k];
            c.ndim[k] = u.ndim;
            memcpy(c.dims[k], cases[s].dims, sizeof cases[s].dims);
            c.dims[k][u.axis] = u.len[k];
            c.lo[k] = -1;
            c.hi[k] = 1;
        }
        tu_check_forward(&c, 0.0, &rng);
        tu_check_gradient(&c, 1e-3, 1e-10, 64, &rng);
    }
}
END_TEST

/* 13 pieces (more than a node holds): slices of one input along axis 1,
 * concatenated in reverse order. Slices are strided views. */
#define NPIECES 13
static const int64_t piece_len[NPIECES] = {1, 3, 0, 2, 5, 4, 3, 2, 1, 1, 6, 0, 2}; /* sums to 30 */

static oclnn_tensor *build_pieces(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    oclnn_tensor *parts[NPIECES];
    int64_t start = 0;
    for (int k = 0; k < NPIECES; k++) {
        parts[NPIECES - 1 - k] = oclnn_slice(g, in[0], 1, start, start + piece_len[k]);
        start += piece_len[k];
    }
    return oclnn_concat(g, NPIECES, parts, 1);
}

static void ref_pieces(const double *const *in, double *out, const void *user)
{
    (void)user;
    /* in [3, 30, 5]; reversed piece order along axis 1 */
    int64_t starts[NPIECES], s = 0;
    for (int k = 0; k < NPIECES; k++) {
        starts[k] = s;
        s += piece_len[k];
    }
    for (int o = 0; o < 3; o++) {
        int64_t a = 0;
        for (int k = NPIECES - 1; k >= 0; k--)
            for (int64_t j = 0; j < piece_len[k]; j++, a++)
                for (int i = 0; i < 5; i++) out[(o * 30 + a) * 5 + i] = in[0][(o * 30 + starts[k] + j) * 5 + i];
    }
}

START_TEST(test_concat_many_pieces)
{
    uint64_t rng = tu_seed() + 2;
    tu_op_case c = {.name = "concat(13 slices)", .ninputs = 1, .ndim = {3}, .dims = {{3, 30, 5}}, .lo = {-1},
                    .hi = {1}, .build = build_pieces, .reference = ref_pieces};
    tu_check_forward(&c, 0.0, &rng);
    tu_check_gradient(&c, 1e-3, 1e-10, 450, &rng);
}
END_TEST

/* A transposed input and an input used twice. */
static oclnn_tensor *build_mixed(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    oclnn_tensor *xs[3] = {oclnn_transpose(g, in[0], 0, 1), in[1], oclnn_transpose(g, in[0], 0, 1)};
    return oclnn_concat(g, 3, xs, 0); /* [4,3] ; [2,3] ; [4,3] -> [10,3] */
}

static void ref_mixed(const double *const *in, double *out, const void *user)
{
    (void)user;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) out[i * 3 + j] = out[(6 + i) * 3 + j] = in[0][j * 4 + i];
    for (int i = 0; i < 6; i++) out[12 + i] = in[1][i];
}

START_TEST(test_concat_strided_and_repeated)
{
    uint64_t rng = tu_seed() + 3;
    tu_op_case c = {.name = "concat(transpose, x, transpose)", .ninputs = 2, .ndim = {2, 2}, .dims = {{3, 4}, {2, 3}},
                    .lo = {-1, -1}, .hi = {1, 1}, .build = build_mixed, .reference = ref_mixed};
    tu_check_forward(&c, 0.0, &rng);
    tu_check_gradient(&c, 1e-3, 1e-10, 64, &rng);
}
END_TEST

START_TEST(test_concat_i32)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    const int64_t da[2] = {2, 3}, db[2] = {2, 1}, dc[2] = {2, 4};
    oclnn_tensor *xs[3] = {oclnn_input(g, "a", OCLNN_DTYPE_I32, 2, da), oclnn_input(g, "b", OCLNN_DTYPE_I32, 2, db),
                           oclnn_input(g, "c", OCLNN_DTYPE_I32, 2, dc)};
    oclnn_tensor *y = oclnn_concat(g, 3, xs, 1);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(oclnn_tensor_dtype(y), OCLNN_DTYPE_I32);
    ck_assert_int_eq(oclnn_tensor_dim(y, 1), 8);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    const int32_t a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {-7, 2147483647}, cv[8] = {10, 11, 12, 13, 14, 15, 16, -2147483647 - 1};
    TU_OK(oclnn_tensor_write(xs[0], a, sizeof a));
    TU_OK(oclnn_tensor_write(xs[1], b, sizeof b));
    TU_OK(oclnn_tensor_write(xs[2], cv, sizeof cv));
    TU_OK(oclnn_graph_run(g));
    int32_t got[16];
    TU_OK(oclnn_tensor_read(y, got, sizeof got));
    const int32_t want[16] = {1, 2, 3, -7, 10, 11, 12, 13, 4, 5, 6, 2147483647, 14, 15, 16, -2147483647 - 1};
    for (int i = 0; i < 16; i++) ck_assert_int_eq(got[i], want[i]);
    oclnn_graph_release(g);
}
END_TEST

/* ---- split into 3 parts; the op's result is the parts concatenated
 * along the same axis in another order (order[0..nused)), so every part
 * used carries its own gradient back, and a part left out must count as
 * a zero gradient. */
typedef struct split_user {
    int ndim, axis, nused, cast; /* cast: i32 input, result cast to f32 */
    int64_t dims[3];
    int64_t sizes[3];
    int order[3];
} split_user;

static oclnn_tensor *build_split(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const split_user *u = user;
    oclnn_tensor *parts[3], *used[3];
    if (oclnn_split(g, in[0], u->axis, 3, u->sizes, parts) != OCLNN_OK) return NULL;
    for (int k = 0; k < u->nused; k++) used[k] = parts[u->order[k]];
    oclnn_tensor *y = oclnn_concat(g, u->nused, used, u->axis);
    return u->cast ? oclnn_cast(g, y, OCLNN_DTYPE_F32) : y;
}

static void ref_split(const double *const *in, double *out, const void *user)
{
    const split_user *u = user;
    int64_t outer = 1, inner = inner_of(u->ndim, u->dims, u->axis), total = u->dims[u->axis], start[3], len = 0;
    for (int d = 0; d < u->axis; d++) outer *= u->dims[d];
    for (int k = 0, at = 0; k < 3; at += (int)u->sizes[k], k++) start[k] = at;
    for (int k = 0; k < u->nused; k++) len += u->sizes[u->order[k]];
    for (int64_t o = 0; o < outer; o++) {
        int64_t a = 0;
        for (int k = 0; k < u->nused; k++)
            for (int64_t j = 0; j < u->sizes[u->order[k]]; j++, a++)
                for (int64_t i = 0; i < inner; i++)
                    out[(o * len + a) * inner + i] = in[0][(o * total + start[u->order[k]] + j) * inner + i];
    }
}

START_TEST(test_split_forward_and_gradient)
{
    uint64_t rng = tu_seed() + 4;
    const split_user cases[] = {
        {3, 1, 3, 0, {2, 9, 5}, {2, 4, 3}, {2, 0, 1}},
        {2, 0, 3, 0, {7, 3}, {1, 5, 1}, {1, 2, 0}},
        {2, 1, 3, 0, {3, 11}, {4, 0, 7}, {2, 1, 0}},
        {3, 2, 2, 0, {2, 3, 8}, {3, 2, 3}, {2, 0}}, /* part 1 unused: zero gradient */
        {1, 0, 2, 0, {13}, {5, 6, 2}, {1, 2}},      /* part 0 unused */
        {3, 1, 3, 1, {2, 9, 5}, {2, 4, 3}, {2, 0, 1}},
    };
    for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
        const split_user *u = &cases[s];
        tu_op_case c = {.name = u->cast ? "split(i32)" : "split", .ninputs = 1, .ndim = {u->ndim}, .lo = {-1},
                        .hi = {1}, .build = build_split, .reference = ref_split, .user = u};
        memcpy(c.dims[0], u->dims, sizeof u->dims);
        if (u->cast) {
            c.integer[0] = 1;
            c.lo[0] = -1000;
            c.hi[0] = 1000;
        }
        tu_check_forward_layouts(&c, 0.0, &rng);
        if (!u->cast) tu_check_gradient_layouts(&c, 1e-3, 1e-10, 128, &rng);
    }
}
END_TEST

/* concat of inputs that are strided views or start at an offset, on each
 * axis, with pieces of different lengths. */
START_TEST(test_concat_layouts)
{
    uint64_t rng = tu_seed() + 5;
    for (int axis = 0; axis < 3; axis++) {
        const int64_t len[3] = {2, 1, 3}, base[3] = {3, 4, 5};
        cat_user u = {.n = 3, .axis = axis, .ndim = 3};
        memcpy(u.dims, base, sizeof base);
        u.dims[axis] = 0;
        tu_op_case c = {.name = "concat", .ninputs = 3, .build = build_cat, .reference = ref_cat, .user = &u};
        for (int k = 0; k < 3; k++) {
            u.len[k] = len[k];
            u.dims[axis] += len[k];
            c.ndim[k] = 3;
            memcpy(c.dims[k], base, sizeof base);
            c.dims[k][axis] = len[k];
            c.lo[k] = -1;
            c.hi[k] = 1;
        }
        tu_check_forward_strided(&c, 0.0, &rng);
        tu_check_gradient_strided(&c, 1e-3, 1e-10, 64, &rng);
    }
}
END_TEST

/* Builds a bad concat on a fresh graph and checks the error names the op
 * and both shapes. */
static void expect_error(oclnn_status want, int n, oclnn_dtype t1, int nd1, const int64_t *d1, int nd2,
                         const int64_t *d2, int axis, const char *s1, const char *s2)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *xs[2] = {oclnn_input(g, "a", OCLNN_DTYPE_F32, nd1, d1), oclnn_input(g, "b", t1, nd2, d2)};
    ck_assert_ptr_null(oclnn_concat(g, n, xs, axis));
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), want);
    const char *msg = oclnn_graph_error(g);
    ck_assert_msg(strstr(msg, "concat") && (!s1 || strstr(msg, s1)) && (!s2 || strstr(msg, s2)), "message: %s", msg);
    oclnn_graph_release(g);
}

START_TEST(test_concat_errors)
{
    const int64_t a[2] = {2, 3}, b[2] = {4, 3}, c[3] = {2, 3, 1};
    expect_error(OCLNN_ERR_SHAPE, 2, OCLNN_DTYPE_F32, 2, a, 2, b, 1, "[2, 3]", "[4, 3]");
    expect_error(OCLNN_ERR_SHAPE, 2, OCLNN_DTYPE_F32, 2, a, 3, c, 0, "[2, 3]", "[2, 3, 1]");
    expect_error(OCLNN_ERR_SHAPE, 2, OCLNN_DTYPE_I32, 2, a, 2, a, 0, "i32", "f32");
    expect_error(OCLNN_ERR_SHAPE, 2, OCLNN_DTYPE_F32, 2, a, 2, a, 2, "axis 2", "[2, 3]");
    expect_error(OCLNN_ERR_SHAPE, 2, OCLNN_DTYPE_F32, 2, a, 2, a, -3, "axis -3", "[2, 3]");
    expect_error(OCLNN_ERR_INVALID_ARG, 0, OCLNN_DTYPE_F32, 2, a, 2, a, 0, NULL, NULL);
    /* scalars have no axis */
    expect_error(OCLNN_ERR_SHAPE, 2, OCLNN_DTYPE_F32, 0, a, 0, a, 0, "[]", NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shape");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_concat_forward_and_gradient);
    tcase_add_test(tc, test_concat_many_pieces);
    tcase_add_test(tc, test_concat_strided_and_repeated);
    tcase_add_test(tc, test_concat_i32);
    tcase_add_test(tc, test_concat_layouts);
    tcase_add_test(tc, test_split_forward_and_gradient);
    tcase_add_test(tc, test_concat_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
