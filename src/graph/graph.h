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

/* Large enough for a fused recurrent layer (input, h0, c0 and four weights
 * and biases per direction and layer) and for per-step launches of small
 * fused kernels; constructors that exceed them get a graph error. */
#define OCLNN_MAX_SRC 32
#define OCLNN_MAX_LAUNCH 16
#define OCLNN_MAX_AUX 8

enum {
    T_INPUT = 1u << 0,
    T_PARAM = 1u << 1,
    T_OUTPUT = 1u << 2,
    T_GRAD = 1u << 3,    /* persistent gradient accumulator of a param */
    T_STATE = 1u << 4,   /* other persistent state (running stats, optimizer) */
    T_VIEW = 1u << 5,
    T_AUX = 1u << 6,     /* extra output written by the node in aux_of */
    T_NEEDS_GRAD = 1u << 7,
    T_DIFF_OUTPUT = 1u << 8, /* aux output that carries a gradient (LSTM h_n, split q/k/v) */
};
#define T_PERSISTENT (T_INPUT | T_PARAM | T_OUTPUT | T_GRAD | T_STATE)

typedef struct oclnn_op_def oclnn_op_def;

/* An activation the planner folds into its producer's epilogue
 * (op_def.epilogue, op_def.takes_epilogue, tensor.epilogue). */
typedef enum { EPI_NONE = 0, EPI_RELU, EPI_GELU } oclnn_epilogue;

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
    struct oclnn_sparse_grad *sparse_grad; /* params: row-sparse accumulator instead of grad (graph/sparse_grad.h) */
    double init_value;               /* persistent state: value it starts with when allocated */
    bool owns_buffer;                /* this tensor holds one reference to buffer */
    bool in_block;                   /* buffer is a sub-buffer of the graph's param or grad block */
    oclnn_tensor *inplace_of;        /* planner: storage whose arena range this node writes in place */
    bool accumulate;                 /* planner: the node adds its result into storage (a gradient
                                        accumulator) instead of overwriting it (see op_def.accumulates) */
    oclnn_epilogue epilogue;         /* planner: the node applies this activation to its result, and
                                        the activation node reading it does nothing (plan.c) */
    bool fused_away;                 /* planner: a reader does this node's work; it is not prepared
                                        and launches nothing (plan.c fuse_residual_adds) */

    /* planning and execution */
    int node_index;                  /* position in execution order, -1 for leaves */
    int last_use;                    /* index of the last node reading this storage */
    size_t bytes;
    cl_mem buffer;                   /* own buffer (persistent) or a sub-buffer of the arena */
    size_t byte_offset;              /* planner: offset in the arena; 0 once buffer is assigned */
    oclnn_launch launch[OCLNN_MAX_LAUNCH];
    int nlaunch;
};

/* Every op is one entry of this kind, listed in the registry
 * (src/ops/registry.c; `oclnn ops` prints it). The graph, not the op,
 * enforces the input contract: a source that is a strided view (permute,
 * transpose, a slice of an inner axis) is copied to contiguous memory before
 * the node is created unless the op declares in strided_inputs that its
 * kernel reads that source through its strides. Contiguous sources may
 * still start at an element offset (a slice of the outer axis): kernels get
 * (buffer, offset) for every tensor. */
struct oclnn_op_def {
    const char *name;
    /* Creates kernels and binds arguments; buffers are assigned by now. */
    oclnn_status (*prepare)(oclnn_context *ctx, oclnn_tensor *node);
    /* Enqueues the work; NULL means "enqueue node->launch[] in order". */
    oclnn_status (*forward)(oclnn_context *ctx, oclnn_tensor *node);
    /* Adds gradient nodes: for each differentiable src i, calls
     * oclnn_grad_add(g, node->src[i], contribution). grads[0] is the
     * gradient of the node's own output, grads[1 + a] that of aux[a]: NULL
     * for aux outputs that carry no gradient, and zeros (never NULL) for a
     * differentiable output nothing depended on. NULL: no backward. */
    void (*backward)(oclnn_graph *g, oclnn_tensor *node, oclnn_tensor *const *grads);
    void (*release)(oclnn_tensor *node);
    bool inplace;            /* output may reuse src[0]'s memory when src[0] dies here */
    /* The node adds src[0] into its own persistent storage (grad_accumulate):
     * the planner may have src[0]'s producer add into that storage itself. */
    bool accumulator;
    /* Whether this node could add its result to what its memory already
     * holds (a GEMM with beta = 1) instead of overwriting it. When it can
     * and its only reader is an accumulator, the planner points its storage
     * at the accumulator's and sets node->accumulate: one pass and one
     * launch fewer per parameter and step. NULL: never. */
    bool (*accumulates)(const oclnn_tensor *node);
    /* An activation node (relu, gelu) that a producer may apply in its own
     * epilogue: the planner folds it in when the producer's takes_epilogue
     * says it can and the activation is the value's only reader (so no
     * backward needs the pre-activation value: gelu's reads x, so a
     * training graph keeps it; relu's reads the output, which is the same
     * memory). The activation node then aliases the producer's output and
     * launches nothing. */
    oclnn_epilogue epilogue;
    bool (*takes_epilogue)(const oclnn_tensor *node, oclnn_epilogue act);
    /* add: the node is a + b of two same-shape contiguous sources, which
     * its only reader may compute itself (take_residual). */
    bool plain_add;
    /* A node whose first input can be a sum a + b it computes itself
     * (layer_norm of a residual sum): called by the planner to make a and
     * b its inputs; the add node is then fused_away. Inference only in
     * effect: a backward reading the sum is a second reader. */
    void (*take_residual)(oclnn_tensor *node, oclnn_tensor *a, oclnn_tensor *b);
    unsigned strided_inputs; /* bit i: the kernel reads src i through its strides */
};

/* The registry: every op definition, for listing and for checking that a
 * node's op is a registered one. */
int oclnn_op_registry_count(void);
const oclnn_op_def *oclnn_op_registry_get(int i);
bool oclnn_op_registered(const oclnn_op_def *op);

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
    /* Parameters and dense gradient accumulators are sub-buffers of one
     * block each (allocated at compile), so a fused optimizer updates them
     * all in one launch and zero_grad clears them with one fill. */
    cl_mem param_block, grad_block;
    size_t grad_block_bytes;
    size_t arena_bytes, naive_bytes;
    size_t arena_align;              /* bytes: the device's sub-buffer origin alignment, at least 256 */
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
/* Extra output of node that carries no gradient (max-pool indices, saved
 * statistics, workspaces), allocated with it. */
oclnn_tensor *oclnn_aux_new(oclnn_tensor *node, oclnn_dtype dtype, int ndim, const int64_t *dims);
/* Extra f32 output of node that does carry a gradient (LSTM h_n and c_n,
 * the parts of a split): its gradient reaches the op's backward() as
 * grads[1 + a]. */
oclnn_tensor *oclnn_diff_output_new(oclnn_tensor *node, int ndim, const int64_t *dims);
/* Persistent state tensor (running stats, optimizer moments). It is set to
 * `init` once, when its memory is allocated at compile, and never again:
 * a graph that shares the state of another (oclnn_graph_share_params)
 * keeps its values. */
oclnn_tensor *oclnn_state_new(oclnn_graph *g, const char *name, oclnn_dtype dtype, int ndim, const int64_t *dims,
                              double init);
bool oclnn_tensor_is_contiguous(const oclnn_tensor *t);
bool oclnn_same_shape(const oclnn_tensor *a, const oclnn_tensor *b);
size_t oclnn_dtype_size(oclnn_dtype dtype);
const char *oclnn_dtype_name(oclnn_dtype dtype);

/* ---- for prepare(): argument binding. Tensors are passed to kernels as
 * (global buffer, int element offset). Every tensor holds fewer than 2^31
 * elements (the graph refuses larger ones), and each intermediate has a
 * buffer of its own range of the arena, so int indices and offsets in
 * kernels never overflow, whatever the arena's size. */
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
/* Enqueues every launch of node in order: what a node without a forward()
 * runs, for forward()s that do something before or after. */
oclnn_status oclnn_launches_enqueue(oclnn_context *ctx, const oclnn_tensor *node);
/* Element offset of a tensor in its buffer. */
int64_t oclnn_tensor_elem_offset(const oclnn_tensor *t);
/* Binds an element count as a kernel int, failing clearly past 2^31 - 1. */
oclnn_status oclnn_arg_count(cl_kernel k, cl_uint *index, int64_t n, const char *op);
/* The same for n consecutive counts (sizes kept in a node's iparam). */
oclnn_status oclnn_arg_counts(cl_kernel k, cl_uint *index, int n, const int64_t *values, const char *op);

/* m and s with n / d == (n * m) >> s for all 0 <= n < 2^31 and
 * 1 <= d < 2^31 (Granlund and Montgomery: with l = ceil(log2 d),
 * m = floor(2^(31+l) / d) + 1 < 2^32). Kernels split flat indices with
 * these: a division by a runtime value does not vectorise on CPUs. A d
 * below 1 (an empty dim) is taken as 1. */
void oclnn_magic_div(int64_t d, cl_uint *m, cl_uint *s);

/* ---- for training loops: transfers that do not wait. The copy is queued
 * in order with the kernels; *done gets an event (NULL for 0 bytes) that
 * the caller waits on (clWaitForEvents) before touching data again, and
 * releases. */
oclnn_status oclnn_tensor_write_async(oclnn_tensor *t, const void *data, size_t bytes, cl_event *done);
oclnn_status oclnn_tensor_read_async(oclnn_tensor *t, void *data, size_t bytes, cl_event *done);

/* ---- for backward() */
void oclnn_grad_add(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *contribution);

#endif
