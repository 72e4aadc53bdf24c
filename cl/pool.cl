/* 2-D pooling over NCHW planes, forward and backward. One program serves
 * every geometry: sizes are kernel arguments, not -D options, so a network
 * with many pooling shapes compiles this file once.
 * Geometry arguments, in order: H, W (input plane), OH, OW (output plane),
 * KH, KW (kernel), SH, SW (stride), PH, PW (padding).
 * Backward kernels gather: one work item per input element sums over the
 * windows that contain it, so there are no atomics and results do not
 * depend on scheduling. */

#define GEOM_ARGS int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW

/* Output windows [*lo, *hi) along one axis whose kernel covers input index i. */
void windows_covering(int i, int K, int S, int P, int O, int *lo, int *hi)
{
    int a = i + P;
    *lo = a < K ? 0 : (a - K) / S + 1;
    *hi = min(a / S + 1, O);
}

/* Max pooling; idx gets the argmax as h * W + w within the plane (PyTorch's
 * return_indices layout). A NaN wins (the last one), as in PyTorch. */
__kernel void max_pool2d_forward(__global float *y, int y_off, __global int *idx, int idx_off,
                                 __global const float *x, int x_off, int n, GEOM_ARGS)
{
    int o = get_global_id(0);
    if (o >= n) return;
    int ow = o % OW, oh = (o / OW) % OH, plane = o / (OW * OH);
    int h0 = oh * SH - PH, w0 = ow * SW - PW;
    int h1 = min(h0 + KH, H), w1 = min(w0 + KW, W);
    h0 = max(h0, 0);
    w0 = max(w0, 0);
    __global const float *xp = x + x_off + plane * H * W;
    float best = -INFINITY;
    int arg = h0 * W + w0;
    for (int h = h0; h < h1; h++) {
        for (int w = w0; w < w1; w++) {
            float v = xp[h * W + w];
            if (v > best || isnan(v)) {
                best = v;
                arg = h * W + w;
            }
        }
    }
    y[y_off + o] = best;
    idx[idx_off + o] = arg;
}

__kernel void max_pool2d_backward(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                                  __global const int *idx, int idx_off, int n, GEOM_ARGS)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int w = i % W, h = (i / W) % H, plane = i / (W * H);
    int oh0, oh1, ow0, ow1;
    windows_covering(h, KH, SH, PH, OH, &oh0, &oh1);
    windows_covering(w, KW, SW, PW, OW, &ow0, &ow1);
    int self = h * W + w, base = plane * OH * OW;
    float sum = 0.0f;
    for (int oh = oh0; oh < oh1; oh++)
        for (int ow = ow0; ow < ow1; ow++) {
            int o = base + oh * OW + ow;
            if (idx[idx_off + o] == self) sum += dy[dy_off + o];
        }
    dx[dx_off + i] = sum;
}

/* PyTorch's divisor: the window clipped to the padded input, or to the
 * input itself when padding does not count. */
float avg_divisor(int oh, int ow, GEOM_ARGS, int count_include_pad)
{
    int h0 = oh * SH - PH, w0 = ow * SW - PW;
    int h1 = min(h0 + KH, H + PH), w1 = min(w0 + KW, W + PW);
    if (count_include_pad) return (float)((h1 - h0) * (w1 - w0));
    h1 = min(h1, H);
    w1 = min(w1, W);
    return (float)((h1 - max(h0, 0)) * (w1 - max(w0, 0)));
}

__kernel void avg_pool2d_forward(__global float *y, int y_off, __global const float *x, int x_off, int n,
                                 GEOM_ARGS, int count_include_pad)
{
    int o = get_global_id(0);
    if (o >= n) return;
    int ow = o % OW, oh = (o / OW) % OH, plane = o / (OW * OH);
    int h0 = max(oh * SH - PH, 0), w0 = max(ow * SW - PW, 0);
    int h1 = min(oh * SH - PH + KH, H), w1 = min(ow * SW - PW + KW, W);
    __global const float *xp = x + x_off + plane * H * W;
    float sum = 0.0f;
    for (int h = h0; h < h1; h++)
        for (int w = w0; w < w1; w++) sum += xp[h * W + w];
    y[y_off + o] = sum / avg_divisor(oh, ow, H, W, OH, OW, KH, KW, SH, SW, PH, PW, count_include_pad);
}

__kernel void avg_pool2d_backward(__global float *dx, int dx_off, __global const float *dy, int dy_off, int n,
                                  GEOM_ARGS, int count_include_pad)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int w = i % W, h = (i / W) % H, plane = i / (W * H);
    int oh0, oh1, ow0, ow1;
    windows_covering(h, KH, SH, PH, OH, &oh0, &oh1);
    windows_covering(w, KW, SW, PW, OW, &ow0, &ow1);
    __global const float *dyp = dy + dy_off + plane * OH * OW;
    float sum = 0.0f;
    for (int oh = oh0; oh < oh1; oh++)
        for (int ow = ow0; ow < ow1; ow++)
            sum += dyp[oh * OW + ow] / avg_divisor(oh, ow, H, W, OH, OW, KH, KW, SH, SW, PH, PW, count_include_pad);
    dx[dx_off + i] = sum;
}

/* Adaptive windows: [floor(o*I/O), ceil((o+1)*I/O)). */
int adaptive_start(int o, int I, int O) { return (o * I) / O; }
int adaptive_end(int o, int I, int O) { return ((o + 1) * I + O - 1) / O; }

__kernel void adaptive_avg_pool2d_forward(__global float *y, int y_off, __global const float *x, int x_off, int n,
                                          int H, int W, int OH, int OW)
{
    int o = get_global_id(0);
    if (o >= n) return;
    int ow = o % OW, oh = (o / OW) % OH, plane = o / (OW * OH);
    int h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
    int w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
    __global const float *xp = x + x_off + plane * H * W;
    float sum = 0.0f;
    for (int h = h0; h < h1; h++)
        for (int w = w0; w < w1; w++) sum += xp[h * W + w];
    y[y_off + o] = sum / (float)((h1 - h0) * (w1 - w0));
}

/* Input index i lies in the windows o with floor(i*O/I) <= o < ceil((i+1)*O/I). */
__kernel void adaptive_avg_pool2d_backward(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                                           int n, int H, int W, int OH, int OW)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int w = i % W, h = (i / W) % H, plane = i / (W * H);
    int oh0 = (h * OH) / H, oh1 = min(((h + 1) * OH + H - 1) / H, OH);
    int ow0 = (w * OW) / W, ow1 = min(((w + 1) * OW + W - 1) / W, OW);
    __global const float *dyp = dy + dy_off + plane * OH * OW;
    float sum = 0.0f;
    for (int oh = oh0; oh < oh1; oh++) {
        float area_h = (float)(adaptive_end(oh, H, OH) - adaptive_start(oh, H, OH));
        for (int ow = ow0; ow < ow1; ow++) {
            float area = area_h * (float)(adaptive_end(ow, W, OW) - adaptive_start(ow, W, OW));
            sum += dyp[oh * OW + ow] / area;
        }
    }
    dx[dx_off + i] = sum;
}
