/* Internal graph structures shared by the planner, executor, autodiff and
 * the op families in src/ops. An op is one oclnn_op_def: kernels are
 * created and their arguments bound once in prepare(), forward() only
 * enqueues, backward() adds gradient nodes built from other ops. */
#ifndef OCLNN_GRAPH_INTERNAL_H
#define OCLNN_GRAPH_INTERNAL_H

#include "core/context.h"
#include "core/error.h"
#include "oclnn/graph.h"

#include <stdbool.h>

#define OCLNN_MAX_SRC 6
#define OCLNN_MAX_LAUNCH 4
#define OCLNN_MAX_AUX 3

enum {
    T_INPUT = 1u << 0,
    T_PARAM = 1u << 1,
    T_OUTPUT = 1u << 2,
    T_GRAD = 1u << 3,    /* persistent gradient accumulator of a param */
    T_STATE = 1u << 4,   /* other persistent state (running stats, optimizer) */
    T_VIEW = 1u << 5,
    T_AUX = 1u << 6,     /* extra output written by the node in aux_of */
    T_NEEDS_GRAD = 1u << 7,
};
#define T_PERSISTENT (T_INPUT | T_PARAM | T_OUTPUT | T_GRAD | T_STATE)

typedef struct oclnn_op_def oclnn_op_def;

typedef struct oclnn_launch {
    cl_kernel kernel;
    cl_uint dims;
    size_t global[3];
    size_t local[3]; /* local[0] == 0: let the driver choose */
} oclnn_launch;

struct oclnn_tensor {
    oclnn_graph *graph;
    int id;
    char *name;
    oclnn_dtype dtype;
    int ndim;
    int64_t dims[OCLNN_MAX_DIMS];
    int64_t strides[OCLNN_MAX_DIMS]; /* in elements */
    int64_t offset;                  /* in elements, into storage */
    oclnn_tensor *storage;           /* owner of the memory: self unless a view */
    unsigned flags;

    const oclnn_op_def *op;          /* NULL for leaves, views and aux outputs */
    oclnn_tensor *src[OCLNN_MAX_SRC];
    int nsrc;
    oclnn_tensor *aux[OCLNN_MAX_AUX]; /* extra outputs written by this node */
    int naux;
    oclnn_tensor *aux_of;
    int64_t iparam[16];              /* op attributes */
    float fparam[8];
    void *op_data;                   /* op-owned, freed by op->release */

    oclnn_tensor *grad;              /* params: persistent accumulator */
    oclnn_tensor *grad_tmp;          /* during backward(): sum of contributions */

    /* planning and execution */
    int node_index;                  /* position in execution order, -1 for leaves */
    int last_use;                    /* index of the last node reading this storage */
    size_t bytes;
    cl_mem buffer;                   /* own buffer (persistent) or the arena */
    size_t byte_offset;              /* into buffer */
    oclnn_launch launch[OCLNN_MAX_LAUNCH];
    int nlaunch;
};

struct oclnn_op_def {
    const char *name;
    /* Creates kernels and binds arguments; buffers are assigned by now. */
    oclnn_status (*prepare)(oclnn_context *ctx, oclnn_tensor *node);
    /* Enqueues the work; NULL means "enqueue node->launch[] in order". */
    oclnn_status (*forward)(oclnn_context *ctx, oclnn_tensor *node);
    /* Adds gradient nodes: for each differentiable src i, calls
     * oclnn_grad_add(g, node->src[i], contribution). NULL: no backward. */
    void (*backward)(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *grad_out);
    void (*release)(oclnn_tensor *node);
    bool inplace;   /* output may reuse src[0]'s memory when src[0] dies here */
    bool contiguous_inputs; /* constructor helper copies strided views first */
};

struct oclnn_graph {
    oclnn_context *ctx;
    oclnn_tensor **tensors;
    int count, capacity;
    oclnn_status error;
    char error_message[1024];
    bool compiled;
    bool has_backward;
    bool training;                   /* read by ops at run time (dropout, batch norm) */
    uint64_t run_count;              /* number of completed oclnn_graph_run calls */
    double *node_seconds;            /* $OCLNN_PROFILE: wall time per node (finish after each) */
    cl_mem arena;
    size_t arena_bytes, naive_bytes;
    int node_count;
};

/* ---- for op constructors */
/* Records the graph's first error (sticky) and returns NULL. */
oclnn_tensor *oclnn_graph_fail(oclnn_graph *g, oclnn_status status, const char *fmt, ...) OCLNN_PRINTF(3, 4);
/* True when the graph may still be built on and all given srcs are non-NULL
 * and belong to g (otherwise records an error for `op`). */
bool oclnn_graph_usable(oclnn_graph *g, const char *op, int n, oclnn_tensor *const *srcs);
/* New contiguous node of `op` with the given shape and sources. */
oclnn_tensor *oclnn_node_new(oclnn_graph *g, const oclnn_op_def *op, oclnn_dtype dtype, int ndim,
                             const int64_t *dims, int nsrc, oclnn_tensor *const *srcs);
/* Extra output of node (e.g. max-pool indices), allocated with it. */
oclnn_tensor *oclnn_aux_new(oclnn_tensor *node, oclnn_dtype dtype, int ndim, const int64_t *dims);
/* Persistent state tensor (running stats, optimizer moments). */
oclnn_tensor *oclnn_state_new(oclnn_graph *g, const char *name, oclnn_dtype dtype, int ndim, const int64_t *dims);
bool oclnn_tensor_is_contiguous(const oclnn_tensor *t);
bool oclnn_same_shape(const oclnn_tensor *a, const oclnn_tensor *b);
size_t oclnn_dtype_size(oclnn_dtype dtype);
const char *oclnn_dtype_name(oclnn_dtype dtype);

/* ---- for prepare(): argument binding. Tensors are passed to kernels as
 * (global buffer, int element offset). */
oclnn_status oclnn_launch_kernel(oclnn_context *ctx, oclnn_tensor *node, const char *source,
                                 const char *options, const char *kernel_name, oclnn_launch **out);
oclnn_status oclnn_arg_tensor(cl_kernel k, cl_uint *index, const oclnn_tensor *t, const char *op);
oclnn_status oclnn_arg(cl_kernel k, cl_uint *index, size_t size, const void *value, const char *op);
/* 1-D launch covering n items, rounded up to a multiple of a work-group
 * size the device supports. */
void oclnn_launch_1d(oclnn_launch *l, size_t n);
/* 1-D launch over n items in groups of up to 256 (within the kernel's and
 * the device's limits), whatever n is: PoCL vectorises a group's loop over
 * work items only when it is long enough, and compiles a kernel variant per
 * local size it sees. */
oclnn_status oclnn_launch_1d_groups(oclnn_context *ctx, oclnn_launch *l, size_t n, const char *op);
oclnn_status oclnn_launch_enqueue(oclnn_context *ctx, const oclnn_launch *l, const char *op);
/* Element offset of a tensor in its buffer, checked to fit an int. */
int oclnn_tensor_elem_offset(const oclnn_tensor *t);

/* ---- for backward() */
void oclnn_grad_add(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *contribution);

#endif
