/* Pooling vs double references written from PyTorch's definitions
 * (output size, ceil_mode rule, avg divisor, adaptive windows); gradients
 * vs finite differences. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

typedef struct pool_user {
    int max;                 /* 1 max, 0 avg */
    int64_t n, c, h, w;
    int kh, kw, sh, sw, ph, pw, ceil_mode, include_pad;
    int64_t oh, ow;
    oclnn_pool2d_params p;
    char name[256];
} pool_user;

static int64_t out_size(int64_t in, int k, int s, int pad, int ceil_mode)
{
    /* PyTorch: floor or ceil of (in + 2 pad - k) / s, plus one; in ceil
     * mode the last window must start inside the input or left padding. */
    int64_t num = in + 2 * pad - k;
    int64_t out = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
    if (ceil_mode && (out - 1) * s >= in + pad) out--;
    return out;
}

static oclnn_tensor *build_pool(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const pool_user *u = user;
    return u->max ? oclnn_max_pool2d(g, in[0], &u->p) : oclnn_avg_pool2d(g, in[0], &u->p);
}

static void ref_pool(const double *const *in, double *out, const void *user)
{
    const pool_user *u = user;
    for (int64_t pl = 0; pl < u->n * u->c; pl++) {
        const double *x = in[0] + pl * u->h * u->w;
        for (int64_t oh = 0; oh < u->oh; oh++)
            for (int64_t ow = 0; ow < u->ow; ow++) {
                int64_t h0 = oh * u->sh - u->ph, w0 = ow * u->sw - u->pw;
                double acc = u->max ? -INFINITY : 0.0;
                int64_t valid = 0, padded = 0;
                for (int64_t h = h0; h < h0 + u->kh; h++)
                    for (int64_t w = w0; w < w0 + u->kw; w++) {
                        /* the padded frame is [-pad, in + pad) */
                        if (h < u->h + u->ph && w < u->w + u->pw) padded++;
                        if (h < 0 || w < 0 || h >= u->h || w >= u->w) continue;
                        double v = x[h * u->w + w];
                        valid++;
                        if (u->max) acc = v > acc ? v : acc;
                        else acc += v;
                    }
                if (!u->max) acc /= (double)(u->include_pad ? padded : valid);
                out[(pl * u->oh + oh) * u->ow + ow] = acc;
            }
    }
}

static void pool_case(pool_user *u, tu_op_case *c, int max, const int64_t shape[4], int kh, int kw, int sh, int sw,
                      int ph, int pw, int ceil_mode, int include_pad)
{
    memset(u, 0, sizeof *u);
    u->max = max;
    u->n = shape[0], u->c = shape[1], u->h = shape[2], u->w = shape[3];
    u->kh = kh, u->kw = kw, u->ph = ph, u->pw = pw, u->ceil_mode = ceil_mode, u->include_pad = include_pad;
    u->sh = sh ? sh : kh;
    u->sw = sw ? sw : kw;
    u->oh = out_size(u->h, kh, u->sh, ph, ceil_mode);
    u->ow = out_size(u->w, kw, u->sw, pw, ceil_mode);
    u->p = (oclnn_pool2d_params){kh, kw, sh, sw, ph, pw, ceil_mode, include_pad};
    snprintf(u->name, sizeof u->name, "%s [%lld,%lld,%lld,%lld] k%dx%d s%dx%d p%dx%d ceil%d incl%d",
             max ? "max_pool2d" : "avg_pool2d", (long long)u->n, (long long)u->c, (long long)u->h, (long long)u->w,
             kh, kw, u->sh, u->sw, ph, pw, ceil_mode, include_pad);
    *c = (tu_op_case){.name = u->name, .ninputs = 1, .ndim = {4}, .lo = {-1}, .hi = {1}, .build = build_pool,
                      .reference = ref_pool, .user = u};
    memcpy(c->dims[0], shape, 4 * sizeof *shape);
}

static void check_output_shape(const pool_user *u, const tu_op_case *c)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 4, c->dims[0]);
    oclnn_tensor *y = build_pool(g, &x, u);
    ck_assert_msg(y != NULL, "%s: %s", u->name, oclnn_graph_error(g));
    ck_assert_msg(oclnn_tensor_dim(y, 2) == u->oh && oclnn_tensor_dim(y, 3) == u->ow,
                  "%s: output %lldx%lld, want %lldx%lld", u->name, (long long)oclnn_tensor_dim(y, 2),
                  (long long)oclnn_tensor_dim(y, 3), (long long)u->oh, (long long)u->ow);
    oclnn_graph_release(g);
}

static const int64_t pool_shapes[][4] = {{1, 1, 7, 9}, {3, 5, 7, 9}, {2, 3, 8, 8}, {2, 3, 33, 29}};

/* Every kernel/stride/pad/ceil combination on each shape. */
static void run_pool_grid(int max, double fd_step, uint64_t *rng)
{
    for (size_t sh = 0; sh < sizeof pool_shapes / sizeof pool_shapes[0]; sh++)
        for (int k = 1; k <= 3; k++)
            for (int s = 1; s <= 2; s++)
                for (int pad = 0; pad <= k / 2; pad++)
                    for (int ceil_mode = 0; ceil_mode <= 1; ceil_mode++) {
                        pool_user u;
                        tu_op_case c;
                        pool_case(&u, &c, max, pool_shapes[sh], k, k, s, s, pad, pad, ceil_mode,
                                  (k + s + ceil_mode) % 2);
                        check_output_shape(&u, &c);
                        tu_check_forward(&c, 1e-12, rng);
                        /* only the first shape gets the (slower) gradient check everywhere */
                        if (sh == 0 || (k == 3 && s == 2) || (k == 2 && pad == 1))
                            tu_check_gradient(&c, fd_step, 1e-7, 64, rng);
                    }
    /* non-square kernel, default stride (= kernel), asymmetric padding */
    pool_user u;
    tu_op_case c;
    pool_case(&u, &c, max, pool_shapes[1], 2, 3, 0, 0, 1, 0, 1, 0);
    tu_check_forward(&c, 1e-12, rng);
    tu_check_gradient(&c, fd_step, 1e-7, 128, rng);
    pool_case(&u, &c, max, pool_shapes[0], 3, 2, 1, 2, 0, 1, 0, 1);
    tu_check_forward(&c, 1e-12, rng);
    tu_check_gradient(&c, fd_step, 1e-7, 128, rng);
}

START_TEST(test_max_pool)
{
    uint64_t rng = tu_seed() + 11;
    /* Max is piecewise linear: a step far below the gaps between window
     * values (the reference is double) never crosses an argmax swap. */
    run_pool_grid(1, 1e-8, &rng);
}
END_TEST

START_TEST(test_avg_pool)
{
    uint64_t rng = tu_seed() + 12;
    run_pool_grid(0, 1e-3, &rng);
}
END_TEST

START_TEST(test_output_sizes_match_pytorch)
{
    /* Sizes PyTorch gives (nn.MaxPool2d / AvgPool2d on a 7x9 / 8x8 input). */
    const struct {
        int64_t h, w;
        int k, s, pad, ceil_mode;
        int64_t oh, ow;
    } cases[] = {
        {7, 9, 2, 2, 0, 0, 3, 4}, {7, 9, 2, 2, 0, 1, 4, 5}, {7, 9, 2, 2, 1, 1, 4, 5},
        {7, 8, 3, 2, 0, 0, 3, 3}, {7, 8, 3, 2, 0, 1, 3, 4}, {8, 8, 3, 3, 1, 1, 3, 3},
        {5, 5, 3, 2, 1, 1, 3, 3}, {6, 6, 3, 2, 1, 1, 4, 4}, {1, 1, 1, 1, 0, 0, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oclnn_graph *g = oclnn_graph_create(tu_context());
        oclnn_tensor *x = oclnn_input_f32(g, "x", 4, 2, 3, (int)cases[i].h, (int)cases[i].w);
        oclnn_pool2d_params p = oclnn_pool2d_params_default(cases[i].k, cases[i].s, cases[i].pad);
        p.ceil_mode = cases[i].ceil_mode;
        oclnn_tensor *y = oclnn_avg_pool2d(g, x, &p);
        ck_assert_msg(y != NULL, "case %zu: %s", i, oclnn_graph_error(g));
        ck_assert_msg(oclnn_tensor_dim(y, 2) == cases[i].oh && oclnn_tensor_dim(y, 3) == cases[i].ow,
                      "case %zu: got %lldx%lld want %lldx%lld", i, (long long)oclnn_tensor_dim(y, 2),
                      (long long)oclnn_tensor_dim(y, 3), (long long)cases[i].oh, (long long)cases[i].ow);
        ck_assert_int_eq(oclnn_tensor_dim(y, 0), 2);
        ck_assert_int_eq(oclnn_tensor_dim(y, 1), 3);
        oclnn_graph_release(g);
    }
}
END_TEST

/* The argmax indices PyTorch returns (h * W + w per plane) are what the
 * backward routes through: check them, and that max pooling passes NaN. */
START_TEST(test_max_pool_routing_and_nan)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 4, 1, 1, 4, 4);
    oclnn_pool2d_params p = oclnn_pool2d_params_default(2, 2, 0);
    oclnn_tensor *y = oclnn_max_pool2d(g, x, &p);
    TU_OK(oclnn_graph_retain_grad(g, x));
    oclnn_tensor *w = oclnn_input_f32(g, "w", 4, 1, 1, 2, 2);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_to(g, oclnn_mul(g, y, w), 0, NULL)));
    TU_OK(oclnn_graph_compile(g, NULL));
    const float xv[16] = {1, 5, 2, 0, 3, 4, 9, 8, -1, -2, NAN, 7, -4, -3, 6, 6.5f};
    const float wv[4] = {10, 20, 30, 40};
    TU_OK(oclnn_tensor_write(x, xv, sizeof xv));
    TU_OK(oclnn_tensor_write(w, wv, sizeof wv));
    TU_OK(oclnn_graph_run(g));
    float yv[4], gx[16];
    TU_OK(oclnn_tensor_read(y, yv, sizeof yv));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(x), gx, sizeof gx));
    ck_assert_float_eq(yv[0], 5);
    ck_assert_float_eq(yv[1], 9);
    ck_assert_float_eq(yv[2], -1);
    ck_assert_msg(isnan(yv[3]), "NaN must win: got %g", (double)yv[3]);
    const float want[16] = {0, 10, 0, 0, 0, 0, 20, 0, 30, 0, 40, 0, 0, 0, 0, 0};
    for (int i = 0; i < 16; i++) ck_assert_msg(gx[i] == want[i], "dx[%d] = %g, want %g", i, gx[i], want[i]);
    oclnn_graph_release(g);
}
END_TEST

/* ---- adaptive and global average pooling */
typedef struct adaptive_user {
    int64_t n, c, h, w, oh, ow;
    int global;
} adaptive_user;

static oclnn_tensor *build_adaptive(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const adaptive_user *u = user;
    return u->global ? oclnn_global_avg_pool2d(g, in[0]) : oclnn_adaptive_avg_pool2d(g, in[0], (int)u->oh, (int)u->ow);
}

static void ref_adaptive(const double *const *in, double *out, const void *user)
{
    const adaptive_user *u = user;
    for (int64_t pl = 0; pl < u->n * u->c; pl++)
        for (int64_t oh = 0; oh < u->oh; oh++)
            for (int64_t ow = 0; ow < u->ow; ow++) {
                int64_t h0 = (int64_t)floor((double)(oh * u->h) / (double)u->oh);
                int64_t h1 = (int64_t)ceil((double)((oh + 1) * u->h) / (double)u->oh);
                int64_t w0 = (int64_t)floor((double)(ow * u->w) / (double)u->ow);
                int64_t w1 = (int64_t)ceil((double)((ow + 1) * u->w) / (double)u->ow);
                double s = 0;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) s += in[0][(pl * u->h + h) * u->w + w];
                out[(pl * u->oh + oh) * u->ow + ow] = s / (double)((h1 - h0) * (w1 - w0));
            }
}

START_TEST(test_adaptive_avg_pool)
{
    uint64_t rng = tu_seed() + 13;
    const adaptive_user cases[] = {
        {1, 1, 7, 9, 3, 4, 0}, {3, 5, 7, 9, 7, 9, 0}, {2, 3, 5, 5, 2, 3, 0}, {1, 5, 7, 9, 10, 4, 0},
        {3, 5, 7, 9, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1}, {2, 3, 33, 5, 1, 1, 1}, {1, 2, 6, 6, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const adaptive_user *u = &cases[i];
        char name[256];
        snprintf(name, sizeof name, "%s [%lld,%lld,%lld,%lld] -> %lldx%lld",
                 u->global ? "global_avg_pool2d" : "adaptive_avg_pool2d", (long long)u->n, (long long)u->c,
                 (long long)u->h, (long long)u->w, (long long)u->oh, (long long)u->ow);
        tu_op_case c = {.name = name, .ninputs = 1, .ndim = {4}, .dims = {{u->n, u->c, u->h, u->w}}, .lo = {-1},
                        .hi = {1}, .build = build_adaptive, .reference = ref_adaptive, .user = u};
        tu_check_forward(&c, 1e-12, &rng);
        tu_check_gradient(&c, 1e-3, 1e-7, 64, &rng);
    }
}
END_TEST

/* Max, average, adaptive and global pooling of inputs that are strided
 * views (H and W swapped in memory) or start at an element offset. */
START_TEST(test_layouts)
{
    uint64_t rng = tu_seed() + 14;
    for (int max = 0; max < 2; max++) {
        pool_user u;
        tu_op_case c;
        pool_case(&u, &c, max, pool_shapes[1], 3, 2, 2, 1, 1, 1, 1, 1);
        tu_check_forward_strided(&c, 1e-12, &rng);
        tu_check_gradient_strided(&c, max ? 1e-8 : 1e-3, 1e-7, 64, &rng);
    }
    for (int global = 0; global < 2; global++) {
        adaptive_user u = {2, 3, 7, 9, global ? 1 : 3, global ? 1 : 4, global};
        tu_op_case c = {.name = global ? "global_avg_pool2d" : "adaptive_avg_pool2d", .ninputs = 1, .ndim = {4},
                        .dims = {{u.n, u.c, u.h, u.w}}, .lo = {-1}, .hi = {1}, .build = build_adaptive,
                        .reference = ref_adaptive, .user = &u};
        tu_check_forward_strided(&c, 1e-12, &rng);
        tu_check_gradient_strided(&c, 1e-3, 1e-7, 64, &rng);
    }
}
END_TEST

START_TEST(test_bad_shapes_are_clear_errors)
{
    struct {
        int ndim;
        int64_t dims[4];
        oclnn_pool2d_params p;
        int adaptive;
        oclnn_status want;
        const char *op, *in_msg;
    } cases[] = {
        {3, {3, 7, 9}, {2, 2, 2, 2, 0, 0, 0, 1}, 0, OCLNN_ERR_SHAPE, "max_pool2d", "[3, 7, 9]"},
        {4, {1, 1, 2, 2}, {3, 3, 1, 1, 0, 0, 0, 1}, 0, OCLNN_ERR_SHAPE, "max_pool2d", "[1, 1, 2, 2]"},
        {4, {1, 1, 7, 7}, {2, 2, 1, 1, 2, 0, 0, 1}, 0, OCLNN_ERR_INVALID_ARG, "avg_pool2d", "half"},
        {4, {1, 1, 7, 7}, {0, 2, 1, 1, 0, 0, 0, 1}, 0, OCLNN_ERR_INVALID_ARG, "avg_pool2d", "kernel 0x2"},
        {2, {7, 7}, {0}, 1, OCLNN_ERR_SHAPE, "adaptive_avg_pool2d", "[7, 7]"},
        {4, {1, 2, 7, 7}, {0}, 2, OCLNN_ERR_SHAPE, "adaptive_avg_pool2d", "0x3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oclnn_graph *g = oclnn_graph_create(tu_context());
        oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, cases[i].ndim, cases[i].dims);
        oclnn_tensor *y;
        if (cases[i].adaptive == 1) y = oclnn_adaptive_avg_pool2d(g, x, 2, 2);
        else if (cases[i].adaptive == 2) y = oclnn_adaptive_avg_pool2d(g, x, 0, 3);
        else if (strcmp(cases[i].op, "max_pool2d") == 0) y = oclnn_max_pool2d(g, x, &cases[i].p);
        else y = oclnn_avg_pool2d(g, x, &cases[i].p);
        ck_assert_ptr_null(y);
        ck_assert_int_eq(oclnn_graph_compile(g, NULL), cases[i].want);
        ck_assert_msg(strstr(oclnn_last_error(), cases[i].op) && strstr(oclnn_last_error(), cases[i].in_msg),
                      "case %zu message: %s", i, oclnn_last_error());
        oclnn_graph_release(g);
    }
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 4, 1, 1, 4, 4);
    ck_assert_ptr_null(oclnn_max_pool2d(g, x, NULL));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_output_sizes_match_pytorch);
    tcase_add_test(tc, test_max_pool_routing_and_nan);
    tcase_add_test(tc, test_max_pool);
    tcase_add_test(tc, test_avg_pool);
    tcase_add_test(tc, test_adaptive_avg_pool);
    tcase_add_test(tc, test_layouts);
    tcase_add_test(tc, test_bad_shapes_are_clear_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
