/* Elementwise ops. Specialised with -D:
 *   OP      binary op: 0 add, 1 sub, 2 mul, 3 div
 *   ACT     unary op: 0 relu, 1 sigmoid, 2 tanh, 3 gelu, 4 scale (alpha*x+beta), 5 gelu (tanh form)
 *   NDIM    rank used by the strided/broadcast index maps
 * Shapes and strides travel as int8 vectors (rank <= 8), unpacked into
 * private arrays because OpenCL C cannot index a vector by a variable. */

#ifndef NDIM
#define NDIM 1
#endif

float binary_op(float a, float b)
{
#if OP == 0
    return a + b;
#elif OP == 1
    return a - b;
#elif OP == 2
    return a * b;
#else
    return a / b;
#endif
}

/* Same shape, both contiguous. */
__kernel void binary_flat(__global float *y, int y_off, __global const float *a, int a_off,
                          __global const float *b, int b_off, int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] = binary_op(a[a_off + i], b[b_off + i]);
}

/* One operand contiguous and whole, the other contiguous and repeated
 * along leading dims (a bias row, position embeddings): element i of the
 * repeated one is i % nb. rep_a: a is the repeated one. */
__kernel void binary_repeat(__global float *y, int y_off, __global const float *a, int a_off,
                            __global const float *b, int b_off, int n, int nb, int rep_a)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int j = i % nb;
    y[y_off + i] = binary_op(a[a_off + (rep_a ? j : i)], b[b_off + (rep_a ? i : j)]);
}

/* Broadcasting: strides are 0 along stretched dims. */
__kernel void binary_broadcast(__global float *y, int y_off, __global const float *a, int a_off,
                               __global const float *b, int b_off, int n, int8 dims8, int8 astr8, int8 bstr8)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int dims[8], astr[8], bstr[8];
    vstore8(dims8, 0, dims);
    vstore8(astr8, 0, astr);
    vstore8(bstr8, 0, bstr);
    int rem = i, ai = 0, bi = 0;
    for (int d = NDIM - 1; d >= 0; d--) {
        int c = rem % dims[d];
        rem /= dims[d];
        ai += c * astr[d];
        bi += c * bstr[d];
    }
    y[y_off + i] = binary_op(a[a_off + ai], b[b_off + bi]);
}

#include "shared/gelu_cdf.h"

__kernel void unary(__global float *y, int y_off, __global const float *x, int x_off, int n, float alpha,
                    float beta)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float v = x[x_off + i];
#if ACT == 0
    y[y_off + i] = v > 0.0f ? v : 0.0f;
#elif ACT == 1
    y[y_off + i] = 1.0f / (1.0f + exp(-v));
#elif ACT == 2
    y[y_off + i] = tanh(v);
#elif ACT == 3
    y[y_off + i] = v * gelu_cdf(v);
#elif ACT == 5
    /* 0.5 v (1 + tanh(u)) = v sigmoid(2u): no cancellation for v << 0 */
    y[y_off + i] = v / (1.0f + exp(-1.5957691216057308f * (v + 0.044715f * v * v * v)));
#else
    y[y_off + i] = alpha * v + beta;
#endif
}

/* dx from dy and the forward output y (relu, sigmoid, tanh) or input (gelu, both forms). */
__kernel void unary_backward(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                             __global const float *t, int t_off, int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float g = dy[dy_off + i], v = t[t_off + i];
#if ACT == 0
    dx[dx_off + i] = v > 0.0f ? g : 0.0f;
#elif ACT == 1
    dx[dx_off + i] = g * v * (1.0f - v);
#elif ACT == 2
    dx[dx_off + i] = g * (1.0f - v * v);
#elif ACT == 5
    /* s = sigmoid(2u) = 0.5 (1 + tanh u); d/dx = s + v 2 s (1 - s) du/dx */
    float s = 1.0f / (1.0f + exp(-1.5957691216057308f * (v + 0.044715f * v * v * v)));
    float du = 0.7978845608028654f * (1.0f + 3.0f * 0.044715f * v * v);
    dx[dx_off + i] = g * (s + 2.0f * v * s * (1.0f - s) * du);
#else
    float pdf = 0.3989422804014327f * exp(-0.5f * v * v);
    dx[dx_off + i] = g * (gelu_cdf(v) + v * pdf);
#endif
}

/* y = x + b[(i / inner) % channels] */
__kernel void bias_add(__global float *y, int y_off, __global const float *x, int x_off, __global const float *b,
                       int b_off, int n, int channels, int inner)
{
    int i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] = x[x_off + i] + b[b_off + (i / inner) % channels];
}

__kernel void fill(__global float *y, int y_off, int n, float value)
{
    int i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] = value;
}

__kernel void accumulate(__global float *y, int y_off, __global const float *x, int x_off, int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] += x[x_off + i];
}

/* Gradient of a slice view: zeros outside [start, start + len) on the axis. */
__kernel void slice_backward(__global float *y, int y_off, __global const float *g, int g_off, int n, int axis_size,
                             int inner, int start, int len)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int in = i % inner, a = (i / inner) % axis_size, o = i / (inner * axis_size);
    y[y_off + i] = (a >= start && a < start + len) ? g[g_off + (o * len + a - start) * inner + in] : 0.0f;
}
