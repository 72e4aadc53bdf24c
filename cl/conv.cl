/* 2-D convolution helpers around the GEMMs (src/ops/gemm.c): im2col,
 * col2im (gather), the NCHW epilogues and the gradient preparation.
 *
 * The kernel geometry is -D constants, so the index maps divide by
 * constants (a multiply); image and channel sizes are the trailing kernel
 * arguments of every kernel (GEOM), so a new batch or image size builds
 * nothing. The CPU path's *_rows kernels divide only by constants.
 *   KH KW SH SW PH PW DH DW    kernel size, stride, padding, dilation
 *   ACT                        0 none, 1 relu (fused into the epilogue)
 *   POOL                       0, or the fused max-pool's window (see below)
 *   WG                         work-group size of bias_grad (power of two)
 *   CIN COUT H W HO WO         (arguments) channels, input and output size
 * The GEMMs themselves (cl/gemm.cl) do not depend on the geometry, so a new
 * kernel geometry compiles just these small index-map kernels.
 *
 * The col matrix holds the rows r = c*KH*KW + ki*KW + kj (c the input
 * channel, so group g owns rows [g*K, (g+1)*K)) and, per image n of a
 * chunk, the HO*WO output positions; element (r, n, p) lives at
 * r*row_stride + n*n_stride + p. Batched GEMMs use n_stride = CIN*KH*KW*HO*WO
 * and row_stride = HO*WO (one K x HOWO matrix per image); the wide GEMM
 * uses row_stride = nb*HO*WO and n_stride = HO*WO (one K x nb*HOWO matrix).
 * Work items run along p (dimension 0), so reads and writes are
 * contiguous for stride 1 (coalesced on GPUs); the *_rows variants used
 * by the tiled path loop along rows instead, which suits CPUs.
 *
 * With a fused POOL x POOL max-pool (tiled path only) the *_rows kernels
 * use the pooled order instead: of the conv outputs only those inside a
 * pooling window (HP x WP windows, floor mode) have a column, and the
 * columns of a row are POOL blocks of nb*HP*POOL*WP, block di holding the
 * conv-output rows ph*POOL + di, each cut to its first POOL*WP columns:
 * output (ph*POOL + di, ow) at n*HP*POOL*WP + ph*POOL*WP + ow (n_stride
 * = HP*POOL*WP, row_stride = POOL*nb*HP*POOL*WP). gemm_pool (cl/gemm.cl)
 * takes the max over each window. */

/* The trailing arguments of every kernel; the host sets them once per
 * kernel (oclnn_conv_kernel) from the node's geometry. */
#define GEOM int CIN, int COUT, int H, int W, int HO, int WO

#define HOWO (HO * WO)
#define KK (KH * KW)
#if POOL
#define HP (HO / POOL)
#define WP (WO / POOL)
#define HPWP (HP * WP)
#define QQ (POOL * POOL)
#define PROW (POOL * WP) /* a conv-output row of the pooled order */
#endif

/* global: (HOWO rounded up, nb, CIN*KK) */
__kernel void im2col(__global float *col, int col_off, __global const float *x, int x_off, int n0, int nb,
                     int row_stride, int n_stride, GEOM)
{
    int p = get_global_id(0), n = get_global_id(1), r = get_global_id(2);
    if (p >= HOWO || n >= nb || r >= CIN * KK) return;
    int oh = p / WO, ow = p % WO;
    int c = r / KK, kr = r % KK;
    int ih = oh * SH - PH + (kr / KW) * DH, iw = ow * SW - PW + (kr % KW) * DW;
    float v = 0.0f;
    if (ih >= 0 && ih < H && iw >= 0 && iw < W) v = x[x_off + ((n0 + n) * CIN + c) * (H * W) + ih * W + iw];
    col[col_off + r * row_stride + n * n_stride + p] = v;
}

/* dx(n, c, ih, iw) = sum of the col entries that im2col copied from it.
 * Each input pixel gathers its own contributions: no atomics, and the
 * summation order is fixed. global: (H*W rounded up, nb, CIN) */
__kernel void col2im(__global float *dx, int dx_off, __global const float *col, int col_off, int n0, int nb,
                     int row_stride, int n_stride, GEOM)
{
    int q = get_global_id(0), n = get_global_id(1), c = get_global_id(2);
    if (q >= H * W || n >= nb || c >= CIN) return;
    int ih = q / W, iw = q % W;
    __global const float *base = col + col_off + c * KK * row_stride + n * n_stride;
    float sum = 0.0f;
    for (int ki = 0; ki < KH; ki++) {
        int th = ih + PH - ki * DH;
        if (th < 0 || th % SH != 0) continue;
        int oh = th / SH;
        if (oh >= HO) continue;
        for (int kj = 0; kj < KW; kj++) {
            int tw = iw + PW - kj * DW;
            if (tw < 0 || tw % SW != 0) continue;
            int ow = tw / SW;
            if (ow >= WO) continue;
            sum += base[(ki * KW + kj) * row_stride + oh * WO + ow];
        }
    }
    dx[dx_off + ((n0 + n) * CIN + c) * (H * W) + q] = sum;
}

/* CPU versions of im2col and col2im (the tiled path): a work item per
 * (col row, image) or (channel, image) runs plain loops over the output
 * rows, which the compiler vectorises, instead of a work item per element
 * with its index maths; the bounds of each row's valid columns are worked
 * out once, so the inner loops have no branches. */

/* The grid columns ow whose input column ow*sw + iw0 lies in [0, W):
 * [*lo, *hi) within [0, cols), empty when *lo == *hi. */
void valid_cols(int iw0, int sw, int W, int cols, int *lo, int *hi)
{
    int l = iw0 >= 0 ? 0 : (sw - 1 - iw0) / sw;
    int h = W - iw0 <= 0 ? 0 : min(cols, (W - iw0 + sw - 1) / sw);
    *lo = min(l, h);
    *hi = h;
}

/* One col row segment: the rows x cols grid of plane positions
 * (oh*sh + ih0, ow*sw + iw0), zero outside the plane, row after row. */
void grid_to_col(__global float *dst, __global const float *plane, int ih0, int iw0, int rows, int cols, int sh,
                 int sw, int H, int W)
{
    int lo, hi;
    valid_cols(iw0, sw, W, cols, &lo, &hi);
    plane += iw0;
    for (int oh = 0; oh < rows; oh++, dst += cols) {
        int ih = oh * sh + ih0;
        if (ih < 0 || ih >= H) {
            for (int ow = 0; ow < cols; ow++) dst[ow] = 0.0f;
            continue;
        }
        __global const float *src = plane + ih * W;
        for (int ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
        for (int ow = lo; ow < hi; ow++) dst[ow] = src[ow * sw];
        for (int ow = hi; ow < cols; ow++) dst[ow] = 0.0f;
    }
}

/* The adjoint of grid_to_col: adds the segment where it was taken from. */
void col_to_grid(__global float *plane, __global const float *src, int ih0, int iw0, int rows, int cols, int sh,
                 int sw, int H, int W)
{
    int lo, hi;
    valid_cols(iw0, sw, W, cols, &lo, &hi);
    plane += iw0;
    for (int oh = 0; oh < rows; oh++, src += cols) {
        int ih = oh * sh + ih0;
        if (ih < 0 || ih >= H) continue;
        __global float *dst = plane + ih * W;
        for (int ow = lo; ow < hi; ow++) dst[ow * sw] += src[ow];
    }
}

/* global: (CIN*KK, nb) */
__kernel void im2col_rows(__global float *col, int col_off, __global const float *x, int x_off, int n0, int nb,
                          int row_stride, int n_stride, GEOM)
{
    int r = get_global_id(0), n = get_global_id(1);
    if (r >= CIN * KK || n >= nb) return;
    int c = r / KK, kr = r % KK;
    int ih0 = (kr / KW) * DH - PH, iw0 = (kr % KW) * DW - PW;
    __global float *dst = col + col_off + r * row_stride + n * n_stride;
    __global const float *plane = x + x_off + ((n0 + n) * CIN + c) * (H * W);
#if POOL
    for (int di = 0; di < POOL; di++)
        grid_to_col(dst + di * nb * HP * PROW, plane, ih0 + di * SH, iw0, HP, PROW, SH * POOL, SW, H, W);
#else
    grid_to_col(dst, plane, ih0, iw0, HO, WO, SH, SW, H, W);
#endif
}

/* The adjoint of im2col_rows: the plane dx(n, c) is zeroed, then every col
 * row of channel c is added where im2col_rows took it from, rows in the
 * order (ki, kj), so each input pixel sums its contributions in the same
 * order as col2im (no atomics: one work item owns the plane, which stays
 * in L1). With POOL, a pixel still gets at most one value per row, so the
 * order is the same. global: (CIN, nb) */
__kernel void col2im_rows(__global float *dx, int dx_off, __global const float *col, int col_off, int n0, int nb,
                          int row_stride, int n_stride, GEOM)
{
    int c = get_global_id(0), n = get_global_id(1);
    if (c >= CIN || n >= nb) return;
    __global float *plane = dx + dx_off + ((n0 + n) * CIN + c) * (H * W);
    for (int q = 0; q < H * W; q++) plane[q] = 0.0f;
    __global const float *rows = col + col_off + c * KK * row_stride + n * n_stride;
    for (int kr = 0; kr < KK; kr++) {
        int ih0 = (kr / KW) * DH - PH, iw0 = (kr % KW) * DW - PW;
        __global const float *src = rows + kr * row_stride;
#if POOL
        for (int di = 0; di < POOL; di++)
            col_to_grid(plane, src + di * nb * HP * PROW, ih0 + di * SH, iw0, HP, PROW, SH * POOL, SW, H, W);
#else
        col_to_grid(plane, src, ih0, iw0, HO, WO, SH, SW, H, W);
#endif
    }
}

#include "shared/activate.h"

/* In place on y [N, COUT, HOWO]: y = act(y + b[c]). global: (HOWO rounded up, COUT, N) */
__kernel void bias_act(__global float *y, int y_off, __global const float *b, int b_off, int has_bias, int n_img, GEOM)
{
    int p = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (p >= HOWO || c >= COUT || n >= n_img) return;
    int i = y_off + (n * COUT + c) * HOWO + p;
    y[i] = activate(y[i] + (has_bias ? b[b_off + c] : 0.0f));
}

/* Wide GEMM result t [COUT, nb*HOWO] to y [N, COUT, HOWO] (images n0..n0+nb),
 * with bias and activation. global: (HOWO rounded up, COUT, nb) */
__kernel void permute_out(__global float *y, int y_off, __global const float *t, int t_off, __global const float *b,
                          int b_off, int has_bias, int n0, int nb, GEOM)
{
    int p = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (p >= HOWO || c >= COUT || n >= nb) return;
    float v = t[t_off + (c * nb + n) * HOWO + p] + (has_bias ? b[b_off + c] : 0.0f);
    y[y_off + ((n0 + n) * COUT + c) * HOWO + p] = activate(v);
}

/* dt [COUT, N*HOWO] from dy [N, COUT, HOWO], masked by the fused
 * activation's derivative (relu: where the output y is positive).
 * global: (HOWO rounded up, COUT, N) */
__kernel void grad_prep(__global float *dt, int dt_off, __global const float *dy, int dy_off,
                        __global const float *y, int y_off, int n_img, GEOM)
{
    int p = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (p >= HOWO || c >= COUT || n >= n_img) return;
    int i = (n * COUT + c) * HOWO + p;
    float g = dy[dy_off + i];
#if ACT == 1
    if (!(y[y_off + i] > 0.0f)) g = 0.0f;
#endif
    dt[dt_off + (c * n_img + n) * HOWO + p] = g;
}

#if POOL
/* dt for the fused max-pool: the pooled dy [N, COUT, HP, WP] goes to the
 * argmax of its window (idx, in max_pool2d's layout h * WO + w), masked by
 * relu where the pooled y is not positive; the window's other outputs get
 * 0. dt's columns for each chunk of `chunk` images are in im2col_rows's
 * pooled order: conv output (oh, ow) = (ph*POOL + di, ow) of image n at
 * n0*QQ*HPWP + di*nb*HP*PROW + (n - n0)*HP*PROW + ph*PROW + ow. An item
 * per plane (c, n), in work-groups of one (spread across the items, the
 * rows' strided stores do not vectorise).
 * global: (COUT, N), local (1, 1) on CPUs */
__kernel void grad_prep_pool(__global float *dt, int dt_off, __global const float *dy, int dy_off,
                             __global const int *idx, int idx_off, __global const float *y, int y_off, int n_img,
                             int chunk, GEOM)
{
    int c = get_global_id(0), n = get_global_id(1);
    if (c >= COUT || n >= n_img) return;
    int n0 = n / chunk * chunk, nb = min(chunk, n_img - n0);
    dy += dy_off + (n * COUT + c) * HPWP;
    y += y_off + (n * COUT + c) * HPWP;
    idx += idx_off + (n * COUT + c) * HPWP;
    dt += dt_off + (c * n_img + n0) * QQ * HPWP + (n - n0) * HP * PROW;
    for (int oh = 0; oh < HP * POOL; oh++) {
        int ph = oh / POOL, di = oh % POOL;
        __global float *d = dt + di * nb * HP * PROW + ph * PROW;
        for (int pw = 0; pw < WP; pw++) {
            int i = ph * WP + pw;
            float g = dy[i];
#if ACT == 1
            if (!(y[i] > 0.0f)) g = 0.0f;
#endif
            int a = idx[i] - (oh * WO + pw * POOL);
#pragma unroll
            for (int dj = 0; dj < POOL; dj++) d[pw * POOL + dj] = a == dj ? g : 0.0f;
        }
    }
}
#endif

/* db[c] = sum of row c of dt [COUT, len]: one work-group per channel,
 * per-item partial sums then a tree. global: (WG * COUT), local WG */
__kernel void bias_grad(__global float *db, int db_off, __global const float *dt, int dt_off, int len,
                        int accumulate, GEOM)
{
    __local float part[WG];
    int l = get_local_id(0), c = get_group_id(0);
    float s = 0.0f;
    if (c < COUT)
        for (int j = l; j < len; j += WG) s += dt[dt_off + c * len + j];
    part[l] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int span = WG / 2; span > 0; span >>= 1) {
        if (l < span) part[l] += part[l + span];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0 && c < COUT) db[db_off + c] = (accumulate ? db[db_off + c] : 0.0f) + part[0];
}

/* CPU version of bias_grad: a work item per channel sums its row in eight
 * lanes (one float8, fixed order, so deterministic), then the lanes and
 * the tail; no local memory or barriers, which PoCL runs slowly for a
 * long row. global: (COUT) */
__kernel void bias_grad_rows(__global float *db, int db_off, __global const float *dt, int dt_off, int len,
                             int accumulate, GEOM)
{
    int c = get_global_id(0);
    if (c >= COUT) return;
    __global const float *row = dt + dt_off + c * len;
    float8 acc = (float8)(0.0f);
    int j = 0;
    for (; j + 8 <= len; j += 8) acc += vload8(0, row + j);
    float s = ((acc.s0 + acc.s1) + (acc.s2 + acc.s3)) + ((acc.s4 + acc.s5) + (acc.s6 + acc.s7));
    for (; j < len; j++) s += row[j];
    db[db_off + c] = (accumulate ? db[db_off + c] : 0.0f) + s;
}
