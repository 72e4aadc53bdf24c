/* Direct ("implicit GEMM") convolution for CPU devices, OCLNN_CONV_DIRECT
 * (src/ops/conv_direct.c): stride 1, dilation 1, one group. No col
 * matrix: the micro-kernel reads its broadcasts straight from a padded
 * copy of the input, so the im2col pass (a quarter of the im2col path's
 * time on SimpleCNN's conv2) and its cache traffic disappear.
 *
 * -D specialisation: KH KW (the taps, unrolled), MR (output pixels of one
 * row per tile), NV x VW (the NR output channels per tile, NV vectors of
 * VW floats: the device's native width), CB (input channels per weight
 * gradient item), and with a fused max-pool POOL (its window) and G (tiles
 * per pooled item).
 *
 * direct_conv: Y[n][o][oh][ow] = act(bias[o] + sum over r < R, a, b of
 *   PW(o, r, a, b) * X[n][r][oh + a][ow + b]) with X a padded NCHW input
 *   whose rows are wide enough for every tile (the host's padded copy:
 *   WP >= tiles * MR + KW - 1 columns, so a row's last tile reads zeros
 *   past the image instead of needing an edge case). The forward runs it
 *   on x padded by (ph, pw); the data gradient on dy padded by (KH-1-ph,
 *   KW-1-pw) with the weights rotated 180 degrees and Cin/Cout swapped.
 *   Work item: the MR x NR tile at row oh, columns t*MR.., channels
 *   blk*NR..; per tap one NR-float row of the packed weights and MR
 *   broadcasts of X (2 vector loads, 7 broadcasts and 14 FMAs per tap with
 *   the 7 x 32 AVX-512 tile).
 * direct_wgrad: dW[o][c][a][b] (+)= sum over n, oh, ow of
 *   DT[n][oh][ow][o] * X[n][c][oh + a][ow + b], DT being dy (masked by
 *   the relu) in NHWC with its channels padded to a multiple of NR.
 *   Work item: CB input channels x one kernel row a x KW taps x NR output
 *   channels, reduced over images n0..n0+nb-1 in registers (a
 *   deterministic order, no atomics). Every item streams all of the
 *   chunk's DT, so the host makes chunks that stay in the caches and adds
 *   them up launch by launch (accumulate). */

#include "shared/vector.h"
#define floatV VTYPE(VW)
#define intV ITYPE(VW)
#define vloadV VLOAD(VW)
#define vstoreV VSTORE(VW)
#define NR (NV * VW)
#define KK (KH * KW)

/* One padded row: `left` zeros, the W values of s (masked: those where m
 * > 0, the relu's backward; others 0), zeros up to WP. */
void pad_row(__global float *restrict d, __global const float *restrict s, __global const float *restrict m,
             int masked, int W, int WP, int left)
{
    for (int j = 0; j < left; j++) d[j] = 0.0f;
    if (masked)
        for (int j = 0; j < W; j++) {
            float v = s[j]; /* loaded either way: a conditional load is a branch */
            d[left + j] = m[j] > 0.0f ? v : 0.0f;
        }
    else
        for (int j = 0; j < W; j++) d[left + j] = s[j];
    for (int j = left + W; j < WP; j++) d[j] = 0.0f;
}

/* D planes [P][HP][WP] = S planes [P][H][W] placed at (top, left), zeros
 * around. global: (HP, P) */
__kernel void direct_pad(__global float *restrict D, int d_off, __global const float *restrict S, int s_off, int P,
                         int H, int W, int HP, int WP, int top, int left)
{
    int row = get_global_id(0), p = get_global_id(1);
    if (row >= HP || p >= P) return;
    D += d_off + (p * HP + row) * WP;
    int h = row - top;
    if (h < 0 || h >= H) {
        for (int j = 0; j < WP; j++) D[j] = 0.0f;
        return;
    }
    S += s_off + (p * H + h) * W;
    pad_row(D, S, S, 0, W, WP, left);
}

/* The backward's output gradient, read once: S [N][K][HO][WO], masked by
 * M > 0 when `masked` (the relu's backward), goes to DT [N][HO][WO][KP] (NHWC, channels K..KP-1 zero:
 * the weight and bias gradients read it) and, with `padded`, to DP
 * [N][K][HO + 2*top][WP] placed at (top, left), zeros around (the data
 * gradient's input). Work item: VW channels of one image (PoCL's start-up
 * cost per work group is a microsecond or so: an item per row was
 * dominated by it). global: (KP / VW, N), groups of one */
__kernel void direct_grad_prep(__global float *restrict DT, int dt_off, __global float *restrict DP, int dp_off,
                               __global const float *restrict S, int s_off, __global const float *restrict M,
                               int m_off, int masked, int padded, int N, int K, int KP, int HO, int WO, int WP,
                               int top, int left)
{
    int kb = get_global_id(0), n = get_global_id(1);
    if (kb * VW >= KP || n >= N) return;
    int hp = HO + 2 * top, kn = min(VW, K - kb * VW);
    DT += dt_off + n * HO * WO * KP + kb * VW;
    S += s_off + (n * K + kb * VW) * HO * WO;
    M += m_off + (n * K + kb * VW) * HO * WO;
    DP += dp_off + (n * K + kb * VW) * hp * WP;
    for (int p = 0; p < HO * WO; p++) {
        float t[VW];
        UNROLL for (int j = 0; j < VW; j++)
        {
            /* no short-circuit: a branch on the sign of M mispredicts */
            int jc = min(j, kn - 1);
            float v = S[jc * HO * WO + p], m = masked ? M[jc * HO * WO + p] : 1.0f;
            t[j] = ((m > 0.0f) & (j < kn)) ? v : 0.0f;
        }
        vstoreV(vloadV(0, t), 0, DT + p * KP);
    }
    if (!padded) return;
    /* plane by plane, rows contiguous (the planes are in cache from above) */
    for (int j = 0; j < kn; j++, DP += hp * WP, S += HO * WO, M += HO * WO) {
        for (int i = 0; i < top * WP; i++) DP[i] = 0.0f;
        for (int i = (top + HO) * WP; i < hp * WP; i++) DP[i] = 0.0f;
        for (int oh = 0; oh < HO; oh++) pad_row(DP + (top + oh) * WP, S + oh * WO, M + oh * WO, masked, WO, WP, left);
    }
}

#ifdef POOL
/* direct_grad_prep for the fused max-pool: S is the pooled gradient [N][K]
 * [HP][WP], I its argmax (conv-output index per pooled element), M the
 * pooled output (the relu's mask); each pooled element's gradient goes to
 * its argmax in DT and DP, every other element is 0 (the windows do not
 * overlap). global: (KP / VW, N), groups of one */
__kernel void direct_grad_prep_pool(__global float *restrict DT, int dt_off, __global float *restrict DP, int dp_off,
                                    __global const float *restrict S, int s_off, __global const int *restrict I,
                                    int i_off, __global const float *restrict M, int m_off, int masked, int padded,
                                    int N, int K, int KP, int HO, int WO, int WP, int top, int left, int pooled)
{
    int kb = get_global_id(0), n = get_global_id(1);
    if (kb * VW >= KP || n >= N) return;
    int hp = HO + 2 * top, kn = min(VW, K - kb * VW);
    DT += dt_off + n * HO * WO * KP + kb * VW;
    DP += dp_off + (n * K + kb * VW) * hp * WP;
    for (int p = 0; p < HO * WO; p++) vstoreV((floatV)(0.0f), 0, DT + p * KP);
    if (padded)
        for (int i = 0; i < kn * hp * WP; i++) DP[i] = 0.0f;
    int plane = (n * K + kb * VW) * pooled;
    S += s_off + plane;
    I += i_off + plane;
    M += m_off + plane;
    for (int j = 0; j < kn; j++, S += pooled, I += pooled, M += pooled, DP += hp * WP)
        for (int q = 0; q < pooled; q++) {
            float g = S[q], m = masked ? M[q] : 1.0f;
            g = m > 0.0f ? g : 0.0f;
            int at = I[q], oh = at / WO;
            DT[at * KP + j] = g;
            if (padded) DP[(top + oh) * WP + left + at - oh * WO] = g;
        }
}
#endif

/* PW [blocks][R][KH][KW][NR]: output channel o = blk*NR + j of reduction
 * channel r at tap (a, b) is W[o][r][a][b] (forward, W [O][R][KH][KW]) or
 * rotated, W[r][o][KH-1-a][KW-1-b] (data gradient, W [R][O][KH][KW]);
 * channels past O are zero. global: (R, blocks) */
__kernel void direct_pack(__global float *PW, int pw_off, __global const float *W, int w_off, int O, int R, int flip)
{
    int r = get_global_id(0), blk = get_global_id(1);
    if (r >= R || blk * NR >= O) return;
    PW += pw_off + (blk * R + r) * KK * NR;
    W += w_off;
    for (int t = 0; t < KK; t++) {
        int a = t / KW, b = t % KW;
        for (int j = 0; j < NR; j++) {
            int o = blk * NR + j;
            float v = 0.0f;
            if (o < O) v = flip ? W[(r * O + o) * KK + (KK - 1 - t)] : W[(o * R + r) * KK + a * KW + b];
            PW[t * NR + j] = v;
        }
    }
}

/* The MR x NR tile whose first pixel is x (its row of the padded input),
 * over all R input channels, into tile[pixel][channel]. */
void tile_sum(__global const float *x, __global const float *w, int R, int x_cs, int x_rs, float tile[MR][NR])
{
    floatV acc[MR][NV];
    UNROLL for (int r = 0; r < MR; r++)
    {
        UNROLL for (int v = 0; v < NV; v++) acc[r][v] = (floatV)(0.0f);
    }
    for (int ch = 0; ch < R; ch++, x += x_cs) {
        __global const float *xr = x;
        UNROLL for (int a = 0; a < KH; a++)
        {
            UNROLL for (int b = 0; b < KW; b++)
            {
                floatV wv[NV];
                UNROLL for (int v = 0; v < NV; v++) wv[v] = vloadV(v, w);
                w += NR;
                UNROLL for (int r = 0; r < MR; r++)
                {
                    floatV xv = (floatV)(xr[r + b]);
                    UNROLL for (int v = 0; v < NV; v++) acc[r][v] = fma(xv, wv[v], acc[r][v]);
                }
            }
            xr += x_rs;
        }
    }
    UNROLL for (int r = 0; r < MR; r++)
    {
        UNROLL for (int v = 0; v < NV; v++) vstoreV(acc[r][v], v, tile[r]);
    }
}

/* The store's bias and relu (flags: 1 bias, 2 relu; NaN counts as not
 * positive, as in the im2col path's epilogue). */
float direct_epilogue(float v, float b, int flags)
{
    v += b;
    return (flags & 2) && !(v > 0.0f) ? 0.0f : v;
}

/* global: (HO * tiles, blocks, N). X rows are x_rs apart, planes x_cs,
 * images x_ns; Y is NCHW [N][O][HO][WO]. */
__kernel void direct_conv(__global float *Y, int y_off, __global const float *X, int x_off, __global const float *PW,
                          int pw_off, __global const float *bias, int bias_off, int N, int R, int O, int HO, int WO,
                          int tiles, int x_ns, int x_cs, int x_rs, int flags)
{
    int t = get_global_id(0), blk = get_global_id(1), n = get_global_id(2);
    int oh = t / tiles, ow0 = (t - oh * tiles) * MR;
    if (oh >= HO || blk * NR >= O || n >= N) return;
    float tile[MR][NR];
    tile_sum(X + x_off + n * x_ns + oh * x_rs + ow0, PW + pw_off + blk * R * KK * NR, R, x_cs, x_rs, tile);
    int on = min(NR, O - blk * NR), rn = min(MR, WO - ow0);
    __global float *y = Y + y_off + ((n * O + blk * NR) * HO + oh) * WO + ow0;
    bias += bias_off + blk * NR;
    for (int j = 0; j < on; j++, y += HO * WO) {
        float b = flags & 1 ? bias[j] : 0.0f;
        for (int r = 0; r < rn; r++) y[r] = direct_epilogue(tile[r][j], b, flags);
    }
}

#ifdef POOL
/* direct_conv with conv2d's fused POOL x POOL max-pool (floor mode): Y is
 * the pooled NCHW [N][O][HP][WP], idx the argmax as h * WO + w of the
 * conv-output plane (max_pool2d's layout). A work item computes the
 * POOL rows of one pooled row over G tiles (G * MR a multiple of POOL, so
 * windows never straddle items), keeps them in a private buffer, then
 * takes each window's max in PyTorch's order (row by row, a later value
 * wins when greater or NaN, after bias and relu), so the values are the
 * unfused conv's and max_pool2d's bit for bit.
 * global: (HP * groups, blocks, N) */
__kernel void direct_conv_pool(__global float *Y, int y_off, __global int *idx, int idx_off,
                               __global const float *X, int x_off, __global const float *PW, int pw_off,
                               __global const float *bias, int bias_off, int N, int R, int O, int HP, int WP,
                               int WO, int groups, int x_ns, int x_cs, int x_rs, int flags)
{
    int t = get_global_id(0), blk = get_global_id(1), n = get_global_id(2);
    int ph = t / groups, c0 = (t - ph * groups) * G * MR;
    if (ph >= HP || blk * NR >= O || n >= N) return;
    float rows[POOL][G][MR][NR];
    __global const float *w = PW + pw_off + blk * R * KK * NR;
    for (int di = 0; di < POOL; di++)
        for (int g = 0; g < G; g++)
            tile_sum(X + x_off + n * x_ns + (ph * POOL + di) * x_rs + c0 + g * MR, w, R, x_cs, x_rs, rows[di][g]);
    int on = min(NR, O - blk * NR), pn = min(G * MR / POOL, WP - c0 / POOL);
    int at = ((n * O + blk * NR) * HP + ph) * WP + c0 / POOL;
    float bt[NR];
    for (int j = 0; j < NR; j++) bt[j] = (flags & 1) && j < on ? bias[bias_off + blk * NR + j] : 0.0f;
    for (int p = 0; p < pn; p++) {
        floatV best[NV];
        intV arg[NV];
        UNROLL for (int q = 0; q < POOL * POOL; q++)
        {
            int di = q / POOL, col = p * POOL + q % POOL;
            UNROLL for (int v = 0; v < NV; v++)
            {
                /* direct_epilogue, a vector of channels at a time */
                floatV x = vloadV(v, rows[di][col / MR][col % MR]) + vloadV(v, bt);
                if (flags & 2) x = select((floatV)(0.0f), x, isgreater(x, (floatV)(0.0f)));
                intV take = q == 0 ? (intV)(-1) : isgreater(x, best[v]) | isnan(x);
                best[v] = select(best[v], x, take);
                arg[v] = select(arg[v], (intV)(q), take);
            }
        }
        float tb[NR];
        int ta[NR];
        UNROLL for (int v = 0; v < NV; v++)
        {
            vstoreV(best[v], v, tb);
            VSTORE(VW)(arg[v], v, ta);
        }
        for (int j = 0; j < on; j++) {
            int q = ta[j];
            Y[y_off + at + j * HP * WP + p] = tb[j];
            idx[idx_off + at + j * HP * WP + p] = (ph * POOL + q / POOL) * WO + c0 + p * POOL + q % POOL;
        }
    }
}
#endif

/* global: (ceil(C / CB), KH, blocks). DT [N][HO][WO][KP]; X padded NCHW as
 * for direct_conv; dW [O][C][KH][KW]. */
__kernel void direct_wgrad(__global float *DW, int dw_off, __global const float *DT, int dt_off,
                           __global const float *X, int x_off, int n0, int nb, int C, int O, int KP, int HO, int WO,
                           int x_ns, int x_cs, int x_rs, int accumulate)
{
    int c0 = get_global_id(0) * CB, a = get_global_id(1), blk = get_global_id(2);
    if (c0 >= C || a >= KH || blk * NR >= O) return;
    int coff[CB];
    UNROLL for (int j = 0; j < CB; j++) coff[j] = min(c0 + j, C - 1) * x_cs; /* past C: read, never stored */
    floatV acc[CB][KW][NV];
    UNROLL for (int j = 0; j < CB; j++)
    {
        UNROLL for (int b = 0; b < KW; b++)
        {
            UNROLL for (int v = 0; v < NV; v++) acc[j][b][v] = (floatV)(0.0f);
        }
    }
    for (int n = n0; n < n0 + nb; n++) {
        for (int oh = 0; oh < HO; oh++) {
            __global const float *x = X + x_off + n * x_ns + (oh + a) * x_rs;
            __global const float *dt = DT + dt_off + (n * HO + oh) * WO * KP + blk * NR;
            for (int ow = 0; ow < WO; ow++, x++, dt += KP) {
                floatV dv[NV];
                UNROLL for (int v = 0; v < NV; v++) dv[v] = vloadV(v, dt);
                UNROLL for (int j = 0; j < CB; j++)
                {
                    UNROLL for (int b = 0; b < KW; b++)
                    {
                        floatV xv = (floatV)(x[coff[j] + b]);
                        UNROLL for (int v = 0; v < NV; v++) acc[j][b][v] = fma(xv, dv[v], acc[j][b][v]);
                    }
                }
            }
        }
    }
    int on = min(NR, O - blk * NR);
    DW += dw_off + (blk * NR * C + c0) * KK + a * KW;
    float col[NR];
    UNROLL for (int j = 0; j < CB; j++)
    {
        UNROLL for (int b = 0; b < KW; b++)
        {
            UNROLL for (int v = 0; v < NV; v++) vstoreV(acc[j][b][v], v, col);
            if (c0 + j < C)
                for (int o = 0; o < on; o++) {
                    __global float *d = DW + (o * C + j) * KK + b;
                    *d = accumulate ? *d + col[o] : col[o];
                }
        }
    }
}

/* db[o] (+)= sum of DT's channel o over all N*HW pixels. global: (KP / VW) */
__kernel void direct_bias_grad(__global float *db, int db_off, __global const float *DT, int dt_off, int pixels, int O,
                               int KP, int accumulate)
{
    int q = get_global_id(0);
    if (q * VW >= O) return;
    DT += dt_off + q * VW;
    floatV s = (floatV)(0.0f);
    for (int p = 0; p < pixels; p++) s += vloadV(0, DT + p * KP);
    float sum[VW];
    vstoreV(s, 0, sum);
    for (int j = 0; j < VW && q * VW + j < O; j++) {
        __global float *d = db + db_off + q * VW + j;
        *d = accumulate ? *d + sum[j] : sum[j];
    }
}
