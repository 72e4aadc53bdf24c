/* Shape ops: copies into a new layout. Elements travel as 32-bit patterns,
 * so one kernel serves f32 and i32. */

/* Concatenation of up to 6 contiguous sources along an axis, one work-item
 * per output element: y viewed as [outer, total, inner], source k covering
 * axis positions [ends[k-1], ends[k]). Unused source slots are bound to any
 * valid buffer and never read. */
__kernel void concat(__global uint *y, int y_off, __global const uint *x0, int o0, __global const uint *x1, int o1,
                     __global const uint *x2, int o2, __global const uint *x3, int o3, __global const uint *x4,
                     int o4, __global const uint *x5, int o5, int n, int total, int inner, int8 ends8)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int ends[8];
    vstore8(ends8, 0, ends);
    int in = i % inner, rest = i / inner;
    int a = rest % total, o = rest / total;
    int k = 0;
    while (k < 5 && a >= ends[k]) k++;
    int start = k ? ends[k - 1] : 0, len = ends[k] - start;
    int src = (o * len + a - start) * inner + in;
    uint v;
    switch (k) {
    case 0: v = x0[o0 + src]; break;
    case 1: v = x1[o1 + src]; break;
    case 2: v = x2[o2 + src]; break;
    case 3: v = x3[o3 + src]; break;
    case 4: v = x4[o4 + src]; break;
    default: v = x5[o5 + src]; break;
    }
    y[y_off + i] = v;
}

/* One part of a split along an axis: y viewed as [outer, len, inner] is
 * x's axis positions [start, start + len) of [outer, total, inner]. */
__kernel void split_part(__global uint *y, int y_off, __global const uint *x, int x_off, int n, int len, int total,
                         int start, int inner)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int in = i % inner, rest = i / inner;
    int a = rest % len, o = rest / len;
    y[y_off + i] = x[x_off + (o * total + start + a) * inner + in];
}
