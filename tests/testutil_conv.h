/* conv2d test helpers shared by test_conv and test_conv_direct: a conv
 * configuration, its double-precision reference, the op case the generic
 * checks run, a forward + backward run that returns every result, and the
 * comparisons between two paths. */
#ifndef OCLNN_TESTUTIL_CONV_H
#define OCLNN_TESTUTIL_CONV_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_internal.h"
#include "testutil.h"

typedef struct conv_cfg {
    int n, cin, h, w, cout, kh, kw;
    int sh, sw, ph, pw, dh, dw, groups;
    int bias, relu;
    oclnn_conv_algorithm algo;
} conv_cfg;

static inline int out_h(const conv_cfg *c) { return (c->h + 2 * c->ph - c->dh * (c->kh - 1) - 1) / c->sh + 1; }
static inline int out_w(const conv_cfg *c) { return (c->w + 2 * c->pw - c->dw * (c->kw - 1) - 1) / c->sw + 1; }

static inline oclnn_conv2d_params params_of(const conv_cfg *c)
{
    oclnn_conv2d_params p = {c->sh, c->sw, c->ph, c->pw, c->dh, c->dw, c->groups,
                             c->relu ? OCLNN_ACT_RELU : OCLNN_ACT_NONE, c->algo, 0};
    return p;
}

static inline oclnn_tensor *build_conv(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const conv_cfg *c = user;
    oclnn_conv2d_params p = params_of(c);
    return oclnn_conv2d(g, in[0], in[1], c->bias ? in[2] : NULL, &p);
}

static inline void ref_conv(const double *const *in, double *out, const void *user)
{
    const conv_cfg *c = user;
    int ho = out_h(c), wo = out_w(c), cin_g = c->cin / c->groups, cout_g = c->cout / c->groups;
    const double *x = in[0], *w = in[1];
    for (int n = 0; n < c->n; n++)
        for (int co = 0; co < c->cout; co++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    double s = c->bias ? in[2][co] : 0.0;
                    for (int ci = 0; ci < cin_g; ci++) {
                        int ch = co / cout_g * cin_g + ci;
                        for (int ki = 0; ki < c->kh; ki++) {
                            int ih = oh * c->sh - c->ph + ki * c->dh;
                            if (ih < 0 || ih >= c->h) continue;
                            for (int kj = 0; kj < c->kw; kj++) {
                                int iw = ow * c->sw - c->pw + kj * c->dw;
                                if (iw < 0 || iw >= c->w) continue;
                                s += x[((size_t)(n * c->cin + ch) * c->h + ih) * c->w + iw] *
                                     w[((size_t)(co * cin_g + ci) * c->kh + ki) * c->kw + kj];
                            }
                        }
                    }
                    if (c->relu && s < 0) s = 0;
                    out[((size_t)(n * c->cout + co) * ho + oh) * wo + ow] = s;
                }
}

static inline tu_op_case make_case(const conv_cfg *c, char *name, size_t name_size)
{
    snprintf(name, name_size, "conv2d n%d cin%d %dx%d cout%d k%dx%d s%d,%d p%d,%d d%d,%d g%d%s%s algo%d", c->n,
             c->cin, c->h, c->w, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw, c->groups,
             c->bias ? " bias" : "", c->relu ? " relu" : "", (int)c->algo);
    tu_op_case t;
    memset(&t, 0, sizeof t);
    t.name = name;
    t.ninputs = c->bias ? 3 : 2;
    t.ndim[0] = 4;
    t.ndim[1] = 4;
    t.ndim[2] = 1;
    int64_t xd[4] = {c->n, c->cin, c->h, c->w}, wd[4] = {c->cout, c->cin / c->groups, c->kh, c->kw};
    memcpy(t.dims[0], xd, sizeof xd);
    memcpy(t.dims[1], wd, sizeof wd);
    t.dims[2][0] = c->cout;
    for (int i = 0; i < 3; i++) {
        t.lo[i] = -1.0f;
        t.hi[i] = 1.0f;
    }
    t.build = build_conv;
    t.reference = ref_conv;
    t.user = c;
    return t;
}

/* c's output against the double reference, its gradients against finite
 * differences of it. */
static inline void check_case(const conv_cfg *c, uint64_t *rng)
{
    char name[160];
    tu_op_case t = make_case(c, name, sizeof name);
    tu_check_forward(&t, 1e-9, rng);
    /* fused ReLU: a tiny step (the reference is double) keeps finite
     * differences from straddling the kink at 0 */
    tu_check_gradient(&t, 1e-7, 1e-7, 40, rng);
}

/* An empty batch runs and adds nothing to the weight and bias gradients
 * (also with a fused max-pool). */
static inline void check_empty_batch(const conv_cfg *c, int max_pool)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_param(g, "x", 4, (const int64_t[]){0, c->cin, c->h, c->w});
    oclnn_tensor *w = oclnn_param(g, "w", 4, (const int64_t[]){c->cout, c->cin / c->groups, c->kh, c->kw});
    oclnn_tensor *b = oclnn_param(g, "b", 1, (const int64_t[]){c->cout});
    oclnn_conv2d_params p = params_of(c);
    p.max_pool = max_pool;
    oclnn_tensor *y = oclnn_conv2d(g, x, w, b, &p);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(oclnn_tensor_numel(y), 0);
    TU_OK(oclnn_graph_backward(g, oclnn_sum_to(g, y, 0, NULL)));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_fill(oclnn_tensor_grad(w), 7.0f));
    TU_OK(oclnn_tensor_fill(oclnn_tensor_grad(b), 7.0f));
    TU_OK(oclnn_graph_run(g));
    size_t nw = (size_t)oclnn_tensor_numel(w);
    float *gw = malloc(nw * sizeof *gw), *gb = malloc((size_t)c->cout * sizeof *gb);
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(w), gw, nw * sizeof *gw));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(b), gb, (size_t)c->cout * sizeof *gb));
    for (size_t i = 0; i < nw; i++) ck_assert_float_eq(gw[i], 7.0f);
    for (int i = 0; i < c->cout; i++) ck_assert_float_eq(gb[i], 7.0f);
    free(gw);
    free(gb);
    oclnn_graph_release(g);
}

/* One forward and backward of loss = sum(y * lw), lw drawn from lw_seed:
 * the output and the gradients of x, w and b (gb zero without bias). With
 * pool > 1, y is conv2d + pool x pool max-pool, fused (.max_pool) or as
 * conv2d then max_pool2d. */
typedef struct conv_run {
    float *y, *gx, *gw, *gb;
    size_t ny, nx, nw;
    oclnn_conv_algorithm algo; /* what the output tensor reports */
} conv_run;

static inline void run_conv(const conv_cfg *c, int pool, bool fused, const float *xv, const float *wv, const float *bv,
                     uint64_t lw_seed, conv_run *r)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    int64_t xd[4] = {c->n, c->cin, c->h, c->w}, wd[4] = {c->cout, c->cin / c->groups, c->kh, c->kw};
    oclnn_tensor *x = oclnn_param(g, "x", 4, xd), *w = oclnn_param(g, "w", 4, wd);
    oclnn_tensor *b = c->bias ? oclnn_param(g, "b", 1, (const int64_t[]){c->cout}) : NULL;
    oclnn_conv2d_params p = params_of(c);
    oclnn_tensor *y;
    if (fused || pool <= 1) {
        p.max_pool = pool;
        y = oclnn_conv2d(g, x, w, b, &p);
    } else {
        oclnn_pool2d_params pp = oclnn_pool2d_params_default(pool, pool, 0);
        y = oclnn_max_pool2d(g, oclnn_conv2d(g, x, w, b, &p), &pp);
    }
    ck_assert_ptr_nonnull(y);
    if (pool > 1) {
        ck_assert_int_eq(oclnn_tensor_dim(y, 2), out_h(c) / pool);
        ck_assert_int_eq(oclnn_tensor_dim(y, 3), out_w(c) / pool);
    }
    r->algo = oclnn_conv2d_algorithm(y);
    oclnn_tensor *lw = oclnn_input(g, "lw", OCLNN_DTYPE_F32, 4, y->dims);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_to(g, oclnn_mul(g, y, lw), 0, NULL)));
    TU_OK(oclnn_graph_compile(g, NULL));
    r->ny = (size_t)oclnn_tensor_numel(y);
    r->nx = (size_t)oclnn_tensor_numel(x);
    r->nw = (size_t)oclnn_tensor_numel(w);
    uint64_t rng = lw_seed;
    float *lwv = tu_random(r->ny, -1.0f, 1.0f, &rng);
    TU_OK(oclnn_tensor_write(x, xv, r->nx * sizeof(float)));
    TU_OK(oclnn_tensor_write(w, wv, r->nw * sizeof(float)));
    if (b) TU_OK(oclnn_tensor_write(b, bv, (size_t)c->cout * sizeof(float)));
    TU_OK(oclnn_tensor_write(lw, lwv, r->ny * sizeof(float)));
    TU_OK(oclnn_graph_run(g));
    r->y = malloc(r->ny * sizeof(float) + 1);
    r->gx = malloc(r->nx * sizeof(float));
    r->gw = malloc(r->nw * sizeof(float));
    r->gb = calloc((size_t)c->cout, sizeof(float));
    TU_OK(oclnn_tensor_read(y, r->y, r->ny * sizeof(float)));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(x), r->gx, r->nx * sizeof(float)));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(w), r->gw, r->nw * sizeof(float)));
    if (b) TU_OK(oclnn_tensor_read(oclnn_tensor_grad(b), r->gb, (size_t)c->cout * sizeof(float)));
    free(lwv);
    oclnn_graph_release(g);
}

static inline void conv_run_free(conv_run *r)
{
    free(r->y);
    free(r->gx);
    free(r->gw);
    free(r->gb);
}

/* got == want within rel of want's largest finite magnitude, NaN where
 * want is NaN; want must not be all zero (the comparison would prove
 * little). */
static inline void expect_near(const float *got, const float *want, size_t n, double rel, const char *what,
                               const char *name)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(want[i]) && fabs(want[i]) > scale) scale = fabs(want[i]);
    ck_assert_msg(scale > 0, "%s %s: reference all zero", name, what);
    for (size_t i = 0; i < n; i++) {
        if (isnan(want[i])) {
            ck_assert_msg(isnan(got[i]), "%s: %s[%zu] = %g, want NaN", name, what, i, got[i]);
            continue;
        }
        ck_assert_msg(fabs(got[i] - want[i]) <= rel * scale, "%s: %s[%zu] = %.9g, want %.9g (scale %g)", name, what, i,
                      got[i], want[i], scale);
    }
}

/* c with c->algo against the same conv on IM2COL_TILED: output and the
 * gradients of x, w and b. Relative tolerance 1e-4 of each tensor's
 * largest element: float32 rounding of a sum of Cin*9 <= 54 products of
 * values in [-1, 1] is ~1e-6 relative for im2col; Winograd's transforms
 * (entries 1/2 and sums of up to 9 terms in G g G^T, 4 in B^T d B and A^T
 * M A) multiply that by about 10-20 (the F(2x2,3x3) error bound), which
 * stays below 1e-4 by a margin of 5x or more; a wrong index or a missed
 * tile is an error of the order of the values themselves. */
static inline void check_vs_tiled(const conv_cfg *c, oclnn_conv_algorithm expect_algo, uint64_t *rng)
{
    conv_cfg ref = *c;
    ref.algo = OCLNN_CONV_IM2COL_TILED;
    size_t nx = (size_t)c->n * c->cin * c->h * c->w, nw = (size_t)c->cout * c->cin * c->kh * c->kw;
    float *x = tu_random(nx, -1, 1, rng), *w = tu_random(nw, -1, 1, rng), *b = tu_random((size_t)c->cout, -1, 1, rng);
    uint64_t lw_seed = ++*rng;
    conv_run got, want;
    run_conv(c, 0, false, x, w, b, lw_seed, &got);
    run_conv(&ref, 0, false, x, w, b, lw_seed, &want);
    char name[160];
    make_case(c, name, sizeof name);
    ck_assert_msg(got.algo == expect_algo, "%s: ran algorithm %d, expected %d", name, (int)got.algo,
                  (int)expect_algo);
    const double rel = 1e-4;
    expect_near(got.y, want.y, got.ny, rel, "output", name);
    expect_near(got.gx, want.gx, nx, rel, "grad x", name);
    expect_near(got.gw, want.gw, nw, rel, "grad w", name);
    if (c->bias) expect_near(got.gb, want.gb, (size_t)c->cout, rel, "grad b", name);
    conv_run_free(&got);
    conv_run_free(&want);
    free(x);
    free(w);
    free(b);
}

/* c asks for an algorithm that does not apply to its shape: it runs what
 * AUTO picks, and correctly. */
static inline void check_fallback(const conv_cfg *c, uint64_t *rng)
{
    conv_cfg a = *c;
    a.algo = OCLNN_CONV_AUTO;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 4, c->n, c->cin, c->h, c->w);
    oclnn_tensor *w = oclnn_param(g, "w", 4, (const int64_t[]){c->cout, c->cin / c->groups, c->kh, c->kw});
    oclnn_conv2d_params pc = params_of(c), pa = params_of(&a);
    oclnn_conv_algorithm ran = oclnn_conv2d_algorithm(oclnn_conv2d(g, x, w, NULL, &pc));
    ck_assert_int_eq(ran, oclnn_conv2d_algorithm(oclnn_conv2d(g, x, w, NULL, &pa)));
    ck_assert_int_ne(ran, c->algo);
    oclnn_graph_release(g);
    check_case(c, rng);
}

#endif
