/* Layer normalisation over the last axis of x viewed as [rows, C], with
 * PyTorch's numerics: two-pass statistics (a shifted mean, then the mean of squared
 * deviations: biased variance), y = (x - mean) * rstd * w + b with
 * rstd = 1 / sqrt(var + eps). saved[row] = (mean, rstd) for the backward.
 * One row per work-item: rows are short (a model's width) and many. The
 * flags say which of weight (1) and bias (2) exist; absent ones are not
 * read. With flag 4 the input is x + res (the residual add the planner
 * folded in: src/graph/plan.c), summed exactly as the add op sums. */

#define HAS_W 1
#define HAS_B 2
#define HAS_RES 4

/* Rows are processed in 8-wide vectors plus a scalar tail: PoCL does not
 * vectorise a kernel with loops across work-items, so this is what gives
 * it SIMD code (as the CPU softmax kernels). */
float hsum8(float8 v)
{
    float4 a = v.lo + v.hi;
    float2 b = a.lo + a.hi;
    return b.x + b.y;
}

/* Element k (8-wide) or c of the row: x, or x + res. */
#define XV(k) ((flags & HAS_RES) ? vload8(k, p) + vload8(k, rp) : vload8(k, p))
#define XS(c) ((flags & HAS_RES) ? p[c] + rp[c] : p[c])

__kernel void ln_forward(__global float *y, int y_off, __global float *saved, int saved_off, __global const float *x,
                         int x_off, __global const float *w, int w_off, __global const float *b, int b_off,
                         __global const float *res, int res_off, int rows, int C, float eps, int flags)
{
    int r = get_global_id(0);
    if (r >= rows) return;
    __global const float *p = x + x_off + r * C, *rp = res + res_off + r * C;
    int nv = C / 8, tail = nv * 8;
    /* the sum is taken around the first element, so rows far from zero
     * (1000 + noise) keep their low bits */
    float x0 = XS(0), s = 0.0f;
    float8 sv = (float8)(0.0f);
    for (int k = 0; k < nv; k++) sv += XV(k) - x0;
    for (int c = tail; c < C; c++) s += XS(c) - x0;
    float mean = x0 + (hsum8(sv) + s) / C;
    float v = 0.0f;
    float8 vv = (float8)(0.0f);
    for (int k = 0; k < nv; k++) {
        float8 d = XV(k) - mean;
        vv += d * d;
    }
    for (int c = tail; c < C; c++) {
        float d = XS(c) - mean;
        v += d * d;
    }
    float rstd = 1.0f / sqrt((hsum8(vv) + v) / C + eps);
    __global float *q = y + y_off + r * C;
    __global const float *wp = w + w_off, *bp = b + b_off;
    for (int k = 0; k < nv; k++) {
        float8 t = (XV(k) - mean) * rstd;
        if (flags & HAS_W) t *= vload8(k, wp);
        if (flags & HAS_B) t += vload8(k, bp);
        vstore8(t, k, q);
    }
    for (int c = tail; c < C; c++) {
        float t = (XS(c) - mean) * rstd;
        if (flags & HAS_W) t *= wp[c];
        if (flags & HAS_B) t += bp[c];
        q[c] = t;
    }
    saved[saved_off + 2 * r] = mean;
    saved[saved_off + 2 * r + 1] = rstd;
}

/* dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy * w, xhat = (x - mean) rstd */
__kernel void ln_backward_dx(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                             __global const float *x, int x_off, __global const float *saved, int saved_off,
                             __global const float *w, int w_off, int rows, int C, int flags)
{
    int r = get_global_id(0);
    if (r >= rows) return;
    __global const float *g = dy + dy_off + r * C, *p = x + x_off + r * C, *wp = w + w_off;
    float mean = saved[saved_off + 2 * r], rstd = saved[saved_off + 2 * r + 1];
    int nv = C / 8, tail = nv * 8;
    float8 sgv = (float8)(0.0f), sgxv = (float8)(0.0f);
    float sg = 0.0f, sgx = 0.0f;
    for (int k = 0; k < nv; k++) {
        float8 gc = vload8(k, g);
        if (flags & HAS_W) gc *= vload8(k, wp);
        sgv += gc;
        sgxv += gc * (vload8(k, p) - mean) * rstd;
    }
    for (int c = tail; c < C; c++) {
        float gc = (flags & HAS_W) ? g[c] * wp[c] : g[c];
        sg += gc;
        sgx += gc * (p[c] - mean) * rstd;
    }
    sg = (hsum8(sgv) + sg) / C;
    sgx = (hsum8(sgxv) + sgx) / C;
    __global float *q = dx + dx_off + r * C;
    for (int k = 0; k < nv; k++) {
        float8 gc = vload8(k, g);
        if (flags & HAS_W) gc *= vload8(k, wp);
        vstore8(rstd * (gc - sg - (vload8(k, p) - mean) * rstd * sgx), k, q);
    }
    for (int c = tail; c < C; c++) {
        float gc = (flags & HAS_W) ? g[c] * wp[c] : g[c];
        q[c] = rstd * (gc - sg - (p[c] - mean) * rstd * sgx);
    }
}

/* out[0, c] = sum_r dy[r, c] xhat[r, c] (d weight), out[1, c] = sum_r dy[r, c]
 * (d bias): one column per work-item, reading rows in order (neighbouring
 * work-items read neighbouring columns). */
__kernel void ln_backward_params(__global float *out, int out_off, __global const float *dy, int dy_off,
                                 __global const float *x, int x_off, __global const float *saved, int saved_off,
                                 int rows, int C)
{
    int c = get_global_id(0);
    if (c >= C) return;
    float dw = 0.0f, db = 0.0f;
    for (int r = 0; r < rows; r++) {
        float g = dy[dy_off + r * C + c];
        dw += g * (x[x_off + r * C + c] - saved[saved_off + 2 * r]) * saved[saved_off + 2 * r + 1];
        db += g;
    }
    out[out_off + c] = dw;
    out[out_off + C + c] = db;
}
