/* Optimizer steps for parameters with a row-sparse gradient
 * (graph/sparse_grad.h): one work item per (entry, column) of the
 * accumulator, so a step reads and writes only the rows in the gradient,
 * whatever the table's size. The rules are PyTorch's for sparse gradients:
 * SGD without momentum or weight decay, SparseAdam (lazy Adam: the moments
 * of absent rows are not decayed), and Adagrad's sparse branch. */
#include "train/optim_internal.h"

#include <math.h>

static const char *const names[4] = {"sgd", "adam", "adamw", "adagrad"};

oclnn_status oclnn_optim_sparse_check(const oclnn_optimizer *opt, const oclnn_tensor *param)
{
    const char *op = names[opt->kind], *name = oclnn_tensor_name(param);
    if (opt->kind == OPT_SGD && (opt->momentum != 0 || opt->weight_decay != 0 || opt->nesterov))
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED,
                          "%s: parameter '%s' has a row-sparse gradient; momentum (%g) and weight decay (%g) are not "
                          "supported for it (use 0, or a dense gradient)", op, name, opt->momentum, opt->weight_decay);
    if (opt->kind != OPT_SGD && opt->weight_decay != 0)
        return oclnn_fail(OCLNN_ERR_UNSUPPORTED,
                          "%s: parameter '%s' has a row-sparse gradient; weight decay (%g) is not supported for it "
                          "(as in PyTorch's SparseAdam and sparse Adagrad; use 0, or a dense gradient)",
                          op, name, opt->weight_decay);
    return OCLNN_OK;
}

const char *oclnn_optim_sparse_kernel(const oclnn_optimizer *opt)
{
    return opt->kind == OPT_SGD ? "sgd_sparse_step" : opt->kind == OPT_ADAGRAD ? "adagrad_sparse_step"
                                                                               : "adam_sparse_step";
}

/* (p, p_off, rows, values, seg, D, states...) */
oclnn_status oclnn_optim_sparse_bind(const oclnn_optimizer *opt, opt_slot *s)
{
    const char *op = names[opt->kind];
    const oclnn_sparse_grad *sg = s->sparse;
    cl_uint i = 0;
    oclnn_status st = oclnn_arg_tensor(s->kernel, &i, s->param, op);
    if (!st) st = oclnn_arg(s->kernel, &i, sizeof(cl_mem), &sg->rows->buffer, op);
    if (!st) st = oclnn_arg(s->kernel, &i, sizeof(cl_mem), &sg->values->buffer, op);
    if (!st) st = oclnn_arg(s->kernel, &i, sizeof(cl_mem), &sg->seg->buffer, op);
    if (!st) st = oclnn_arg_count(s->kernel, &i, sg->cols, op);
    for (int k = 0; k < opt->nstates && !st; k++) st = oclnn_arg(s->kernel, &i, sizeof(cl_mem), &s->state[k], op);
    s->step_args = i;
    return st;
}

oclnn_status oclnn_optim_sparse_step(const oclnn_optimizer *opt, opt_slot *s, int64_t t)
{
    const oclnn_sparse_grad *sg = s->sparse;
    const char *op = names[opt->kind];
    /* An empty gradient changes nothing (PyTorch skips it too). */
    if (sg->nseg == 0 || sg->upper == 0 || sg->cols == 0) return OCLNN_OK;
    cl_uint i = s->step_args;
    oclnn_status st = oclnn_optim_set_int(s->kernel, &i, sg->nseg, op);
    if (!st) st = oclnn_optim_set_int(s->kernel, &i, sg->upper, op);
    if (opt->kind == OPT_SGD) {
        if (!st) st = oclnn_optim_set_float(s->kernel, &i, opt->lr, op);
    } else if (opt->kind == OPT_ADAGRAD) {
        if (!st) st = oclnn_optim_set_float(s->kernel, &i, opt->lr / (1.0 + (double)(t - 1) * opt->lr_decay), op);
        if (!st) st = oclnn_optim_set_float(s->kernel, &i, opt->eps, op);
    } else {
        double bc1 = 1.0 - pow(opt->beta1, (double)t), bc2 = 1.0 - pow(opt->beta2, (double)t);
        if (!st) st = oclnn_optim_set_float(s->kernel, &i, opt->beta1, op);
        if (!st) st = oclnn_optim_set_float(s->kernel, &i, opt->beta2, op);
        if (!st) st = oclnn_optim_set_float(s->kernel, &i, opt->eps, op);
        if (!st) st = oclnn_optim_set_float(s->kernel, &i, opt->lr * sqrt(bc2) / bc1, op);
    }
    oclnn_launch l = {.kernel = s->kernel, .dims = 1, .global = {(size_t)(sg->upper * sg->cols)}};
    if (!st) st = oclnn_launch_enqueue(opt->g->ctx, &l, op);
    return st;
}
