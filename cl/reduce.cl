/* Reductions over the middle axis of x viewed as [outer, axis, inner].
 *
 * A work-group is an (LX, LY) tile: LX consecutive inner positions, so reads
 * coalesce whatever the axis, times LY work-items that stride along the axis
 * and are then combined by a tree in local memory (LY is a power of two).
 * With splits > 1 the axis is cut into chunks that different groups reduce
 * into [outer, splits, inner] partials, folded by a second launch of the
 * same kernel: a long axis with few outputs (sum_all) still fills the device.
 * CPU devices use the kernels at the end of the file (see reduce.c).
 * Tensors are (buffer, element offset) pairs; every index fits an int. */

__kernel void reduce_sum(__global float *y, int y_off, __global const float *x, int x_off, int axis, int inner,
                         int splits, int chunk, float scale, __local float *buf)
{
    int lx = get_local_id(0), ly = get_local_id(1);
    int LX = get_local_size(0), LY = get_local_size(1);
    int i = get_global_id(0);
    int grp = get_group_id(1); /* = o * splits + s; dim 1 holds exactly outer * splits groups */
    int o = grp / splits, s = grp % splits;
    int begin = s * chunk, end = min(begin + chunk, axis);
    float sum = 0.0f, comp = 0.0f;
    if (i < inner) {
        __global const float *p = x + x_off + o * axis * inner + i;
        /* Kahan: a work-item may fold thousands of terms on its own */
        for (int a = begin + ly; a < end; a += LY) {
            float v = p[a * inner] - comp;
            float t = sum + v;
            comp = (t - sum) - v;
            sum = t;
        }
    }
    buf[ly * LX + lx] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = LY >> 1; h > 0; h >>= 1) {
        if (ly < h) buf[ly * LX + lx] += buf[(ly + h) * LX + lx];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (ly == 0 && i < inner) y[y_off + grp * inner + i] = buf[lx] * scale;
}

/* b beats a: larger, or NaN (NaN propagates like in PyTorch). */
int max_better(float b, float a) { return b > a || (isnan(b) && !isnan(a)); }

/* Max along the axis and the index of its first occurrence. Work-items
 * that saw no element carry index -1. */
__kernel void reduce_max(__global float *y, int y_off, __global int *idx, int idx_off, __global const float *x,
                         int x_off, int axis, int inner, __local float *vbuf, __local int *ibuf)
{
    int lx = get_local_id(0), ly = get_local_id(1);
    int LX = get_local_size(0), LY = get_local_size(1);
    int i = get_global_id(0);
    int o = get_group_id(1);
    float best = 0.0f;
    int bi = -1;
    if (i < inner) {
        __global const float *p = x + x_off + o * axis * inner + i;
        for (int a = ly; a < axis; a += LY) {
            float v = p[a * inner];
            if (bi < 0 || max_better(v, best)) {
                best = v;
                bi = a;
            }
        }
    }
    int me = ly * LX + lx;
    vbuf[me] = best;
    ibuf[me] = bi;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = LY >> 1; h > 0; h >>= 1) {
        if (ly < h) {
            int other = (ly + h) * LX + lx;
            float v = vbuf[me], ov = vbuf[other];
            int vi = ibuf[me], oi = ibuf[other];
            int same = ov == v || (isnan(ov) && isnan(v));
            if (oi >= 0 && (vi < 0 || max_better(ov, v) || (same && oi < vi))) {
                vbuf[me] = ov;
                ibuf[me] = oi;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (ly == 0 && i < inner) {
        y[y_off + o * inner + i] = vbuf[lx];
        idx[idx_off + o * inner + i] = ibuf[lx];
    }
}

/* Gradient of sum/mean: g [outer, inner] broadcast along the axis. */
__kernel void expand_axis(__global float *y, int y_off, __global const float *g, int g_off, int n, int axis,
                          int inner, float scale)
{
    /* The branches depend on arguments only (uniform), so they cost no
     * divergence; the common cases skip the integer divisions. */
    int j = get_global_id(0);
    if (j >= n) return;
    int src;
    if (n == axis) src = 0;                  /* a scalar broadcast (sum_all) */
    else if (inner == 1) src = j / axis;     /* one value per row */
    else src = j / (axis * inner) * inner + j % inner;
    y[y_off + j] = g[g_off + src] * scale;
}

/* Gradient of max: g goes to the recorded argmax, zeros elsewhere. */
__kernel void max_backward(__global float *y, int y_off, __global const float *g, int g_off,
                           __global const int *idx, int idx_off, int n, int axis, int inner)
{
    int j = get_global_id(0);
    if (j >= n) return;
    int in = j % inner, a = (j / inner) % axis, o = j / (axis * inner);
    int k = o * inner + in;
    y[y_off + j] = idx[idx_off + k] == a ? g[g_off + k] : 0.0f;
}

/* ---- CPU devices (see reduce.c): one work item per row (inner == 1) or
 * per 8 consecutive columns of one [axis, inner] slice. PoCL vectorises a
 * kernel across work items only when it has no loops of its own, so the
 * tree kernels above run scalar there; these vectorise by hand with float8
 * and need no barriers. Sums add a few vectors pairwise, then fold the
 * block into a Kahan accumulator: accurate over long axes at a fraction of
 * the cost. Stage 1 of a split axis writes partials exactly where the tree
 * kernel does. */

float hsum8(float8 v)
{
    float4 a = v.lo + v.hi;
    float2 b = a.lo + a.hi;
    return b.x + b.y;
}

__kernel void reduce_sum_rows(__global float *y, int y_off, __global const float *x, int x_off, int n, int axis,
                              int splits, int chunk, float scale)
{
    int g = get_global_id(0); /* = o * splits + s */
    if (g >= n) return;
    int o = g / splits, s = g % splits;
    int begin = s * chunk, end = min(begin + chunk, axis), len = max(end - begin, 0);
    __global const float *p = x + x_off + o * axis + begin;
    int nb = len / 32, nv = len / 8;
    float8 sum = (float8)(0.0f), comp = (float8)(0.0f);
    for (int k = 0; k < nb; k++) {
        __global const float *q = p + k * 32;
        float8 v = (vload8(0, q) + vload8(1, q)) + (vload8(2, q) + vload8(3, q)) - comp;
        float8 t = sum + v;
        comp = (t - sum) - v;
        sum = t;
    }
    for (int k = nb * 4; k < nv; k++) {
        float8 v = vload8(k, p) - comp;
        float8 t = sum + v;
        comp = (t - sum) - v;
        sum = t;
    }
    float ss = hsum8(sum), cs = hsum8(comp);
    for (int a = nv * 8; a < len; a++) {
        float v = p[a] - cs;
        float t = ss + v;
        cs = (t - ss) - v;
        ss = t;
    }
    y[y_off + g] = (ss - cs) * scale;
}

/* One work item per 32 columns (CW): a work-group's items run one after
 * another on one thread, so each must consume whole cache lines (two, for
 * the adjacent-line prefetcher) of every row it visits. */
#define CW 32

#define KAHAN8(sum, comp, v)                                                                                   \
    do {                                                                                                       \
        float8 v_ = (v) - (comp);                                                                              \
        float8 t_ = (sum) + v_;                                                                                \
        (comp) = (t_ - (sum)) - v_;                                                                            \
        (sum) = t_;                                                                                            \
    } while (0)

__kernel void reduce_sum_cols(__global float *y, int y_off, __global const float *x, int x_off, int n, int axis,
                              int inner, int splits, int chunk, float scale)
{
    int id = get_global_id(0);
    if (id >= n) return;
    int nc = (inner + CW - 1) / CW;
    int g = id / nc, c = id % nc * CW; /* g = o * splits + s */
    int o = g / splits, s = g % splits;
    int begin = s * chunk, end = min(begin + chunk, axis);
    __global const float *p = x + x_off + o * axis * inner + c;
    __global float *q = y + y_off + g * inner + c;
    int w = min(CW, inner - c), done = 0;
    if (w == CW) {
        float8 s0 = (float8)(0.0f), s1 = s0, s2 = s0, s3 = s0, c0 = s0, c1 = s0, c2 = s0, c3 = s0;
        int a = begin;
        for (; a + 2 <= end; a += 2) {
            __global const float *r = p + a * inner, *r2 = r + inner;
            KAHAN8(s0, c0, vload8(0, r) + vload8(0, r2));
            KAHAN8(s1, c1, vload8(1, r) + vload8(1, r2));
            KAHAN8(s2, c2, vload8(2, r) + vload8(2, r2));
            KAHAN8(s3, c3, vload8(3, r) + vload8(3, r2));
        }
        if (a < end) {
            __global const float *r = p + a * inner;
            KAHAN8(s0, c0, vload8(0, r));
            KAHAN8(s1, c1, vload8(1, r));
            KAHAN8(s2, c2, vload8(2, r));
            KAHAN8(s3, c3, vload8(3, r));
        }
        vstore8((s0 - c0) * scale, 0, q);
        vstore8((s1 - c1) * scale, 1, q);
        vstore8((s2 - c2) * scale, 2, q);
        vstore8((s3 - c3) * scale, 3, q);
        return;
    }
    /* the last, narrower chunk of a slice */
    for (; done + 8 <= w; done += 8) {
        float8 sum = (float8)(0.0f), comp = sum;
        for (int a = begin; a < end; a++) KAHAN8(sum, comp, vload8(0, p + a * inner + done));
        vstore8((sum - comp) * scale, 0, q + done);
    }
    for (; done < w; done++) {
        float sum = 0.0f, comp = 0.0f;
        for (int a = begin; a < end; a++) {
            float v = p[a * inner + done] - comp;
            float t = sum + v;
            comp = (t - sum) - v;
            sum = t;
        }
        q[done] = (sum - comp) * scale;
    }
}

/* Stage 1 of a split axis with long rows: work item (o, s) streams its
 * chunk of rows (at most 64, so a plain sum stays accurate; stage 2 is
 * compensated) and accumulates them into its partial row, which stays in
 * L1, instead of striding down columns a page at a time. */
__kernel void reduce_sum_slab(__global float *y, int y_off, __global const float *x, int x_off, int n, int axis,
                              int inner, int splits, int chunk)
{
    int g = get_global_id(0); /* = o * splits + s */
    if (g >= n) return;
    int o = g / splits, s = g % splits;
    int begin = s * chunk, end = min(begin + chunk, axis);
    __global const float *p = x + x_off + o * axis * inner;
    __global float *q = y + y_off + g * inner;
    int nv = inner / 8, tail = nv * 8;
    for (int k = 0; k < nv; k++) vstore8((float8)(0.0f), k, q);
    for (int c = tail; c < inner; c++) q[c] = 0.0f;
    for (int a = begin; a < end; a++) {
        __global const float *r = p + a * inner;
        for (int k = 0; k < nv; k++) vstore8(vload8(k, q) + vload8(k, r), k, q);
        for (int c = tail; c < inner; c++) q[c] += r[c];
    }
}

/* The rows kernel keeps a (max, first index) per vector lane, then merges
 * the lanes (ties go to the smaller index) and finishes the tail in order. */
__kernel void reduce_max_rows(__global float *y, int y_off, __global int *idx, int idx_off, __global const float *x,
                              int x_off, int outer, int axis)
{
    int o = get_global_id(0);
    if (o >= outer) return;
    __global const float *p = x + x_off + o * axis;
    int nv = axis / 8, tail = 1;
    float best = p[0];
    int bi = 0;
    if (nv > 0) {
        int8 lane = (int8)(0, 1, 2, 3, 4, 5, 6, 7);
        float8 bv = vload8(0, p);
        int8 bidx = lane;
        for (int k = 1; k < nv; k++) {
            float8 v = vload8(k, p);
            int8 better = (v > bv) | (isnan(v) & ~isnan(bv));
            bv = select(bv, v, better);
            bidx = select(bidx, lane + k * 8, better);
        }
        float vs[8];
        int is[8];
        vstore8(bv, 0, vs);
        vstore8(bidx, 0, is);
        best = vs[0];
        bi = is[0];
        for (int l = 1; l < 8; l++) {
            int same = vs[l] == best || (isnan(vs[l]) && isnan(best));
            if (max_better(vs[l], best) || (same && is[l] < bi)) {
                best = vs[l];
                bi = is[l];
            }
        }
        tail = nv * 8;
    }
    for (int a = tail; a < axis; a++) {
        float v = p[a];
        if (max_better(v, best)) {
            best = v;
            bi = a;
        }
    }
    y[y_off + o] = best;
    idx[idx_off + o] = bi;
}

/* Each lane is its own column: a strict comparison keeps the first index. */
__kernel void reduce_max_cols(__global float *y, int y_off, __global int *idx, int idx_off, __global const float *x,
                              int x_off, int n, int axis, int inner)
{
    int id = get_global_id(0);
    if (id >= n) return;
    int nc = (inner + 7) / 8;
    int o = id / nc, c = id % nc * 8;
    __global const float *p = x + x_off + o * axis * inner + c;
    int out = o * inner + c;
    if (c + 8 <= inner) {
        float8 bv = vload8(0, p);
        int8 bidx = (int8)(0);
        for (int a = 1; a < axis; a++) {
            float8 v = vload8(0, p + a * inner);
            int8 better = (v > bv) | (isnan(v) & ~isnan(bv));
            bv = select(bv, v, better);
            bidx = select(bidx, (int8)(a), better);
        }
        vstore8(bv, 0, y + y_off + out);
        vstore8(bidx, 0, idx + idx_off + out);
    } else {
        for (int cc = 0; cc < inner - c; cc++) {
            float best = p[cc];
            int bi = 0;
            for (int a = 1; a < axis; a++) {
                float v = p[a * inner + cc];
                if (max_better(v, best)) {
                    best = v;
                    bi = a;
                }
            }
            y[y_off + out + cc] = best;
            idx[idx_off + out + cc] = bi;
        }
    }
}
