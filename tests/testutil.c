#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static oclnn_context *shared_ctx;

static void release_context(void) { oclnn_context_release(shared_ctx); }

oclnn_context *tu_context(void)
{
    if (!shared_ctx) {
        oclnn_status s = oclnn_context_create(NULL, &shared_ctx);
        ck_assert_msg(s == OCLNN_OK, "no test device: %s", oclnn_last_error());
        atexit(release_context);
    }
    return shared_ctx;
}

uint64_t tu_seed(void)
{
    static uint64_t seed;
    static int ready;
    if (!ready) {
        const char *env = getenv("OCLNN_TEST_SEED");
        seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
        fprintf(stderr, "test seed: OCLNN_TEST_SEED=%llu\n", (unsigned long long)seed);
        ready = 1;
    }
    return seed;
}

static uint64_t next(uint64_t *state)
{
    /* splitmix64: tiny, good enough for test data */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t *state)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)((next(state) >> 40) * (1.0 / 16777216.0));
}

float *tu_random(size_t n, float lo, float hi, uint64_t *state)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    tu_fill_uniform(x, n, lo, hi, state);
    return x;
}

double tu_nmse(const float *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += b[i] * b[i];
    }
    if (!isfinite(num)) return INFINITY;
    return den > 0 ? num / den : num;
}

double tu_nmse_f(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    if (!isfinite(num)) return INFINITY;
    return den > 0 ? num / den : num;
}

int tu_count_poison(const float *x, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++) c += x[i] == TU_POISON;
    return c;
}

int tu_run_suite(Suite *s)
{
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void tu_write_simple_cnn_weights(const char *path, int64_t hidden)
{
    const char *names[] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                           "fc1.weight",   "fc1.bias",   "fc2.weight",   "fc2.bias"};
    const int64_t shapes[8][4] = {{32, 1, 5, 5}, {32}, {64, 32, 5, 5}, {64}, {hidden, 3136}, {hidden}, {10, hidden}, {10}};
    const int ndims[8] = {4, 1, 4, 1, 2, 1, 2, 1};
    const double fan_in[8] = {25, 25, 800, 800, 3136, 3136, (double)hidden, (double)hidden};
    oclnn_st_tensor t[8];
    for (int p = 0; p < 8; p++) {
        size_t n = 1;
        for (int d = 0; d < ndims[p]; d++) n *= (size_t)shapes[p][d];
        float *v = malloc(n * sizeof *v);
        ck_assert_ptr_nonnull(v);
        double bound = 1.0 / sqrt(fan_in[p]);
        for (size_t k = 0; k < n; k++) v[k] = (float)(bound * sin(0.731 * (double)k + 0.377 * p + 0.1));
        t[p] = (oclnn_st_tensor){.name = (char *)names[p], .dtype = OCLNN_DTYPE_F32, .ndim = ndims[p],
                                 .nbytes = n * sizeof *v, .data = v};
        memcpy(t[p].shape, shapes[p], sizeof shapes[p]);
    }
    TU_OK(oclnn_safetensors_save(path, t, 8, NULL, NULL, 0));
    for (int p = 0; p < 8; p++) free(t[p].data);
}

static size_t numel_of(int ndim, const int64_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    return n;
}

/* ---- layouts */

const char *tu_layout_name(tu_layout layout)
{
    switch (layout) {
    case TU_CONTIGUOUS: return "contiguous";
    case TU_PERMUTED: return "permuted";
    case TU_OFFSET: return "offset";
    }
    return "?";
}

static void row_major(int ndim, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = s;
        s *= dims[d];
    }
}

void tu_view_create(tu_view *v, oclnn_graph *g, const char *name, oclnn_dtype dtype, int param, int ndim,
                    const int64_t *dims, tu_layout layout)
{
    ck_assert(ndim >= 0 && ndim <= 8);
    memset(v, 0, sizeof *v);
    v->layout = layout;
    v->dtype = param ? OCLNN_DTYPE_F32 : dtype;
    v->ndim = ndim;
    if (ndim) memcpy(v->dims, dims, (size_t)ndim * sizeof *dims);
    v->n = numel_of(ndim, dims);
    int64_t rm[8], leaf_dims[8], leaf_strides[8] = {0};
    int leaf_ndim = ndim;
    row_major(ndim, v->dims, rm);
    memcpy(leaf_dims, v->dims, sizeof leaf_dims);
    memcpy(v->stride, rm, sizeof rm);
    /* the two axes a PERMUTED view swaps: the last two longer than 1, so
     * the view really is strided (swapping a unit axis changes nothing) */
    int a = -1, b = -1;
    for (int d = ndim - 1; d >= 0 && a < 0; d--)
        if (v->dims[d] > 1) {
            if (b < 0) b = d;
            else a = d;
        }
    int append = 0;
    if (layout == TU_PERMUTED && a < 0) {
        if (ndim < 8) append = 1;
        else layout = TU_OFFSET;
    }
    if (layout == TU_PERMUTED && !append) {
        leaf_dims[a] = v->dims[b];
        leaf_dims[b] = v->dims[a];
        row_major(ndim, leaf_dims, leaf_strides);
        v->stride[a] = leaf_strides[b];
        v->stride[b] = leaf_strides[a];
    } else if (layout == TU_PERMUTED) {
        leaf_dims[ndim] = 2;
        leaf_ndim = ndim + 1;
        for (int d = 0; d < ndim; d++) v->stride[d] = 2 * rm[d];
        v->base = 1;
    } else if (layout == TU_OFFSET) {
        if (ndim == 0) {
            leaf_dims[0] = 2;
            leaf_ndim = 1;
            v->base = 1;
        } else {
            leaf_dims[0] += 1;
            v->base = rm[0];
        }
    }
    v->leaf_n = numel_of(leaf_ndim, leaf_dims);
    v->leaf = param ? oclnn_param(g, name, leaf_ndim, leaf_dims) : oclnn_input(g, name, dtype, leaf_ndim, leaf_dims);
    if (layout == TU_CONTIGUOUS) v->view = v->leaf;
    else if (layout == TU_PERMUTED && !append) v->view = oclnn_transpose(g, v->leaf, a, b);
    else if (layout == TU_PERMUTED) v->view = oclnn_reshape(g, oclnn_slice(g, v->leaf, -1, 1, 2), ndim, v->dims);
    else if (ndim == 0) v->view = oclnn_reshape(g, oclnn_slice(g, v->leaf, 0, 1, 2), 0, v->dims);
    else v->view = oclnn_slice(g, v->leaf, 0, 1, leaf_dims[0]);
    ck_assert_msg(v->view != NULL, "%s: %s view failed: %s", name, tu_layout_name(layout), oclnn_graph_error(g));
}

size_t tu_view_leaf_index(const tu_view *v, size_t k)
{
    int64_t at = v->base;
    for (int d = v->ndim - 1; d >= 0; d--) {
        at += (int64_t)(k % (size_t)v->dims[d]) * v->stride[d];
        k /= (size_t)v->dims[d];
    }
    return (size_t)at;
}

void tu_view_write(const tu_view *v, const float *data)
{
    size_t bytes = v->leaf_n * 4;
    if (v->dtype == OCLNN_DTYPE_I32) {
        int32_t *leaf = malloc(bytes ? bytes : 1);
        ck_assert_ptr_nonnull(leaf);
        for (size_t k = 0; k < v->leaf_n; k++) leaf[k] = -7;
        for (size_t k = 0; k < v->n; k++) leaf[tu_view_leaf_index(v, k)] = (int32_t)data[k];
        TU_OK(oclnn_tensor_write(v->leaf, leaf, bytes));
        free(leaf);
    } else {
        ck_assert_int_eq(v->dtype, OCLNN_DTYPE_F32);
        float *leaf = malloc(bytes ? bytes : 1);
        ck_assert_ptr_nonnull(leaf);
        for (size_t k = 0; k < v->leaf_n; k++) leaf[k] = NAN;
        for (size_t k = 0; k < v->n; k++) leaf[tu_view_leaf_index(v, k)] = data[k];
        TU_OK(oclnn_tensor_write(v->leaf, leaf, bytes));
        free(leaf);
    }
}

void tu_view_read_grad(const tu_view *v, const char *what, float *grad)
{
    oclnn_tensor *gt = oclnn_tensor_grad(v->leaf);
    ck_assert_msg(gt != NULL, "%s: got no gradient", what);
    float *leaf = malloc(v->leaf_n ? v->leaf_n * sizeof *leaf : 1);
    unsigned char *inside = calloc(v->leaf_n ? v->leaf_n : 1, 1);
    ck_assert(leaf && inside);
    TU_OK(oclnn_tensor_read(gt, leaf, v->leaf_n * sizeof *leaf));
    for (size_t k = 0; k < v->n; k++) {
        size_t at = tu_view_leaf_index(v, k);
        inside[at] = 1;
        grad[k] = leaf[at];
        ck_assert_msg(isfinite(grad[k]),
                      "%s: gradient element %zu is %g (a gradient contribution read or left unwritten)", what, k,
                      (double)grad[k]);
    }
    for (size_t at = 0; at < v->leaf_n; at++)
        ck_assert_msg(inside[at] || leaf[at] == 0.0f,
                      "%s: leaf element %zu outside the %s view got gradient %g (written out of place)", what, at,
                      tu_layout_name(v->layout), (double)leaf[at]);
    free(leaf);
    free(inside);
}

/* ---- op cases */

typedef struct op_run {
    oclnn_graph *g;
    tu_view v[TU_MAX_INPUTS];
    oclnn_tensor *in[TU_MAX_INPUTS], *out, *weights, *loss;
    float *host[TU_MAX_INPUTS];
    double *host_d[TU_MAX_INPUTS];
    size_t n[TU_MAX_INPUTS], out_n;
    char label[160]; /* case name and layout, for messages */
} op_run;

/* Intermediates get memory of their own, poisoned with NaN: a kernel that
 * skips an element, or a gradient contribution nothing wrote, cannot pass
 * for correct by reading a zero left there by the allocator or by another
 * tensor that shared the memory. */
static const oclnn_compile_options poisoned = {.no_memory_reuse = 1, .poison_intermediates = 1};

static void make_inputs(const tu_op_case *c, op_run *r, int as_params, uint64_t *rng)
{
    snprintf(r->label, sizeof r->label, "%s [%s]", c->name, tu_layout_name(c->layout));
    r->g = oclnn_graph_create(tu_context());
    ck_assert_ptr_nonnull(r->g);
    for (int i = 0; i < c->ninputs; i++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        r->n[i] = numel_of(c->ndim[i], c->dims[i]);
        r->host[i] = tu_random(r->n[i], c->lo[i], c->hi[i], rng);
        r->host_d[i] = malloc((r->n[i] ? r->n[i] : 1) * sizeof(double));
        if (c->integer[i])
            for (size_t k = 0; k < r->n[i]; k++) r->host[i][k] = floorf(r->host[i][k]);
        if (c->kink[i] > 0)
            for (size_t k = 0; k < r->n[i]; k++)
                if (fabsf(r->host[i][k]) < c->kink[i]) r->host[i][k] = copysignf(c->kink[i], r->host[i][k]);
        for (size_t k = 0; k < r->n[i]; k++) r->host_d[i][k] = r->host[i][k];
        int param = as_params && !c->integer[i] && !c->no_grad[i];
        tu_view_create(&r->v[i], r->g, name, c->integer[i] ? OCLNN_DTYPE_I32 : OCLNN_DTYPE_F32, param, c->ndim[i],
                       c->dims[i], c->layout);
        r->in[i] = r->v[i].view;
    }
    r->out = c->build(r->g, r->in, c->user);
    ck_assert_msg(r->out != NULL, "%s: build failed: %s", r->label, oclnn_graph_error(r->g));
    r->out_n = (size_t)oclnn_tensor_numel(r->out);
}

static void upload_inputs(const tu_op_case *c, op_run *r)
{
    for (int i = 0; i < c->ninputs; i++) tu_view_write(&r->v[i], r->host[i]);
}

static void free_run(const tu_op_case *c, op_run *r)
{
    for (int i = 0; i < c->ninputs; i++) {
        free(r->host[i]);
        free(r->host_d[i]);
    }
    oclnn_graph_release(r->g);
}

void tu_check_forward(const tu_op_case *c, double limit, uint64_t *rng)
{
    op_run r = {0};
    make_inputs(c, &r, 0, rng);
    TU_OK(oclnn_graph_output(r.g, r.out));
    TU_OK(oclnn_graph_compile(r.g, &poisoned));
    upload_inputs(c, &r);
    float *got = malloc((r.out_n ? r.out_n : 1) * sizeof *got);
    for (size_t k = 0; k < r.out_n; k++) got[k] = TU_POISON;
    if (r.out_n) TU_OK(oclnn_tensor_write(r.out, got, r.out_n * sizeof *got));
    TU_OK(oclnn_graph_run(r.g));
    TU_OK(oclnn_tensor_read(r.out, got, r.out_n * sizeof *got));
    double *want = calloc(r.out_n ? r.out_n : 1, sizeof *want);
    c->reference((const double *const *)r.host_d, want, c->user);
    ck_assert_msg(tu_count_poison(got, r.out_n) == 0, "%s: %d outputs never written", r.label,
                  tu_count_poison(got, r.out_n));
    for (size_t k = 0; k < r.out_n; k++)
        ck_assert_msg(isfinite(got[k]) || !isfinite(want[k]), "%s: output %zu is %g, reference %g", r.label, k,
                      (double)got[k], want[k]);
    double e = tu_nmse(got, want, r.out_n);
    ck_assert_msg(e <= limit, "%s: forward NMSE %.3g > %.3g (first: got %g want %g)", r.label, e, limit,
                  r.out_n ? got[0] : 0.0, r.out_n ? want[0] : 0.0);
    free(got);
    free(want);
    free_run(c, &r);
}

static double weighted_loss(const tu_op_case *c, double *const *in, const double *w, double *scratch, size_t n)
{
    c->reference((const double *const *)in, scratch, c->user);
    double l = 0;
    for (size_t k = 0; k < n; k++) l += w[k] * scratch[k];
    return l;
}

void tu_check_gradient(const tu_op_case *c, double fd_step, double limit, int max_checked, uint64_t *rng)
{
    op_run r = {0};
    make_inputs(c, &r, 1, rng);
    int64_t odims[8];
    int ond = oclnn_tensor_ndim(r.out);
    for (int d = 0; d < ond; d++) odims[d] = oclnn_tensor_dim(r.out, d);
    r.weights = oclnn_input(r.g, "loss_weights", OCLNN_DTYPE_F32, ond, odims);
    r.loss = oclnn_sum_to(r.g, oclnn_mul(r.g, r.out, r.weights), 0, NULL);
    TU_OK(oclnn_graph_status(r.g));
    TU_OK(oclnn_graph_backward(r.g, r.loss));
    TU_OK(oclnn_graph_compile(r.g, &poisoned));
    upload_inputs(c, &r);
    float *w = tu_random(r.out_n, -1.0f, 1.0f, rng);
    double *wd = malloc((r.out_n ? r.out_n : 1) * sizeof *wd);
    for (size_t k = 0; k < r.out_n; k++) wd[k] = w[k];
    TU_OK(oclnn_tensor_write(r.weights, w, r.out_n * sizeof *w));
    TU_OK(oclnn_graph_run(r.g));
    double *scratch = malloc((r.out_n ? r.out_n : 1) * sizeof *scratch);
    for (int i = 0; i < c->ninputs; i++) {
        if (c->integer[i] || c->no_grad[i] || r.n[i] == 0) continue;
        char what[200];
        snprintf(what, sizeof what, "%s: input %d", r.label, i);
        float *got = malloc(r.n[i] * sizeof *got);
        /* fails on any non-finite element, checked or not */
        tu_view_read_grad(&r.v[i], what, got);
        size_t checks = r.n[i] < (size_t)max_checked ? r.n[i] : (size_t)max_checked;
        float *dev = malloc(checks * sizeof *dev);
        double *fd = malloc(checks * sizeof *fd);
        for (size_t j = 0; j < checks; j++) {
            size_t k = checks == r.n[i] ? j : (j * 7919u + (size_t)(*rng % 97)) % r.n[i];
            double saved = r.host_d[i][k];
            r.host_d[i][k] = saved + fd_step;
            double lp = weighted_loss(c, r.host_d, wd, scratch, r.out_n);
            r.host_d[i][k] = saved - fd_step;
            double lm = weighted_loss(c, r.host_d, wd, scratch, r.out_n);
            r.host_d[i][k] = saved;
            fd[j] = (lp - lm) / (2 * fd_step);
            dev[j] = got[k];
            ck_assert_msg(!isnan(dev[j]) || isnan(fd[j]), "%s: gradient element %zu is NaN, finite differences %g",
                          what, k, fd[j]);
        }
        double e = tu_nmse(dev, fd, checks);
        ck_assert_msg(e <= limit, "%s: gradient NMSE %.3g > %.3g (first: device %g, finite diff %g)", what, e, limit,
                      (double)dev[0], fd[0]);
        free(got);
        free(dev);
        free(fd);
    }
    free(w);
    free(wd);
    free(scratch);
    free_run(c, &r);
}

void tu_check_forward_layouts(const tu_op_case *c, double limit, uint64_t *rng)
{
    for (int l = 0; l < TU_NLAYOUTS; l++) {
        tu_op_case lc = *c;
        lc.layout = (tu_layout)l;
        tu_check_forward(&lc, limit, rng);
    }
}

void tu_check_gradient_layouts(const tu_op_case *c, double fd_step, double limit, int max_checked, uint64_t *rng)
{
    for (int l = 0; l < TU_NLAYOUTS; l++) {
        tu_op_case lc = *c;
        lc.layout = (tu_layout)l;
        tu_check_gradient(&lc, fd_step, limit, max_checked, rng);
    }
}

void tu_check_forward_strided(const tu_op_case *c, double limit, uint64_t *rng)
{
    for (int l = TU_PERMUTED; l < TU_NLAYOUTS; l++) {
        tu_op_case lc = *c;
        lc.layout = (tu_layout)l;
        tu_check_forward(&lc, limit, rng);
    }
}

void tu_check_gradient_strided(const tu_op_case *c, double fd_step, double limit, int max_checked, uint64_t *rng)
{
    for (int l = TU_PERMUTED; l < TU_NLAYOUTS; l++) {
        tu_op_case lc = *c;
        lc.layout = (tu_layout)l;
        tu_check_gradient(&lc, fd_step, limit, max_checked, rng);
    }
}

/* ---- Committed fixtures */

const char *tu_data_path(const char *fmt, ...)
{
    static char bufs[8][4096];
    static unsigned next;
    char *b = bufs[next++ % 8];
    const char *root = getenv("OCLNN_TEST_DATA");
    int n = snprintf(b, sizeof bufs[0], "%s/", root && *root ? root : "tests/data");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + n, sizeof bufs[0] - (size_t)n, fmt, ap);
    va_end(ap);
    return b;
}

const oclnn_st_tensor *tu_fixture_tensor(const oclnn_safetensors *st, const char *prefix, const char *name)
{
    char key[256];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    const oclnn_st_tensor *t = oclnn_safetensors_find(st, key);
    ck_assert_msg(t != NULL, "fixture tensor %s missing", key);
    return t;
}

void tu_fixture_write(oclnn_tensor *t, const oclnn_st_tensor *v)
{
    ck_assert_int_eq(oclnn_tensor_numel(t) * 4, (int64_t)v->nbytes);
    TU_OK(oclnn_tensor_write(t, v->data, v->nbytes));
}

void tu_fixture_match(oclnn_tensor *t, const oclnn_st_tensor *want, double rel, const char *what)
{
    ck_assert_msg(t != NULL, "%s: no tensor", what);
    size_t n = want->nbytes / sizeof(float);
    ck_assert_int_eq(oclnn_tensor_numel(t), (int64_t)n);
    float *got = malloc(n * sizeof *got);
    ck_assert_ptr_nonnull(got);
    TU_OK(oclnn_tensor_read(t, got, n * sizeof *got));
    const float *w = want->data;
    double scale = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(w[i]));
        err = fmax(err, fabs((double)got[i] - w[i]));
    }
    ck_assert_msg(scale > 0, "%s: the fixture is all zeros, it tests nothing", what);
    ck_assert_msg(err <= rel * scale, "%s: max error %.3g vs the peer, %.3g of the largest element %.3g", what, err,
                  err / scale, scale);
    free(got);
}
