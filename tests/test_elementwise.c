/* Elementwise ops vs double references; gradients vs finite differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- binary ops with broadcasting: shape pairs that exercise every case */
typedef struct bin_user {
    int op;
    int ndim;
    int64_t out[8], astr[8], bstr[8];
} bin_user;

static oclnn_tensor *build_binary(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const bin_user *u = user;
    switch (u->op) {
    case 0: return oclnn_add(g, in[0], in[1]);
    case 1: return oclnn_sub(g, in[0], in[1]);
    case 2: return oclnn_mul(g, in[0], in[1]);
    default: return oclnn_div(g, in[0], in[1]);
    }
}

static void ref_binary(const double *const *in, double *out, const void *user)
{
    const bin_user *u = user;
    size_t n = 1;
    for (int d = 0; d < u->ndim; d++) n *= (size_t)u->out[d];
    for (size_t i = 0; i < n; i++) {
        size_t rem = i, ai = 0, bi = 0;
        for (int d = u->ndim - 1; d >= 0; d--) {
            size_t c = rem % (size_t)u->out[d];
            rem /= (size_t)u->out[d];
            ai += c * (size_t)u->astr[d];
            bi += c * (size_t)u->bstr[d];
        }
        double a = in[0][ai], b = in[1][bi];
        out[i] = u->op == 0 ? a + b : u->op == 1 ? a - b : u->op == 2 ? a * b : a / b;
    }
}

/* Right-aligned broadcast strides of `dims` against the output shape. */
static void bcast_strides(int nd, const int64_t *dims, int ond, const int64_t *out, int64_t *str)
{
    int64_t s = 1;
    for (int d = ond - 1; d >= 0; d--) {
        int k = d - (ond - nd);
        if (k < 0 || dims[k] == 1) str[d] = 0;
        else str[d] = s;
        if (k >= 0) s *= dims[k];
    }
    (void)out;
}

static void binary_case(int op, int na, const int64_t *da, int nb, const int64_t *db, tu_op_case *c, bin_user *u)
{
    memset(c, 0, sizeof *c);
    memset(u, 0, sizeof *u);
    u->op = op;
    u->ndim = na > nb ? na : nb;
    for (int d = 0; d < u->ndim; d++) {
        int ka = d - (u->ndim - na), kb = d - (u->ndim - nb);
        int64_t x = ka >= 0 ? da[ka] : 1, y = kb >= 0 ? db[kb] : 1;
        u->out[d] = x == 1 ? y : x;
    }
    bcast_strides(na, da, u->ndim, u->out, u->astr);
    bcast_strides(nb, db, u->ndim, u->out, u->bstr);
    c->name = (const char *[]){"add", "sub", "mul", "div"}[op];
    c->ninputs = 2;
    c->ndim[0] = na;
    c->ndim[1] = nb;
    memcpy(c->dims[0], da, (size_t)na * sizeof *da);
    memcpy(c->dims[1], db, (size_t)nb * sizeof *db);
    c->lo[0] = -2;
    c->hi[0] = 2;
    /* Keep divisors away from zero so finite differences stay meaningful. */
    c->lo[1] = op == 3 ? 0.5f : -2;
    c->hi[1] = op == 3 ? 2.0f : 2;
    c->build = build_binary;
    c->reference = ref_binary;
    c->user = u;
}

static const struct {
    int na, nb;
    int64_t a[4], b[4];
} shapes[] = {
    {1, 1, {1}, {1}},
    {1, 1, {129}, {129}},
    {2, 2, {7, 33}, {7, 33}},
    {2, 1, {7, 33}, {33}},
    {3, 3, {5, 1, 9}, {1, 7, 9}},
    {4, 2, {2, 3, 5, 7}, {5, 1}},
    {2, 2, {33, 1}, {1, 129}},
    /* one operand repeated along leading dims (the binary_repeat kernel),
     * either side: a + position embeddings, bias - x, a leading 1 */
    {3, 2, {4, 5, 6}, {5, 6}},
    {1, 2, {33}, {7, 33}},
    {2, 3, {1, 6}, {4, 1, 6}},
};

START_TEST(test_binary_forward_and_gradient)
{
    uint64_t rng = tu_seed() + 1;
    for (int op = 0; op < 4; op++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            tu_op_case c;
            bin_user u;
            binary_case(op, shapes[s].na, shapes[s].a, shapes[s].nb, shapes[s].b, &c, &u);
            tu_check_forward(&c, 1e-12, &rng);
            tu_check_gradient(&c, 1e-3, 1e-6, 64, &rng);
        }
    }
}
END_TEST

/* ---- unary activations */
typedef struct un_user {
    int act;
    size_t n;
    float alpha, beta;
} un_user;

static oclnn_tensor *build_unary(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const un_user *u = user;
    switch (u->act) {
    case 0: return oclnn_relu(g, in[0]);
    case 1: return oclnn_sigmoid(g, in[0]);
    case 2: return oclnn_tanh(g, in[0]);
    case 3: return oclnn_gelu(g, in[0]);
    default: return oclnn_scale(g, in[0], u->alpha, u->beta);
    }
}

static void ref_unary(const double *const *in, double *out, const void *user)
{
    const un_user *u = user;
    for (size_t i = 0; i < u->n; i++) {
        double x = in[0][i];
        switch (u->act) {
        case 0: out[i] = x > 0 ? x : 0; break;
        case 1: out[i] = 1 / (1 + exp(-x)); break;
        case 2: out[i] = tanh(x); break;
        case 3: out[i] = 0.5 * x * (1 + erf(x / sqrt(2.0))); break;
        default: out[i] = u->alpha * x + u->beta;
        }
    }
}

START_TEST(test_unary_forward_and_gradient)
{
    uint64_t rng = tu_seed() + 2;
    const int64_t sizes[][3] = {{1, 1, 1}, {7, 1, 1}, {3, 11, 1}, {2, 33, 5}};
    const char *names[] = {"relu", "sigmoid", "tanh", "gelu", "scale"};
    for (int act = 0; act < 5; act++) {
        for (int s = 0; s < 4; s++) {
            un_user u = {act, (size_t)(sizes[s][0] * sizes[s][1] * sizes[s][2]), 1.75f, -0.5f};
            tu_op_case c = {.name = names[act], .ninputs = 1, .ndim = {3}, .lo = {-3}, .hi = {3},
                            .build = build_unary, .reference = ref_unary, .user = &u};
            memcpy(c.dims[0], sizes[s], sizeof sizes[s]);
            if (act == 0) c.kink[0] = 0.01f;
            /* transcendental ops differ from libm by a few ulp */
            tu_check_forward(&c, act == 0 || act == 4 ? 1e-12 : 1e-10, &rng);
            tu_check_gradient(&c, 1e-3, 1e-5, 64, &rng);
        }
    }
}
END_TEST

/* ---- bias add along an axis */
typedef struct bias_user {
    int64_t outer, channels, inner;
} bias_user;

static oclnn_tensor *build_bias(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    return oclnn_bias_add(g, in[0], in[1], 1);
}

static void ref_bias(const double *const *in, double *out, const void *user)
{
    const bias_user *u = user;
    size_t n = (size_t)(u->outer * u->channels * u->inner);
    for (size_t i = 0; i < n; i++) out[i] = in[0][i] + in[1][(i / (size_t)u->inner) % (size_t)u->channels];
}

/* GELU keeps its relative accuracy in both tails: in the left one
 * 0.5 x (1 + erf(x / sqrt 2)) cancels to 0 in f32 below x = -5.5, while
 * PyTorch (and the double reference) give tiny nonzero values; the
 * derivative likewise. */
START_TEST(test_gelu_tails)
{
    enum { N = 81 };
    float xs[N], y[N], dx[N], ones[N];
    for (int i = 0; i < N; i++) {
        xs[i] = -10.0f + 0.25f * (float)i;
        ones[i] = 1.0f;
    }
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_param(g, "x", 1, (const int64_t[]){N});
    oclnn_tensor *r = oclnn_input(g, "r", OCLNN_DTYPE_F32, 1, (const int64_t[]){N});
    oclnn_tensor *out = oclnn_gelu(g, x);
    TU_OK(oclnn_graph_output(g, out));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, out, r))));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_write(x, xs, sizeof xs));
    TU_OK(oclnn_tensor_write(r, ones, sizeof ones));
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(out, y, sizeof y));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(x), dx, sizeof dx));
    for (int i = 0; i < N; i++) {
        double v = xs[i], cdf = 0.5 * erfc(-v / sqrt(2.0)), pdf = exp(-0.5 * v * v) / 2.5066282746310002;
        double want = v * cdf, dwant = cdf + v * pdf;
        ck_assert_msg(fabs(y[i] - want) <= 1e-5 * fabs(want) + 1e-37, "gelu(%g) = %.9g, want %.9g", v, y[i], want);
        /* the derivative cancels near its zero at x = -0.75179: absolute there */
        ck_assert_msg(fabs(dx[i] - dwant) <= 1e-5 * fabs(dwant) + 1e-7 * (fabs(v) < 2), "gelu'(%g) = %.9g, want %.9g",
                      v, dx[i], dwant);
    }
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_bias_add)
{
    uint64_t rng = tu_seed() + 3;
    const int64_t shapes4[][4] = {{1, 1, 1, 1}, {2, 7, 3, 5}, {3, 33, 1, 1}};
    for (int s = 0; s < 3; s++) {
        bias_user u = {shapes4[s][0], shapes4[s][1], shapes4[s][2] * shapes4[s][3]};
        tu_op_case c = {.name = "bias_add", .ninputs = 2, .ndim = {4, 1}, .lo = {-1, -1}, .hi = {1, 1},
                        .build = build_bias, .reference = ref_bias, .user = &u};
        memcpy(c.dims[0], shapes4[s], sizeof shapes4[s]);
        c.dims[1][0] = shapes4[s][1];
        tu_check_forward(&c, 1e-12, &rng);
        tu_check_gradient(&c, 1e-3, 1e-6, 64, &rng);
    }
}
END_TEST

/* ---- views: permute/slice/reshape feed ops and carry gradients back */
static oclnn_tensor *build_views(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    /* in0 [3,4,5] -> permute (2,0,1) -> [5,3,4] -> slice axis 2 [1,3) -> [5,3,2] -> relu */
    oclnn_tensor *p = oclnn_permute(g, in[0], (const int[]){2, 0, 1});
    return oclnn_scale(g, oclnn_slice(g, p, 2, 1, 3), 2.0f, 1.0f);
}

static void ref_views(const double *const *in, double *out, const void *user)
{
    (void)user;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++) out[(i * 3 + j) * 2 + k] = 2.0 * in[0][(j * 4 + (k + 1)) * 5 + i] + 1.0;
}

START_TEST(test_views)
{
    uint64_t rng = tu_seed() + 4;
    tu_op_case c = {.name = "permute+slice", .ninputs = 1, .ndim = {3}, .dims = {{3, 4, 5}}, .lo = {-1}, .hi = {1},
                    .build = build_views, .reference = ref_views};
    tu_check_forward(&c, 1e-12, &rng);
    tu_check_gradient(&c, 1e-3, 1e-6, 64, &rng);
}
END_TEST

/* ---- sum_to (the broadcast inverse) */
static oclnn_tensor *build_sum_to(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    return oclnn_sum_to(g, in[0], 3, (const int64_t[]){7, 1, 5});
}

static void ref_sum_to(const double *const *in, double *out, const void *user)
{
    (void)user;
    for (int i = 0; i < 35; i++) out[i] = 0;
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < 7; i++)
            for (int j = 0; j < 33; j++)
                for (int k = 0; k < 5; k++) out[i * 5 + k] += in[0][((b * 7 + i) * 33 + j) * 5 + k];
}

START_TEST(test_sum_to)
{
    uint64_t rng = tu_seed() + 5;
    tu_op_case c = {.name = "sum_to", .ninputs = 1, .ndim = {4}, .dims = {{3, 7, 33, 5}}, .lo = {-1}, .hi = {1},
                    .build = build_sum_to, .reference = ref_sum_to};
    tu_check_forward(&c, 1e-10, &rng);
    tu_check_gradient(&c, 1e-3, 1e-6, 64, &rng);
}
END_TEST

/* Every op with its inputs as strided views (binary ops read the strides
 * in their kernel, the others get copies) and as views at an offset. */
START_TEST(test_strided_inputs)
{
    uint64_t rng = tu_seed() + 6;
    for (int op = 0; op < 4; op++) {
        const int s[] = {2, 3, 4};
        for (int k = 0; k < 3; k++) {
            tu_op_case c;
            bin_user u;
            binary_case(op, shapes[s[k]].na, shapes[s[k]].a, shapes[s[k]].nb, shapes[s[k]].b, &c, &u);
            tu_check_forward_strided(&c, 1e-12, &rng);
            tu_check_gradient_strided(&c, 1e-3, 1e-6, 64, &rng);
        }
    }
    const char *names[] = {"relu", "sigmoid", "tanh", "gelu", "scale"};
    for (int act = 0; act < 5; act++) {
        un_user u = {act, 3 * 11 * 2, 1.75f, -0.5f};
        tu_op_case c = {.name = names[act], .ninputs = 1, .ndim = {3}, .dims = {{3, 11, 2}}, .lo = {-3}, .hi = {3},
                        .build = build_unary, .reference = ref_unary, .user = &u};
        if (act == 0) c.kink[0] = 0.01f;
        tu_check_forward_strided(&c, act == 0 || act == 4 ? 1e-12 : 1e-10, &rng);
        tu_check_gradient_strided(&c, 1e-3, 1e-5, 64, &rng);
    }
    bias_user bu = {2, 7, 15};
    tu_op_case bc = {.name = "bias_add", .ninputs = 2, .ndim = {4, 1}, .dims = {{2, 7, 3, 5}, {7}}, .lo = {-1, -1},
                     .hi = {1, 1}, .build = build_bias, .reference = ref_bias, .user = &bu};
    tu_check_forward_strided(&bc, 1e-12, &rng);
    tu_check_gradient_strided(&bc, 1e-3, 1e-6, 64, &rng);
    tu_op_case sc = {.name = "sum_to", .ninputs = 1, .ndim = {4}, .dims = {{3, 7, 33, 5}}, .lo = {-1}, .hi = {1},
                     .build = build_sum_to, .reference = ref_sum_to};
    tu_check_forward_strided(&sc, 1e-10, &rng);
    tu_check_gradient_strided(&sc, 1e-3, 1e-6, 64, &rng);
}
END_TEST

START_TEST(test_broadcast_mismatch_is_a_clear_error)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *a = oclnn_input_f32(g, "a", 2, 3, 4), *b = oclnn_input_f32(g, "b", 2, 3, 5);
    ck_assert_ptr_null(oclnn_add(g, a, b));
    /* later constructors are no-ops; the first error is kept */
    ck_assert_ptr_null(oclnn_relu(g, NULL));
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_last_error(), "add") && strstr(oclnn_last_error(), "[3, 4]") &&
                      strstr(oclnn_last_error(), "[3, 5]"),
                  "message: %s", oclnn_last_error());
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("elementwise");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_binary_forward_and_gradient);
    tcase_add_test(tc, test_unary_forward_and_gradient);
    tcase_add_test(tc, test_gelu_tails);
    tcase_add_test(tc, test_bias_add);
    tcase_add_test(tc, test_views);
    tcase_add_test(tc, test_sum_to);
    tcase_add_test(tc, test_strided_inputs);
    tcase_add_test(tc, test_broadcast_mismatch_is_a_clear_error);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
