/* Softmax and log-softmax over the last axis of x viewed as [rows, cols].
 *
 * A work-group is an (LX, LY) tile: LY rows, each reduced by LX work-items
 * (a power of two) that stride along the row, so one kernel serves both a
 * 30522-wide vocabulary row (one row per group) and 10-wide class rows
 * (many rows per group). Forward keeps a running (max, sum of exp(x - max))
 * per work-item, so x is read twice instead of three times; the pairs are
 * then merged by a tree in local memory. Work-items past the last row still
 * take part in every barrier. CPU devices use the one-row-per-work-item
 * kernels at the end of the file instead. */

/* sum * exp(m - m_new), exactly 0 for an empty (-inf) partial */
float rescale(float sum, float m, float m_new) { return m == -INFINITY ? 0.0f : sum * exp(m - m_new); }

__kernel void softmax_forward(__global float *y, int y_off, __global const float *x, int x_off, int rows, int cols,
                              int log_mode, __local float *mbuf, __local float *sbuf)
{
    int lx = get_local_id(0), ly = get_local_id(1);
    int LX = get_local_size(0);
    int row = get_global_id(1);
    int valid = row < rows;
    __global const float *p = x + x_off + (valid ? row : 0) * cols;
    float m = -INFINITY, s = 0.0f;
    if (valid) {
        for (int c = lx; c < cols; c += LX) {
            float v = p[c];
            if (v > m) {
                s = rescale(s, m, v) + 1.0f;
                m = v;
            } else if (v != -INFINITY) {
                s += exp(v - m);
            }
        }
    }
    int me = ly * LX + lx;
    mbuf[me] = m;
    sbuf[me] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = LX >> 1; h > 0; h >>= 1) {
        if (lx < h) {
            float m1 = mbuf[me], m2 = mbuf[me + h];
            float mn = fmax(m1, m2);
            sbuf[me] = rescale(sbuf[me], m1, mn) + rescale(sbuf[me + h], m2, mn);
            mbuf[me] = mn;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (!valid) return;
    m = mbuf[ly * LX];
    s = sbuf[ly * LX];
    __global float *q = y + y_off + row * cols;
    if (log_mode) {
        float shift = m + log(s);
        for (int c = lx; c < cols; c += LX) q[c] = p[c] - shift;
    } else {
        for (int c = lx; c < cols; c += LX) q[c] = exp(p[c] - m) / s;
    }
}

/* softmax:     dx = y * (dy - sum(dy * y))
 * log_softmax: dx = dy - exp(y) * sum(dy)      (y is the op's output) */
__kernel void softmax_backward(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                               __global const float *y, int y_off, int rows, int cols, int log_mode,
                               __local float *buf)
{
    int lx = get_local_id(0), ly = get_local_id(1);
    int LX = get_local_size(0);
    int row = get_global_id(1);
    int valid = row < rows;
    int base = (valid ? row : 0) * cols;
    __global const float *g = dy + dy_off + base, *p = y + y_off + base;
    float acc = 0.0f;
    if (valid) {
        if (log_mode)
            for (int c = lx; c < cols; c += LX) acc += g[c];
        else
            for (int c = lx; c < cols; c += LX) acc += g[c] * p[c];
    }
    int me = ly * LX + lx;
    buf[me] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = LX >> 1; h > 0; h >>= 1) {
        if (lx < h) buf[me] += buf[me + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (!valid) return;
    float total = buf[ly * LX];
    __global float *q = dx + dx_off + base;
    if (log_mode)
        for (int c = lx; c < cols; c += LX) q[c] = g[c] - exp(p[c]) * total;
    else
        for (int c = lx; c < cols; c += LX) q[c] = p[c] * (g[c] - total);
}

/* ---- CPU devices: one row per work item.
 * PoCL vectorises a kernel across work items only when it has no loops of
 * its own, so the kernels above run scalar there (about 0.5 GB/s). These
 * vectorise along the row by hand instead (VW-wide vectors, whose exp PoCL
 * computes with SIMD code) in three branch-free passes: max, sum of exp
 * (softmax stores the exps), then scale; a row stays in cache between the
 * passes. */

#define VW 8
#define vloadw vload8
#define vstorew vstore8
typedef float8 floatw;

float hmax(floatw v)
{
    float4 a = fmax(v.lo, v.hi);
    float2 b = fmax(a.lo, a.hi);
    return fmax(b.x, b.y);
}

float hsum(floatw v)
{
    float4 a = v.lo + v.hi;
    float2 b = a.lo + a.hi;
    return b.x + b.y;
}

__kernel void softmax_rows_forward(__global float *y, int y_off, __global const float *x, int x_off, int rows,
                                   int cols, int log_mode)
{
    int row = get_global_id(0);
    if (row >= rows) return;
    __global const float *p = x + x_off + row * cols;
    __global float *q = y + y_off + row * cols;
    int nv = cols / VW, tail = nv * VW;
    floatw mv = (floatw)(-INFINITY);
    for (int k = 0; k < nv; k++) mv = fmax(mv, vloadw(k, p));
    float m = hmax(mv);
    for (int c = tail; c < cols; c++) m = fmax(m, p[c]);
    floatw sv = (floatw)(0.0f);
    float s = 0.0f;
    if (log_mode) {
        for (int k = 0; k < nv; k++) sv += exp(vloadw(k, p) - m);
        for (int c = tail; c < cols; c++) s += exp(p[c] - m);
        float shift = m + log(hsum(sv) + s);
        for (int k = 0; k < nv; k++) vstorew(vloadw(k, p) - shift, k, q);
        for (int c = tail; c < cols; c++) q[c] = p[c] - shift;
    } else {
        for (int k = 0; k < nv; k++) {
            floatw e = exp(vloadw(k, p) - m);
            sv += e;
            vstorew(e, k, q);
        }
        for (int c = tail; c < cols; c++) {
            float e = exp(p[c] - m);
            s += e;
            q[c] = e;
        }
        s += hsum(sv);
        for (int k = 0; k < nv; k++) vstorew(vloadw(k, q) / s, k, q);
        for (int c = tail; c < cols; c++) q[c] /= s;
    }
}

__kernel void softmax_rows_backward(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                                    __global const float *y, int y_off, int rows, int cols, int log_mode)
{
    int row = get_global_id(0);
    if (row >= rows) return;
    int base = row * cols, nv = cols / VW, tail = nv * VW;
    __global const float *g = dy + dy_off + base, *p = y + y_off + base;
    __global float *q = dx + dx_off + base;
    floatw av = (floatw)(0.0f);
    float acc = 0.0f;
    if (log_mode) {
        for (int k = 0; k < nv; k++) av += vloadw(k, g);
        for (int c = tail; c < cols; c++) acc += g[c];
        float total = hsum(av) + acc;
        for (int k = 0; k < nv; k++) vstorew(vloadw(k, g) - exp(vloadw(k, p)) * total, k, q);
        for (int c = tail; c < cols; c++) q[c] = g[c] - exp(p[c]) * total;
    } else {
        for (int k = 0; k < nv; k++) av += vloadw(k, g) * vloadw(k, p);
        for (int c = tail; c < cols; c++) acc += g[c] * p[c];
        float total = hsum(av) + acc;
        for (int k = 0; k < nv; k++) vstorew(vloadw(k, p) * (vloadw(k, g) - total), k, q);
        for (int c = tail; c < cols; c++) q[c] = p[c] * (g[c] - total);
    }
}
