/* Reductions over the middle axis of x viewed as [outer, axis, inner].
 *
 * A work-group is an (LX, LY) tile: LX consecutive inner positions, so reads
 * coalesce whatever the axis, times LY work-items that stride along the axis
 * and are then combined by a tree in local memory (LY is a power of two).
 * With splits > 1 the axis is cut into chunks that different groups reduce
 * into [outer, splits, inner] partials, folded by a second launch of the
 * same kernel: a long axis with few outputs (sum_all) still fills the device.
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
    int j = get_global_id(0);
    if (j >= n) return;
    int o = j / (axis * inner), in = j % inner;
    y[y_off + j] = g[g_off + o * inner + in] * scale;
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
