#include "testutil.h"

#include <math.h>
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

static size_t numel_of(int ndim, const int64_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    return n;
}

typedef struct op_run {
    oclnn_graph *g;
    oclnn_tensor *in[TU_MAX_INPUTS], *out, *weights, *loss;
    float *host[TU_MAX_INPUTS];
    double *host_d[TU_MAX_INPUTS];
    size_t n[TU_MAX_INPUTS], out_n;
} op_run;

static void make_inputs(const tu_op_case *c, op_run *r, int as_params, uint64_t *rng)
{
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
        if (c->integer[i])
            r->in[i] = oclnn_input(r->g, name, OCLNN_DTYPE_I32, c->ndim[i], c->dims[i]);
        else if (as_params && !c->no_grad[i])
            r->in[i] = oclnn_param(r->g, name, c->ndim[i], c->dims[i]);
        else
            r->in[i] = oclnn_input(r->g, name, OCLNN_DTYPE_F32, c->ndim[i], c->dims[i]);
    }
    r->out = c->build(r->g, r->in, c->user);
    ck_assert_msg(r->out != NULL, "%s: build failed: %s", c->name, oclnn_graph_error(r->g));
    r->out_n = (size_t)oclnn_tensor_numel(r->out);
}

static void upload_inputs(const tu_op_case *c, op_run *r)
{
    for (int i = 0; i < c->ninputs; i++) {
        if (c->integer[i]) {
            int32_t *iv = malloc((r->n[i] ? r->n[i] : 1) * sizeof *iv);
            for (size_t k = 0; k < r->n[i]; k++) iv[k] = (int32_t)r->host[i][k];
            TU_OK(oclnn_tensor_write(r->in[i], iv, r->n[i] * sizeof *iv));
            free(iv);
        } else {
            TU_OK(oclnn_tensor_write(r->in[i], r->host[i], r->n[i] * sizeof(float)));
        }
    }
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
    TU_OK(oclnn_graph_compile(r.g, NULL));
    upload_inputs(c, &r);
    float *got = malloc((r.out_n ? r.out_n : 1) * sizeof *got);
    for (size_t k = 0; k < r.out_n; k++) got[k] = TU_POISON;
    if (r.out_n) TU_OK(oclnn_tensor_write(r.out, got, r.out_n * sizeof *got));
    TU_OK(oclnn_graph_run(r.g));
    TU_OK(oclnn_tensor_read(r.out, got, r.out_n * sizeof *got));
    double *want = calloc(r.out_n ? r.out_n : 1, sizeof *want);
    c->reference((const double *const *)r.host_d, want, c->user);
    ck_assert_msg(tu_count_poison(got, r.out_n) == 0, "%s: %d outputs never written", c->name,
                  tu_count_poison(got, r.out_n));
    double e = tu_nmse(got, want, r.out_n);
    ck_assert_msg(e <= limit, "%s: forward NMSE %.3g > %.3g (first: got %g want %g)", c->name, e, limit,
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
    TU_OK(oclnn_graph_compile(r.g, NULL));
    upload_inputs(c, &r);
    float *w = tu_random(r.out_n, -1.0f, 1.0f, rng);
    double *wd = malloc((r.out_n ? r.out_n : 1) * sizeof *wd);
    for (size_t k = 0; k < r.out_n; k++) wd[k] = w[k];
    TU_OK(oclnn_tensor_write(r.weights, w, r.out_n * sizeof *w));
    TU_OK(oclnn_graph_run(r.g));
    double *scratch = malloc((r.out_n ? r.out_n : 1) * sizeof *scratch);
    for (int i = 0; i < c->ninputs; i++) {
        if (c->integer[i] || c->no_grad[i] || r.n[i] == 0) continue;
        oclnn_tensor *gt = oclnn_tensor_grad(r.in[i]);
        ck_assert_msg(gt != NULL, "%s: input %d got no gradient", c->name, i);
        float *got = malloc(r.n[i] * sizeof *got);
        TU_OK(oclnn_tensor_read(gt, got, r.n[i] * sizeof *got));
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
        }
        double e = tu_nmse(dev, fd, checks);
        ck_assert_msg(e <= limit, "%s: gradient of input %d NMSE %.3g > %.3g (first: device %g, finite diff %g)",
                      c->name, i, e, limit, (double)dev[0], fd[0]);
        free(got);
        free(dev);
        free(fd);
    }
    free(w);
    free(wd);
    free(scratch);
    free_run(c, &r);
}
