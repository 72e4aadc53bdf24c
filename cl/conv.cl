/* 2-D convolution helpers around CLBlast GEMMs: im2col, col2im (gather),
 * the NCHW epilogues and the gradient preparation.
 *
 * Every geometric quantity is a -D constant (one program per convolution
 * shape, shared by a conv's forward and backward kernels): the index maps
 * divide by kernel and output sizes per element, and division by a
 * constant compiles to a multiply, while a runtime division would dominate
 * these memory-bound kernels on CPUs.
 *   CIN COUT H W HO WO KH KW   channels, input/output size, kernel size
 *   SH SW PH PW DH DW          stride, padding, dilation
 *   ACT                        0 none, 1 relu (fused into the epilogue)
 *   WG                         work-group size of bias_grad (power of two)
 *
 * The col matrix holds the rows r = c*KH*KW + ki*KW + kj (c the input
 * channel, so group g owns rows [g*K, (g+1)*K)) and, per image n of a
 * chunk, the HO*WO output positions; element (r, n, p) lives at
 * r*row_stride + n*n_stride + p. Batched GEMMs use n_stride = CIN*KH*KW*HO*WO
 * and row_stride = HO*WO (one K x HOWO matrix per image); the wide GEMM
 * uses row_stride = nb*HO*WO and n_stride = HO*WO (one K x nb*HOWO matrix).
 * Work items run along p (dimension 0), so reads and writes are
 * contiguous for stride 1. */

#define HOWO (HO * WO)
#define KK (KH * KW)

/* global: (HOWO rounded up, nb, CIN*KK) */
__kernel void im2col(__global float *col, int col_off, __global const float *x, int x_off, int n0, int nb,
                     int row_stride, int n_stride)
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
                     int row_stride, int n_stride)
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

float activate(float v)
{
#if ACT == 1
    return v > 0.0f ? v : 0.0f;
#else
    return v;
#endif
}

/* In place on y [N, COUT, HOWO]: y = act(y + b[c]). global: (HOWO rounded up, COUT, N) */
__kernel void bias_act(__global float *y, int y_off, __global const float *b, int b_off, int has_bias, int n_img)
{
    int p = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (p >= HOWO || c >= COUT || n >= n_img) return;
    int i = y_off + (n * COUT + c) * HOWO + p;
    y[i] = activate(y[i] + (has_bias ? b[b_off + c] : 0.0f));
}

/* Wide GEMM result t [COUT, nb*HOWO] to y [N, COUT, HOWO] (images n0..n0+nb),
 * with bias and activation. global: (HOWO rounded up, COUT, nb) */
__kernel void permute_out(__global float *y, int y_off, __global const float *t, int t_off, __global const float *b,
                          int b_off, int has_bias, int n0, int nb)
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
                        __global const float *y, int y_off, int n_img)
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

/* db[c] = sum of row c of dt [COUT, len]: one work-group per channel,
 * per-item partial sums then a tree. global: (WG * COUT), local WG */
__kernel void bias_grad(__global float *db, int db_off, __global const float *dt, int dt_off, int len)
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
    if (l == 0 && c < COUT) db[db_off + c] = part[0];
}

/* colT [nb*HOWO, CIN*KK] (the transpose of the wide col) for the weight
 * gradient of the tiled path, whose GEMM wants the reduction (positions)
 * along rows. Work items run along the row r, so writes are contiguous.
 * global: (CIN*KK, HOWO, nb) */
__kernel void im2col_t(__global float *col, int col_off, __global const float *x, int x_off, int n0, int nb)
{
    int r = get_global_id(0), p = get_global_id(1), n = get_global_id(2);
    if (r >= CIN * KK || p >= HOWO || n >= nb) return;
    int oh = p / WO, ow = p % WO;
    int c = r / KK, kr = r % KK;
    int ih = oh * SH - PH + (kr / KW) * DH, iw = ow * SW - PW + (kr % KW) * DW;
    float v = 0.0f;
    if (ih >= 0 && ih < H && iw >= 0 && iw < W) v = x[x_off + ((n0 + n) * CIN + c) * (H * W) + ih * W + iw];
    col[col_off + (n * HOWO + p) * (CIN * KK) + r] = v;
}

/* The tiled path's own GEMM, written for CPUs (PoCL): C = A B per group
 * g = gid2, each work item a TM x 16 register tile. A[m][k] is read as
 * scalars at m*ars + k*acs (so A may be transposed), B row-major (ldb) as
 * float16 vectors, and C column q of row m is stored at
 * (q / c_wrap) * c_wrap_stride + q % c_wrap + m*ldc, which scatters a
 * wide [M, nb*HOWO] result straight into NCHW. The last column tile
 * loads B element by element so that nothing past column N is read.
 * flags: 1 accumulate into C, 2 add bias[g*M + m], 4 apply the activation.
 * global: (ceil(M/TM), ceil(N/16), groups) */
void tile_store(__global float *C, int m, int q0, int N, int ldc, int c_wrap, int c_wrap_stride, float16 v,
                int accumulate)
{
    int in = q0 % c_wrap, base = (q0 / c_wrap) * c_wrap_stride + in + m * ldc;
    if (q0 + 16 <= N && in + 16 <= c_wrap) {
        if (accumulate) v += vload16(0, C + base);
        vstore16(v, 0, C + base);
        return;
    }
    float t[16];
    vstore16(v, 0, t);
    for (int j = 0; j < 16 && q0 + j < N; j++) {
        int q = q0 + j, i = (q / c_wrap) * c_wrap_stride + q % c_wrap + m * ldc;
        C[i] = accumulate ? C[i] + t[j] : t[j];
    }
}

#define TILED_GEMM(NAME, TM)                                                                                       \
    __kernel void NAME(__global float *C, int c_off, __global const float *A, int a_off, __global const float *B, \
                       int b_off, __global const float *bias, int bias_off, int M, int N, int K, int ars, int acs, \
                       int ldb, int ldc, int c_wrap, int c_wrap_stride, int a_grp, int b_grp, int c_grp, int flags) \
    {                                                                                                              \
        int m0 = get_global_id(0) * TM, n0 = get_global_id(1) * 16, g = get_global_id(2);                         \
        if (m0 >= M || n0 >= N) return;                                                                            \
        A += a_off + g * a_grp;                                                                                    \
        B += b_off + g * b_grp + n0;                                                                               \
        C += c_off + g * c_grp;                                                                                    \
        int arow[TM];                                                                                              \
        float16 acc[TM];                                                                                           \
        for (int r = 0; r < TM; r++) {                                                                             \
            arow[r] = min(m0 + r, M - 1) * ars;                                                                    \
            acc[r] = (float16)(0.0f);                                                                              \
        }                                                                                                          \
        if (n0 + 16 <= N) {                                                                                        \
            for (int k = 0; k < K; k++) {                                                                          \
                float16 b = vload16(0, B + k * ldb);                                                               \
                for (int r = 0; r < TM; r++) acc[r] = fma((float16)(A[arow[r] + k * acs]), b, acc[r]);            \
            }                                                                                                      \
        } else {                                                                                                   \
            for (int k = 0; k < K; k++) {                                                                          \
                float t[16];                                                                                       \
                for (int j = 0; j < 16; j++) t[j] = n0 + j < N ? B[k * ldb + j] : 0.0f;                            \
                float16 b = vload16(0, t);                                                                         \
                for (int r = 0; r < TM; r++) acc[r] = fma((float16)(A[arow[r] + k * acs]), b, acc[r]);            \
            }                                                                                                      \
        }                                                                                                          \
        for (int r = 0; r < TM && m0 + r < M; r++) {                                                               \
            float16 v = acc[r];                                                                                    \
            if (flags & 2) v += (float16)(bias[bias_off + g * M + m0 + r]);                                        \
            if (flags & 4) v = ACTIVATE16(v);                                                                      \
            tile_store(C, m0 + r, n0, N, ldc, c_wrap, c_wrap_stride, v, flags & 1);                                \
        }                                                                                                          \
    }

#if ACT == 1
#define ACTIVATE16(v) fmax(v, (float16)(0.0f))
#else
#define ACTIVATE16(v) (v)
#endif

TILED_GEMM(tiled_gemm4, 4)
TILED_GEMM(tiled_gemm16, 16)
