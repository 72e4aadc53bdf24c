/* LSTM and GRU: forward and every gradient against a double-precision host
 * implementation of PyTorch's equations (itself checked by central finite
 * differences), on odd sizes, 1-3 layers, both directions, both layouts,
 * with and without lengths and initial states, with the loss reaching the
 * layer through any of output, h_n and c_n; intermediates poisoned with NaN
 * and outputs with a sentinel; bad shapes and lengths give errors that name
 * the tensor; PyTorch fixtures (tests/gen/rnn_fixtures.py) are matched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { LSTM = 0, GRU = 1 };

typedef struct cfg {
    int mode, N, T, I, H, L, bidir, batch_first;
    int with_len, with_h0;
    int terms; /* bit 0: output, bit 1: h_n, bit 2: c_n in the loss */
    int x_data; /* the input is data (no gradient), not a parameter */
} cfg;

static int ngates(const cfg *c) { return c->mode == LSTM ? 4 : 3; }
static int ndir(const cfg *c) { return c->bidir ? 2 : 1; }
static int in_size(const cfg *c, int l) { return l ? ndir(c) * c->H : c->I; }
static size_t row(const cfg *c, int n, int t) { return c->batch_first ? (size_t)n * c->T + t : (size_t)t * c->N + n; }

/* ---- the problem: inputs, weights, loss weights (double copies of the floats) */
typedef struct problem {
    cfg c;
    int *len;                 /* [N] */
    double *x, *h0, *c0;      /* x in the layout of c; h0, c0 [L*D, N, H] */
    double *w[3][2][4];       /* weight_ih, weight_hh, bias_ih, bias_hh per layer, direction */
    double *wy, *wh, *wc;     /* loss weights of output, h_n, c_n */
} problem;

static size_t wsize(const cfg *c, int l, int k)
{
    size_t gh = (size_t)ngates(c) * c->H;
    return k == 0 ? gh * in_size(c, l) : k == 1 ? gh * c->H : gh;
}

static double *rnd(size_t n, double lo, double hi, uint64_t *rng)
{
    float *f = tu_random(n, (float)lo, (float)hi, rng);
    double *d = malloc((n ? n : 1) * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = f[i];
    free(f);
    return d;
}

static problem make_problem(const cfg *c, uint64_t *rng)
{
    problem p;
    memset(&p, 0, sizeof p);
    p.c = *c;
    size_t st = (size_t)c->L * ndir(c) * c->N * c->H;
    p.len = malloc((size_t)c->N * sizeof *p.len);
    for (int n = 0; n < c->N; n++) {
        float u;
        tu_fill_uniform(&u, 1, 0.0f, 1.0f, rng);
        /* 0 .. T, with the full length and 0 both likely on small T */
        p.len[n] = c->with_len ? (int)(u * (c->T + 1)) : c->T;
        if (p.len[n] > c->T) p.len[n] = c->T;
    }
    if (c->with_len && c->N > 1) p.len[0] = c->T; /* at least one full sequence */
    p.x = rnd((size_t)c->N * c->T * c->I, -1, 1, rng);
    p.h0 = rnd(st, -1, 1, rng);
    p.c0 = rnd(st, -1, 1, rng);
    if (!c->with_h0) {
        memset(p.h0, 0, st * sizeof *p.h0);
        memset(p.c0, 0, st * sizeof *p.c0);
    }
    double k = 1.0 / sqrt((double)c->H);
    for (int l = 0; l < c->L; l++)
        for (int d = 0; d < ndir(c); d++)
            for (int w = 0; w < 4; w++) p.w[l][d][w] = rnd(wsize(c, l, w), -k * 1.5, k * 1.5, rng);
    size_t ny = (size_t)c->N * c->T * ndir(c) * c->H;
    p.wy = rnd(ny, -1, 1, rng);
    p.wh = rnd(st, -1, 1, rng);
    p.wc = rnd(st, -1, 1, rng);
    if (!(c->terms & 1)) memset(p.wy, 0, ny * sizeof *p.wy);
    if (!(c->terms & 2)) memset(p.wh, 0, st * sizeof *p.wh);
    if (!(c->terms & 4) || c->mode == GRU) memset(p.wc, 0, st * sizeof *p.wc);
    return p;
}

static void free_problem(problem *p)
{
    free(p->len);
    free(p->x);
    free(p->h0);
    free(p->c0);
    for (int l = 0; l < 3; l++)
        for (int d = 0; d < 2; d++)
            for (int w = 0; w < 4; w++) free(p->w[l][d][w]);
    free(p->wy);
    free(p->wh);
    free(p->wc);
}

/* ---- host reference in double */
typedef struct saved {
    double *gates; /* [D][rows][4H] activated gates (GRU: r, z, n, W_hn h + b_hn) */
    double *hp, *cp; /* [D][rows][H] state before each step */
    int *valid;    /* [rows] */
} saved;

typedef struct result {
    double *y[3];  /* per layer output [rows][D*H] */
    double *hn, *cn; /* [L*D][N][H] */
    saved sv[3];
} result;

static double sigm(double v) { return 1.0 / (1.0 + exp(-v)); }

static void ref_forward(const problem *p, result *r)
{
    const cfg *c = &p->c;
    const int N = c->N, T = c->T, H = c->H, D = ndir(c), G = ngates(c);
    const size_t rows = (size_t)N * T, st = (size_t)c->L * D * N * H;
    r->hn = calloc(st, sizeof(double));
    r->cn = calloc(st, sizeof(double));
    const double *in = p->x;
    double *pre = malloc((size_t)4 * H * sizeof *pre), *h = malloc((size_t)H * sizeof *h);
    double *cc = malloc((size_t)H * sizeof *cc);
    for (int l = 0; l < c->L; l++) {
        const int I = in_size(c, l);
        double *y = r->y[l] = calloc(rows * D * H, sizeof(double));
        saved *sv = &r->sv[l];
        sv->gates = calloc((size_t)D * rows * 4 * H, sizeof(double));
        sv->hp = calloc((size_t)D * rows * H, sizeof(double));
        sv->cp = calloc((size_t)D * rows * H, sizeof(double));
        sv->valid = calloc(rows, sizeof(int));
        for (int d = 0; d < D; d++) {
            const double *wih = p->w[l][d][0], *whh = p->w[l][d][1], *bih = p->w[l][d][2], *bhh = p->w[l][d][3];
            for (int n = 0; n < N; n++) {
                size_t s0 = ((size_t)(l * D + d) * N + n) * H;
                memcpy(h, p->h0 + s0, (size_t)H * sizeof *h);
                memcpy(cc, p->c0 + s0, (size_t)H * sizeof *cc);
                for (int step = 0; step < T; step++) {
                    int t = d ? T - 1 - step : step;
                    size_t rw = row(c, n, t);
                    const double *xr = in + rw * I;
                    if (t >= p->len[n]) continue; /* output 0, state kept */
                    sv->valid[rw] = 1;
                    double *gs = sv->gates + ((size_t)d * rows + rw) * 4 * H;
                    memcpy(sv->hp + ((size_t)d * rows + rw) * H, h, (size_t)H * sizeof *h);
                    memcpy(sv->cp + ((size_t)d * rows + rw) * H, cc, (size_t)H * sizeof *cc);
                    for (int gj = 0; gj < G * H; gj++) {
                        double a = bih[gj], b = bhh[gj];
                        for (int i = 0; i < I; i++) a += wih[(size_t)gj * I + i] * xr[i];
                        for (int k = 0; k < H; k++) b += whh[(size_t)gj * H + k] * h[k];
                        if (c->mode == GRU && gj >= 2 * H) {
                            pre[gj] = a;
                            pre[gj + H] = b; /* W_hn h + b_hn */
                        } else {
                            pre[gj] = a + b;
                        }
                    }
                    for (int j = 0; j < H; j++) {
                        if (c->mode == LSTM) {
                            double i = sigm(pre[j]), f = sigm(pre[H + j]), g = tanh(pre[2 * H + j]);
                            double o = sigm(pre[3 * H + j]);
                            cc[j] = f * cc[j] + i * g;
                            h[j] = o * tanh(cc[j]);
                            gs[j] = i, gs[H + j] = f, gs[2 * H + j] = g, gs[3 * H + j] = o;
                        } else {
                            double rg = sigm(pre[j]), zg = sigm(pre[H + j]), hl = pre[3 * H + j];
                            double ng = tanh(pre[2 * H + j] + rg * hl);
                            h[j] = (1 - zg) * ng + zg * h[j];
                            gs[j] = rg, gs[H + j] = zg, gs[2 * H + j] = ng, gs[3 * H + j] = hl;
                        }
                        y[rw * D * H + (size_t)d * H + j] = h[j];
                    }
                }
                memcpy(r->hn + s0, h, (size_t)H * sizeof *h);
                memcpy(r->cn + s0, cc, (size_t)H * sizeof *cc);
            }
        }
        in = y;
    }
    free(pre);
    free(h);
    free(cc);
}

static void free_result(result *r, int L)
{
    for (int l = 0; l < L; l++) {
        free(r->y[l]);
        free(r->sv[l].gates);
        free(r->sv[l].hp);
        free(r->sv[l].cp);
        free(r->sv[l].valid);
    }
    free(r->hn);
    free(r->cn);
}

static double ref_loss(const problem *p, const result *r)
{
    const cfg *c = &p->c;
    size_t ny = (size_t)c->N * c->T * ndir(c) * c->H, st = (size_t)c->L * ndir(c) * c->N * c->H;
    double s = 0;
    for (size_t i = 0; i < ny; i++) s += p->wy[i] * r->y[c->L - 1][i];
    for (size_t i = 0; i < st; i++) s += p->wh[i] * r->hn[i] + p->wc[i] * r->cn[i];
    return s;
}

/* Gradients of ref_loss: dx, dh0, dc0, dw[l][d][k]. */
typedef struct grads {
    double *x, *h0, *c0, *w[3][2][4];
} grads;

static void ref_backward(const problem *p, const result *r, grads *gr)
{
    const cfg *c = &p->c;
    const int N = c->N, T = c->T, H = c->H, D = ndir(c), G = ngates(c);
    const size_t rows = (size_t)N * T, st = (size_t)c->L * D * N * H;
    gr->h0 = calloc(st, sizeof(double));
    gr->c0 = calloc(st, sizeof(double));
    double *dy = malloc(rows * D * H * sizeof *dy);
    memcpy(dy, p->wy, rows * D * H * sizeof *dy);
    double *dgi = malloc((size_t)4 * H * sizeof *dgi), *dgh = malloc((size_t)4 * H * sizeof *dgh);
    double *dh = malloc((size_t)H * sizeof *dh), *dc = malloc((size_t)H * sizeof *dc);
    double *dhn = malloc((size_t)H * sizeof *dhn);
    for (int l = c->L - 1; l >= 0; l--) {
        const int I = in_size(c, l);
        const double *in = l ? r->y[l - 1] : p->x;
        const saved *sv = &r->sv[l];
        double *dx = calloc(rows * I, sizeof(double));
        for (int d = 0; d < D; d++) {
            const double *wih = p->w[l][d][0], *whh = p->w[l][d][1];
            for (int k = 0; k < 4; k++) gr->w[l][d][k] = calloc(wsize(c, l, k), sizeof(double));
            double *gwih = gr->w[l][d][0], *gwhh = gr->w[l][d][1], *gbih = gr->w[l][d][2], *gbhh = gr->w[l][d][3];
            for (int n = 0; n < N; n++) {
                size_t s0 = ((size_t)(l * D + d) * N + n) * H;
                memcpy(dh, p->wh + s0, (size_t)H * sizeof *dh);
                memcpy(dc, p->wc + s0, (size_t)H * sizeof *dc);
                for (int step = 0; step < T; step++) {
                    int t = d ? step : T - 1 - step;
                    size_t rw = row(c, n, t);
                    if (!sv->valid[rw]) continue;
                    const double *gs = sv->gates + ((size_t)d * rows + rw) * 4 * H;
                    const double *hp = sv->hp + ((size_t)d * rows + rw) * H, *cp = sv->cp + ((size_t)d * rows + rw) * H;
                    for (int j = 0; j < H; j++) {
                        double dht = dy[rw * D * H + (size_t)d * H + j] + dh[j];
                        if (c->mode == LSTM) {
                            double i = gs[j], f = gs[H + j], g = gs[2 * H + j], o = gs[3 * H + j];
                            double tc = tanh(f * cp[j] + i * g);
                            double dct = dc[j] + dht * o * (1 - tc * tc);
                            dgi[j] = dct * g * i * (1 - i);
                            dgi[H + j] = dct * cp[j] * f * (1 - f);
                            dgi[2 * H + j] = dct * i * (1 - g * g);
                            dgi[3 * H + j] = dht * tc * o * (1 - o);
                            dc[j] = dct * f;
                            dhn[j] = 0;
                        } else {
                            double rg = gs[j], zg = gs[H + j], ng = gs[2 * H + j], hl = gs[3 * H + j];
                            double dn = dht * (1 - zg) * (1 - ng * ng);
                            double dz = dht * (hp[j] - ng) * zg * (1 - zg);
                            double dr = dn * hl * rg * (1 - rg);
                            dgi[j] = dgh[j] = dr;
                            dgi[H + j] = dgh[H + j] = dz;
                            dgi[2 * H + j] = dn;
                            dgh[2 * H + j] = dn * rg;
                            dhn[j] = dht * zg;
                        }
                    }
                    const double *gh = c->mode == LSTM ? dgi : dgh;
                    for (int k = 0; k < H; k++) {
                        double s = dhn[k];
                        for (int gj = 0; gj < G * H; gj++) s += gh[gj] * whh[(size_t)gj * H + k];
                        dh[k] = s;
                    }
                    for (int gj = 0; gj < G * H; gj++) {
                        gbih[gj] += dgi[gj];
                        gbhh[gj] += gh[gj];
                        for (int i = 0; i < I; i++) {
                            gwih[(size_t)gj * I + i] += dgi[gj] * in[rw * I + i];
                            dx[rw * I + i] += dgi[gj] * wih[(size_t)gj * I + i];
                        }
                        for (int k = 0; k < H; k++) gwhh[(size_t)gj * H + k] += gh[gj] * hp[k];
                    }
                }
                memcpy(gr->h0 + s0, dh, (size_t)H * sizeof *dh);
                memcpy(gr->c0 + s0, dc, (size_t)H * sizeof *dc);
            }
        }
        if (l) {
            free(dy);
            dy = dx;
        } else {
            gr->x = dx;
        }
    }
    free(dy);
    free(dgi);
    free(dgh);
    free(dh);
    free(dc);
    free(dhn);
}

static void free_grads(grads *g)
{
    free(g->x);
    free(g->h0);
    free(g->c0);
    for (int l = 0; l < 3; l++)
        for (int d = 0; d < 2; d++)
            for (int k = 0; k < 4; k++) free(g->w[l][d][k]);
}

static double loss_of(const problem *p)
{
    result r;
    memset(&r, 0, sizeof r);
    ref_forward(p, &r);
    double v = ref_loss(p, &r);
    free_result(&r, p->c.L);
    return v;
}

/* Central differences of the host loss at a few elements of a tensor. */
static void fd_check(problem *p, double *v, const double *analytic, size_t n, const char *what)
{
    const double eps = 1e-5;
    size_t stride = n > 6 ? n / 6 : 1;
    for (size_t i = 0; i < n; i += stride) {
        double keep = v[i];
        v[i] = keep + eps;
        double lp = loss_of(p);
        v[i] = keep - eps;
        double lm = loss_of(p);
        v[i] = keep;
        double fd = (lp - lm) / (2 * eps);
        ck_assert_msg(fabs(fd - analytic[i]) <= 1e-6 * (1 + fabs(fd)), "%s[%zu]: analytic %.10g, differences %.10g",
                      what, i, analytic[i], fd);
    }
}

/* ---- the device side */
static const char *wnames[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};

static oclnn_tensor *find_weight(oclnn_graph *g, const char *prefix, int k, int l, int d)
{
    char name[128];
    snprintf(name, sizeof name, "%s.%s_l%d%s", prefix, wnames[k], l, d ? "_reverse" : "");
    oclnn_tensor *t = oclnn_graph_find(g, name);
    ck_assert_msg(t != NULL, "no tensor %s", name);
    return t;
}

static void write_d(oclnn_tensor *t, const double *v, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = (float)v[i];
    TU_OK(oclnn_tensor_write(t, f, n * sizeof *f));
    free(f);
}

static float *read_f(oclnn_tensor *t, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof *f);
    TU_OK(oclnn_tensor_read(t, f, n * sizeof *f));
    return f;
}

static void expect_close(oclnn_tensor *t, const double *want, size_t n, double limit, const char *what,
                         const char *name)
{
    float *got = read_f(t, n);
    ck_assert_msg(tu_count_poison(got, n) == 0, "%s: %s: %d elements never written", name, what,
                  tu_count_poison(got, n));
    /* NMSE, with the values' scale floored at 1e-2: a tensor of a few
     * elements that happen to cancel to ~1e-4 (an h of one unit) is judged
     * by the float rounding of its O(1) terms, not by its own size. */
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        den += want[i] * want[i];
    }
    double e = num / (den + (double)n * 1e-4);
    ck_assert_msg(e <= limit, "%s: %s NMSE %.3g > %.3g (first: got %g want %g)", name, what, e, limit,
                  n ? got[0] : 0.0, n ? want[0] : 0.0);
    free(got);
}

static void cfg_name(const cfg *c, char *buf, size_t size)
{
    snprintf(buf, size, "%s N%d T%d I%d H%d L%d %s %s%s%s terms%d", c->mode == LSTM ? "lstm" : "gru", c->N, c->T,
             c->I, c->H, c->L, c->bidir ? "bidir" : "uni", c->batch_first ? "batch_first" : "time_major",
             c->with_len ? " lengths" : "", c->with_h0 ? " h0" : "", c->terms);
}

static void run_case(const cfg *c, uint64_t *rng, int check_fd)
{
    char name[160];
    cfg_name(c, name, sizeof name);
    problem p = make_problem(c, rng);
    result r;
    memset(&r, 0, sizeof r);
    ref_forward(&p, &r);
    grads gr;
    memset(&gr, 0, sizeof gr);
    ref_backward(&p, &r, &gr);
    const int D = ndir(c), lstm = c->mode == LSTM;
    const size_t nx = (size_t)c->N * c->T * c->I, ny = (size_t)c->N * c->T * D * c->H;
    const size_t st = (size_t)c->L * D * c->N * c->H;
    if (check_fd) {
        fd_check(&p, p.x, gr.x, nx, "host dx");
        if (c->with_h0) {
            fd_check(&p, p.h0, gr.h0, st, "host dh0");
            if (lstm) fd_check(&p, p.c0, gr.c0, st, "host dc0");
        }
        for (int l = 0; l < c->L; l++)
            for (int d = 0; d < D; d++)
                for (int k = 0; k < 4; k++) fd_check(&p, p.w[l][d][k], gr.w[l][d][k], wsize(c, l, k), wnames[k]);
    }

    oclnn_graph *g = oclnn_graph_create(tu_context());
    int64_t xd[3] = {c->batch_first ? c->N : c->T, c->batch_first ? c->T : c->N, c->I};
    int64_t sd[3] = {(int64_t)c->L * D, c->N, c->H}, nd = c->N;
    int64_t yd[3] = {xd[0], xd[1], (int64_t)D * c->H};
    oclnn_tensor *x = c->x_data ? oclnn_input(g, "x", OCLNN_DTYPE_F32, 3, xd) : oclnn_param(g, "x", 3, xd);
    oclnn_tensor *h0 = c->with_h0 ? oclnn_param(g, "h0", 3, sd) : NULL;
    oclnn_tensor *c0 = c->with_h0 && lstm ? oclnn_param(g, "c0", 3, sd) : NULL;
    oclnn_tensor *len = c->with_len ? oclnn_input(g, "lengths", OCLNN_DTYPE_I32, 1, &nd) : NULL;
    oclnn_tensor *wy = oclnn_input(g, "wy", OCLNN_DTYPE_F32, 3, yd), *wh = oclnn_input(g, "wh", OCLNN_DTYPE_F32, 3, sd);
    oclnn_tensor *wc = oclnn_input(g, "wc", OCLNN_DTYPE_F32, 3, sd);
    oclnn_rnn_options o = {.hidden_size = c->H, .num_layers = c->L, .batch_first = c->batch_first,
                           .bidirectional = c->bidir, .prefix = "rnn"};
    oclnn_rnn_result out;
    if (lstm) TU_OK(oclnn_lstm(g, x, h0, c0, len, &o, &out));
    else TU_OK(oclnn_gru(g, x, h0, len, &o, &out));
    oclnn_tensor *loss = NULL;
    if (c->terms & 1) loss = oclnn_sum_all(g, oclnn_mul(g, out.output, wy));
    if (c->terms & 2) {
        oclnn_tensor *t = oclnn_sum_all(g, oclnn_mul(g, out.h_n, wh));
        loss = loss ? oclnn_add(g, loss, t) : t;
    }
    if ((c->terms & 4) && lstm) {
        oclnn_tensor *t = oclnn_sum_all(g, oclnn_mul(g, out.c_n, wc));
        loss = loss ? oclnn_add(g, loss, t) : t;
    }
    TU_OK(oclnn_graph_output(g, out.output));
    TU_OK(oclnn_graph_output(g, out.h_n));
    if (lstm) TU_OK(oclnn_graph_output(g, out.c_n));
    TU_OK(oclnn_graph_backward(g, loss));
    oclnn_compile_options co = {.poison_intermediates = 1};
    TU_OK(oclnn_graph_compile(g, &co));

    write_d(x, p.x, nx);
    if (h0) write_d(h0, p.h0, st);
    if (c0) write_d(c0, p.c0, st);
    if (len) TU_OK(oclnn_tensor_write(len, p.len, (size_t)c->N * sizeof(int)));
    write_d(wy, p.wy, ny);
    write_d(wh, p.wh, st);
    write_d(wc, p.wc, st);
    for (int l = 0; l < c->L; l++)
        for (int d = 0; d < D; d++)
            for (int k = 0; k < 4; k++) write_d(find_weight(g, "rnn", k, l, d), p.w[l][d][k], wsize(c, l, k));
    TU_OK(oclnn_tensor_fill(out.output, TU_POISON));
    TU_OK(oclnn_tensor_fill(out.h_n, TU_POISON));
    if (lstm) TU_OK(oclnn_tensor_fill(out.c_n, TU_POISON));
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));

    expect_close(out.output, r.y[c->L - 1], ny, 1e-10, "output", name);
    expect_close(out.h_n, r.hn, st, 1e-10, "h_n", name);
    if (lstm) expect_close(out.c_n, r.cn, st, 1e-10, "c_n", name);
    const double gl = 1e-8;
    if (c->x_data) ck_assert_ptr_null(oclnn_tensor_grad(x));
    else expect_close(oclnn_tensor_grad(x), gr.x, nx, gl, "dx", name);
    if (h0) expect_close(oclnn_tensor_grad(h0), gr.h0, st, gl, "dh0", name);
    if (c0) expect_close(oclnn_tensor_grad(c0), gr.c0, st, gl, "dc0", name);
    for (int l = 0; l < c->L; l++)
        for (int d = 0; d < D; d++)
            for (int k = 0; k < 4; k++) {
                char what[64];
                snprintf(what, sizeof what, "d%s_l%d%s", wnames[k], l, d ? "_reverse" : "");
                expect_close(oclnn_tensor_grad(find_weight(g, "rnn", k, l, d)), gr.w[l][d][k], wsize(c, l, k), gl,
                             what, name);
            }
    oclnn_graph_release(g);
    free_grads(&gr);
    free_result(&r, c->L);
    free_problem(&p);
}

/* {mode, N, T, I, H, L, bidir, batch_first, lengths, h0, terms[, x_data]} */
static const cfg cases[] = {
    {LSTM, 1, 1, 1, 1, 1, 0, 1, 0, 1, 7, 0},
    {LSTM, 3, 7, 7, 3, 2, 1, 0, 1, 1, 7, 0},
    {LSTM, 7, 33, 3, 7, 1, 1, 1, 1, 0, 1, 0},
    {LSTM, 33, 3, 1, 33, 3, 0, 0, 1, 1, 2, 0},
    {LSTM, 3, 33, 33, 1, 3, 1, 1, 0, 1, 4, 0},
    {LSTM, 7, 3, 7, 7, 2, 0, 1, 1, 1, 6, 0},
    {LSTM, 1, 7, 3, 33, 2, 1, 0, 0, 0, 3, 0},
    {LSTM, 3, 7, 7, 3, 2, 1, 1, 1, 1, 7, 1},
    {GRU, 1, 1, 1, 1, 1, 0, 1, 0, 1, 3, 0},
    {GRU, 3, 7, 7, 3, 2, 1, 0, 1, 1, 3, 0},
    {GRU, 7, 33, 3, 7, 1, 1, 1, 1, 0, 1, 0},
    {GRU, 33, 3, 1, 33, 3, 0, 0, 1, 1, 2, 0},
    {GRU, 3, 33, 33, 1, 3, 1, 1, 0, 1, 1, 0},
    {GRU, 7, 3, 7, 7, 2, 0, 1, 1, 1, 2, 0},
    {GRU, 1, 7, 3, 33, 2, 1, 0, 0, 0, 3, 0},
    {GRU, 7, 3, 7, 7, 2, 1, 0, 1, 0, 1, 1},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

START_TEST(test_vs_host)
{
    uint64_t rng = tu_seed() + 1000 + (uint64_t)_i;
    run_case(&cases[_i], &rng, 0);
}
END_TEST

/* The host gradients themselves against finite differences (small sizes). */
static const cfg fd_cases[] = {
    {LSTM, 2, 4, 3, 2, 2, 1, 1, 1, 1, 7, 0},
    {LSTM, 3, 3, 2, 3, 1, 1, 0, 0, 1, 5, 0},
    {GRU, 2, 4, 3, 2, 2, 1, 0, 1, 1, 3, 0},
    {GRU, 3, 3, 2, 3, 1, 0, 1, 0, 1, 2, 0},
};

START_TEST(test_finite_differences)
{
    uint64_t rng = tu_seed() + 2000 + (uint64_t)_i;
    cfg c = fd_cases[_i];
    run_case(&c, &rng, 1);
}
END_TEST

/* ---- errors: each names the tensor and both shapes */
static void expect_build_error(oclnn_graph *g, oclnn_status s, const char *const *needles)
{
    ck_assert_msg(s != OCLNN_OK, "accepted");
    ck_assert_int_eq(oclnn_graph_status(g), s);
    const char *msg = oclnn_graph_error(g);
    for (; *needles; needles++) ck_assert_msg(strstr(msg, *needles), "'%s' not in: %s", *needles, msg);
    oclnn_graph_release(g);
}

START_TEST(test_errors)
{
    oclnn_rnn_result out;
    oclnn_rnn_options o = {.hidden_size = 4, .num_layers = 2, .batch_first = 1};
    int64_t xd[3] = {3, 5, 2};

    /* a weight that exists with the wrong shape */
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 3, xd);
    oclnn_param(g, "lstm.weight_hh_l1", 2, (int64_t[]){16, 5});
    const char *w_msg[] = {"lstm.weight_hh_l1", "[16, 5]", "[16, 4]", NULL};
    expect_build_error(g, oclnn_lstm(g, x, NULL, NULL, NULL, &o, &out), w_msg);
    ck_assert_ptr_null(out.output);

    /* h0 of the wrong shape */
    g = oclnn_graph_create(tu_context());
    x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 3, xd);
    oclnn_tensor *h0 = oclnn_input(g, "h0", OCLNN_DTYPE_F32, 3, (int64_t[]){1, 3, 4});
    const char *h_msg[] = {"gru", "h0", "[1, 3, 4]", "[2, 3, 4]", NULL};
    expect_build_error(g, oclnn_gru(g, x, h0, NULL, &o, &out), h_msg);

    /* c0 of the wrong shape, bidirectional */
    g = oclnn_graph_create(tu_context());
    x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 3, xd);
    oclnn_rnn_options ob = o;
    ob.bidirectional = 1;
    oclnn_tensor *c0 = oclnn_input(g, "c0", OCLNN_DTYPE_F32, 3, (int64_t[]){2, 3, 4});
    const char *c_msg[] = {"c0", "[2, 3, 4]", "[4, 3, 4]", NULL};
    expect_build_error(g, oclnn_lstm(g, x, NULL, c0, NULL, &ob, &out), c_msg);

    /* a non-f32 input */
    g = oclnn_graph_create(tu_context());
    x = oclnn_input(g, "x", OCLNN_DTYPE_I32, 3, xd);
    const char *x_msg[] = {"input", "i32", "[3, 5, 2]", "[N, T, I]", NULL};
    expect_build_error(g, oclnn_lstm(g, x, NULL, NULL, NULL, &o, &out), x_msg);

    /* lengths of the wrong dtype and size */
    g = oclnn_graph_create(tu_context());
    x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 3, xd);
    oclnn_tensor *len = oclnn_input(g, "len", OCLNN_DTYPE_F32, 1, (int64_t[]){5});
    const char *l_msg[] = {"lengths", "f32", "[5]", "i32 [N = 3]", NULL};
    expect_build_error(g, oclnn_gru(g, x, NULL, len, &o, &out), l_msg);

    /* a bad hidden size */
    g = oclnn_graph_create(tu_context());
    x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 3, xd);
    oclnn_rnn_options oh = {.hidden_size = 0};
    const char *o_msg[] = {"hidden_size 0", NULL};
    expect_build_error(g, oclnn_gru(g, x, NULL, NULL, &oh, &out), o_msg);

    /* lengths out of range: reported by the run */
    g = oclnn_graph_create(tu_context());
    x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 3, xd);
    len = oclnn_input(g, "len", OCLNN_DTYPE_I32, 1, (int64_t[]){3});
    TU_OK(oclnn_lstm(g, x, NULL, NULL, len, &o, &out));
    TU_OK(oclnn_graph_output(g, out.output));
    TU_OK(oclnn_graph_compile(g, NULL));
    float xs[30] = {0};
    TU_OK(oclnn_tensor_write(x, xs, sizeof xs));
    const int bad[2][3] = {{5, 6, 1}, {2, -1, 3}};
    for (int b = 0; b < 2; b++) {
        TU_OK(oclnn_tensor_write(len, bad[b], sizeof bad[b]));
        ck_assert_int_ne(oclnn_graph_run(g), OCLNN_OK);
        char want[64];
        snprintf(want, sizeof want, "lengths[1] = %d is outside [0, T = 5]", bad[b][1]);
        ck_assert_msg(strstr(oclnn_last_error(), want), "'%s' not in: %s", want, oclnn_last_error());
    }
    const int good[3] = {5, 0, 2};
    TU_OK(oclnn_tensor_write(len, good, sizeof good));
    TU_OK(oclnn_graph_run(g));
    /* zeros past each sequence's end (all of sequence 1), and the biases
     * (zero) with a zero input keep the rest at zero too: every element
     * written and finite */
    float *y = read_f(out.output, 3 * 5 * 4);
    for (int i = 0; i < 60; i++) ck_assert_msg(y[i] == 0.0f, "output[%d] = %g", i, y[i]);
    free(y);
    oclnn_graph_release(g);
}
END_TEST

/* A graph for a new batch size or sequence length compiles no program. */
START_TEST(test_no_rebuild_for_new_sizes)
{
    oclnn_context *ctx = tu_context();
    for (int k = 0; k < 3; k++) {
        unsigned before = oclnn_context_cache_stats(ctx).programs_built + oclnn_context_cache_stats(ctx).disk_hits;
        for (int mode = 0; mode < 2; mode++) {
            oclnn_graph *g = oclnn_graph_create(ctx);
            oclnn_tensor *x = oclnn_param(g, "x", 3, (int64_t[]){2 + k, 3 + 5 * k, 4});
            oclnn_rnn_options o = {.hidden_size = 5 + k, .bidirectional = 1, .batch_first = 1};
            oclnn_rnn_result out;
            TU_OK(mode ? oclnn_gru(g, x, NULL, NULL, &o, &out) : oclnn_lstm(g, x, NULL, NULL, NULL, &o, &out));
            TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, out.output)));
            TU_OK(oclnn_graph_compile(g, NULL));
            TU_OK(oclnn_graph_run(g));
            /* read before releasing: a process that exits with PoCL still
             * compiling a kernel can crash in LLVM's teardown */
            size_t nx = (size_t)oclnn_tensor_numel(x);
            float *dx = read_f(oclnn_tensor_grad(x), nx);
            for (size_t i = 0; i < nx; i++) ck_assert(isfinite(dx[i]));
            free(dx);
            oclnn_graph_release(g);
        }
        unsigned after = oclnn_context_cache_stats(ctx).programs_built + oclnn_context_cache_stats(ctx).disk_hits;
        if (k > 0) ck_assert_msg(after == before, "sizes set %d built %u programs", k, after - before);
    }
}
END_TEST

/* Inter-layer dropout: none in eval mode (the reference holds), a changing
 * mask in training mode, with gradients that stay finite. */
START_TEST(test_dropout)
{
    uint64_t rng = tu_seed() + 3000;
    cfg c = {LSTM, 3, 5, 4, 6, 2, 1, 1, 0, 0, 1, 0};
    problem p = make_problem(&c, &rng);
    result r;
    memset(&r, 0, sizeof r);
    ref_forward(&p, &r);
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_param(g, "x", 3, (int64_t[]){3, 5, 4});
    oclnn_rnn_options o = {.hidden_size = 6, .num_layers = 2, .batch_first = 1, .bidirectional = 1, .dropout = 0.5f};
    oclnn_rnn_result out;
    TU_OK(oclnn_lstm(g, x, NULL, NULL, NULL, &o, &out));
    TU_OK(oclnn_graph_output(g, out.output));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, out.output)));
    TU_OK(oclnn_graph_compile(g, NULL));
    write_d(x, p.x, 60);
    for (int l = 0; l < 2; l++)
        for (int d = 0; d < 2; d++)
            for (int k = 0; k < 4; k++) write_d(find_weight(g, "lstm", k, l, d), p.w[l][d][k], wsize(&c, l, k));
    TU_OK(oclnn_graph_set_training(g, 0));
    TU_OK(oclnn_graph_run(g));
    expect_close(out.output, r.y[1], 180, 1e-10, "eval output", "dropout");
    TU_OK(oclnn_graph_set_training(g, 1));
    float *y[2];
    for (int run = 0; run < 2; run++) {
        TU_OK(oclnn_graph_zero_grad(g));
        TU_OK(oclnn_graph_run(g));
        y[run] = read_f(out.output, 180);
        float *dx = read_f(oclnn_tensor_grad(x), 60);
        for (int i = 0; i < 60; i++) ck_assert_msg(isfinite(dx[i]), "dx[%d] = %g", i, dx[i]);
        free(dx);
    }
    ck_assert_msg(tu_nmse_f(y[0], y[1], 180) > 1e-6, "the mask did not change between runs");
    float *ev = malloc(180 * sizeof *ev);
    for (int i = 0; i < 180; i++) ev[i] = (float)r.y[1][i];
    ck_assert_msg(tu_nmse_f(y[0], ev, 180) > 1e-6, "training output equals the eval output");
    free(ev);
    free(y[0]);
    free(y[1]);
    oclnn_graph_release(g);
    free_result(&r, 2);
    free_problem(&p);
}
END_TEST

/* ---- PyTorch fixtures (tests/gen/rnn_fixtures.py): torch.nn.LSTM / GRU in
 * float64 on the same f32 inputs and weights. Each tensor must be within a
 * max error of 1e-4 relative to its largest element. */
START_TEST(test_pytorch_fixtures)
{
    const char *path = tu_data_path("rnn/rnn_fixtures.safetensors");
    oclnn_safetensors *st;
    TU_OK(oclnn_safetensors_load(path, &st));
    int cases_seen = 0;
    for (int k = 0;; k++) {
        char p[16], key[32];
        snprintf(p, sizeof p, "k%d.", k);
        snprintf(key, sizeof key, "%sconfig", p);
        const oclnn_st_tensor *ct = oclnn_safetensors_find(st, key);
        if (!ct) break;
        cases_seen++;
        const int *cf = ct->data;
        const int gru = cf[0], N = cf[1], T = cf[2], I = cf[3], H = cf[4], L = cf[5], D = cf[6] ? 2 : 1;
        const int bf = cf[7], has_len = cf[8], has_h0 = cf[9];
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%s%s", p, gru ? "gru" : "lstm");
        oclnn_graph *g = oclnn_graph_create(tu_context());
        int64_t xd[3] = {bf ? N : T, bf ? T : N, I}, sd[3] = {(int64_t)L * D, N, H}, nd = N;
        oclnn_tensor *x = oclnn_param(g, "input", 3, xd);
        oclnn_tensor *h0 = has_h0 ? oclnn_param(g, "h0", 3, sd) : NULL;
        oclnn_tensor *c0 = has_h0 && !gru ? oclnn_param(g, "c0", 3, sd) : NULL;
        oclnn_tensor *len = has_len ? oclnn_input(g, "lengths", OCLNN_DTYPE_I32, 1, &nd) : NULL;
        oclnn_rnn_options o = {.hidden_size = H, .num_layers = L, .batch_first = bf, .bidirectional = D == 2,
                               .prefix = prefix};
        oclnn_rnn_result out;
        if (gru) TU_OK(oclnn_gru(g, x, h0, len, &o, &out));
        else TU_OK(oclnn_lstm(g, x, h0, c0, len, &o, &out));
        int64_t yd[3] = {xd[0], xd[1], (int64_t)D * H};
        oclnn_tensor *wy = oclnn_input(g, "wy", OCLNN_DTYPE_F32, 3, yd), *wh = oclnn_input(g, "wh", OCLNN_DTYPE_F32, 3, sd);
        oclnn_tensor *loss = oclnn_add(g, oclnn_sum_all(g, oclnn_mul(g, out.output, wy)),
                                       oclnn_sum_all(g, oclnn_mul(g, out.h_n, wh)));
        oclnn_tensor *wc = NULL;
        if (!gru) {
            wc = oclnn_input(g, "wc", OCLNN_DTYPE_F32, 3, sd);
            loss = oclnn_add(g, loss, oclnn_sum_all(g, oclnn_mul(g, out.c_n, wc)));
        }
        TU_OK(oclnn_graph_output(g, out.output));
        TU_OK(oclnn_graph_output(g, out.h_n));
        if (!gru) TU_OK(oclnn_graph_output(g, out.c_n));
        TU_OK(oclnn_graph_backward(g, loss));
        TU_OK(oclnn_graph_compile(g, NULL));
        tu_fixture_write(x, tu_fixture_tensor(st, p, "input"));
        if (h0) tu_fixture_write(h0, tu_fixture_tensor(st, p, "h0"));
        if (c0) tu_fixture_write(c0, tu_fixture_tensor(st, p, "c0"));
        if (len) tu_fixture_write(len, tu_fixture_tensor(st, p, "lengths"));
        tu_fixture_write(wy, tu_fixture_tensor(st, p, "wy"));
        tu_fixture_write(wh, tu_fixture_tensor(st, p, "wh"));
        if (wc) tu_fixture_write(wc, tu_fixture_tensor(st, p, "wc"));
        for (int l = 0; l < L; l++)
            for (int d = 0; d < D; d++)
                for (int w = 0; w < 4; w++) {
                    oclnn_tensor *t = find_weight(g, prefix, w, l, d);
                    tu_fixture_write(t, tu_fixture_tensor(st, "", oclnn_tensor_name(t)));
                }
        TU_OK(oclnn_graph_zero_grad(g));
        TU_OK(oclnn_graph_run(g));
        tu_fixture_match(out.output, tu_fixture_tensor(st, p, "output"), 1e-4, "output");
        tu_fixture_match(out.h_n, tu_fixture_tensor(st, p, "h_n"), 1e-4, "h_n");
        if (!gru) tu_fixture_match(out.c_n, tu_fixture_tensor(st, p, "c_n"), 1e-4, "c_n");
        tu_fixture_match(oclnn_tensor_grad(x), tu_fixture_tensor(st, p, "grad.input"), 1e-4, "grad.input");
        if (h0) tu_fixture_match(oclnn_tensor_grad(h0), tu_fixture_tensor(st, p, "grad.h0"), 1e-4, "grad.h0");
        if (c0) tu_fixture_match(oclnn_tensor_grad(c0), tu_fixture_tensor(st, p, "grad.c0"), 1e-4, "grad.c0");
        for (int l = 0; l < L; l++)
            for (int d = 0; d < D; d++)
                for (int w = 0; w < 4; w++) {
                    oclnn_tensor *t = find_weight(g, prefix, w, l, d);
                    char gname[128];
                    snprintf(gname, sizeof gname, "grad.%s", oclnn_tensor_name(t) + strlen(p));
                    tu_fixture_match(oclnn_tensor_grad(t), tu_fixture_tensor(st, p, gname), 1e-4, oclnn_tensor_name(t));
                }
        oclnn_graph_release(g);
    }
    ck_assert_int_eq(cases_seen, 2);
    oclnn_safetensors_free(st);
}
END_TEST

/* ---- the course's models: fc(out[:, -1, :]) against the host reference,
 * with gradients; oclnn_graph_init_params gives PyTorch's bounds. */
static void model_case(int mode, int bidir, int with_len, uint64_t *rng)
{
    const int O = 5;
    cfg c = {mode, 4, 6, 10, 20, 2, bidir, 1, with_len, 0, 1, 0};
    problem p = make_problem(&c, rng);
    const int D = ndir(&c), F = D * c.H;
    double *fw = rnd((size_t)O * F, -0.3, 0.3, rng), *fb = rnd(O, -0.3, 0.3, rng), *wl = rnd((size_t)c.N * O, -1, 1, rng);
    /* the loss sum(logits * wl) reaches the output only at t = T-1 */
    size_t ny = (size_t)c.N * c.T * F;
    memset(p.wy, 0, ny * sizeof *p.wy);
    for (int n = 0; n < c.N; n++)
        for (int f = 0; f < F; f++) {
            double s = 0;
            for (int o = 0; o < O; o++) s += wl[n * O + o] * fw[o * F + f];
            p.wy[row(&c, n, c.T - 1) * F + f] = s;
        }
    result r;
    memset(&r, 0, sizeof r);
    ref_forward(&p, &r);
    grads gr;
    memset(&gr, 0, sizeof gr);
    ref_backward(&p, &r, &gr);
    double logits[4 * 5], dfw[5 * 40], dfb[5] = {0};
    for (int n = 0; n < c.N; n++)
        for (int o = 0; o < O; o++) {
            const double *last = r.y[1] + row(&c, n, c.T - 1) * F;
            double s = fb[o];
            for (int f = 0; f < F; f++) s += fw[o * F + f] * last[f];
            logits[n * O + o] = s;
            dfb[o] += wl[n * O + o];
        }
    for (int o = 0; o < O; o++)
        for (int f = 0; f < F; f++) {
            double s = 0;
            for (int n = 0; n < c.N; n++) s += wl[n * O + o] * r.y[1][row(&c, n, c.T - 1) * F + f];
            dfw[o * F + f] = s;
        }

    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_param(g, "x", 3, (int64_t[]){c.N, c.T, c.I});
    int64_t nd = c.N;
    oclnn_tensor *len = with_len ? oclnn_input(g, "lengths", OCLNN_DTYPE_I32, 1, &nd) : NULL;
    oclnn_tensor *w = oclnn_input(g, "wl", OCLNN_DTYPE_F32, 2, (int64_t[]){c.N, O});
    oclnn_rnn_options o = {.hidden_size = 20, .num_layers = 2, .bidirectional = bidir};
    oclnn_rnn_model m;
    if (mode == LSTM) TU_OK(oclnn_lstm_model(g, x, len, bidir ? &o : NULL, 0, &m));
    else TU_OK(oclnn_gru_model(g, x, len, bidir ? &o : NULL, 0, &m));
    ck_assert_int_eq(oclnn_tensor_dim(m.logits, 0), c.N);
    ck_assert_int_eq(oclnn_tensor_dim(m.logits, 1), O);
    TU_OK(oclnn_graph_output(g, m.logits));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, m.logits, w))));
    TU_OK(oclnn_graph_compile(g, NULL));

    /* PyTorch's initialisation bounds first */
    TU_OK(oclnn_graph_init_params(g, 7));
    const char *prefix = mode == LSTM ? "lstm" : "gru";
    oclnn_tensor *whh = find_weight(g, prefix, 1, 1, D - 1);
    size_t nw = (size_t)oclnn_tensor_numel(whh);
    float *v = read_f(whh, nw);
    double bound = 1.0 / sqrt(20.0), maxabs = 0;
    for (size_t i = 0; i < nw; i++) maxabs = fmax(maxabs, fabs(v[i]));
    ck_assert_msg(maxabs <= bound && maxabs > 0.8 * bound, "weight_hh init max |w| %g, bound %g", maxabs, bound);
    free(v);

    write_d(x, p.x, (size_t)c.N * c.T * c.I);
    if (len) TU_OK(oclnn_tensor_write(len, p.len, (size_t)c.N * sizeof(int)));
    write_d(w, wl, (size_t)c.N * O);
    for (int l = 0; l < c.L; l++)
        for (int d = 0; d < D; d++)
            for (int k = 0; k < 4; k++) write_d(find_weight(g, prefix, k, l, d), p.w[l][d][k], wsize(&c, l, k));
    write_d(oclnn_graph_find(g, "fc.weight"), fw, (size_t)O * F);
    write_d(oclnn_graph_find(g, "fc.bias"), fb, O);
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    const char *name = mode == LSTM ? "lstm_model" : "gru_model";
    expect_close(m.logits, logits, (size_t)c.N * O, 1e-10, "logits", name);
    expect_close(oclnn_tensor_grad(x), gr.x, (size_t)c.N * c.T * c.I, 1e-8, "dx", name);
    expect_close(oclnn_tensor_grad(oclnn_graph_find(g, "fc.weight")), dfw, (size_t)O * F, 1e-8, "dfc.weight", name);
    expect_close(oclnn_tensor_grad(oclnn_graph_find(g, "fc.bias")), dfb, O, 1e-10, "dfc.bias", name);
    for (int l = 0; l < c.L; l++)
        for (int d = 0; d < D; d++)
            for (int k = 0; k < 4; k++)
                expect_close(oclnn_tensor_grad(find_weight(g, prefix, k, l, d)), gr.w[l][d][k], wsize(&c, l, k),
                             1e-8, wnames[k], name);
    oclnn_graph_release(g);
    free(fw);
    free(fb);
    free(wl);
    free_grads(&gr);
    free_result(&r, c.L);
    free_problem(&p);
}

START_TEST(test_models)
{
    uint64_t rng = tu_seed() + 4000;
    model_case(LSTM, 0, 0, &rng);
    model_case(GRU, 0, 1, &rng);
    model_case(LSTM, 1, 1, &rng);
    model_case(GRU, 1, 0, &rng);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rnn");
    TCase *tc = tcase_create("rnn");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_vs_host, 0, NCASES);
    tcase_add_loop_test(tc, test_finite_differences, 0, (int)(sizeof fd_cases / sizeof fd_cases[0]));
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_no_rebuild_for_new_sizes);
    tcase_add_test(tc, test_dropout);
    tcase_add_test(tc, test_pytorch_fixtures);
    tcase_add_test(tc, test_models);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
