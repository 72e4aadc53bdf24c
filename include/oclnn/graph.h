/* oclnn graphs: tensors, op constructors, compile and run.
 *
 * A graph is built by calling op constructors; each returns the tensor the
 * op produces, with its shape inferred on the spot. Construction errors are
 * sticky: the first one (naming the op and the shapes) is kept on the graph,
 * later constructors return NULL, and oclnn_graph_compile() reports it.
 * Passing NULL into a constructor is therefore always safe.
 *
 * oclnn_graph_compile() plans the graph once: tensors that are not inputs,
 * parameters, gradients or marked outputs share one device arena, reused by
 * liveness. oclnn_graph_run() then enqueues every node and may be called any
 * number of times with new input data and no re-planning. */
#ifndef OCLNN_GRAPH_H
#define OCLNN_GRAPH_H

#include "oclnn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef OCLNN_DTYPE_DEFINED
#define OCLNN_DTYPE_DEFINED
typedef enum { OCLNN_DTYPE_F32 = 0, OCLNN_DTYPE_I32 = 1, OCLNN_DTYPE_I64 = 2 } oclnn_dtype;
#endif

#define OCLNN_MAX_DIMS 8

typedef struct oclnn_graph oclnn_graph;
typedef struct oclnn_tensor oclnn_tensor;

oclnn_graph *oclnn_graph_create(oclnn_context *ctx);
void oclnn_graph_release(oclnn_graph *g);
/* The sticky construction error (OCLNN_OK if none); its message is in
 * oclnn_graph_error(). */
oclnn_status oclnn_graph_status(const oclnn_graph *g);
const char *oclnn_graph_error(const oclnn_graph *g);
oclnn_context *oclnn_graph_context(const oclnn_graph *g);

/* ---- Leaves: inputs (data you write before each run) and parameters
 * (trainable f32 weights, persistent across runs). Names are the keys for
 * weight files: use PyTorch state_dict names ("fc1.weight"). */
oclnn_tensor *oclnn_input(oclnn_graph *g, const char *name, oclnn_dtype dtype, int ndim, const int64_t *dims);
oclnn_tensor *oclnn_param(oclnn_graph *g, const char *name, int ndim, const int64_t *dims);
/* Convenience: oclnn_input_f32(g, "x", 2, 64, 10) (dims passed as int). */
oclnn_tensor *oclnn_input_f32(oclnn_graph *g, const char *name, int ndim, ...);

/* A tensor holds at most 2^31 - 1 elements (kernels index with int); a
 * larger one is a graph error naming its shape. */

/* ---- Tensor queries */
int oclnn_tensor_ndim(const oclnn_tensor *t);
int64_t oclnn_tensor_dim(const oclnn_tensor *t, int axis); /* negative axis counts from the end */
int64_t oclnn_tensor_numel(const oclnn_tensor *t);
oclnn_dtype oclnn_tensor_dtype(const oclnn_tensor *t);
const char *oclnn_tensor_name(const oclnn_tensor *t);
oclnn_status oclnn_tensor_set_name(oclnn_tensor *t, const char *name);
/* Writes "[2, 3, 4]" into buf. */
const char *oclnn_tensor_shape_str(const oclnn_tensor *t, char *buf, size_t size);
/* Finds a tensor by name (NULL if none). */
oclnn_tensor *oclnn_graph_find(oclnn_graph *g, const char *name);
/* Parameters in creation order (for optimizers and weight files). */
int oclnn_graph_param_count(const oclnn_graph *g);
oclnn_tensor *oclnn_graph_param(const oclnn_graph *g, int i);

/* ---- Views share memory with their source (no copy). reshape needs a
 * contiguous source (one dim may be -1); permute/transpose/slice produce
 * strided views, which ops copy to contiguous form where they need it. */
oclnn_tensor *oclnn_reshape(oclnn_graph *g, oclnn_tensor *x, int ndim, const int64_t *dims);
oclnn_tensor *oclnn_flatten(oclnn_graph *g, oclnn_tensor *x, int start_axis); /* [N,C,H,W],1 -> [N,CHW] */
oclnn_tensor *oclnn_permute(oclnn_graph *g, oclnn_tensor *x, const int *perm);
oclnn_tensor *oclnn_transpose(oclnn_graph *g, oclnn_tensor *x, int axis0, int axis1);
oclnn_tensor *oclnn_slice(oclnn_graph *g, oclnn_tensor *x, int axis, int64_t start, int64_t end);
/* Materialises any view as a new contiguous tensor. */
oclnn_tensor *oclnn_contiguous(oclnn_graph *g, oclnn_tensor *x);
oclnn_tensor *oclnn_copy(oclnn_graph *g, oclnn_tensor *x);

/* Training mode (the default) makes dropout drop and batch norm use and
 * update batch statistics; eval mode makes them deterministic. Can be
 * switched between runs of a compiled graph. */
oclnn_status oclnn_graph_set_training(oclnn_graph *g, int training);
int oclnn_graph_training(const oclnn_graph *g);

/* Makes dst's parameters and state tensors use the device memory of the
 * same-named tensors of src (already compiled): e.g. an eval graph with
 * another batch size that always sees the training graph's current
 * weights, with no copies. Call before compiling dst. Names and shapes
 * must match; tensors of dst without a counterpart keep their own memory. */
oclnn_status oclnn_graph_share_params(oclnn_graph *dst, const oclnn_graph *src);

/* ---- Compile and run */
typedef struct oclnn_compile_options {
    int no_memory_reuse;      /* give every intermediate its own arena range (for testing the planner) */
    int poison_intermediates; /* fill intermediates with NaN at compile, so that an element a kernel
                                 reads before anything wrote it shows up in the results (for tests) */
} oclnn_compile_options;

/* Keeps t in its own buffer after a run so it can be read. */
oclnn_status oclnn_graph_output(oclnn_graph *g, oclnn_tensor *t);
/* A failed compile (say, out of device memory) leaves the graph as it was:
 * it may be compiled again. */
oclnn_status oclnn_graph_compile(oclnn_graph *g, const oclnn_compile_options *options);
/* Enqueues every node; returns without waiting (reads wait). */
oclnn_status oclnn_graph_run(oclnn_graph *g);

/* Planner report: arena size actually used vs the sum of all intermediates. */
size_t oclnn_graph_arena_bytes(const oclnn_graph *g);
size_t oclnn_graph_naive_bytes(const oclnn_graph *g);
int oclnn_graph_node_count(const oclnn_graph *g);

/* Host <-> device copies of persistent tensors (inputs, params, grads,
 * outputs), valid after compile. Sizes are in bytes and must match. */
oclnn_status oclnn_tensor_write(oclnn_tensor *t, const void *data, size_t bytes);
oclnn_status oclnn_tensor_read(oclnn_tensor *t, void *data, size_t bytes);
oclnn_status oclnn_tensor_fill(oclnn_tensor *t, float value);

/* Fills a persistent f32 tensor on the device from the Philox generator:
 * element i gets the word at index i of stream `stream` under `seed`, so
 * the values are the same on every device: uniform element i is exactly
 * fmaf(high - low, oclnn_philox_uniform(seed, stream, i), low). Normal
 * values use Box-Muller on word pairs (equal up to the device's log/sin). */
oclnn_status oclnn_tensor_fill_uniform(oclnn_tensor *t, uint64_t seed, uint64_t stream, float low, float high);
oclnn_status oclnn_tensor_fill_normal(oclnn_tensor *t, uint64_t seed, uint64_t stream, float mean, float stddev);

#ifdef __cplusplus
}
#endif
#endif
