/* 2-D pooling over NCHW planes, forward and backward.
 * Max pooling is compiled per window (-D KH, KW, SH, SW, PH, PW), which
 * lets PoCL vectorise it; average and adaptive pooling share one generic
 * program whose geometry is kernel arguments, so a network with many
 * average-pooling shapes compiles this file once.
 * Backward kernels gather: one work item per input element sums over the
 * windows that contain it, so there are no atomics and results do not
 * depend on scheduling. */

#ifdef KH
/* Max pooling, specialised with the window as -D KH, KW, SH, SW, PH, PW.
 * PoCL runs a work-group as a loop over work items and vectorises that
 * loop only when the body is straight-line code: so the window loops have
 * constant trips (unrolled), taps outside the input are masked instead of
 * skipped, and flat indices are split with multiply-shift divisions. The
 * taps are visited in the order a clipped loop visits them, so results
 * are the same bit for bit. */

/* n / d for n < 2^31, given m and s from the host (oclnn_magic_div). */
uint div_magic(uint n, uint m, uint s) { return (uint)(((ulong)n * m) >> s); }

/* idx gets the argmax as h * W + w within the plane (PyTorch's
 * return_indices layout). A NaN wins (the last one), as in PyTorch. */
__kernel void max_pool2d_forward(__global float *y, int y_off, __global int *idx, int idx_off,
                                 __global const float *x, int x_off, int n, int H, int W, int OH, int OW,
                                 uint m_ow, uint s_ow, uint m_oh, uint s_oh)
{
    int o = get_global_id(0);
    if (o >= n) return;
    int r = div_magic(o, m_ow, s_ow), plane = div_magic(r, m_oh, s_oh);
    int ow = o - r * OW, oh = r - plane * OH;
    int h0 = oh * SH - PH, w0 = ow * SW - PW;
    __global const float *xp = x + x_off + plane * H * W;
    float best = -INFINITY;
    int arg = max(h0, 0) * W + max(w0, 0);
#pragma unroll
    for (int kh = 0; kh < KH; kh++) {
        int h = h0 + kh;
#pragma unroll
        for (int kw = 0; kw < KW; kw++) {
            int w = w0 + kw;
            int ok = h >= 0 && h < H && w >= 0 && w < W;
            int at = ok ? h * W + w : 0;
            float v = xp[at];
            if (ok && (v > best || isnan(v))) {
                best = v;
                arg = at;
            }
        }
    }
    y[y_off + o] = best;
    idx[idx_off + o] = arg;
}

/* Gather: input row h lies in at most TH windows: the last one starting at
 * or before it, oh = (h + PH) / SH, and the TH - 1 before that (likewise
 * along w). Visiting them in increasing order sums in the order of a loop
 * over the covering windows. Without overlap (stride >= kernel) there is
 * one candidate per axis. */
#define TH ((KH + SH - 1) / SH)
#define TW ((KW + SW - 1) / SW)

__kernel void max_pool2d_backward(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                                  __global const int *idx, int idx_off, int n, int H, int W, int OH, int OW,
                                  uint m_w, uint s_w, uint m_h, uint s_h)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int r = div_magic(i, m_w, s_w), plane = div_magic(r, m_h, s_h);
    int w = i - r * W, h = r - plane * H;
    int ah = h + PH, aw = w + PW;
    int self = h * W + w, base = plane * OH * OW;
    float sum = 0.0f;
#pragma unroll
    for (int jh = 0; jh < TH; jh++) {
        int oh = ah / SH - (TH - 1) + jh;
        int okh = oh >= 0 && oh < OH && ah - oh * SH < KH;
#pragma unroll
        for (int jw = 0; jw < TW; jw++) {
            int ow = aw / SW - (TW - 1) + jw;
            int ok = okh && ow >= 0 && ow < OW && aw - ow * SW < KW;
            int o = ok ? base + oh * OW + ow : 0;
            float g = dy[dy_off + o];
            if (ok && idx[idx_off + o] == self) sum += g;
        }
    }
    dx[dx_off + i] = sum;
}

#else /* generic program: geometry as arguments */

/* Geometry arguments, in order: H, W (input plane), OH, OW (output plane),
 * KH, KW (kernel), SH, SW (stride), PH, PW (padding). */
#define GEOM_ARGS int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW

/* Output windows [*lo, *hi) along one axis whose kernel covers input index i. */
void windows_covering(int i, int K, int S, int P, int O, int *lo, int *hi)
{
    int a = i + P;
    *lo = a < K ? 0 : (a - K) / S + 1;
    *hi = min(a / S + 1, O);
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

#endif
