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
    cl_mem state[MAX_STATES];    /* dense: a sub-buffer of the optimizer's state block */
    char *state_name[MAX_STATES];
    cl_kernel kernel;            /* sparse only: dense slots are updated by units */
    cl_uint step_args;           /* index of the first per-step argument */
    size_t n;
    size_t state_off;            /* dense: element offset in the state blocks */
} opt_slot;

/* One launch per step: the fused update of the dense parameters that share
 * a parameter block and a gradient block (normally all of them), or one
 * parameter (OCLNN_FUSED_OPTIM=0, or a parameter outside any block). */
typedef struct opt_unit {
    cl_kernel kernel;
    cl_uint step_args;
    cl_mem table, groups;   /* fused: segment rows and each work item's row (cl/optim.cl) */
    size_t global, local;   /* local 0: the driver chooses */
    const opt_slot *first;  /* for messages */
    int nseg;
} opt_unit;

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
    cl_mem state_block[MAX_STATES]; /* every dense slot's state k, at its state_off */
    opt_unit *units;
    int nunits;
};

/* optim_sparse.c: refuses settings a sparse gradient does not support,
 * names the kernel, binds the fixed arguments, and enqueues one step (t is
 * the step being taken). */
oclnn_status oclnn_optim_sparse_check(const oclnn_optimizer *opt, const oclnn_tensor *param);
const char *oclnn_optim_sparse_kernel(const oclnn_optimizer *opt);
oclnn_status oclnn_optim_sparse_bind(const oclnn_optimizer *opt, opt_slot *s);
oclnn_status oclnn_optim_sparse_step(const oclnn_optimizer *opt, opt_slot *s, int64_t t);
/* optim_fused.c: state blocks and update units of the dense slots (after
 * the slots are made); releases them (after the slots' state sub-buffers). */
oclnn_status oclnn_optim_dense_setup(oclnn_optimizer *opt);
void oclnn_optim_units_release(oclnn_optimizer *opt);
oclnn_status oclnn_optim_set_float(cl_kernel k, cl_uint *i, double v, const char *op);
oclnn_status oclnn_optim_set_int(cl_kernel k, cl_uint *i, int64_t v, const char *op);

#endif
