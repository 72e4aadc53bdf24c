/* Optimizer internals shared by optim.c (dense updates, state, metadata)
 * and optim_sparse.c (parameters with row-sparse gradients). */
#ifndef OCLNN_OPTIM_INTERNAL_H
#define OCLNN_OPTIM_INTERNAL_H

#include "graph/graph.h"
#include "graph/sparse_grad.h"
#include "oclnn/train.h"

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_ADAGRAD } opt_kind;

#define MAX_STATES 2

typedef struct opt_slot {
    oclnn_tensor *param, *grad;  /* grad: NULL for a row-sparse gradient */
    oclnn_sparse_grad *sparse;   /* the param's row-sparse accumulator, or NULL */
    cl_mem state[MAX_STATES];
    char *state_name[MAX_STATES];
    cl_kernel kernel;
    cl_uint step_args; /* index of the first per-step argument */
    size_t n;
} opt_slot;

struct oclnn_optimizer {
    oclnn_graph *g;
    opt_kind kind;
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps;
    double lr_decay, initial_accumulator_value; /* Adagrad */
    int nesterov;
    int64_t step;
    int nstates; /* per slot */
    opt_slot *slots;
    int nslots;
};

/* optim_sparse.c: refuses settings a sparse gradient does not support,
 * names the kernel, binds the fixed arguments, and enqueues one step (t is
 * the step being taken). */
oclnn_status oclnn_optim_sparse_check(const oclnn_optimizer *opt, const oclnn_tensor *param);
const char *oclnn_optim_sparse_kernel(const oclnn_optimizer *opt);
oclnn_status oclnn_optim_sparse_bind(const oclnn_optimizer *opt, opt_slot *s);
oclnn_status oclnn_optim_sparse_step(const oclnn_optimizer *opt, opt_slot *s, int64_t t);
oclnn_status oclnn_optim_set_float(cl_kernel k, cl_uint *i, double v, const char *op);
oclnn_status oclnn_optim_set_int(cl_kernel k, cl_uint *i, int64_t v, const char *op);

#endif
