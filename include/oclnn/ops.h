/* oclnn ops: constructors that add one node to a graph and return its
 * output. Shapes are checked and inferred immediately; a mismatch records
 * a sticky graph error naming the op and both shapes (see graph.h). Every
 * op here has a backward unless stated otherwise. Inputs may be any view
 * (permuted, transposed, sliced): the graph copies a strided view to
 * contiguous form before an op whose kernel cannot read its strides. */
#ifndef OCLNN_OPS_H
#define OCLNN_OPS_H

#include "oclnn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The op registry: every op the graph can hold, including the
 * backward-only ones autodiff adds (`oclnn ops` prints it). */
typedef struct oclnn_op_info {
    const char *name;        /* as in error messages and OCLNN_PROFILE, e.g. "matmul" */
    const char *family;      /* the file it lives in: src/ops/<family>.c, cl/<family>.cl */
    int has_backward;        /* gradients flow through it */
    int inplace;             /* may write its output over its first input */
    unsigned strided_inputs; /* bit i: input i is read through its strides (no copy) */
} oclnn_op_info;
int oclnn_op_count(void);
/* Fills *info for op i in [0, oclnn_op_count()). */
oclnn_status oclnn_op_get(int i, oclnn_op_info *info);

/* ---- Elementwise (src/ops/elementwise.c). Binary ops broadcast like
 * NumPy/PyTorch: shapes are aligned from the right, size-1 dims stretch. */
oclnn_tensor *oclnn_add(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b);
oclnn_tensor *oclnn_sub(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b);
oclnn_tensor *oclnn_mul(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b);
oclnn_tensor *oclnn_div(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b);
/* y = alpha * x + beta */
oclnn_tensor *oclnn_scale(oclnn_graph *g, oclnn_tensor *x, float alpha, float beta);
/* y = x + b broadcast along `axis` (b has x's size on that axis), e.g.
 * axis 1 for NCHW channels or for [N, F] features. */
oclnn_tensor *oclnn_bias_add(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *b, int axis);
oclnn_tensor *oclnn_relu(oclnn_graph *g, oclnn_tensor *x);
oclnn_tensor *oclnn_sigmoid(oclnn_graph *g, oclnn_tensor *x);
oclnn_tensor *oclnn_tanh(oclnn_graph *g, oclnn_tensor *x);
oclnn_tensor *oclnn_gelu(oclnn_graph *g, oclnn_tensor *x); /* exact: x * Phi(x) with erf */
/* A constant tensor of x's shape filled with value (no gradient flows). */
oclnn_tensor *oclnn_full_like(oclnn_graph *g, oclnn_tensor *x, float value);

/* ---- Reductions (src/ops/reduce.c) over one axis; keepdim keeps it as 1. */
oclnn_tensor *oclnn_sum(oclnn_graph *g, oclnn_tensor *x, int axis, int keepdim);
oclnn_tensor *oclnn_mean(oclnn_graph *g, oclnn_tensor *x, int axis, int keepdim);
/* Sum of all elements, shape [] (a scalar). */
oclnn_tensor *oclnn_sum_all(oclnn_graph *g, oclnn_tensor *x);
oclnn_tensor *oclnn_mean_all(oclnn_graph *g, oclnn_tensor *x);
/* Maximum over one axis (NaN wins, like PyTorch); the gradient goes to the
 * first maximal element. The axis must not be empty. */
oclnn_tensor *oclnn_max(oclnn_graph *g, oclnn_tensor *x, int axis, int keepdim);
/* Index (i32) of the first maximum along the axis; no gradient. */
oclnn_tensor *oclnn_argmax(oclnn_graph *g, oclnn_tensor *x, int axis, int keepdim);
/* Sums x down to `shape` (the reverse of broadcasting); used by backward. */
oclnn_tensor *oclnn_sum_to(oclnn_graph *g, oclnn_tensor *x, int ndim, const int64_t *dims);

/* ---- Softmax family (src/ops/softmax.c), over the last axis, max-subtracted. */
oclnn_tensor *oclnn_softmax(oclnn_graph *g, oclnn_tensor *x);
oclnn_tensor *oclnn_log_softmax(oclnn_graph *g, oclnn_tensor *x);

/* ---- Shape ops (src/ops/shape.c): copies with a new layout. */
oclnn_tensor *oclnn_concat(oclnn_graph *g, int n, oclnn_tensor *const *xs, int axis);
/* Splits x along axis into n (1 to 9) contiguous parts of the given sizes,
 * e.g. a fused q/k/v projection into q, k and v. One node writes all parts
 * and the gradients of all of them flow back (a part nothing depends on
 * counts as zero). parts[k] gets part k; the status is the graph's error. */
oclnn_status oclnn_split(oclnn_graph *g, oclnn_tensor *x, int axis, int n, const int64_t *sizes,
                         oclnn_tensor **parts);

/* ---- Casts (src/ops/cast.c): x converted to dtype (f32, i32 or i64), like
 * PyTorch's x.to(dtype): float -> integer truncates toward zero (NaN gives
 * 0, out-of-range values saturate), i64 -> i32 keeps the low 32 bits
 * (wraps modulo 2^32), integer -> f32 rounds to nearest (ties to even).
 * Always a new contiguous tensor, also for the same dtype (a copy); x may
 * be any view. Only f32 -> f32 has a gradient (passed through unchanged);
 * casts to or from integers are not differentiable. An unknown dtype is a
 * graph error. */
oclnn_tensor *oclnn_cast(oclnn_graph *g, oclnn_tensor *x, oclnn_dtype dtype);

/* ---- Embedding lookup (src/ops/embedding.c), as F.embedding: table [V, D]
 * f32, ids i32 or i64 of any shape (any view) -> [ids..., D], row ids[i] of
 * the table. padding_idx in [0, V), or -1 for none: that row is looked up
 * as usual but gets no gradient. An id outside [0, V) never indexes memory:
 * its output row is NaN and it gives no gradient (PyTorch raises instead).
 * Gradient: none to ids; the table's is a per-row sum over the ids,
 * computed deterministically (sorted, no atomics): dense [V, D], or
 * row-sparse when the table is a param marked with
 * oclnn_param_set_sparse_grad (train.h). */
oclnn_tensor *oclnn_embedding(oclnn_graph *g, oclnn_tensor *table, oclnn_tensor *ids, int64_t padding_idx);

/* The same with options (NULL or zeros: exactly oclnn_embedding).
 *   max_norm > 0: F.embedding's max_norm. At every run, before the lookup,
 *     each row looked up whose norm_type-norm exceeds max_norm is replaced
 *     IN THE TABLE by max_norm * row / (norm + 1e-7) (as PyTorch's
 *     embedding_renorm_: the param changes, once per run, however often the
 *     id repeats; padding_idx's row too); the lookup then reads the
 *     renormalised rows. The gradient is the plain lookup's, as if the
 *     renormalised table were the weight. Because the table is written, it
 *     must be a param or input (or a contiguous slice of one); an op that
 *     reads the table elsewhere in the graph sees it before or after the
 *     renorm according to the execution order, as in PyTorch.
 *   norm_type: p of the norm, 0 means 2 (PyTorch's default); INFINITY is
 *     max |x|. The norm is computed in f32 (PyTorch: f32 norm, f64 scale).
 * Negative or NaN values are a graph error. */
typedef struct oclnn_embedding_options {
    float max_norm;  /* 0: none */
    float norm_type; /* 0: 2 */
} oclnn_embedding_options;
oclnn_tensor *oclnn_embedding_ex(oclnn_graph *g, oclnn_tensor *table, oclnn_tensor *ids, int64_t padding_idx,
                                 const oclnn_embedding_options *options);

/* ---- GEMM family (src/ops/gemm.c), CLBlast underneath.
 * matmul: [M,K]x[K,N] -> [M,N]; with 3+ dims the leading dims are a batch
 * (equal in both, or 1 in one of them is not supported: give equal batches).
 * linear: y = x W^T + b with PyTorch's weight layout W [out, in]; x [..., in];
 * b may be NULL. */
oclnn_tensor *oclnn_matmul(oclnn_graph *g, oclnn_tensor *a, oclnn_tensor *b);
oclnn_tensor *oclnn_matmul_t(oclnn_graph *g, oclnn_tensor *a, int transpose_a, oclnn_tensor *b, int transpose_b);
oclnn_tensor *oclnn_linear(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *weight, oclnn_tensor *bias);

#ifdef __cplusplus
}
#endif
#endif
