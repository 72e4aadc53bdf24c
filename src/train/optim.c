/* Optimizers: SGD (momentum, dampening, Nesterov, weight decay),
 * Adam/AdamW and Adagrad on the device, plus learning-rate schedules.
 * Parameters with a row-sparse gradient are updated by optim_sparse.c.
 *
 * An optimizer is made after compile, when parameters and gradient
 * accumulators have their buffers; it owns its kernels (buffers bound once;
 * one launch for all dense parameters, see optim_fused.c) and device
 * buffers for its state, so the graph's memory plan is untouched. Hyper-parameters are kept in double on
 * the host; per-step scalars such as Adam's bias corrections are computed in
 * double and passed to the kernels as float. */
#include "train/optim_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char oclnn_cl_optim[];

static const char *const state_suffix[4][MAX_STATES] = {
    {"momentum_buffer", NULL}, {"exp_avg", "exp_avg_sq"}, {"exp_avg", "exp_avg_sq"}, {"sum", NULL}};
static const char *const kind_name[4] = {"sgd", "adam", "adamw", "adagrad"};

void oclnn_optimizer_release(oclnn_optimizer *opt)
{
    if (!opt) return;
    for (int i = 0; i < opt->nslots; i++) {
        opt_slot *s = &opt->slots[i];
        for (int k = 0; k < MAX_STATES; k++) {
            if (s->state[k]) clReleaseMemObject(s->state[k]);
            free(s->state_name[k]);
        }
        if (s->kernel) clReleaseKernel(s->kernel);
    }
    oclnn_optim_units_release(opt);
    free(opt->slots);
    free(opt);
}

static oclnn_optimizer *create(oclnn_graph *g, opt_kind kind, const char *what)
{
    if (!g) {
        oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: NULL graph", what);
        return NULL;
    }
    if (!g->compiled || !g->has_backward) {
        oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: call oclnn_graph_backward and oclnn_graph_compile first", what);
        return NULL;
    }
    oclnn_optimizer *opt = calloc(1, sizeof *opt);
    int count = oclnn_graph_param_count(g);
    if (!opt || !(opt->slots = calloc((size_t)(count ? count : 1), sizeof *opt->slots))) {
        free(opt);
        oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", what);
        return NULL;
    }
    opt->g = g;
    opt->kind = kind;
    return opt;
}

/* Creates state buffers (zeroed) and kernels for every param with a grad. */
static oclnn_optimizer *finish(oclnn_optimizer *opt, int nstates)
{
    oclnn_graph *g = opt->g;
    oclnn_context *ctx = g->ctx;
    const char *op = kind_name[opt->kind];
    opt->nstates = nstates;
    oclnn_status st = OCLNN_OK;
    for (int p = 0; p < oclnn_graph_param_count(g) && !st; p++) {
        oclnn_tensor *param = oclnn_graph_param(g, p);
        oclnn_sparse_grad *sparse = param->sparse_grad && param->sparse_grad->values ? param->sparse_grad : NULL;
        if (!param->grad && !sparse) continue; /* the loss does not depend on it */
        if (sparse && (st = oclnn_optim_sparse_check(opt, param))) break;
        opt_slot *s = &opt->slots[opt->nslots++];
        s->param = param;
        s->grad = param->grad;
        s->sparse = sparse;
        s->n = (size_t)oclnn_tensor_numel(param);
        if (s->n > 0x7fffffff) {
            st = oclnn_fail(OCLNN_ERR_UNSUPPORTED, "%s: parameter '%s' has more than 2^31 elements", op,
                            oclnn_tensor_name(param));
            break;
        }
        for (int k = 0; k < nstates && !st; k++) {
            const char *base = param->name ? param->name : "param";
            size_t len = strlen(base) + strlen(state_suffix[opt->kind][k]) + 2;
            if (!(s->state_name[k] = malloc(len))) {
                st = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", op);
                break;
            }
            snprintf(s->state_name[k], len, "%s.%s", base, state_suffix[opt->kind][k]);
            if (!sparse) continue; /* dense state: a sub-buffer of a state block (optim_fused.c) */
            st = oclnn_buffer_create(ctx, s->n * sizeof(float), s->state_name[k], &s->state[k]);
            if (st) break;
            float init = opt->kind == OPT_ADAGRAD ? (float)opt->initial_accumulator_value : 0.0f;
            st = oclnn_cl_check(clEnqueueFillBuffer(ctx->queue, s->state[k], &init, sizeof init, 0,
                                                    s->n ? s->n * sizeof(float) : 4, 0, NULL, NULL),
                                "clEnqueueFillBuffer", s->state_name[k]);
        }
        if (!st && sparse)
            st = oclnn_kernel_create(ctx, oclnn_cl_optim, "", oclnn_optim_sparse_kernel(opt), op, &s->kernel);
        if (!st && sparse) st = oclnn_optim_sparse_bind(opt, s);
    }
    if (!st) st = oclnn_optim_dense_setup(opt);
    if (st) {
        oclnn_optimizer_release(opt);
        return NULL;
    }
    return opt;
}

static bool finite_nonneg(double x) { return isfinite(x) && x >= 0; }

oclnn_optimizer *oclnn_optimizer_sgd(oclnn_graph *g, float lr, float momentum, float dampening, float weight_decay,
                                     int nesterov)
{
    if (!finite_nonneg(lr) || !finite_nonneg(momentum) || !isfinite(dampening) || !finite_nonneg(weight_decay)) {
        oclnn_fail(OCLNN_ERR_INVALID_ARG, "sgd: invalid hyper-parameters (lr %g, momentum %g, dampening %g, "
                   "weight_decay %g)", (double)lr, (double)momentum, (double)dampening, (double)weight_decay);
        return NULL;
    }
    if (nesterov && (momentum <= 0 || dampening != 0)) {
        oclnn_fail(OCLNN_ERR_INVALID_ARG, "sgd: Nesterov momentum requires a momentum and zero dampening");
        return NULL;
    }
    oclnn_optimizer *opt = create(g, OPT_SGD, "sgd");
    if (!opt) return NULL;
    opt->lr = lr;
    opt->momentum = momentum;
    opt->dampening = dampening;
    opt->weight_decay = weight_decay;
    opt->nesterov = nesterov != 0;
    return finish(opt, momentum != 0 ? 1 : 0);
}

oclnn_optimizer *oclnn_optimizer_adam(oclnn_graph *g, float lr, float beta1, float beta2, float eps,
                                      float weight_decay, int decoupled)
{
    const char *what = decoupled ? "adamw" : "adam";
    if (!finite_nonneg(lr) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !finite_nonneg(eps) ||
        !finite_nonneg(weight_decay)) {
        oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: invalid hyper-parameters (lr %g, betas %g %g, eps %g, weight_decay %g)",
                   what, (double)lr, (double)beta1, (double)beta2, (double)eps, (double)weight_decay);
        return NULL;
    }
    oclnn_optimizer *opt = create(g, decoupled ? OPT_ADAMW : OPT_ADAM, what);
    if (!opt) return NULL;
    opt->lr = lr;
    opt->beta1 = beta1;
    opt->beta2 = beta2;
    opt->eps = eps;
    opt->weight_decay = weight_decay;
    return finish(opt, 2);
}

oclnn_optimizer *oclnn_optimizer_adagrad(oclnn_graph *g, float lr, float lr_decay, float weight_decay,
                                         float initial_accumulator_value, float eps)
{
    if (!finite_nonneg(lr) || !finite_nonneg(lr_decay) || !finite_nonneg(weight_decay) ||
        !finite_nonneg(initial_accumulator_value) || !finite_nonneg(eps)) {
        oclnn_fail(OCLNN_ERR_INVALID_ARG, "adagrad: invalid hyper-parameters (lr %g, lr_decay %g, weight_decay %g, "
                   "initial_accumulator_value %g, eps %g)", (double)lr, (double)lr_decay, (double)weight_decay,
                   (double)initial_accumulator_value, (double)eps);
        return NULL;
    }
    oclnn_optimizer *opt = create(g, OPT_ADAGRAD, "adagrad");
    if (!opt) return NULL;
    opt->lr = lr;
    opt->lr_decay = lr_decay;
    opt->weight_decay = weight_decay;
    opt->initial_accumulator_value = initial_accumulator_value;
    opt->eps = eps;
    return finish(opt, 1);
}

oclnn_status oclnn_optim_set_float(cl_kernel k, cl_uint *i, double v, const char *op)
{
    float f = (float)v;
    return oclnn_arg(k, i, sizeof f, &f, op);
}

oclnn_status oclnn_optim_set_int(cl_kernel k, cl_uint *i, int64_t v, const char *op)
{
    return oclnn_arg_count(k, i, v, op);
}
#define set_float oclnn_optim_set_float
#define set_int oclnn_optim_set_int

/* Sets a dense kernel's per-step scalars, from argument i on. */
static oclnn_status set_step_args(const oclnn_optimizer *opt, cl_kernel k, cl_uint i, int64_t t)
{
    const char *op = kind_name[opt->kind];
    oclnn_status st;
    if (opt->kind == OPT_ADAGRAD) {
        st = set_float(k, &i, opt->lr / (1.0 + (double)(t - 1) * opt->lr_decay), op);
        if (!st) st = set_float(k, &i, opt->eps, op);
        if (!st) st = set_float(k, &i, opt->weight_decay, op);
    } else if (opt->kind == OPT_SGD) {
        st = set_float(k, &i, opt->lr, op);
        if (!st) st = set_float(k, &i, opt->momentum, op);
        if (!st) st = set_float(k, &i, opt->dampening, op);
        if (!st) st = set_float(k, &i, opt->weight_decay, op);
        if (!st) st = set_int(k, &i, opt->nesterov, op);
        if (!st) st = set_int(k, &i, t == 1, op);
    } else {
        bool adamw = opt->kind == OPT_ADAMW;
        double step_size = opt->lr / (1.0 - pow(opt->beta1, (double)t));
        double bc2_sqrt = sqrt(1.0 - pow(opt->beta2, (double)t));
        st = set_float(k, &i, opt->beta1, op);
        if (!st) st = set_float(k, &i, opt->beta2, op);
        if (!st) st = set_float(k, &i, opt->eps, op);
        if (!st) st = set_float(k, &i, adamw ? 1.0 - opt->lr * opt->weight_decay : 1.0, op);
        if (!st) st = set_float(k, &i, adamw ? 0.0 : opt->weight_decay, op);
        if (!st) st = set_float(k, &i, step_size, op);
        if (!st) st = set_float(k, &i, bc2_sqrt, op);
    }
    return st;
}

oclnn_status oclnn_optimizer_step(oclnn_optimizer *opt)
{
    if (!opt) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_optimizer_step: NULL optimizer");
    int64_t t = opt->step + 1;
    for (int p = 0; p < opt->nslots; p++) {
        opt_slot *s = &opt->slots[p];
        oclnn_status st = s->sparse ? oclnn_optim_sparse_step(opt, s, t) : OCLNN_OK;
        if (st) return oclnn_fail_append(st, " (updating '%s')", oclnn_tensor_name(s->param));
    }
    for (int u = 0; u < opt->nunits; u++) {
        const opt_unit *un = &opt->units[u];
        oclnn_launch l = {.kernel = un->kernel, .dims = 1, .global = {un->global}, .local = {un->local}};
        oclnn_status st = set_step_args(opt, un->kernel, un->step_args, t);
        if (!st) st = oclnn_launch_enqueue(opt->g->ctx, &l, kind_name[opt->kind]);
        if (st && un->nseg > 1)
            return oclnn_fail_append(st, " (updating %d parameters from '%s')", un->nseg,
                                     oclnn_tensor_name(un->first->param));
        if (st) return oclnn_fail_append(st, " (updating '%s')", oclnn_tensor_name(un->first->param));
    }
    opt->step = t;
    return OCLNN_OK;
}

oclnn_status oclnn_optimizer_set_lr(oclnn_optimizer *opt, float lr)
{
    if (!opt) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_optimizer_set_lr: NULL optimizer");
    if (!finite_nonneg(lr))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_optimizer_set_lr: invalid lr %g", (double)lr);
    opt->lr = lr;
    return OCLNN_OK;
}

float oclnn_optimizer_get_lr(const oclnn_optimizer *opt) { return opt ? (float)opt->lr : 0.0f; }
int64_t oclnn_optimizer_get_step(const oclnn_optimizer *opt) { return opt ? opt->step : 0; }
const char *oclnn_optimizer_name(const oclnn_optimizer *opt) { return opt ? kind_name[opt->kind] : ""; }

/* ---- state access (also used by checkpoints) */

int oclnn_optimizer_state_count(const oclnn_optimizer *opt) { return opt ? opt->nslots * opt->nstates : 0; }

static const opt_slot *slot_of(const oclnn_optimizer *opt, int i, int *k)
{
    if (!opt || i < 0 || i >= oclnn_optimizer_state_count(opt)) return NULL;
    *k = i % opt->nstates;
    return &opt->slots[i / opt->nstates];
}

const char *oclnn_optimizer_state_name(const oclnn_optimizer *opt, int i)
{
    int k;
    const opt_slot *s = slot_of(opt, i, &k);
    return s ? s->state_name[k] : NULL;
}

oclnn_tensor *oclnn_optimizer_state_param(const oclnn_optimizer *opt, int i)
{
    int k;
    const opt_slot *s = slot_of(opt, i, &k);
    return s ? s->param : NULL;
}

static oclnn_status state_transfer(const oclnn_optimizer *opt, int i, void *data, size_t bytes, bool write)
{
    const char *what = write ? "oclnn_optimizer_state_write" : "oclnn_optimizer_state_read";
    int k;
    const opt_slot *s = slot_of(opt, i, &k);
    if (!s) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: no state %d", what, i);
    if (bytes != s->n * sizeof(float))
        return oclnn_fail(OCLNN_ERR_SHAPE, "%s '%s': %zu bytes given, state holds %zu", what, s->state_name[k], bytes,
                          s->n * sizeof(float));
    if (!bytes) return OCLNN_OK;
    if (!data) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: NULL data", what);
    cl_command_queue q = opt->g->ctx->queue;
    cl_int err = write ? clEnqueueWriteBuffer(q, s->state[k], CL_TRUE, 0, bytes, data, 0, NULL, NULL)
                       : clEnqueueReadBuffer(q, s->state[k], CL_TRUE, 0, bytes, data, 0, NULL, NULL);
    return oclnn_cl_check(err, write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer", s->state_name[k]);
}

oclnn_status oclnn_optimizer_state_read(const oclnn_optimizer *opt, int i, float *data, size_t bytes)
{
    return state_transfer(opt, i, data, bytes, false);
}

oclnn_status oclnn_optimizer_state_write(oclnn_optimizer *opt, int i, const float *data, size_t bytes)
{
    return state_transfer(opt, i, (void *)data, bytes, true);
}

/* The graph an optimizer updates (checkpoint.c). */
oclnn_graph *oclnn_optim_graph(const oclnn_optimizer *opt) { return opt ? opt->g : NULL; }

/* ---- hyper-parameters as text, for checkpoint metadata (checkpoint.c) */

typedef struct hparam {
    const char *key;
    size_t offset;
} hparam;

#define HP(field) {#field, offsetof(oclnn_optimizer, field)}
static const hparam sgd_hparams[] = {HP(lr), HP(momentum), HP(dampening), HP(weight_decay)};
static const hparam adam_hparams[] = {HP(lr), HP(beta1), HP(beta2), HP(eps), HP(weight_decay)};
static const hparam adagrad_hparams[] = {HP(lr), HP(lr_decay), HP(weight_decay), HP(initial_accumulator_value),
                                         HP(eps)};

static const hparam *hparams_of(const oclnn_optimizer *opt, int *n)
{
    if (opt->kind == OPT_SGD) {
        *n = (int)(sizeof sgd_hparams / sizeof sgd_hparams[0]);
        return sgd_hparams;
    }
    if (opt->kind == OPT_ADAGRAD) {
        *n = (int)(sizeof adagrad_hparams / sizeof adagrad_hparams[0]);
        return adagrad_hparams;
    }
    *n = (int)(sizeof adam_hparams / sizeof adam_hparams[0]);
    return adam_hparams;
}

/* Writes up to max "key"/"value" pairs (values exact: %.17g); returns how
 * many. Keys: optimizer, step, nesterov (SGD) and the hyper-parameters. */
int oclnn_optim_meta(const oclnn_optimizer *opt, char keys[][32], char values[][40], int max)
{
    int n, count = 0;
    const hparam *hp = hparams_of(opt, &n);
    if (count < max) {
        snprintf(keys[count], 32, "optimizer");
        snprintf(values[count++], 40, "%s", kind_name[opt->kind]);
    }
    if (count < max) {
        snprintf(keys[count], 32, "step");
        snprintf(values[count++], 40, "%lld", (long long)opt->step);
    }
    if (opt->kind == OPT_SGD && count < max) {
        snprintf(keys[count], 32, "nesterov");
        snprintf(values[count++], 40, "%d", opt->nesterov);
    }
    for (int i = 0; i < n && count < max; i++) {
        snprintf(keys[count], 32, "%s", hp[i].key);
        snprintf(values[count++], 40, "%.17g", *(const double *)((const char *)opt + hp[i].offset));
    }
    return count;
}

static const char *meta_find(int count, const char *const *keys, const char *const *values, const char *key)
{
    for (int i = 0; i < count; i++)
        if (strcmp(keys[i], key) == 0) return values[i];
    return NULL;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return false;
    *out = strtod(s, &end);
    return *end == '\0' && isfinite(*out);
}

/* Checks metadata written by oclnn_optim_meta against this optimizer's kind
 * and, when apply is set, restores the step and hyper-parameters. */
oclnn_status oclnn_optim_meta_apply(oclnn_optimizer *opt, int count, const char *const *keys,
                                    const char *const *values, bool apply, const char *path)
{
    const char *kind = meta_find(count, keys, values, "optimizer");
    if (!kind) return oclnn_fail(OCLNN_ERR_FORMAT, "checkpoint '%s': no optimizer in the metadata", path);
    if (strcmp(kind, kind_name[opt->kind]) != 0)
        return oclnn_fail(OCLNN_ERR_FORMAT, "checkpoint '%s' holds %s state, the optimizer is %s", path, kind,
                          kind_name[opt->kind]);
    double step, nesterov = 0, v[8];
    if (!parse_double(meta_find(count, keys, values, "step"), &step) || step < 0 || step != floor(step))
        return oclnn_fail(OCLNN_ERR_FORMAT, "checkpoint '%s': bad or missing 'step'", path);
    if (opt->kind == OPT_SGD && !parse_double(meta_find(count, keys, values, "nesterov"), &nesterov))
        return oclnn_fail(OCLNN_ERR_FORMAT, "checkpoint '%s': bad or missing 'nesterov'", path);
    int n;
    const hparam *hp = hparams_of(opt, &n);
    for (int i = 0; i < n; i++)
        if (!parse_double(meta_find(count, keys, values, hp[i].key), &v[i]))
            return oclnn_fail(OCLNN_ERR_FORMAT, "checkpoint '%s': bad or missing '%s'", path, hp[i].key);
    if (opt->kind == OPT_SGD && (v[1] != 0) != (opt->nstates != 0))
        return oclnn_fail(OCLNN_ERR_FORMAT,
                          "checkpoint '%s': momentum %g there, %g here; a momentum buffer exists in only one", path,
                          v[1], opt->momentum);
    if (!apply) return OCLNN_OK;
    opt->step = (int64_t)step;
    opt->nesterov = nesterov != 0;
    for (int i = 0; i < n; i++) *(double *)((char *)opt + hp[i].offset) = v[i];
    return OCLNN_OK;
}

/* ---- learning-rate schedules */

oclnn_lr_schedule oclnn_lr_constant(double lr) { return (oclnn_lr_schedule){.kind = OCLNN_LR_CONSTANT, .base_lr = lr}; }

oclnn_lr_schedule oclnn_lr_step(double lr, int64_t step_size, double gamma)
{
    return (oclnn_lr_schedule){.kind = OCLNN_LR_STEP, .base_lr = lr, .step_size = step_size, .gamma = gamma};
}

oclnn_lr_schedule oclnn_lr_cosine(double lr, int64_t t_max, double eta_min)
{
    return (oclnn_lr_schedule){.kind = OCLNN_LR_COSINE, .base_lr = lr, .t_max = t_max, .eta_min = eta_min};
}

double oclnn_lr_schedule_at(const oclnn_lr_schedule *s, int64_t epoch)
{
    const double pi = 3.14159265358979323846;
    if (!s) return 0.0;
    if (epoch < 0) epoch = 0;
    if (s->kind == OCLNN_LR_STEP && s->step_size > 0)
        return s->base_lr * pow(s->gamma, (double)(epoch / s->step_size));
    if (s->kind == OCLNN_LR_COSINE && s->t_max > 0)
        return s->eta_min + (s->base_lr - s->eta_min) * (1.0 + cos(pi * (double)epoch / (double)s->t_max)) / 2.0;
    return s->base_lr;
}
