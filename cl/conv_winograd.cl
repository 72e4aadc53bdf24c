/* Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (src/ops/conv_winograd.c).
 *
 * The output is cut into 2x2 tiles; each reads a 4x4 input tile (tiles
 * overlap by 2, padding reads zeros). With the transforms
 *   U = G g G^T (weights), V = B^T d B (input tile), Y = A^T M A (output)
 * and M[xi] = sum over input channels of U[xi] V[xi] for each of the 16
 * positions xi, one tile costs 16 multiplies per channel pair instead of
 * 36. The 16 sums are 16 GEMMs (run by the host as one batched GEMM):
 *   M[xi] (OC x P) = U[xi] (OC x IC) * V[xi] (IC x P)
 * with P = nb * T columns, column n*T + t for tile t of image n of a chunk.
 * Layouts: U[(xi*OC + oc)*IC + ic], V[xi*(IC*P + pad) + ic*P + col],
 * M[xi*(OC*P + pad) + oc*P + col]: `pad` floats between the 16 planes
 * keep their rows from falling on the same cache sets (with P*IC*4 bytes
 * a multiple of 4 KiB, as at 56x56, the 16 streams of a work item would
 * evict each other from L1).
 *   ACT    0 none, 1 relu (the output transform's activation)
 * Every size is an argument, so a new shape builds nothing. */

#include "shared/activate.h"

/* U = G g G^T per (oc, ic), G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
 * flip 0: g = w[oc][ic] (w is [OC, IC, 3, 3]). flip 1, the data gradient:
 * w is the forward's [IC, OC, 3, 3] and g = w[ic][oc] rotated 180 degrees.
 * global: (IC, OC) */
__kernel void wino_weight(__global float *u, int u_off, __global const float *w, int w_off, int OC, int IC, int flip)
{
    int ic = get_global_id(0), oc = get_global_id(1);
    if (ic >= IC || oc >= OC) return;
    float g[3][3], t[4][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            g[i][j] = flip ? w[w_off + ((ic * OC + oc) * 3 + 2 - i) * 3 + 2 - j]
                           : w[w_off + ((oc * IC + ic) * 3 + i) * 3 + j];
    for (int j = 0; j < 3; j++) {
        t[0][j] = g[0][j];
        t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
        t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
        t[3][j] = g[2][j];
    }
    __global float *dst = u + u_off + oc * IC + ic;
    int plane = OC * IC;
    for (int i = 0; i < 4; i++) {
        dst[(i * 4 + 0) * plane] = t[i][0];
        dst[(i * 4 + 1) * plane] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        dst[(i * 4 + 2) * plane] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        dst[(i * 4 + 3) * plane] = t[i][2];
    }
}

/* The transforms, for one tile (T float) or eight neighbouring tiles of
 * a row at once (T float8, explicit vectors: the CPU compilers do not
 * vectorise the scalar loop with its stride-2 loads).
 * V = B^T d B of the 4x4 tile d, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0;
 * 0 1 0 -1], stored to dst + xi * plane. */
#define WINO_STORE_V(NAME, T, STORE)                                                                           \
    void NAME(__global float *dst, int plane, T d[4][4])                                                       \
    {                                                                                                          \
        T r[4][4];                                                                                             \
        for (int j = 0; j < 4; j++) {                                                                          \
            r[0][j] = d[0][j] - d[2][j];                                                                       \
            r[1][j] = d[1][j] + d[2][j];                                                                       \
            r[2][j] = d[2][j] - d[1][j];                                                                       \
            r[3][j] = d[1][j] - d[3][j];                                                                       \
        }                                                                                                      \
        for (int i = 0; i < 4; i++) {                                                                          \
            STORE(r[i][0] - r[i][2], dst + (i * 4 + 0) * plane);                                               \
            STORE(r[i][1] + r[i][2], dst + (i * 4 + 1) * plane);                                               \
            STORE(r[i][2] - r[i][1], dst + (i * 4 + 2) * plane);                                               \
            STORE(r[i][1] - r[i][3], dst + (i * 4 + 3) * plane);                                               \
        }                                                                                                      \
    }

/* o = A^T M A of the 16 values src[xi * plane], A^T = [1 1 1 0; 0 1 -1 -1]. */
#define WINO_OUT(NAME, T, LOAD)                                                                                \
    void NAME(__global const float *src, int plane, T o[2][2])                                                 \
    {                                                                                                          \
        T s[2][4];                                                                                             \
        for (int j = 0; j < 4; j++) {                                                                          \
            T m0 = LOAD(src + j * plane), m1 = LOAD(src + (4 + j) * plane);                                    \
            T m2 = LOAD(src + (8 + j) * plane), m3 = LOAD(src + (12 + j) * plane);                             \
            s[0][j] = m0 + m1 + m2;                                                                            \
            s[1][j] = m1 - m2 - m3;                                                                            \
        }                                                                                                      \
        for (int i = 0; i < 2; i++) {                                                                          \
            o[i][0] = s[i][0] + s[i][1] + s[i][2];                                                             \
            o[i][1] = s[i][1] - s[i][2] - s[i][3];                                                             \
        }                                                                                                      \
    }

#define STORE1(v, p) (*(p) = (v))
#define STORE8(v, p) vstore8((v), 0, (p))
#define LOAD1(p) (*(p))
#define LOAD8(p) vload8(0, (p))
WINO_STORE_V(store_v, float, STORE1)
WINO_STORE_V(store_v8, float8, STORE8)
WINO_OUT(out_tile, float, LOAD1)
WINO_OUT(out_tile8, float8, LOAD8)

/* The input transform of one row of tiles (ty) of channel c of image
 * n0 + n: tile (ty, tx) reads rows 2ty - PH .. +3 and columns 2tx - PW ..
 * +3, zero outside the image. Tiles wholly inside the image's columns
 * ([lo, hi)) go eight at a time, their 18 columns as two float16 loads;
 * the rest one by one through clamped addresses and a select. Rows
 * outside the image read a clamped row and select 0, so no load is ever
 * out of bounds. Element (n, c, ih, iw) of the input is at x_off +
 * n*n_stride + c*c_stride + ih*W + iw (NCHW, or the gradient's [C, N*H*W]).
 * global: (TH, IC, nb) */
__kernel void wino_input(__global float *restrict v, int v_off, __global const float *restrict x, int x_off, int n0,
                         int nb, int n_stride, int c_stride, int IC, int H, int W, int PH, int PW, int TW, int T,
                         int pad)
{
    int ty = get_global_id(0), c = get_global_id(1), n = get_global_id(2), th = T / TW;
    if (ty >= th || c >= IC || n >= nb) return;
    __global const float *plane = x + x_off + (n0 + n) * n_stride + c * c_stride;
    __global const float *row[4];
    bool ok[4];
    for (int i = 0; i < 4; i++) {
        int ih = ty * 2 - PH + i;
        ok[i] = ih >= 0 && ih < H;
        row[i] = plane + clamp(ih, 0, H - 1) * W;
    }
    int p = nb * T;
    __global float *dst = v + v_off + c * p + n * T + ty * TW;
    int lo = min(TW, (PW + 1) / 2), hi = W - 4 + PW >= 0 ? (W - 4 + PW) / 2 + 1 : 0;
    hi = clamp(hi, lo, TW);
    int tx = 0;
    for (; tx < TW; tx++) {
        if (tx >= lo && tx + 8 <= hi) {
            float8 d[4][4];
            for (int i = 0; i < 4; i++) {
                float16 a = vload16(0, row[i] + tx * 2 - PW), b = vload16(0, row[i] + tx * 2 - PW + 2);
                if (!ok[i]) a = b = (float16)(0.0f);
                d[i][0] = a.even;
                d[i][1] = a.odd;
                d[i][2] = b.even;
                d[i][3] = b.odd;
            }
            store_v8(dst + tx, IC * p + pad, d);
            tx += 7;
            continue;
        }
        float d[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                int iw = tx * 2 - PW + j;
                float e = row[i][clamp(iw, 0, W - 1)];
                d[i][j] = ok[i] && iw >= 0 && iw < W ? e : 0.0f;
            }
        store_v(dst + tx, IC * p + pad, d);
    }
}

/* y = act(A^T M A + b[oc]) for one row of tiles (ty) of channel oc of
 * image n0 + n, into y [N, OC, HO, WO] (the last row and column of tiles
 * may be half outside). Tiles whose two columns are inside go eight at a
 * time, their 16 outputs per row interleaved into one float16 store.
 * global: (TH, OC, nb) */
__kernel void wino_output(__global float *restrict y, int y_off, __global const float *restrict m, int m_off,
                          __global const float *b, int b_off, int has_bias, int n0, int nb, int OC, int HO, int WO,
                          int TW, int T, int pad)
{
    int ty = get_global_id(0), oc = get_global_id(1), n = get_global_id(2), th = T / TW;
    if (ty >= th || oc >= OC || n >= nb) return;
    int p = nb * T, plane = OC * p + pad;
    __global const float *src = m + m_off + oc * p + n * T + ty * TW;
    float bias = has_bias ? b[b_off + oc] : 0.0f;
    int oh = ty * 2, rows = min(2, HO - oh), full = WO / 2;
    __global float *dst = y + y_off + ((n0 + n) * OC + oc) * (HO * WO) + oh * WO;
    const uint16 mix = (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    int tx = 0;
    for (; tx + 8 <= full; tx += 8) {
        float8 o[2][2];
        out_tile8(src + tx, plane, o);
        for (int i = 0; i < rows; i++) {
            float16 z = shuffle2(o[i][0], o[i][1], mix) + bias;
#if ACT == 1
            z = z > 0.0f ? z : 0.0f;
#endif
            vstore16(z, 0, dst + i * WO + 2 * tx);
        }
    }
    for (; tx < TW; tx++) {
        float o[2][2];
        out_tile(src + tx, plane, o);
        for (int i = 0; i < rows; i++) {
            dst[i * WO + 2 * tx] = activate(o[i][0] + bias);
            if (tx < full) dst[i * WO + 2 * tx + 1] = activate(o[i][1] + bias);
        }
    }
}

/* The weight gradient's transforms. With Y = A^T (U . V) A and U = G g G^T,
 *   dU = (A dY A^T) . V summed over tiles and images,  dg = G^T dU G,
 * so per chunk Yh = A dY A^T of each 2x2 tile of the output gradient (the
 * layout of M), dU[xi] (OC x IC) += Yh[xi] V[xi]^T as one batched GEMM,
 * and once at the end the 3x3 weight gradient from dU.
 *
 * wino_dy: Yh for one row of tiles (ty) of channel oc of image n0 + n,
 * A = [1 0; 1 1; 1 -1; 0 -1], dY zero past HO x WO. Element (n, oc, oh,
 * ow) of dY is at dy_off + n*n_stride + oc*c_stride + oh*WO + ow (the
 * backward's dt [OC, N*HO*WO]). global: (TH, OC, nb) */
__kernel void wino_dy(__global float *restrict yh, int yh_off, __global const float *restrict dy, int dy_off, int n0,
                      int nb, int n_stride, int c_stride, int OC, int HO, int WO, int TW, int T, int pad)
{
    int ty = get_global_id(0), oc = get_global_id(1), n = get_global_id(2), th = T / TW;
    if (ty >= th || oc >= OC || n >= nb) return;
    int p = nb * T, plane = OC * p + pad, oh = ty * 2;
    bool r1 = oh + 1 < HO;
    __global const float *row0 = dy + dy_off + (n0 + n) * n_stride + oc * c_stride + oh * WO;
    __global const float *row1 = r1 ? row0 + WO : row0;
    __global float *dst = yh + yh_off + oc * p + n * T + ty * TW;
    for (int tx = 0; tx < TW; tx++) {
        int ow = tx * 2;
        bool c1 = ow + 1 < WO;
        float d[2][2] = {{row0[ow], c1 ? row0[ow + 1] : 0.0f},
                         {r1 ? row1[ow] : 0.0f, r1 && c1 ? row1[ow + 1] : 0.0f}};
        /* t = A dY (4 x 2), then Yh = t A^T (4 x 4) */
        float t[4][2];
        for (int j = 0; j < 2; j++) {
            t[0][j] = d[0][j];
            t[1][j] = d[0][j] + d[1][j];
            t[2][j] = d[0][j] - d[1][j];
            t[3][j] = -d[1][j];
        }
        for (int i = 0; i < 4; i++) {
            dst[tx + (i * 4 + 0) * plane] = t[i][0];
            dst[tx + (i * 4 + 1) * plane] = t[i][0] + t[i][1];
            dst[tx + (i * 4 + 2) * plane] = t[i][0] - t[i][1];
            dst[tx + (i * 4 + 3) * plane] = -t[i][1];
        }
    }
}

/* dw[oc][ic] (3 x 3) = G^T dU G (+ dw when accumulate: the parameter's
 * gradient accumulator), G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1], dU
 * [16, OC, IC]. global: (IC, OC) */
__kernel void wino_wgrad(__global float *dw, int dw_off, __global const float *du, int du_off, int OC, int IC,
                         int accumulate)
{
    int ic = get_global_id(0), oc = get_global_id(1);
    if (ic >= IC || oc >= OC) return;
    float d[4][4], t[3][4];
    for (int xi = 0; xi < 16; xi++) d[xi / 4][xi % 4] = du[du_off + (xi * OC + oc) * IC + ic];
    for (int j = 0; j < 4; j++) {
        t[0][j] = d[0][j] + 0.5f * (d[1][j] + d[2][j]);
        t[1][j] = 0.5f * (d[1][j] - d[2][j]);
        t[2][j] = 0.5f * (d[1][j] + d[2][j]) + d[3][j];
    }
    __global float *dst = dw + dw_off + (oc * IC + ic) * 9;
    for (int i = 0; i < 3; i++) {
        float r[3] = {t[i][0] + 0.5f * (t[i][1] + t[i][2]), 0.5f * (t[i][1] - t[i][2]),
                      0.5f * (t[i][1] + t[i][2]) + t[i][3]};
        for (int j = 0; j < 3; j++) dst[i * 3 + j] = (accumulate ? dst[i * 3 + j] : 0.0f) + r[j];
    }
}
