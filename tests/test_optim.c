/* Optimizers vs a double-precision host copy of torch.optim's rules, LR
 * schedules, and initialisation (bounds, statistics, determinism). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "train/feed.h"
#include "testutil.h"

/* Awkward sizes: one element, primes, an empty one, and one spanning
 * several chunks of the fused update. */
enum { NPARAM = 6, STEPS = 6 };
static const int64_t pdims[NPARAM][2] = {{1, 0}, {7, 0}, {0, 4}, {33, 5}, {129, 0}, {1031, 3}};
static const int pndim[NPARAM] = {1, 1, 2, 2, 1, 2};

typedef struct opt_config {
    int adam, adagrad;
    float lr, momentum, dampening, weight_decay; /* SGD */
    int nesterov;
    float beta1, beta2, eps;                     /* Adam, Adagrad's eps */
    int decoupled;
    float lr_decay, initial;                     /* Adagrad */
} opt_config;

/* A graph whose loss depends on every param (plus one it ignores), compiled
 * with backward so each param has a gradient accumulator. */
static oclnn_graph *make_graph(oclnn_tensor **params)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *loss = NULL;
    for (int i = 0; i < NPARAM; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d.weight", i);
        params[i] = oclnn_param(g, name, pndim[i], pdims[i]);
        oclnn_tensor *term = oclnn_mse_loss(g, params[i], oclnn_full_like(g, params[i], 0.5f), OCLNN_REDUCTION_SUM);
        loss = loss ? oclnn_add(g, loss, term) : term;
    }
    oclnn_param(g, "unused", 1, (const int64_t[]){3});
    TU_OK(oclnn_graph_backward(g, loss));
    TU_OK(oclnn_graph_compile(g, NULL));
    return g;
}

static size_t numel(int i) { return (size_t)(pdims[i][0] * (pndim[i] > 1 ? pdims[i][1] : 1)); }

/* torch.optim.SGD / Adam / AdamW step, in double */
static void ref_step(const opt_config *c, double lr, int64_t t, size_t n, double *p, const float *gf, double *s0,
                     double *s1)
{
    for (size_t i = 0; i < n; i++) {
        double g = gf[i];
        if (!c->adam) {
            if (c->weight_decay != 0) g += c->weight_decay * p[i];
            if (c->momentum != 0) {
                s0[i] = t == 1 ? g : c->momentum * s0[i] + (1 - (double)c->dampening) * g;
                g = c->nesterov ? g + c->momentum * s0[i] : s0[i];
            }
            p[i] -= lr * g;
            continue;
        }
        if (c->decoupled) p[i] *= 1 - lr * c->weight_decay;
        else g += c->weight_decay * p[i];
        s0[i] += (1 - (double)c->beta1) * (g - s0[i]);
        s1[i] = c->beta2 * s1[i] + (1 - (double)c->beta2) * g * g;
        double bc1 = 1 - pow(c->beta1, (double)t), bc2 = 1 - pow(c->beta2, (double)t);
        p[i] -= lr / bc1 * s0[i] / (sqrt(s1[i]) / sqrt(bc2) + c->eps);
    }
}

/* Params and states can be small differences of O(1) terms (e.g. the
 * momentum of g + wd*p), so errors are judged against that O(1) scale
 * rather than relatively; a wrong rule is off by far more. */
static void check_values(const char *what, const float *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= 1e-6 * (1 + fabs(want[i])), "%s[%zu]: %.9g vs %.9g", what, i,
                      (double)got[i], want[i]);
}

static oclnn_optimizer *make_optimizer(oclnn_graph *g, const opt_config *c, int fused)
{
    if (!fused) setenv("OCLNN_FUSED_OPTIM", "0", 1);
    oclnn_optimizer *opt =
        c->adagrad ? oclnn_optimizer_adagrad(g, c->lr, c->lr_decay, c->weight_decay, c->initial, c->eps)
        : c->adam  ? oclnn_optimizer_adam(g, c->lr, c->beta1, c->beta2, c->eps, c->weight_decay, c->decoupled)
                   : oclnn_optimizer_sgd(g, c->lr, c->momentum, c->dampening, c->weight_decay, c->nesterov);
    unsetenv("OCLNN_FUSED_OPTIM");
    ck_assert_msg(opt != NULL, "%s", oclnn_last_error());
    return opt;
}

static const char *state_suffix(const opt_config *c, int k)
{
    return c->adagrad ? "sum" : c->adam ? (k ? "exp_avg_sq" : "exp_avg") : "momentum_buffer";
}

/* Six steps of c from random params and gradients (changing lr after the
 * third), fused (one launch per step, checked) or one launch per param.
 * SGD and Adam are checked against the reference; returns every param then
 * every state, concatenated, for the fused-vs-per-param comparison. */
static float *run_config(const opt_config *c, uint64_t *rng, int fused, size_t *nout)
{
    oclnn_tensor *params[NPARAM];
    oclnn_graph *g = make_graph(params);
    oclnn_optimizer *opt = make_optimizer(g, c, fused);
    int nstates = c->adam ? 2 : c->adagrad ? 1 : c->momentum != 0;
    ck_assert_int_eq(oclnn_optimizer_state_count(opt), NPARAM * nstates);
    double *p[NPARAM], *s0[NPARAM], *s1[NPARAM];
    size_t total = 0;
    for (int i = 0; i < NPARAM; i++) {
        float *init = tu_random(numel(i), -1, 1, rng);
        TU_OK(oclnn_tensor_write(params[i], init, numel(i) * sizeof(float)));
        p[i] = malloc(numel(i) * sizeof(double));
        s0[i] = calloc(numel(i), sizeof(double));
        s1[i] = calloc(numel(i), sizeof(double));
        for (size_t k = 0; k < numel(i); k++) p[i][k] = init[k];
        free(init);
        total += numel(i) * (size_t)(1 + nstates);
    }
    double lr = c->lr;
    for (int step = 1; step <= STEPS; step++) {
        if (step == 4) {
            lr = c->lr * 0.5f; /* set_lr takes effect on the next step */
            TU_OK(oclnn_optimizer_set_lr(opt, (float)lr));
        }
        for (int i = 0; i < NPARAM; i++) {
            float *grad = tu_random(numel(i), -1, 1, rng);
            TU_OK(oclnn_tensor_write(oclnn_tensor_grad(params[i]), grad, numel(i) * sizeof(float)));
            if (!c->adagrad) ref_step(c, lr, step, numel(i), p[i], grad, s0[i], s1[i]);
            free(grad);
        }
        uint64_t launches = tu_context()->launch_count;
        TU_OK(oclnn_optimizer_step(opt));
        int nonempty = 0; /* an empty param launches nothing */
        for (int i = 0; i < NPARAM; i++) nonempty += numel(i) > 0;
        ck_assert_int_eq(tu_context()->launch_count - launches, fused ? 1 : nonempty);
    }
    ck_assert_int_eq(oclnn_optimizer_get_step(opt), STEPS);
    float *out = malloc(total * sizeof *out), *got = out;
    for (int i = 0; i < NPARAM; i++, got += numel(i - 1)) {
        TU_OK(oclnn_tensor_read(params[i], got, numel(i) * sizeof(float)));
        if (!c->adagrad) check_values(oclnn_tensor_name(params[i]), got, p[i], numel(i));
    }
    for (int i = 0; i < NPARAM; i++) {
        for (int k = 0; k < nstates; k++, got += numel(i)) {
            int idx = i * nstates + k;
            char want_name[64];
            snprintf(want_name, sizeof want_name, "p%d.weight.%s", i, state_suffix(c, k));
            ck_assert_str_eq(oclnn_optimizer_state_name(opt, idx), want_name);
            ck_assert_ptr_eq(oclnn_optimizer_state_param(opt, idx), params[i]);
            TU_OK(oclnn_optimizer_state_read(opt, idx, got, numel(i) * sizeof(float)));
            if (!c->adagrad) check_values(want_name, got, k ? s1[i] : s0[i], numel(i));
        }
        free(p[i]);
        free(s0[i]);
        free(s1[i]);
    }
    oclnn_optimizer_release(opt);
    oclnn_graph_release(g);
    *nout = total;
    return out;
}

static const opt_config sgd_configs[] = {
    {.lr = 0.1f},
    {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 0.01f},
    {.lr = 0.05f, .momentum = 0.9f, .dampening = 0.3f},
    {.lr = 0.05f, .momentum = 0.8f, .weight_decay = 0.02f, .nesterov = 1},
    {.lr = 0.2f, .weight_decay = 0.1f},
};
static const opt_config adam_configs[] = {
    {.adam = 1, .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f},
    {.adam = 1, .lr = 3e-2f, .beta1 = 0.8f, .beta2 = 0.99f, .eps = 1e-6f, .weight_decay = 0.1f},
    {.adam = 1, .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f, .decoupled = 1},
    {.adam = 1, .lr = 1e-3f, .beta1 = 0.0f, .beta2 = 0.5f, .eps = 1e-3f, .weight_decay = 0.5f, .decoupled = 1},
};
/* Adagrad's rule is checked against torch in test_sparse_optim.c */
static const opt_config adagrad_configs[] = {
    {.adagrad = 1, .lr = 0.1f, .eps = 1e-10f},
    {.adagrad = 1, .lr = 0.05f, .eps = 1e-6f, .lr_decay = 0.1f, .weight_decay = 0.05f, .initial = 0.3f},
};

static void check_configs(const opt_config *configs, size_t n, uint64_t seed, int compare)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t rng = seed + i, again = rng;
        size_t count, count2;
        float *fused = run_config(&configs[i], &rng, 1, &count);
        if (compare) { /* the same rule per element: the same bits */
            float *single = run_config(&configs[i], &again, 0, &count2);
            ck_assert_int_eq(count, count2);
            for (size_t k = 0; k < count; k++)
                ck_assert_msg(memcmp(&fused[k], &single[k], sizeof(float)) == 0,
                              "config %zu: value %zu is %.9g fused, %.9g per parameter", i, k, (double)fused[k],
                              (double)single[k]);
            free(single);
        }
        free(fused);
    }
}

START_TEST(test_sgd_matches_reference)
{
    check_configs(sgd_configs, sizeof sgd_configs / sizeof sgd_configs[0], tu_seed() + 21, 0);
}
END_TEST

START_TEST(test_adam_matches_reference)
{
    check_configs(adam_configs, sizeof adam_configs / sizeof adam_configs[0], tu_seed() + 22, 0);
}
END_TEST

/* One launch for every parameter gives bit-for-bit what one launch per
 * parameter gives, for every optimizer and option. */
START_TEST(test_fused_matches_per_param)
{
    check_configs(sgd_configs, sizeof sgd_configs / sizeof sgd_configs[0], tu_seed() + 23, 1);
    check_configs(adam_configs, sizeof adam_configs / sizeof adam_configs[0], tu_seed() + 24, 1);
    check_configs(adagrad_configs, sizeof adagrad_configs / sizeof adagrad_configs[0], tu_seed() + 25, 1);
}
END_TEST

/* zero_grad clears every accumulator (they share one block) in one fill. */
START_TEST(test_zero_grad_clears_block)
{
    oclnn_tensor *params[NPARAM];
    oclnn_graph *g = make_graph(params);
    ck_assert_ptr_nonnull(g->grad_block);
    for (int i = 0; i < NPARAM; i++) {
        float *v = tu_random(numel(i), 1, 2, &(uint64_t){7});
        TU_OK(oclnn_tensor_write(oclnn_tensor_grad(params[i]), v, numel(i) * sizeof *v));
        free(v);
    }
    TU_OK(oclnn_graph_zero_grad(g));
    for (int i = 0; i < NPARAM; i++) {
        float *v = malloc(numel(i) * sizeof *v);
        TU_OK(oclnn_tensor_read(oclnn_tensor_grad(params[i]), v, numel(i) * sizeof *v));
        for (size_t k = 0; k < numel(i); k++) ck_assert_msg(v[k] == 0.0f, "grad %d[%zu] = %g", i, k, (double)v[k]);
        free(v);
    }
    oclnn_graph_release(g);
}
END_TEST

/* A training loop's inputs go through double-buffered staging without
 * blocking; each step sees its own values, and scalar reads report the
 * value of the step they were started after. */
START_TEST(test_feed_and_scalar_reader)
{
    enum { N = 7, STEPS2 = 9 };
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 1, (const int64_t[]){N});
    oclnn_tensor *k = oclnn_input(g, "k", OCLNN_DTYPE_F32, 1, (const int64_t[]){1});
    oclnn_tensor *y = oclnn_add(g, oclnn_sum_all(g, x), oclnn_sum_all(g, k));
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    train_feed feed;
    scalar_reader r = {.tensor = y};
    TU_OK(feed_init(&feed, 2, (oclnn_tensor *const[]){x, k}));
    float want[STEPS2 + 1];
    oclnn_status st = OCLNN_OK;
    for (int step = 1; step <= STEPS2; step++) {
        TU_OK(feed_wait(&feed));
        float *hx = feed_host(&feed, 0), *hk = feed_host(&feed, 1);
        want[step] = 0;
        for (int i = 0; i < N; i++) {
            hx[i] = (float)(step * 10 + i);
            want[step] += hx[i];
        }
        hk[0] = (float)step;
        want[step] += (float)step;
        TU_OK(feed_submit(&feed));
        TU_OK(oclnn_graph_run(g));
        if (step == STEPS2 && scalar_poll(&r, true, &st)) { /* as a loop does before its last read */
            ck_assert_float_eq(r.value, want[r.tag]);
        }
        TU_OK(scalar_start(&r, step));
        if (scalar_poll(&r, false, &st)) {
            ck_assert_float_eq(r.value, want[r.tag]);
        }
        TU_OK(st);
    }
    ck_assert(r.pending ? scalar_poll(&r, true, &st) : r.tag == STEPS2); /* it may have landed already */
    ck_assert_int_eq(r.tag, STEPS2);
    ck_assert_float_eq(r.value, want[STEPS2]);
    ck_assert(!scalar_poll(&r, true, &st)); /* nothing pending any more */
    scalar_release(&r);
    feed_release(&feed);
    oclnn_graph_release(g);
}
END_TEST

/* Running the graph, then stepping, lowers the loss (grads come from backward). */
START_TEST(test_training_loop_descends)
{
    oclnn_tensor *params[NPARAM];
    oclnn_graph *g = make_graph(params);
    oclnn_optimizer *opt = oclnn_optimizer_sgd(g, 0.1f, 0.5f, 0.0f, 0.0f, 0);
    ck_assert_ptr_nonnull(opt);
    ck_assert_str_eq(oclnn_optimizer_name(opt), "sgd");
    TU_OK(oclnn_graph_init_params(g, 7));
    float before = 0, after = 0;
    for (int step = 0; step < 40; step++) {
        TU_OK(oclnn_graph_zero_grad(g));
        TU_OK(oclnn_graph_run(g));
        TU_OK(oclnn_optimizer_step(opt));
    }
    /* distance of every param to its target 0.5 */
    for (int i = 0; i < NPARAM; i++) {
        float *v = malloc(numel(i) * sizeof *v);
        TU_OK(oclnn_tensor_read(params[i], v, numel(i) * sizeof *v));
        for (size_t k = 0; k < numel(i); k++) after += (v[k] - 0.5f) * (v[k] - 0.5f);
        free(v);
    }
    /* initial distance: recompute from a fresh init */
    oclnn_tensor *fresh[NPARAM];
    oclnn_graph *g2 = make_graph(fresh);
    TU_OK(oclnn_graph_init_params(g2, 7));
    for (int i = 0; i < NPARAM; i++) {
        float *v = malloc(numel(i) * sizeof *v);
        TU_OK(oclnn_tensor_read(fresh[i], v, numel(i) * sizeof *v));
        for (size_t k = 0; k < numel(i); k++) before += (v[k] - 0.5f) * (v[k] - 0.5f);
        free(v);
    }
    ck_assert_msg(after < 1e-4f * before, "loss %g -> %g", (double)before, (double)after);
    oclnn_optimizer_release(opt);
    oclnn_graph_release(g);
    oclnn_graph_release(g2);
}
END_TEST

START_TEST(test_optimizer_errors)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_param(g, "w", 1, (const int64_t[]){3});
    ck_assert_ptr_null(oclnn_optimizer_sgd(g, 0.1f, 0, 0, 0, 0));
    ck_assert_msg(strstr(oclnn_last_error(), "backward"), "%s", oclnn_last_error());
    oclnn_graph_release(g);
    ck_assert_ptr_null(oclnn_optimizer_adam(NULL, 0.1f, 0.9f, 0.999f, 1e-8f, 0, 0));

    oclnn_tensor *params[NPARAM];
    g = make_graph(params);
    ck_assert_ptr_null(oclnn_optimizer_sgd(g, 0.1f, 0.9f, 0.1f, 0, 1));
    ck_assert_msg(strstr(oclnn_last_error(), "Nesterov"), "%s", oclnn_last_error());
    ck_assert_ptr_null(oclnn_optimizer_sgd(g, -1.0f, 0, 0, 0, 0));
    ck_assert_ptr_null(oclnn_optimizer_adam(g, 0.1f, 1.0f, 0.999f, 1e-8f, 0, 0));
    ck_assert_ptr_null(oclnn_optimizer_sgd(g, NAN, 0, 0, 0, 0));
    oclnn_optimizer *opt = oclnn_optimizer_sgd(g, 0.1f, 0.5f, 0, 0, 0);
    ck_assert_ptr_nonnull(opt);
    /* the unused param has no gradient and no state */
    ck_assert_int_eq(oclnn_optimizer_state_count(opt), NPARAM);
    ck_assert_ptr_null(oclnn_optimizer_state_name(opt, NPARAM));
    float buf[7];
    ck_assert_int_eq(oclnn_optimizer_state_read(opt, 1, buf, 3 * sizeof(float)), OCLNN_ERR_SHAPE);
    ck_assert_int_eq(oclnn_optimizer_state_read(opt, 99, buf, sizeof buf), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_optimizer_set_lr(opt, -2.0f), OCLNN_ERR_INVALID_ARG);
    ck_assert_float_eq(oclnn_optimizer_get_lr(opt), 0.1f);
    ck_assert_int_eq(oclnn_optimizer_step(NULL), OCLNN_ERR_INVALID_ARG);
    oclnn_optimizer_release(opt);
    oclnn_optimizer_release(NULL);
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_lr_schedules)
{
    oclnn_lr_schedule c = oclnn_lr_constant(0.1), s = oclnn_lr_step(0.1, 3, 0.5), k = oclnn_lr_cosine(0.1, 10, 0.001);
    ck_assert_double_eq(oclnn_lr_schedule_at(&c, 1000), 0.1);
    const double step_want[] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025};
    for (int e = 0; e < 7; e++) ck_assert_double_eq_tol(oclnn_lr_schedule_at(&s, e), step_want[e], 1e-15);
    ck_assert_double_eq_tol(oclnn_lr_schedule_at(&k, 0), 0.1, 1e-15);
    ck_assert_double_eq_tol(oclnn_lr_schedule_at(&k, 5), 0.0505, 1e-15);
    ck_assert_double_eq_tol(oclnn_lr_schedule_at(&k, 10), 0.001, 1e-15);
    const double pi = 3.14159265358979323846;
    ck_assert_double_eq_tol(oclnn_lr_schedule_at(&k, 3), 0.001 + 0.099 * (1 + cos(pi * 0.3)) / 2, 1e-15);
    /* PyTorch's closed form keeps going past T_max */
    ck_assert_double_eq_tol(oclnn_lr_schedule_at(&k, 15), 0.0505, 1e-15);
    ck_assert_double_eq(oclnn_lr_schedule_at(NULL, 1), 0.0);
}
END_TEST

/* ---- initialisation */

static float *read_all(oclnn_tensor *t)
{
    size_t n = (size_t)oclnn_tensor_numel(t);
    float *v = malloc((n ? n : 1) * sizeof *v);
    TU_OK(oclnn_tensor_read(t, v, n * sizeof *v));
    return v;
}

/* Device values equal the documented Philox mapping low + (high-low)*u. */
static void check_uniform(oclnn_tensor *t, double bound, uint64_t seed, uint64_t stream)
{
    size_t n = (size_t)oclnn_tensor_numel(t);
    float *v = read_all(t);
    for (size_t i = 0; i < n; i++) {
        double want = -bound + 2 * bound * oclnn_philox_uniform(seed, stream, i);
        ck_assert_msg(fabs(v[i]) <= bound * (1 + 1e-6), "%s[%zu] = %g outside +-%g", oclnn_tensor_name(t), i,
                      (double)v[i], bound);
        ck_assert_msg(fabs(v[i] - want) <= 1e-6 * bound, "%s[%zu] = %g, want %g", oclnn_tensor_name(t), i,
                      (double)v[i], want);
    }
    free(v);
}

START_TEST(test_init_rules)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *fc_w = oclnn_param(g, "fc1.weight", 2, (const int64_t[]){7, 33});
    oclnn_tensor *fc_b = oclnn_param(g, "fc1.bias", 1, (const int64_t[]){7});
    oclnn_tensor *conv_w = oclnn_param(g, "conv1.weight", 4, (const int64_t[]){8, 3, 5, 5});
    oclnn_tensor *conv_b = oclnn_param(g, "conv1.bias", 1, (const int64_t[]){8});
    oclnn_tensor *bn_w = oclnn_param(g, "bn1.weight", 1, (const int64_t[]){8});
    oclnn_tensor *bn_b = oclnn_param(g, "bn1.bias", 1, (const int64_t[]){8});
    oclnn_tensor *rv = oclnn_state_new(g, "bn1.running_var", OCLNN_DTYPE_F32, 1, (const int64_t[]){8}, 0);
    oclnn_tensor *rm = oclnn_state_new(g, "bn1.running_mean", OCLNN_DTYPE_F32, 1, (const int64_t[]){8}, 0);
    oclnn_tensor *nbt = oclnn_state_new(g, "bn1.num_batches_tracked", OCLNN_DTYPE_I64, 0, NULL, 0);
    oclnn_tensor *ih = oclnn_param(g, "lstm.weight_ih_l0", 2, (const int64_t[]){24, 5});
    oclnn_tensor *hh = oclnn_param(g, "lstm.weight_hh_l0", 2, (const int64_t[]){24, 6});
    oclnn_tensor *bih = oclnn_param(g, "lstm.bias_ih_l0", 1, (const int64_t[]){24});
    oclnn_tensor *emb = oclnn_param(g, "embedding.weight", 2, (const int64_t[]){64, 64});
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_fill(rm, 3.0f));
    TU_OK(oclnn_graph_init_params(g, 1234));

    /* nn.Linear / Conv2d: kaiming_uniform(a=sqrt(5)) gives bound 1/sqrt(fan_in), like the bias */
    check_uniform(fc_w, 1 / sqrt(33.0), 1234, oclnn_init_stream("fc1.weight"));
    check_uniform(fc_b, 1 / sqrt(33.0), 1234, oclnn_init_stream("fc1.bias"));
    check_uniform(conv_w, 1 / sqrt(75.0), 1234, oclnn_init_stream("conv1.weight"));
    check_uniform(conv_b, 1 / sqrt(75.0), 1234, oclnn_init_stream("conv1.bias"));
    check_uniform(ih, 1 / sqrt(6.0), 1234, oclnn_init_stream("lstm.weight_ih_l0"));
    check_uniform(hh, 1 / sqrt(6.0), 1234, oclnn_init_stream("lstm.weight_hh_l0"));
    check_uniform(bih, 1 / sqrt(6.0), 1234, oclnn_init_stream("lstm.bias_ih_l0"));
    float *v = read_all(bn_w), *b = read_all(bn_b), *var = read_all(rv), *mean = read_all(rm);
    for (int i = 0; i < 8; i++) {
        ck_assert_float_eq(v[i], 1.0f);
        ck_assert_float_eq(b[i], 0.0f);
        ck_assert_float_eq(var[i], 1.0f);
        ck_assert_float_eq(mean[i], 0.0f);
    }
    int64_t count = 5;
    TU_OK(oclnn_tensor_read(nbt, &count, sizeof count));
    ck_assert_int_eq(count, 0);
    free(v), free(b), free(var), free(mean);
    /* nn.Embedding: N(0, 1) */
    float *e = read_all(emb);
    double s = 0, s2 = 0;
    for (int i = 0; i < 4096; i++) s += e[i], s2 += (double)e[i] * e[i];
    double m = s / 4096, sd = sqrt(s2 / 4096 - m * m);
    ck_assert_msg(fabs(m) < 0.06 && fabs(sd - 1) < 0.05, "embedding mean %g std %g", m, sd);
    free(e);

    /* explicit helpers: same rule as the graph-wide init; kaiming with a = 0 */
    float *before = read_all(fc_w);
    TU_OK(oclnn_tensor_fill(fc_w, 0));
    TU_OK(oclnn_init_linear(fc_w, NULL, 1234));
    float *again = read_all(fc_w);
    ck_assert_int_eq(memcmp(before, again, 7 * 33 * sizeof(float)), 0);
    TU_OK(oclnn_init_kaiming_uniform(fc_w, 0.0f, 99, 5));
    check_uniform(fc_w, sqrt(2.0) * sqrt(3.0 / 33), 99, 5);
    TU_OK(oclnn_init_xavier_uniform(conv_w, 2.0f, 99, 6));
    check_uniform(conv_w, 2.0 * sqrt(6.0 / (75 + 200)), 99, 6);
    TU_OK(oclnn_init_conv(conv_w, conv_b, 99));
    check_uniform(conv_w, 1 / sqrt(75.0), 99, oclnn_init_stream("conv1.weight"));
    TU_OK(oclnn_init_uniform(conv_b, -1, 1, 99, 8));
    check_uniform(conv_b, 1, 99, 8);
    /* different seed, different values */
    TU_OK(oclnn_init_linear(fc_w, NULL, 1235));
    float *other = read_all(fc_w);
    ck_assert_int_ne(memcmp(before, other, 7 * 33 * sizeof(float)), 0);
    free(before), free(again), free(other);
    /* rank-1 tensors have no fan in */
    ck_assert_int_eq(oclnn_init_kaiming_uniform(bn_w, 0, 1, 1), OCLNN_ERR_SHAPE);
    ck_assert_msg(strstr(oclnn_last_error(), "bn1.weight"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_init_linear(NULL, NULL, 1), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);

    /* determinism across graphs: same names and seed, same values */
    g = oclnn_graph_create(tu_context());
    oclnn_tensor *w2 = oclnn_param(g, "fc1.weight", 2, (const int64_t[]){7, 33});
    TU_OK(oclnn_graph_compile(g, NULL));
    ck_assert_int_eq(oclnn_graph_init_params(NULL, 1), OCLNN_ERR_INVALID_ARG);
    TU_OK(oclnn_graph_init_params(g, 1234));
    check_uniform(w2, 1 / sqrt(33.0), 1234, oclnn_init_stream("fc1.weight"));
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_init_normal_statistics)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *t = oclnn_param(g, "t", 1, (const int64_t[]){8191});
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_init_normal(t, 0.5f, 0.02f, 42, 3));
    float *v = read_all(t);
    double s = 0, s2 = 0;
    for (int i = 0; i < 8191; i++) s += v[i], s2 += (double)v[i] * v[i];
    double m = s / 8191, sd = sqrt(s2 / 8191 - m * m);
    ck_assert_msg(fabs(m - 0.5) < 0.002 && fabs(sd - 0.02) < 0.001, "mean %g std %g", m, sd);
    TU_OK(oclnn_init_normal(t, 0.5f, 0.02f, 42, 3));
    float *w = read_all(t);
    ck_assert_int_eq(memcmp(v, w, 8191 * sizeof(float)), 0);
    free(v);
    free(w);
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_sgd_matches_reference);
    tcase_add_test(tc, test_adam_matches_reference);
    tcase_add_test(tc, test_fused_matches_per_param);
    tcase_add_test(tc, test_zero_grad_clears_block);
    tcase_add_test(tc, test_feed_and_scalar_reader);
    tcase_add_test(tc, test_training_loop_descends);
    tcase_add_test(tc, test_optimizer_errors);
    tcase_add_test(tc, test_lr_schedules);
    tcase_add_test(tc, test_init_rules);
    tcase_add_test(tc, test_init_normal_statistics);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
