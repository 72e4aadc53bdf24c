/* oclnn layers: pooling, batch normalisation and dropout.
 *
 * All take NCHW tensors (batch, channels, height, width) like PyTorch and
 * follow its numerics, so weights and running statistics exported from a
 * PyTorch model give the same outputs here.
 *
 * Pooling (src/ops/pool.c). The output size is PyTorch's:
 *     out = floor((in + 2*pad - kernel) / stride) + 1        (ceil_mode = 0)
 *     out = ceil((in + 2*pad - kernel) / stride) + 1         (ceil_mode = 1)
 * and with ceil_mode a last window that would start in the right padding is
 * dropped (every window starts inside the input or the left padding).
 * Padding may be at most half the kernel. Max pooling also keeps the argmax
 * of each window for its backward pass; all pooling backward passes gather
 * (each input pixel sums over the windows that contain it), so they are
 * deterministic and use no atomics.
 *
 *     oclnn_pool2d_params p = oclnn_pool2d_params_default(2, 2, 0);  // 2x2, stride 2
 *     oclnn_tensor *y = oclnn_max_pool2d(g, x, &p);
 *
 * Batch norm (src/ops/norm.c) and dropout (src/ops/dropout.c) read the
 * graph's training flag (oclnn_graph_set_training) at every run, so one
 * compiled graph serves both training and evaluation:
 *   - training: batch norm normalises with the batch's statistics and
 *     updates its running statistics; dropout zeroes elements with
 *     probability p and scales the rest by 1/(1-p).
 *   - eval: batch norm uses the running statistics; dropout is the identity.
 * Their backward passes follow the mode of the same run. */
#ifndef OCLNN_LAYERS_H
#define OCLNN_LAYERS_H

#include "oclnn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Pooling over [N, C, H, W] */

typedef struct oclnn_pool2d_params {
    int kernel_h, kernel_w;
    int stride_h, stride_w; /* 0 = the kernel size (PyTorch's default) */
    int pad_h, pad_w;       /* implicit padding on both sides, at most half the kernel */
    int ceil_mode;          /* round the output size up (see above) */
    /* avg only: padded elements count in the divisor. PyTorch's default is
     * 1, a zeroed struct says 0: oclnn_pool2d_params_default sets 1. */
    int count_include_pad;
} oclnn_pool2d_params;

/* Square kernel, stride (0 = kernel) and padding with PyTorch's defaults
 * (ceil_mode 0, count_include_pad 1). */
oclnn_pool2d_params oclnn_pool2d_params_default(int kernel, int stride, int pad);

/* Padding counts as -infinity. */
oclnn_tensor *oclnn_max_pool2d(oclnn_graph *g, oclnn_tensor *x, const oclnn_pool2d_params *p);
oclnn_tensor *oclnn_avg_pool2d(oclnn_graph *g, oclnn_tensor *x, const oclnn_pool2d_params *p);
/* Output [N, C, out_h, out_w]; window i of an axis of size H covers
 * [floor(i*H/out), ceil((i+1)*H/out)) (PyTorch's AdaptiveAvgPool2d). */
oclnn_tensor *oclnn_adaptive_avg_pool2d(oclnn_graph *g, oclnn_tensor *x, int out_h, int out_w);
/* Mean over H and W: [N, C, H, W] -> [N, C, 1, 1]. */
oclnn_tensor *oclnn_global_avg_pool2d(oclnn_graph *g, oclnn_tensor *x);

/* ---- Batch normalisation over the channel axis (axis 1).
 * y = (x - mean) / sqrt(var + eps) * weight + bias, per channel.
 * weight and bias are [C] (both NULL: no affine transform, PyTorch's
 * affine=False). The op creates persistent state tensors named
 *     <name_prefix>.running_mean          f32 [C], starts at 0
 *     <name_prefix>.running_var           f32 [C], starts at 1
 *     <name_prefix>.num_batches_tracked   i64 [] (scalar), starts at 0
 * (PyTorch's state_dict names; find them with oclnn_graph_find). Compile
 * sets the starting values, so weights loaded after compile are kept.
 * name_prefix NULL takes the weight's module name ("bn1.weight" -> "bn1"),
 * or "batch_norm2d<N>" without weights, so the state is always saved.
 * Each training run computes the batch mean and biased variance (two-pass),
 * adds 1 to num_batches_tracked and updates
 *     running_mean = (1 - momentum) * running_mean + momentum * mean
 *     running_var  = (1 - momentum) * running_var  + momentum * unbiased var.
 * PyTorch's defaults are momentum 0.1, eps 1e-5; momentum must be in [0, 1]
 * (PyTorch's cumulative-average momentum=None is not supported). Training
 * with one value per channel (N*H*W == 1) fails at run time, as in PyTorch. */
oclnn_tensor *oclnn_batch_norm2d(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *weight, oclnn_tensor *bias,
                                 const char *name_prefix, float momentum, float eps);
/* The same over [N, C] or [N, C, L] (PyTorch's BatchNorm1d). */
oclnn_tensor *oclnn_batch_norm1d(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *weight, oclnn_tensor *bias,
                                 const char *name_prefix, float momentum, float eps);

/* ---- Dropout, p in [0, 1]. In training, element i of run r is kept when
 * oclnn_philox_uniform(seed, r, i) >= p, where r counts the graph's
 * completed runs (so every run draws a new mask, reproducibly, on every
 * device); kept elements are scaled by 1/(1-p). The backward pass of the
 * same run recomputes the same mask (no mask is stored). oclnn_dropout uses
 * seed OCLNN_DROPOUT_SEED + the node's position in the graph, so two
 * dropout layers draw different masks and a rebuilt graph draws the same. */
#define OCLNN_DROPOUT_SEED 0x5eedull
oclnn_tensor *oclnn_dropout(oclnn_graph *g, oclnn_tensor *x, float p);
oclnn_tensor *oclnn_dropout_seeded(oclnn_graph *g, oclnn_tensor *x, float p, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
