/* oclnn convolution: 2-D convolution over NCHW tensors, PyTorch semantics.
 *
 *     oclnn_conv2d_params p = {.pad_h = 2, .pad_w = 2};   // zeros mean the defaults
 *     oclnn_tensor *w = oclnn_param(g, "conv1.weight", 4, (int64_t[]){32, 1, 5, 5});
 *     oclnn_tensor *b = oclnn_param(g, "conv1.bias", 1, (int64_t[]){32});
 *     oclnn_tensor *y = oclnn_conv2d(g, x, w, b, &p);     // x [N, 1, 28, 28] -> y [N, 32, 28, 28]
 *
 * x is [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw] (PyTorch's layout,
 * so state_dict weights load as they are), bias [Cout] or NULL. The output
 * is [N, Cout, Ho, Wo] with
 *     Ho = (H + 2*pad_h - dilation_h*(kh-1) - 1) / stride_h + 1     (same for W)
 * Like PyTorch this is a cross-correlation (the kernel is not flipped).
 * Groups split the channels into independent convolutions: groups == Cin
 * with Cout a multiple of Cin is a depthwise convolution.
 *
 * With .max_pool = k the output is max-pooled (k x k, stride k) inside
 * the conv, as SimpleCNN's conv + ReLU + 2x2 pool blocks use it.
 *
 * Every input has a gradient. Bad shapes (channels not divisible by the
 * groups, a weight whose Cin/groups does not match x, a kernel larger than
 * the padded input) are sticky OCLNN_ERR_SHAPE errors naming conv2d and the
 * shapes.
 *
 * Underneath: im2col + GEMM (CLBlast's, batched over the images or one
 * wide GEMM over the whole batch, or on CPUs a register-tiled kernel of
 * oclnn's own that is several times faster there), 1x1 stride-1
 * convolutions as a plain GEMM without im2col where the path allows, and a
 * gather-style col2im for the data gradient (no atomics, so results are
 * deterministic); on CPUs Winograd for 3x3 layers and a direct kernel
 * without im2col for other stride-1 layers (see oclnn_conv_algorithm). */
#ifndef OCLNN_CONV_H
#define OCLNN_CONV_H

#include "oclnn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activation applied to an op's output inside the same kernels (with its
 * backward folded into the op's backward). Other headers that offer fused
 * activations share this enum through the guard. */
#ifndef OCLNN_ACTIVATION_DEFINED
#define OCLNN_ACTIVATION_DEFINED
typedef enum oclnn_activation { OCLNN_ACT_NONE = 0, OCLNN_ACT_RELU = 1 } oclnn_activation;
#endif

/* How a conv is computed. AUTO picks per device and shape (the choice the
 * benchmarks found fastest: on CPUs WINOGRAD for the 3x3 stride-1 layers
 * it applies to with enough channels, DIRECT for the other stride-1 layers
 * with 8 or more input channels and a kernel larger than 1x1, TILED for
 * the rest; IM2COL_BATCHED elsewhere); the
 * others exist so benchmarks and tests can time and check each path. The
 * backward pass follows the choice: BATCHED and WIDE compute the data
 * gradient per image or over the whole batch with CLBlast (the weight
 * gradient is always one GEMM over the batch), TILED uses its own GEMM
 * kernel for both, CLBLAST_CONVGEMM (forward only) has AUTO's backward.
 * A choice that does not apply to a shape (CLBLAST_CONVGEMM with
 * groups > 1, WINOGRAD for anything but 3x3 stride 1) falls back to
 * AUTO's; oclnn_conv2d_algorithm tells which ran. */
typedef enum oclnn_conv_algorithm {
    OCLNN_CONV_AUTO = 0,
    OCLNN_CONV_IM2COL_BATCHED,   /* per image: out[n] = W * col[n], CLBlast strided-batched GEMM */
    OCLNN_CONV_IM2COL_WIDE,      /* col of the whole batch, one CLBlast GEMM, then an NCHW permute */
    OCLNN_CONV_CLBLAST_CONVGEMM, /* CLBlast's own CLBlastSconvgemm (groups == 1 only) */
    OCLNN_CONV_IM2COL_TILED,     /* col of the batch, oclnn's register-tiled GEMM kernel (made for CPUs)
                                    storing NCHW with bias and activation fused */
    OCLNN_CONV_WINOGRAD,         /* Winograd F(2x2, 3x3): 3x3 kernels, stride 1, dilation 1, one
                                    group, any padding. Input tiles transformed, 16 GEMMs (one
                                    batched GEMM on the device's default engine: oclnn's tiled one
                                    on CPUs, CLBlast elsewhere), output transform with bias and
                                    activation: 2.25x fewer multiplies than im2col. Its rounding
                                    error can be a few times im2col's (measured: 4e-7 of the largest
                                    output for 64 -> 64 channels, values in [-1, 1]; im2col 9e-7).
                                    Data gradient: Winograd too when the padding is at most 2;
                                    weight gradient: Winograd too (the input's and the output
                                    gradient's transforms, one batched GEMM summing over tiles).
                                    Other shapes fall back to AUTO's choice. */
    OCLNN_CONV_DIRECT            /* direct ("implicit GEMM") kernel made for CPUs: stride 1, dilation
                                    1, one group, padding below the kernel size. No col matrix: a
                                    register-tiled kernel reads a padded copy of x in place, with
                                    bias, activation and a max_pool up to 4 fused; the data
                                    gradient is the same kernel
                                    on the padded output gradient, the weight gradient one kernel
                                    summing over the batch in registers (no atomics). Other shapes
                                    fall back to AUTO's choice. */
} oclnn_conv_algorithm;

/* A zero-initialised struct (or NULL) means stride 1, padding 0,
 * dilation 1, one group, no activation: 0 stands for the default in every
 * field. Negative values are invalid. */
typedef struct oclnn_conv2d_params {
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dilation_h, dilation_w;
    int groups;
    oclnn_activation activation;
    oclnn_conv_algorithm algorithm;
    /* k > 1: a max-pool over k x k windows with stride k, no padding,
     * floor mode (torch.nn.MaxPool2d(k)) after the bias and activation:
     * the output is the pooled [N, Cout, Ho/k, Wo/k] with the values and
     * gradients of oclnn_max_pool2d(oclnn_conv2d(...)), but on the tiled
     * and direct paths (CPUs) the unpooled conv output is never stored:
     * the GEMM's epilogue or the direct kernel's store takes the max of
     * each window, and the backward pass reads only the pooled gradient
     * and the argmax. Conv outputs of the floor remainder (rows and columns
     * in no window) are not stored, on the tiled path not even computed.
     * Other paths (and DIRECT with k > 4) build the conv and a max_pool2d
     * node. 0 or 1: no pool;
     * larger than the conv output: an OCLNN_ERR_SHAPE error. Last in the
     * struct, so that positional initialisers of the fields above keep
     * their meaning. */
    int max_pool;
} oclnn_conv2d_params;

oclnn_tensor *oclnn_conv2d(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *weight, oclnn_tensor *bias,
                           const oclnn_conv2d_params *p);

/* The path a conv2d output tensor was built with (AUTO already resolved
 * to the concrete choice); OCLNN_CONV_AUTO for any other tensor, which
 * includes the output of a max_pool that did not fuse (a max_pool2d node):
 * so tests can tell whether it fused. */
oclnn_conv_algorithm oclnn_conv2d_algorithm(const oclnn_tensor *conv_output);

#ifdef __cplusplus
}
#endif
#endif
