/* Scaled dot-product attention: the fused kernels and the unfused path vs a
 * double-precision host reference (forward and analytic backward) on
 * awkward sizes, masks (additive with broadcasting, key padding, causal,
 * fully masked rows), q/k/v as permuted views, finite-difference gradients
 * on small sizes, poisoned intermediates and bad input; multi-head
 * attention with nn.MultiheadAttention's weights vs a double reference. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "testutil.h"

enum { M_NONE, M_FULL, M_LQLK, M_N11LK }; /* additive mask shapes */

typedef struct cfg {
    int n, h, lq, lk, d;
    int mask;        /* M_* */
    int kpm;         /* key-padding mask: 1 random, 2 also batch 0 fully padded */
    int causal;
    int permuted;    /* q, k, v given as [N, L, H, D] permuted to [N, H, L, D] */
    int masked_row;  /* additive mask: row 0 of every (n, h) is all -inf */
    int unfused;
    float scale;     /* 0: 1/sqrt(D) */
} cfg;

static size_t sz(int a, int b, int c, int d) { return (size_t)a * b * c * d; }

/* The mask shape of a config and the additive value at (n, h, i, j). */
static int mask_dims(const cfg *c, int64_t *dims)
{
    switch (c->mask) {
    case M_FULL: dims[0] = c->n; dims[1] = c->h; dims[2] = c->lq; dims[3] = c->lk; return 4;
    case M_LQLK: dims[0] = c->lq; dims[1] = c->lk; return 2;
    case M_N11LK: dims[0] = c->n; dims[1] = 1; dims[2] = 1; dims[3] = c->lk; return 4;
    default: return 0;
    }
}

static double mask_at(const cfg *c, const float *m, int n, int h, int i, int j)
{
    switch (c->mask) {
    case M_FULL: return m[((size_t)(n * c->h + h) * c->lq + i) * c->lk + j];
    case M_LQLK: return m[(size_t)i * c->lk + j];
    case M_N11LK: return m[(size_t)n * c->lk + j];
    default: return 0;
    }
}

/* Host reference on [N, H, L, D] data: out, and with dout the gradients. */
static void reference(const cfg *c, const float *q, const float *k, const float *v, const float *mask,
                      const int *kpm, const float *dout, double *out, double *dq, double *dk, double *dv)
{
    double scale = c->scale > 0 ? c->scale : 1.0 / sqrt((double)c->d);
    int D = c->d, Lq = c->lq, Lk = c->lk;
    double *p = malloc((size_t)Lk * sizeof *p), *dp = malloc((size_t)Lk * sizeof *dp);
    if (dq) {
        memset(dq, 0, sz(c->n, c->h, Lq, D) * sizeof *dq);
        memset(dk, 0, sz(c->n, c->h, Lk, D) * sizeof *dk);
        memset(dv, 0, sz(c->n, c->h, Lk, D) * sizeof *dv);
    }
    for (int n = 0; n < c->n; n++)
        for (int h = 0; h < c->h; h++) {
            size_t qb = sz(n, c->h, Lq, D) + sz(1, h, Lq, D), kb = sz(n, c->h, Lk, D) + sz(1, h, Lk, D);
            for (int i = 0; i < Lq; i++) {
                double mx = -INFINITY;
                for (int j = 0; j < Lk; j++) {
                    double s = -INFINITY;
                    bool masked = (c->causal && j > i) || (kpm && kpm[n * Lk + j]);
                    double b = mask ? mask_at(c, mask, n, h, i, j) : 0;
                    if (!masked && b != -INFINITY) {
                        double d = 0;
                        for (int e = 0; e < D; e++) d += (double)q[qb + (size_t)i * D + e] * k[kb + (size_t)j * D + e];
                        s = d * scale + b;
                    }
                    p[j] = s;
                    if (s > mx) mx = s;
                }
                double sum = 0;
                for (int j = 0; j < Lk; j++) sum += p[j] = mx == -INFINITY ? 0 : exp(p[j] - mx);
                for (int j = 0; j < Lk; j++) p[j] = sum > 0 ? p[j] / sum : 0;
                double *o = out + qb + (size_t)i * D;
                for (int e = 0; e < D; e++) {
                    double a = 0;
                    for (int j = 0; j < Lk; j++) a += p[j] * v[kb + (size_t)j * D + e];
                    o[e] = a;
                }
                if (!dq) continue;
                const float *g = dout + qb + (size_t)i * D;
                double delta = 0;
                for (int j = 0; j < Lk; j++) {
                    double a = 0;
                    for (int e = 0; e < D; e++) a += (double)g[e] * v[kb + (size_t)j * D + e];
                    dp[j] = a;
                    delta += p[j] * a;
                }
                for (int j = 0; j < Lk; j++) {
                    if (p[j] == 0) continue;
                    double ds = p[j] * (dp[j] - delta) * scale;
                    for (int e = 0; e < D; e++) {
                        dv[kb + (size_t)j * D + e] += p[j] * g[e];
                        dq[qb + (size_t)i * D + e] += ds * k[kb + (size_t)j * D + e];
                        dk[kb + (size_t)j * D + e] += ds * q[qb + (size_t)i * D + e];
                    }
                }
            }
        }
    free(p);
    free(dp);
}

/* [N, H, L, D] <-> [N, L, H, D] */
static void swap_hl(const float *src, float *dst, int n, int a, int b, int d, int to_nlhd)
{
    for (int x = 0; x < n; x++)
        for (int y = 0; y < a; y++)
            for (int z = 0; z < b; z++)
                for (int e = 0; e < d; e++) {
                    size_t s = ((size_t)(x * a + y) * b + z) * d + e, t = ((size_t)(x * b + z) * a + y) * d + e;
                    if (to_nlhd) dst[t] = src[s];
                    else dst[s] = src[t];
                }
}

static double nmse(const float *a, const double *b, size_t n) { return tu_nmse(a, b, n); }

/* Builds and runs one case with poisoned intermediates; checks the output
 * (every element written) and, with backward, the gradients of q, k, v. */
static void run_case(const cfg *c, int backward, uint64_t *rng)
{
    char name[160];
    snprintf(name, sizeof name, "%s N%d H%d Lq%d Lk%d D%d mask%d kpm%d causal%d perm%d row%d",
             c->unfused ? "unfused" : "fused", c->n, c->h, c->lq, c->lk, c->d, c->mask, c->kpm, c->causal,
             c->permuted, c->masked_row);
    size_t nq = sz(c->n, c->h, c->lq, c->d), nk = sz(c->n, c->h, c->lk, c->d);
    float *q = tu_random(nq, -1, 1, rng), *k = tu_random(nk, -1, 1, rng), *v = tu_random(nk, -1, 1, rng);
    float *dout = tu_random(nq, -1, 1, rng);
    int64_t mdims[4];
    int mnd = mask_dims(c, mdims);
    size_t nm = 1;
    for (int i = 0; i < mnd; i++) nm *= (size_t)mdims[i];
    float *mask = mnd ? tu_random(nm, -2, 2, rng) : NULL;
    if (mask) {
        for (size_t i = 0; i < nm; i += 7) mask[i] = -INFINITY;
        if (c->masked_row) /* row 0 of every (n, h) */
            for (size_t i = 0; i < nm; i++) {
                size_t row = i / (size_t)c->lk;
                size_t rows_per = c->mask == M_N11LK ? 1 : (size_t)c->lq;
                if (row % rows_per == 0) mask[i] = -INFINITY;
            }
    }
    int *kpm = NULL;
    if (c->kpm) {
        kpm = malloc((size_t)c->n * c->lk * sizeof *kpm);
        for (int i = 0; i < c->n * c->lk; i++) kpm[i] = (*rng = *rng * 6364136223846793005ull + 1442695040888963407ull) >> 62 == 0;
        if (c->kpm == 2)
            for (int j = 0; j < c->lk; j++) kpm[j] = 1;
    }

    oclnn_graph *g = oclnn_graph_create(tu_context());
    int64_t qd[4] = {c->n, c->h, c->lq, c->d}, kd[4] = {c->n, c->h, c->lk, c->d};
    int64_t qp[4] = {c->n, c->lq, c->h, c->d}, kp[4] = {c->n, c->lk, c->h, c->d};
    const int perm[4] = {0, 2, 1, 3};
    oclnn_tensor *tq, *tk, *tv, *vq, *vk, *vv;
    tq = backward ? oclnn_param(g, "q", 4, c->permuted ? qp : qd) : oclnn_input(g, "q", OCLNN_DTYPE_F32, 4, c->permuted ? qp : qd);
    tk = backward ? oclnn_param(g, "k", 4, c->permuted ? kp : kd) : oclnn_input(g, "k", OCLNN_DTYPE_F32, 4, c->permuted ? kp : kd);
    tv = backward ? oclnn_param(g, "v", 4, c->permuted ? kp : kd) : oclnn_input(g, "v", OCLNN_DTYPE_F32, 4, c->permuted ? kp : kd);
    vq = c->permuted ? oclnn_permute(g, tq, perm) : tq;
    vk = c->permuted ? oclnn_permute(g, tk, perm) : tk;
    vv = c->permuted ? oclnn_permute(g, tv, perm) : tv;
    oclnn_tensor *tm = mnd ? oclnn_input(g, "mask", OCLNN_DTYPE_F32, mnd, mdims) : NULL;
    oclnn_tensor *tp = kpm ? oclnn_input(g, "kpm", OCLNN_DTYPE_I32, 2, (int64_t[]){c->n, c->lk}) : NULL;
    oclnn_tensor *out = c->unfused ? oclnn_sdpa_unfused(g, vq, vk, vv, tm, tp, c->causal, c->scale, 0.0f)
                                   : oclnn_sdpa_masked(g, vq, vk, vv, tm, tp, c->causal, c->scale, 0.0f);
    ck_assert_msg(out != NULL, "%s: %s", name, oclnn_graph_error(g));
    TU_OK(oclnn_graph_output(g, out));
    oclnn_tensor *w = NULL;
    if (backward) {
        w = oclnn_input(g, "w", OCLNN_DTYPE_F32, 4, qd);
        TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, out, w))));
    }
    oclnn_compile_options opt = {.poison_intermediates = 1};
    TU_OK(oclnn_graph_compile(g, &opt));

    float *tmp = malloc((nq > nk ? nq : nk) * sizeof *tmp);
    oclnn_tensor *ins[3] = {tq, tk, tv};
    float *host[3] = {q, k, v};
    for (int t = 0; t < 3; t++) {
        size_t cnt = t ? nk : nq;
        if (c->permuted) {
            swap_hl(host[t], tmp, c->n, c->h, t ? c->lk : c->lq, c->d, 1);
            TU_OK(oclnn_tensor_write(ins[t], tmp, cnt * sizeof *tmp));
        } else {
            TU_OK(oclnn_tensor_write(ins[t], host[t], cnt * sizeof *tmp));
        }
    }
    if (tm) TU_OK(oclnn_tensor_write(tm, mask, nm * sizeof *mask));
    if (tp) TU_OK(oclnn_tensor_write(tp, kpm, (size_t)c->n * c->lk * sizeof *kpm));
    if (w) TU_OK(oclnn_tensor_write(w, dout, nq * sizeof *dout));
    float *got = malloc(nq * sizeof *got);
    for (size_t i = 0; i < nq; i++) got[i] = TU_POISON;
    TU_OK(oclnn_tensor_write(out, got, nq * sizeof *got));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(out, got, nq * sizeof *got));

    double *want = malloc(nq * sizeof *want);
    double *dq = backward ? malloc(nq * sizeof *dq) : NULL;
    double *dk = backward ? malloc(nk * sizeof *dk) : NULL, *dv = backward ? malloc(nk * sizeof *dv) : NULL;
    reference(c, q, k, v, mask, kpm, dout, want, dq, dk, dv);
    ck_assert_msg(tu_count_poison(got, nq) == 0, "%s: %d outputs never written", name, tu_count_poison(got, nq));
    for (size_t i = 0; i < nq; i++) ck_assert_msg(isfinite(got[i]), "%s: out[%zu] = %g", name, i, (double)got[i]);
    double e = nmse(got, want, nq);
    ck_assert_msg(e < 1e-9, "%s: forward NMSE %.3g", name, e);
    if (c->masked_row || c->kpm == 2) /* fully masked rows are exact zeros */
        for (size_t i = 0; i < nq; i++)
            if (want[i] == 0) ck_assert_msg(got[i] == 0.0f, "%s: masked out[%zu] = %g", name, i, (double)got[i]);

    if (backward) {
        double *refs[3] = {dq, dk, dv};
        for (int t = 0; t < 3; t++) {
            size_t cnt = t ? nk : nq;
            float *gr = malloc(cnt * sizeof *gr);
            TU_OK(oclnn_tensor_read(oclnn_tensor_grad(ins[t]), gr, cnt * sizeof *gr));
            if (c->permuted) {
                swap_hl(gr, tmp, c->n, c->h, t ? c->lk : c->lq, c->d, 0);
                memcpy(gr, tmp, cnt * sizeof *gr);
            }
            for (size_t i = 0; i < cnt; i++)
                ck_assert_msg(isfinite(gr[i]), "%s: grad %c[%zu] = %g", name, "qkv"[t], i, (double)gr[i]);
            double ge = nmse(gr, refs[t], cnt);
            ck_assert_msg(ge < 1e-8, "%s: gradient of %c NMSE %.3g", name, "qkv"[t], ge);
            free(gr);
        }
    }
    oclnn_graph_release(g);
    free(q);
    free(k);
    free(v);
    free(dout);
    free(mask);
    free(kpm);
    free(tmp);
    free(got);
    free(want);
    free(dq);
    free(dk);
    free(dv);
}

static const cfg cases[] = {
    {.n = 1, .h = 1, .lq = 1, .lk = 1, .d = 32},
    {.n = 2, .h = 3, .lq = 7, .lk = 7, .d = 64, .causal = 1},
    {.n = 1, .h = 2, .lq = 33, .lk = 129, .d = 32, .mask = M_LQLK, .kpm = 1},
    {.n = 2, .h = 2, .lq = 129, .lk = 33, .d = 64, .causal = 1, .mask = M_N11LK},
    {.n = 1, .h = 2, .lq = 300, .lk = 300, .d = 64, .mask = M_FULL, .masked_row = 1},
    {.n = 2, .h = 1, .lq = 7, .lk = 300, .d = 32, .kpm = 2, .causal = 1},
    {.n = 2, .h = 2, .lq = 33, .lk = 7, .d = 64, .permuted = 1, .mask = M_LQLK, .kpm = 1, .scale = 0.3f},
    {.n = 1, .h = 2, .lq = 129, .lk = 129, .d = 32, .permuted = 1, .causal = 1},
    /* BERT's: padding mask alone (the CPU kernel's per-key-block bias),
     * V read in place through the permuted view, Lk not a multiple of 16 */
    {.n = 3, .h = 3, .lq = 21, .lk = 21, .d = 32, .permuted = 1, .kpm = 2},
    {.n = 2, .h = 2, .lq = 40, .lk = 40, .d = 64, .permuted = 1, .kpm = 1},
};
#define NCASES (sizeof cases / sizeof cases[0])

START_TEST(test_sdpa_fused_forward_backward)
{
    uint64_t rng = tu_seed() + 11;
    cfg c = cases[_i];
    run_case(&c, 1, &rng);
}
END_TEST

START_TEST(test_sdpa_unfused_forward_backward)
{
    uint64_t rng = tu_seed() + 12;
    cfg c = cases[_i];
    c.unfused = 1;
    run_case(&c, 1, &rng);
}
END_TEST

/* Head dims with their own kernels (16, 80, 96, 128) and generic ones. */
START_TEST(test_sdpa_head_dims)
{
    uint64_t rng = tu_seed() + 13;
    const int dims[] = {16, 80, 96, 128, 1, 20, 200}; /* 1, 20: generic 64-float bucket; 200: 256 */
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        cfg c = {.n = 1, .h = 2, .lq = 9, .lk = 37, .d = dims[i], .mask = M_LQLK, .causal = i % 2};
        run_case(&c, 1, &rng);
    }
}
END_TEST

/* CPU devices get the packed one-work-item-per-rows kernels, other devices
 * the work-group kernels with local-memory tiles (see attention.c).
 * Claiming the other device type while graphs are built and compiled runs
 * the kernels this device would not otherwise use, so a CPU-only CI still
 * checks the GPU kernels. */
START_TEST(test_sdpa_other_device_kernels)
{
    uint64_t rng = tu_seed() + 16;
    oclnn_context *ctx = tu_context();
    int was_cpu = ctx->info.is_cpu;
    ctx->info.is_cpu = !was_cpu;
    for (size_t i = 0; i < NCASES; i++) {
        cfg c = cases[i];
        run_case(&c, 1, &rng);
    }
    const int dims[] = {128, 20}; /* (each head dim is a program to build: keep the list short) */
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        cfg c = {.n = 1, .h = 2, .lq = 9, .lk = 37, .d = dims[i], .mask = M_LQLK, .causal = i % 2, .kpm = 1};
        run_case(&c, 1, &rng);
    }
    ctx->info.is_cpu = was_cpu;
}
END_TEST

/* Fused and unfused agree with each other directly (same inputs). */
/* Many (n, h) pairs and rows: the CPU kernels' launch must not let the
 * driver pick huge work-groups (their private arrays overflowed PoCL's
 * stack at N 32, H 12, L 128, D 32). */
START_TEST(test_sdpa_many_heads)
{
    uint64_t rng = tu_seed() + 18;
    cfg c = {.n = 32, .h = 12, .lq = 128, .lk = 128, .d = 32, .kpm = 1};
    run_case(&c, 1, &rng);
}
END_TEST

START_TEST(test_sdpa_fused_matches_unfused)
{
    uint64_t rng = tu_seed() + 14;
    int n = 2, h = 2, lq = 65, lk = 40, d = 64;
    size_t nq = sz(n, h, lq, d), nk = sz(n, h, lk, d);
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *q = oclnn_input(g, "q", OCLNN_DTYPE_F32, 4, (int64_t[]){n, h, lq, d});
    oclnn_tensor *k = oclnn_input(g, "k", OCLNN_DTYPE_F32, 4, (int64_t[]){n, h, lk, d});
    oclnn_tensor *v = oclnn_input(g, "v", OCLNN_DTYPE_F32, 4, (int64_t[]){n, h, lk, d});
    oclnn_tensor *m = oclnn_input(g, "m", OCLNN_DTYPE_F32, 3, (int64_t[]){1, lq, lk});
    oclnn_tensor *a = oclnn_sdpa(g, q, k, v, m, 1, 0, 0), *b = oclnn_sdpa_unfused(g, q, k, v, m, NULL, 1, 0, 0);
    TU_OK(oclnn_graph_output(g, a));
    TU_OK(oclnn_graph_output(g, b));
    TU_OK(oclnn_graph_compile(g, NULL));
    float *hq = tu_random(nq, -2, 2, &rng), *hk = tu_random(nk, -2, 2, &rng), *hv = tu_random(nk, -2, 2, &rng);
    float *hm = tu_random((size_t)lq * lk, -1, 1, &rng);
    TU_OK(oclnn_tensor_write(q, hq, nq * 4));
    TU_OK(oclnn_tensor_write(k, hk, nk * 4));
    TU_OK(oclnn_tensor_write(v, hv, nk * 4));
    TU_OK(oclnn_tensor_write(m, hm, (size_t)lq * lk * 4));
    TU_OK(oclnn_graph_run(g));
    float *ra = malloc(nq * 4), *rb = malloc(nq * 4);
    TU_OK(oclnn_tensor_read(a, ra, nq * 4));
    TU_OK(oclnn_tensor_read(b, rb, nq * 4));
    double e = tu_nmse_f(ra, rb, nq);
    ck_assert_msg(e < 1e-10, "fused vs unfused NMSE %.3g", e);
    /* the fused path stores no Lq x Lk matrix: its arena is far smaller */
    free(hq);
    free(hk);
    free(hv);
    free(hm);
    free(ra);
    free(rb);
    oclnn_graph_release(g);
}
END_TEST

/* ---- finite differences on small sizes (q, k, v; masks as data) */

typedef struct fd_user {
    cfg c;
} fd_user;

static oclnn_tensor *build_fd(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const fd_user *u = user;
    oclnn_tensor *m = u->c.mask ? in[3] : NULL, *p = u->c.kpm ? in[4] : NULL;
    return u->c.unfused ? oclnn_sdpa_unfused(g, in[0], in[1], in[2], m, p, u->c.causal, u->c.scale, 0)
                        : oclnn_sdpa_masked(g, in[0], in[1], in[2], m, p, u->c.causal, u->c.scale, 0);
}

static void ref_fd(const double *const *in, double *out, const void *user)
{
    const fd_user *u = user;
    const cfg *c = &u->c;
    /* the reference takes floats: the FD perturbation must survive, so
     * evaluate in double by hand */
    double scale = c->scale > 0 ? c->scale : 1.0 / sqrt((double)c->d);
    int D = c->d, Lq = c->lq, Lk = c->lk;
    for (int n = 0; n < c->n; n++)
        for (int h = 0; h < c->h; h++)
            for (int i = 0; i < Lq; i++) {
                double s[64], mx = -INFINITY, sum = 0;
                size_t qb = ((size_t)(n * c->h + h) * Lq + i) * D, kb = (size_t)(n * c->h + h) * Lk * D;
                for (int j = 0; j < Lk; j++) {
                    double b = c->mask ? in[3][(size_t)i * Lk + j] : 0;
                    bool masked = (c->causal && j > i) || (c->kpm && in[4][n * Lk + j] != 0);
                    s[j] = -INFINITY;
                    if (!masked && b != -INFINITY) {
                        double d = 0;
                        for (int e = 0; e < D; e++) d += in[0][qb + e] * in[1][kb + (size_t)j * D + e];
                        s[j] = d * scale + b;
                    }
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < Lk; j++) sum += s[j] = mx == -INFINITY ? 0 : exp(s[j] - mx);
                for (int e = 0; e < D; e++) {
                    double a = 0;
                    for (int j = 0; j < Lk; j++) a += (sum > 0 ? s[j] / sum : 0) * in[2][kb + (size_t)j * D + e];
                    out[qb + e] = a;
                }
            }
}

static void fd_case(const cfg *c, uint64_t *rng)
{
    fd_user u = {*c};
    tu_op_case t = {.name = c->unfused ? "sdpa_unfused fd" : "sdpa fd", .ninputs = 5, .build = build_fd,
                    .reference = ref_fd, .user = &u};
    int64_t qd[4] = {c->n, c->h, c->lq, c->d}, kd[4] = {c->n, c->h, c->lk, c->d};
    for (int i = 0; i < 3; i++) {
        t.ndim[i] = 4;
        memcpy(t.dims[i], i ? kd : qd, sizeof qd);
        t.lo[i] = -1;
        t.hi[i] = 1;
    }
    t.ndim[3] = 2;
    t.dims[3][0] = c->lq;
    t.dims[3][1] = c->lk;
    t.lo[3] = -1;
    t.hi[3] = 1;
    t.no_grad[3] = 1;
    t.ndim[4] = 2;
    t.dims[4][0] = c->n;
    t.dims[4][1] = c->lk;
    t.lo[4] = 0;
    t.hi[4] = 1.6f; /* floor: about 40% padded */
    t.integer[4] = 1;
    tu_check_forward(&t, 1e-10, rng);
    tu_check_gradient(&t, 1e-3, 1e-6, 64, rng);
}

START_TEST(test_sdpa_finite_differences)
{
    uint64_t rng = tu_seed() + 15;
    const cfg small[] = {
        {.n = 1, .h = 2, .lq = 3, .lk = 5, .d = 4},
        {.n = 2, .h = 1, .lq = 5, .lk = 3, .d = 32, .mask = 1, .causal = 1},
        {.n = 2, .h = 2, .lq = 4, .lk = 6, .d = 7, .mask = 1, .kpm = 1, .scale = 0.5f},
    };
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        cfg c = small[i];
        fd_case(&c, &rng);
        c.unfused = 1;
        fd_case(&c, &rng);
    }
}
END_TEST

/* ---- bad input: clear graph errors naming the shapes */

static void expect_error(oclnn_tensor *(*build)(oclnn_graph *), const char *a, const char *b)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    ck_assert_ptr_null(build(g));
    ck_assert_int_ne(oclnn_graph_compile(g, NULL), OCLNN_OK);
    const char *msg = oclnn_graph_error(g);
    ck_assert_msg(strstr(msg, a) && (!b || strstr(msg, b)), "message '%s' lacks '%s' / '%s'", msg, a, b ? b : "");
    oclnn_graph_release(g);
}

static oclnn_tensor *bad_kv(oclnn_graph *g)
{
    oclnn_tensor *q = oclnn_input_f32(g, "q", 4, 1, 2, 3, 8), *k = oclnn_input_f32(g, "k", 4, 1, 2, 5, 8);
    oclnn_tensor *v = oclnn_input_f32(g, "v", 4, 1, 2, 6, 8);
    return oclnn_sdpa(g, q, k, v, NULL, 0, 0, 0);
}

static oclnn_tensor *bad_rank(oclnn_graph *g)
{
    oclnn_tensor *q = oclnn_input_f32(g, "q", 3, 2, 3, 8), *k = oclnn_input_f32(g, "k", 4, 1, 2, 5, 8);
    return oclnn_sdpa(g, q, k, k, NULL, 0, 0, 0);
}

static oclnn_tensor *bad_mask_shape(oclnn_graph *g)
{
    oclnn_tensor *q = oclnn_input_f32(g, "q", 4, 1, 2, 3, 8), *k = oclnn_input_f32(g, "k", 4, 1, 2, 5, 8);
    oclnn_tensor *m = oclnn_input_f32(g, "m", 2, 3, 4);
    return oclnn_sdpa(g, q, k, k, m, 0, 0, 0);
}

static oclnn_tensor *bad_kpm_shape(oclnn_graph *g)
{
    oclnn_tensor *q = oclnn_input_f32(g, "q", 4, 2, 2, 3, 8), *k = oclnn_input_f32(g, "k", 4, 2, 2, 5, 8);
    oclnn_tensor *m = oclnn_input(g, "m", OCLNN_DTYPE_I32, 2, (int64_t[]){2, 4});
    return oclnn_sdpa(g, q, k, k, m, 0, 0, 0);
}

static oclnn_tensor *bad_kpm_dtype(oclnn_graph *g)
{
    oclnn_tensor *q = oclnn_input_f32(g, "q", 4, 2, 2, 3, 8), *k = oclnn_input_f32(g, "k", 4, 2, 2, 5, 8);
    oclnn_tensor *m = oclnn_input_f32(g, "m", 2, 2, 5);
    return oclnn_sdpa_masked(g, q, k, k, NULL, m, 0, 0, 0);
}

static oclnn_tensor *bad_head_dim(oclnn_graph *g)
{
    oclnn_tensor *q = oclnn_input(g, "q", OCLNN_DTYPE_F32, 4, (int64_t[]){1, 2, 3, 0});
    return oclnn_sdpa(g, q, q, q, NULL, 0, 0, 0);
}

static oclnn_tensor *bad_dropout(oclnn_graph *g)
{
    oclnn_tensor *q = oclnn_input_f32(g, "q", 4, 1, 2, 3, 8);
    return oclnn_sdpa(g, q, q, q, NULL, 0, 0, 1.0f);
}

static oclnn_tensor *bad_big_head(oclnn_graph *g)
{
    oclnn_tensor *q = oclnn_input_f32(g, "q", 4, 1, 1, 3, 300);
    return oclnn_sdpa(g, q, q, q, NULL, 0, 0, 0);
}

START_TEST(test_sdpa_bad_input_is_a_clear_error)
{
    expect_error(bad_kv, "[1, 2, 5, 8]", "[1, 2, 6, 8]");
    expect_error(bad_rank, "[2, 3, 8]", "sdpa");
    expect_error(bad_mask_shape, "attn_mask", "[3, 4]");
    expect_error(bad_kpm_shape, "key_padding_mask", "[2, 4]");
    expect_error(bad_kpm_dtype, "key_padding_mask", "f32");
    expect_error(bad_head_dim, "[1, 2, 3, 0]", "head dim");
    expect_error(bad_dropout, "dropout_p", NULL);
    expect_error(bad_big_head, "head dim 300", NULL);
}
END_TEST


/* ---- multi-head attention (nn.MultiheadAttention layout) vs a double reference */

typedef struct mha_user {
    int n, lq, lk, e, h, kdim, batch_first, causal, self, kpm;
} mha_user;

/* element (batch b, position l, feature f) of a [L, N, F] or [N, L, F] input */
static double at3(const double *x, const mha_user *u, int L, int F, int b, int l, int f)
{
    return u->batch_first ? x[((size_t)b * L + l) * F + f] : x[((size_t)l * u->n + b) * F + f];
}

/* y[b][l][o] = sum_f W[o][f] x(b, l, f) + bias[o], as [N, L, O] */
static void ref_linear(const mha_user *u, const double *x, int L, int F, const double *w, const double *bias, int O,
                       double *y)
{
    for (int b = 0; b < u->n; b++)
        for (int l = 0; l < L; l++)
            for (int o = 0; o < O; o++) {
                double a = bias ? bias[o] : 0;
                for (int f = 0; f < F; f++) a += w[(size_t)o * F + f] * at3(x, u, L, F, b, l, f);
                y[((size_t)b * L + l) * O + o] = a;
            }
}

/* self: in = x, in_proj_weight, in_proj_bias, out w, out b, kpm;
 * cross: in = q, kv, wq, wk, wv, out w (no biases; value = key) */
static void ref_mha(const double *const *in, double *out, const void *user)
{
    const mha_user *u = user;
    int e = u->e, dh = e / u->h, kd = u->self ? e : u->kdim;
    const double *xq = in[0], *xk = u->self ? in[0] : in[1];
    const double *wq = u->self ? in[1] : in[2], *wk = u->self ? in[1] + (size_t)e * e : in[3];
    const double *wv = u->self ? in[1] + (size_t)2 * e * e : in[4];
    const double *bq = u->self ? in[2] : NULL, *bk = u->self ? in[2] + e : NULL, *bv = u->self ? in[2] + 2 * e : NULL;
    const double *wo = u->self ? in[3] : in[5], *bo = u->self ? in[4] : NULL;
    const double *kpm = u->self && u->kpm ? in[5] : NULL;
    double *q = malloc(sizeof(double) * u->n * u->lq * e), *k = malloc(sizeof(double) * u->n * u->lk * e);
    double *v = malloc(sizeof(double) * u->n * u->lk * e), *o = malloc(sizeof(double) * u->n * u->lq * e);
    ref_linear(u, xq, u->lq, e, wq, bq, e, q);
    ref_linear(u, xk, u->lk, kd, wk, bk, e, k);
    ref_linear(u, xk, u->lk, kd, wv, bv, e, v);
    double scale = 1 / sqrt((double)dh), *p = malloc(sizeof(double) * u->lk);
    for (int b = 0; b < u->n; b++)
        for (int hh = 0; hh < u->h; hh++)
            for (int i = 0; i < u->lq; i++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < u->lk; j++) {
                    p[j] = -INFINITY;
                    if ((u->causal && j > i) || (kpm && kpm[b * u->lk + j] != 0)) continue;
                    double d = 0;
                    for (int c = 0; c < dh; c++)
                        d += q[((size_t)b * u->lq + i) * e + hh * dh + c] * k[((size_t)b * u->lk + j) * e + hh * dh + c];
                    p[j] = d * scale;
                    if (p[j] > mx) mx = p[j];
                }
                for (int j = 0; j < u->lk; j++) sum += p[j] = mx == -INFINITY ? 0 : exp(p[j] - mx);
                for (int c = 0; c < dh; c++) {
                    double a = 0;
                    for (int j = 0; j < u->lk; j++) a += (sum > 0 ? p[j] / sum : 0) * v[((size_t)b * u->lk + j) * e + hh * dh + c];
                    o[((size_t)b * u->lq + i) * e + hh * dh + c] = a;
                }
            }
    /* out_proj, written in the input layout */
    for (int b = 0; b < u->n; b++)
        for (int i = 0; i < u->lq; i++)
            for (int f = 0; f < e; f++) {
                double a = bo ? bo[f] : 0;
                for (int c = 0; c < e; c++) a += wo[(size_t)f * e + c] * o[((size_t)b * u->lq + i) * e + c];
                out[u->batch_first ? ((size_t)b * u->lq + i) * e + f : ((size_t)i * u->n + b) * e + f] = a;
            }
    free(q);
    free(k);
    free(v);
    free(o);
    free(p);
}

static oclnn_tensor *build_mha(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const mha_user *u = user;
    oclnn_mha_weights w = {.embed_dim = u->e, .num_heads = u->h, .batch_first = u->batch_first};
    if (u->self) {
        w.in_proj_weight = in[1];
        w.in_proj_bias = in[2];
        w.out_proj_weight = in[3];
        w.out_proj_bias = in[4];
        return oclnn_multi_head_attention(g, &w, in[0], in[0], in[0], u->kpm ? in[5] : NULL, NULL, u->causal, 0);
    }
    w.q_proj_weight = in[2];
    w.k_proj_weight = in[3];
    w.v_proj_weight = in[4];
    w.out_proj_weight = in[5];
    return oclnn_multi_head_attention(g, &w, in[0], in[1], in[1], NULL, NULL, u->causal, 0);
}

static void mha_case(const mha_user *u, uint64_t *rng, int grad)
{
    tu_op_case t = {.name = u->self ? "mha self" : "mha cross", .build = build_mha, .reference = ref_mha, .user = u};
    int e = u->e;
#define DIMS3(i, L, F)                                                                     \
    do {                                                                                   \
        t.ndim[i] = 3;                                                                     \
        t.dims[i][0] = u->batch_first ? u->n : (L);                                        \
        t.dims[i][1] = u->batch_first ? (L) : u->n;                                        \
        t.dims[i][2] = (F);                                                                \
    } while (0)
#define DIMS2(i, a, b) (t.ndim[i] = 2, t.dims[i][0] = (a), t.dims[i][1] = (b))
    if (u->self) {
        t.ninputs = u->kpm ? 6 : 5;
        DIMS3(0, u->lq, e);
        DIMS2(1, 3 * e, e);
        t.ndim[2] = 1;
        t.dims[2][0] = 3 * e;
        DIMS2(3, e, e);
        t.ndim[4] = 1;
        t.dims[4][0] = e;
        DIMS2(5, u->n, u->lk);
        t.integer[5] = 1;
        t.hi[5] = 1.7f;
    } else {
        t.ninputs = 6;
        DIMS3(0, u->lq, e);
        DIMS3(1, u->lk, u->kdim);
        DIMS2(2, e, e);
        DIMS2(3, e, u->kdim);
        DIMS2(4, e, u->kdim);
        DIMS2(5, e, e);
    }
    for (int i = 0; i < t.ninputs; i++)
        if (!t.integer[i]) {
            t.lo[i] = -0.6f;
            t.hi[i] = 0.6f;
        }
    tu_check_forward(&t, 1e-9, rng);
    if (grad) tu_check_gradient(&t, 1e-3, 1e-6, 40, rng);
}

START_TEST(test_mha_matches_reference)
{
    uint64_t rng = tu_seed() + 17;
    /* self-attention, PyTorch's [L, N, E], key padding, gradients of x and every weight */
    mha_user a = {.n = 2, .lq = 5, .lk = 5, .e = 8, .h = 2, .self = 1, .kpm = 1};
    mha_case(&a, &rng, 1);
    /* batch_first, causal, head dim 32 */
    mha_user b = {.n = 2, .lq = 9, .lk = 9, .e = 64, .h = 2, .self = 1, .batch_first = 1, .causal = 1};
    mha_case(&b, &rng, 0);
    /* cross-attention with kdim = vdim != E (separate projection weights), Lq != Lk */
    mha_user c = {.n = 2, .lq = 4, .lk = 7, .e = 8, .h = 4, .kdim = 6};
    mha_case(&c, &rng, 1);
    c.batch_first = 1;
    mha_case(&c, &rng, 0);
}
END_TEST

START_TEST(test_mha_weight_names)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_mha_weights w;
    TU_OK(oclnn_mha_weights_create(g, "encoder.layers.0.self_attn", 16, 4, 1, 0, 0, 0, &w));
    const char *names[4] = {"encoder.layers.0.self_attn.in_proj_weight", "encoder.layers.0.self_attn.in_proj_bias",
                            "encoder.layers.0.self_attn.out_proj.weight", "encoder.layers.0.self_attn.out_proj.bias"};
    const int64_t first[4] = {48, 48, 16, 16};
    for (int i = 0; i < 4; i++) {
        oclnn_tensor *t = oclnn_graph_find(g, names[i]);
        ck_assert_msg(t != NULL, "no %s", names[i]);
        ck_assert_int_eq(oclnn_tensor_dim(t, 0), first[i]);
    }
    oclnn_mha_weights x;
    TU_OK(oclnn_mha_weights_create(g, "cross", 16, 4, 0, 10, 12, 1, &x));
    ck_assert_ptr_null(x.in_proj_weight);
    ck_assert_ptr_null(x.in_proj_bias);
    ck_assert_int_eq(oclnn_tensor_dim(oclnn_graph_find(g, "cross.k_proj_weight"), 1), 10);
    ck_assert_int_eq(oclnn_tensor_dim(oclnn_graph_find(g, "cross.v_proj_weight"), 1), 12);
    oclnn_tensor *q = oclnn_input_f32(g, "q", 3, 2, 5, 16), *k = oclnn_input_f32(g, "k", 3, 2, 7, 10);
    oclnn_tensor *v = oclnn_input_f32(g, "v", 3, 2, 7, 12);
    oclnn_tensor *y = oclnn_multi_head_attention(g, &x, q, k, v, NULL, NULL, 0, 0);
    ck_assert_msg(y != NULL, "%s", oclnn_graph_error(g));
    ck_assert_int_eq(oclnn_tensor_dim(y, 1), 5);
    ck_assert_int_eq(oclnn_tensor_dim(y, 2), 16);
    /* a query of the wrong width is a clear error */
    oclnn_tensor *bad = oclnn_input_f32(g, "bad", 3, 2, 5, 15);
    ck_assert_ptr_null(oclnn_multi_head_attention(g, &x, bad, k, v, NULL, NULL, 0, 0));
    ck_assert_msg(strstr(oclnn_graph_error(g), "[2, 5, 15]"), "message: %s", oclnn_graph_error(g));
    oclnn_graph_release(g);
}
END_TEST

/* ---- attention dropout: the fused kernels draw the same Philox mask as
 * the unfused path's dropout op (element (nh Lq + i) Lk + j of the
 * probabilities), so with one seed both must agree, run after run (the
 * mask changes with the run counter), forward and backward. */

typedef struct drop_graph {
    oclnn_graph *g;
    oclnn_tensor *in[3], *out, *w;
} drop_graph;

static void drop_build(drop_graph *d, const cfg *c, float p, uint64_t seed, int unfused)
{
    d->g = oclnn_graph_create(tu_context());
    int64_t qd[4] = {c->n, c->h, c->lq, c->d}, kd[4] = {c->n, c->h, c->lk, c->d};
    d->in[0] = oclnn_param(d->g, "q", 4, qd);
    d->in[1] = oclnn_param(d->g, "k", 4, kd);
    d->in[2] = oclnn_param(d->g, "v", 4, kd);
    oclnn_sdpa_options o = {.causal = c->causal, .dropout_p = p, .dropout_seed = seed, .unfused = unfused};
    d->out = oclnn_sdpa_ex(d->g, d->in[0], d->in[1], d->in[2], &o);
    ck_assert_msg(d->out != NULL, "%s", oclnn_graph_error(d->g));
    d->w = oclnn_input(d->g, "w", OCLNN_DTYPE_F32, 4, qd);
    TU_OK(oclnn_graph_output(d->g, d->out));
    TU_OK(oclnn_graph_backward(d->g, oclnn_sum_all(d->g, oclnn_mul(d->g, d->out, d->w))));
    oclnn_compile_options opt = {.poison_intermediates = 1};
    TU_OK(oclnn_graph_compile(d->g, &opt));
}

static void drop_run(drop_graph *d, float *const *host, const float *w, size_t nq, size_t nk, float *out,
                     float *const *grads)
{
    for (int t = 0; t < 3; t++) TU_OK(oclnn_tensor_write(d->in[t], host[t], (t ? nk : nq) * sizeof(float)));
    TU_OK(oclnn_tensor_write(d->w, w, nq * sizeof(float)));
    TU_OK(oclnn_graph_zero_grad(d->g));
    TU_OK(oclnn_graph_run(d->g));
    TU_OK(oclnn_tensor_read(d->out, out, nq * sizeof(float)));
    for (int t = 0; t < 3; t++)
        TU_OK(oclnn_tensor_read(oclnn_tensor_grad(d->in[t]), grads[t], (t ? nk : nq) * sizeof(float)));
}

static void check_dropout(const cfg *c, float p, uint64_t *rng)
{
    size_t nq = sz(c->n, c->h, c->lq, c->d), nk = sz(c->n, c->h, c->lk, c->d);
    float *host[3] = {tu_random(nq, -1, 1, rng), tu_random(nk, -1, 1, rng), tu_random(nk, -1, 1, rng)};
    float *w = tu_random(nq, -1, 1, rng);
    drop_graph f, u, plain;
    uint64_t seed = 1234 + *rng % 1000;
    drop_build(&f, c, p, seed, 0);
    drop_build(&u, c, p, seed, 1);
    drop_build(&plain, c, 0.0f, seed, 0);
    float *of = malloc(nq * 4), *ou = malloc(nq * 4), *op = malloc(nq * 4), *prev = malloc(nq * 4);
    float *gf[3], *gu[3], *gp[3];
    for (int t = 0; t < 3; t++) {
        gf[t] = malloc((t ? nk : nq) * 4);
        gu[t] = malloc((t ? nk : nq) * 4);
        gp[t] = malloc((t ? nk : nq) * 4);
    }
    drop_run(&plain, host, w, nq, nk, op, gp);
    for (int run = 0; run < 2; run++) {
        drop_run(&f, host, w, nq, nk, of, gf);
        drop_run(&u, host, w, nq, nk, ou, gu);
        double e = tu_nmse_f(of, ou, nq);
        ck_assert_msg(e < 1e-10, "dropout %g run %d: fused vs unfused NMSE %.3g", (double)p, run, e);
        for (int t = 0; t < 3; t++) {
            double ge = tu_nmse_f(gf[t], gu[t], t ? nk : nq);
            ck_assert_msg(ge < 1e-9, "dropout %g run %d: gradient of %c fused vs unfused NMSE %.3g", (double)p, run,
                          "qkv"[t], ge);
        }
        /* dropout did something, and a new run draws a new mask */
        ck_assert_msg(tu_nmse_f(of, op, nq) > 1e-4, "dropout %g changed nothing", (double)p);
        if (run) ck_assert_msg(tu_nmse_f(of, prev, nq) > 1e-4, "dropout %g: same mask in two runs", (double)p);
        memcpy(prev, of, nq * 4);
    }
    /* eval mode: no dropout */
    TU_OK(oclnn_graph_set_training(f.g, 0));
    drop_run(&f, host, w, nq, nk, of, gf);
    ck_assert_msg(tu_nmse_f(of, op, nq) < 1e-12, "eval mode still drops");
    for (int t = 0; t < 3; t++) {
        free(host[t]);
        free(gf[t]);
        free(gu[t]);
        free(gp[t]);
    }
    free(w);
    free(of);
    free(ou);
    free(op);
    free(prev);
    oclnn_graph_release(f.g);
    oclnn_graph_release(u.g);
    oclnn_graph_release(plain.g);
}

START_TEST(test_sdpa_dropout)
{
    uint64_t rng = tu_seed() + 19;
    oclnn_context *ctx = tu_context();
    int was_cpu = ctx->info.is_cpu;
    for (int other = 0; other < 2; other++) { /* this device's kernels, then the other device type's */
        ctx->info.is_cpu = other ? !was_cpu : was_cpu;
        cfg a = {.n = 2, .h = 2, .lq = 33, .lk = 19, .d = 32};
        check_dropout(&a, 0.3f, &rng);
        cfg b = {.n = 1, .h = 3, .lq = 40, .lk = 40, .d = 64, .causal = 1};
        check_dropout(&b, 0.1f, &rng);
        cfg c = {.n = 1, .h = 1, .lq = 7, .lk = 9, .d = 20};
        check_dropout(&c, 0.5f, &rng);
    }
    ctx->info.is_cpu = was_cpu;
}
END_TEST

int main(void)
{
    /* several cases, so that CK_RUN_CASE can pick one */
    Suite *s = suite_create("attention");
    TCase *tc[6];
    const char *names[6] = {"fused", "unfused", "head_dims", "other_device", "dropout", "mha_and_errors"};
    for (int i = 0; i < 6; i++) {
        tc[i] = tcase_create(names[i]);
        tcase_set_timeout(tc[i], 600);
        suite_add_tcase(s, tc[i]);
    }
    tcase_add_loop_test(tc[0], test_sdpa_fused_forward_backward, 0, NCASES);
    tcase_add_test(tc[0], test_sdpa_many_heads);
    tcase_add_test(tc[0], test_sdpa_finite_differences);
    tcase_add_loop_test(tc[1], test_sdpa_unfused_forward_backward, 0, NCASES);
    tcase_add_test(tc[1], test_sdpa_fused_matches_unfused);
    tcase_add_test(tc[2], test_sdpa_head_dims);
    tcase_add_test(tc[3], test_sdpa_other_device_kernels);
    tcase_add_test(tc[4], test_sdpa_dropout);
    tcase_add_test(tc[5], test_sdpa_bad_input_is_a_clear_error);
    tcase_add_test(tc[5], test_mha_matches_reference);
    tcase_add_test(tc[5], test_mha_weight_names);
    return tu_run_suite(s);
}
