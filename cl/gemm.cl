/* The tiled GEMM engine (src/ops/gemm.c): per batch entry g = get_global_id(2)
 *   C = act(alpha * A B + beta * C + bias)
 * in the kernel's own orientation: the host maps op(A) op(B) onto it (for
 * A^T B^T it computes C^T = B A and stores transposed). Written for CPUs
 * (PoCL), where a work item is a loop the compiler vectorises: each one
 * keeps a register tile of C and streams its operands once along k, so
 * nothing is staged in local memory and no barrier splits the loop.
 *
 * gemm_rows: a TM x (NV*VW) tile; B is read along its rows as VW-wide
 *   vectors and A element by element (a broadcast each), so A may be
 *   stored either way round (TRANS_A) while B must have unit column stride.
 * gemm_dot: a DM x DN tile of dot products over DV-wide slices of k, for
 *   A (M x K) and B stored N x K, both with unit stride along k (A B^T).
 * gemm_pool: gemm_rows (A B) with conv2d's fused max-pool: a TM x VW tile
 *   of pooled columns keeps one accumulator per window offset and stores
 *   the maximum and its index (see the section).
 *
 * Every register tile is spelt out with unrolled loops over constant
 * bounds: PoCL keeps private arrays indexed in a plain loop in memory,
 * which costs a load and a store per FMA.
 *
 * Edges: rows past M and columns past N read a clamped row (A, and B for
 * gemm_dot) or zeros (B columns of gemm_rows) and are not stored, so any
 * M, N, K >= 0 works; K = 0 gives C = beta * C + bias.
 *
 * C element (i, j) lives at i*c_rs + (j / c_wrap)*c_wrap_stride + (j % c_wrap)*c_cs:
 * plain row-major C has c_rs = ldc, c_cs = 1 and c_wrap past N; the
 * transposed store swaps c_rs and c_cs; conv2d scatters a [Cout, n*HoWo]
 * product straight into NCHW with c_wrap = HoWo.
 * flags: 1 bias per row i, 2 bias per column j (bias + g*bias_bs), 4 relu,
 * 8 gelu (x Phi(x), exactly the gelu op's: cl/shared/gelu_cdf.h).
 * beta == 0 never reads C (it may hold garbage). */

#include "shared/vector.h"

#include "shared/gelu_cdf.h"
#ifdef VW
GELU_CDF(gelu_cdfv, VTYPE(VW)) /* the epilogue's whole-vector stores */
#endif

#define GEMM_ARGS                                                                                                  \
    __global float *C, int c_off, __global const float *A, int a_off, __global const float *B, int b_off,          \
        __global const float *bias, int bias_off, int M, int N, int K, int lda, int ldb, int c_rs, int c_cs,       \
        int c_wrap, int c_wrap_stride, int a_bs, int b_bs, int c_bs, int bias_bs, float alpha, float beta, int flags

int c_index(int i, int j, int c_rs, int c_cs, int c_wrap, int c_wrap_stride)
{
    /* INT_MAX: no wrap, and no integer division per element */
    if (c_wrap == 0x7fffffff) return i * c_rs + j * c_cs;
    return i * c_rs + (j / c_wrap) * c_wrap_stride + (j % c_wrap) * c_cs;
}

/* The epilogue of one element; bias points at this batch entry's bias. */
float finish(float v, __global float *c, float alpha, float beta, __global const float *bias, int i, int j, int flags)
{
    v *= alpha;
    if (beta != 0.0f) v += beta * *c;
    if (flags & 1) v += bias[i];
    if (flags & 2) v += bias[j];
    if (flags & 4) v = fmax(v, 0.0f);
    if (flags & 8) v *= gelu_cdf(v);
    return v;
}

/* Stores the TR x TC accumulator tile acc[TR][NV] at C(m0.., n0..) through
 * the epilogue: whole vectors where the tile lies in one contiguous run of
 * C, element by element at the edges and across wraps. A macro rather than
 * a function so that acc stays in registers whatever PoCL inlines. Uses the
 * kernel's m0, n0, M, N, C, c_rs, c_cs, c_wrap, c_wrap_stride, alpha, beta,
 * bias and flags, and the section's floatV, NV, vloadV and vstoreV. */
#define STORE_TILE(acc, TR, TC)                                                                     \
    {                                                                                               \
        int in_wrap = n0 % c_wrap;                                                                  \
        bool vec = c_cs == 1 && n0 + (TC) <= N && in_wrap + (TC) <= c_wrap;                         \
        UNROLL for (int r = 0; r < (TR); r++)                                                       \
        {                                                                                           \
            int i = m0 + r;                                                                         \
            if (i >= M) break;                                                                      \
            if (vec) {                                                                              \
                __global float *c = C + i * c_rs + (n0 / c_wrap) * c_wrap_stride + in_wrap;         \
                UNROLL for (int v = 0; v < NV; v++)                                                 \
                {                                                                                   \
                    floatV x = acc[r][v] * alpha;                                                   \
                    if (beta != 0.0f) x += beta * vloadV(v, c);                                     \
                    if (flags & 1) x += (floatV)(bias[i]);                                          \
                    if (flags & 2) x += vloadV(v, bias + n0);                                       \
                    if (flags & 4) x = fmax(x, (floatV)(0.0f));                                     \
                    if (flags & 8) x *= gelu_cdfv(x);                                               \
                    vstoreV(x, v, c);                                                               \
                }                                                                                   \
            } else {                                                                                \
                float t[TC];                                                                        \
                UNROLL for (int v = 0; v < NV; v++) vstoreV(acc[r][v], v, t);                       \
                for (int j = 0; j < (TC) && n0 + j < N; j++) {                                      \
                    __global float *c = C + c_index(i, n0 + j, c_rs, c_cs, c_wrap, c_wrap_stride);  \
                    *c = finish(t[j], c, alpha, beta, bias, i, n0 + j, flags);                      \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

#ifdef ROWS

#define floatV VTYPE(VW)
#define vloadV VLOAD(VW)
#define vstoreV VSTORE(VW)
#define TN (NV * VW)

__kernel void gemm_rows(GEMM_ARGS)
{
    int m0 = get_global_id(0) * TM, n0 = get_global_id(1) * TN, g = get_global_id(2);
    if (m0 >= M || n0 >= N) return;
    A += a_off + g * a_bs;
    B += b_off + g * b_bs + n0;
    C += c_off + g * c_bs;
    bias += bias_off + g * bias_bs;
    /* A element (r, k) at arow[r] + k*acol */
#if TRANS_A
    const int acol = lda;
#else
    const int acol = 1;
#endif
    int arow[TM];
    floatV acc[TM][NV];
    UNROLL for (int r = 0; r < TM; r++)
    {
        arow[r] = min(m0 + r, M - 1) * (TRANS_A ? 1 : lda);
        UNROLL for (int v = 0; v < NV; v++) acc[r][v] = (floatV)(0.0f);
    }
    if (n0 + TN <= N) {
        for (int k = 0; k < K; k++) {
            floatV b[NV];
            UNROLL for (int v = 0; v < NV; v++) b[v] = vloadV(v, B + k * ldb);
            UNROLL for (int r = 0; r < TM; r++)
            {
                floatV a = (floatV)(A[arow[r] + k * acol]);
                UNROLL for (int v = 0; v < NV; v++) acc[r][v] = fma(a, b[v], acc[r][v]);
            }
        }
    } else {
        /* the last column tile: nothing past column N is read */
        for (int k = 0; k < K; k++) {
            float t[TN];
            for (int j = 0; j < TN; j++) t[j] = n0 + j < N ? B[k * ldb + j] : 0.0f;
            floatV b[NV];
            UNROLL for (int v = 0; v < NV; v++) b[v] = vloadV(v, t);
            UNROLL for (int r = 0; r < TM; r++)
            {
                floatV a = (floatV)(A[arow[r] + k * acol]);
                UNROLL for (int v = 0; v < NV; v++) acc[r][v] = fma(a, b[v], acc[r][v]);
            }
        }
    }
    STORE_TILE(acc, TM, TN)
}

#endif /* ROWS */

#ifdef DOT

#define floatD VTYPE(DV)
#define vloadD VLOAD(DV)

float hsum(floatD v)
{
#if DV == 16
    float8 h8 = v.lo + v.hi;
    float4 h = h8.lo + h8.hi;
#elif DV == 8
    float4 h = v.lo + v.hi;
#else
    float4 h = v;
#endif
    float2 h2 = h.lo + h.hi;
    return h2.x + h2.y;
}

__kernel void gemm_dot(GEMM_ARGS)
{
    int m0 = get_global_id(0) * DM, n0 = get_global_id(1) * DN, g = get_global_id(2);
    if (m0 >= M || n0 >= N) return;
    A += a_off + g * a_bs;
    B += b_off + g * b_bs;
    C += c_off + g * c_bs;
    bias += bias_off + g * bias_bs;
    __global const float *ar[DM], *br[DN];
    UNROLL for (int r = 0; r < DM; r++) ar[r] = A + min(m0 + r, M - 1) * lda;
    UNROLL for (int j = 0; j < DN; j++) br[j] = B + min(n0 + j, N - 1) * ldb;
    floatD acc[DM][DN];
    UNROLL for (int r = 0; r < DM; r++) UNROLL for (int j = 0; j < DN; j++) acc[r][j] = (floatD)(0.0f);
    int k = 0;
    for (; k + DV <= K; k += DV) {
        floatD a[DM], b[DN];
        UNROLL for (int r = 0; r < DM; r++) a[r] = vloadD(0, ar[r] + k);
        UNROLL for (int j = 0; j < DN; j++) b[j] = vloadD(0, br[j] + k);
        UNROLL for (int r = 0; r < DM; r++) UNROLL for (int j = 0; j < DN; j++) acc[r][j] = fma(a[r], b[j], acc[r][j]);
    }
    UNROLL for (int r = 0; r < DM; r++)
    {
        int i = m0 + r;
        if (i >= M) break;
        UNROLL for (int j = 0; j < DN; j++)
        {
            if (n0 + j >= N) break;
            float s = hsum(acc[r][j]);
            for (int kk = k; kk < K; kk++) s = fma(ar[r][kk], br[j][kk], s);
            __global float *c = C + c_index(i, n0 + j, c_rs, c_cs, c_wrap, c_wrap_stride);
            *c = finish(s, c, alpha, beta, bias, i, n0 + j, flags);
        }
    }
}

#endif /* DOT */

#ifdef POOLED

/* C = maxpool(act(A B + bias)) for conv2d's fused max-pool with POOL x POOL
 * windows (gemm.h, oclnn_gemm_args.pool): B holds POOL blocks of POOL*N
 * columns, q_stride apart; block di has the conv outputs at window offset
 * (di, dj) of pooled column j at column j*POOL + dj (a whole window row
 * side by side, so im2col copies whole conv-output rows). A tile reads
 * POOL*VW contiguous floats per block and k into POOL accumulators as
 * they lie (no shuffles in the loop: FMAs are lane-wise) and splits the
 * accumulators into one vector per window offset once, in the epilogue.
 * Each element is the same sequence of FMAs over k and the same epilogue
 * as in gemm_rows, so the values are those of the unfused conv bit for
 * bit; the max then scans the
 * window in PyTorch's order (row by row): a later value wins when greater
 * or NaN, as in max_pool2d. idx gets the argmax as an index h * wo + w of
 * the conv-output plane (max_pool2d's layout). beta is not used. */

#define floatV VTYPE(VW)
#define intV ITYPE(VW)
#define vloadV VLOAD(VW)
#define vstoreV VSTORE(VW)
#define QQ (POOL * POOL)

/* b[dj] = lanes dj, dj + POOL, ... of the POOL vectors x[0..POOL-1] (VW
 * floats each, as they lie in a block row): one per window offset. */
#if POOL == 2
#define SPLIT(x, b)                                                                                                    \
    {                                                                                                                  \
        b[0] = (floatV)(x[0].even, x[1].even);                                                                         \
        b[1] = (floatV)(x[0].odd, x[1].odd);                                                                           \
    }
#else
#define SPLIT(x, b)                                                                                                    \
    {                                                                                                                  \
        float t_[POOL * VW];                                                                                           \
        UNROLL for (int v_ = 0; v_ < POOL; v_++) vstoreV(x[v_], v_, t_);                                               \
        UNROLL for (int dj_ = 0; dj_ < POOL; dj_++)                                                                    \
        {                                                                                                              \
            float u_[VW];                                                                                              \
            UNROLL for (int j_ = 0; j_ < VW; j_++) u_[j_] = t_[j_ * POOL + dj_];                                       \
            b[dj_] = vloadV(0, u_);                                                                                    \
        }                                                                                                              \
    }
#endif

/* The conv-output index of the window of pooled column p of a plane, and
 * what window offset q adds to it. */
int pool_base(int p, int wp, int wo) { return p / wp * POOL * wo + p % wp * POOL; }
int pool_offset(int q, int wo) { return q / POOL * wo + q % POOL; }

__kernel void gemm_pool(GEMM_ARGS, __global int *idx, int idx_off, int q_stride, int wp, int wo)
{
    int m0 = get_global_id(0) * TM, n0 = get_global_id(1) * VW, g = get_global_id(2);
    if (m0 >= M || n0 >= N) return;
    A += a_off + g * a_bs;
    B += b_off + g * b_bs + POOL * n0;
    C += c_off + g * c_bs;
    idx += idx_off + g * c_bs;
    bias += bias_off + g * bias_bs;
    int arow[TM];
    /* acc[r][di*POOL + v]: vector v of window row di, as B holds it */
    floatV acc[TM][QQ];
    UNROLL for (int r = 0; r < TM; r++)
    {
        arow[r] = min(m0 + r, M - 1) * lda;
        UNROLL for (int q = 0; q < QQ; q++) acc[r][q] = (floatV)(0.0f);
    }
    bool full = n0 + VW <= N;
    if (full) {
        for (int k = 0; k < K; k++) {
            floatV b[QQ];
            UNROLL for (int q = 0; q < QQ; q++) b[q] = vloadV(q % POOL, B + k * ldb + q / POOL * q_stride);
            UNROLL for (int r = 0; r < TM; r++)
            {
                floatV a = (floatV)(A[arow[r] + k]);
                UNROLL for (int q = 0; q < QQ; q++) acc[r][q] = fma(a, b[q], acc[r][q]);
            }
        }
    } else {
        /* the last column tile: nothing past column N is read */
        int valid = POOL * (N - n0);
        for (int k = 0; k < K; k++) {
            floatV b[QQ];
            UNROLL for (int di = 0; di < POOL; di++)
            {
                __global const float *brow = B + k * ldb + di * q_stride;
                float t[POOL * VW];
                for (int j = 0; j < POOL * VW; j++) t[j] = j < valid ? brow[j] : 0.0f;
                UNROLL for (int v = 0; v < POOL; v++) b[di * POOL + v] = vloadV(v, t);
            }
            UNROLL for (int r = 0; r < TM; r++)
            {
                floatV a = (floatV)(A[arow[r] + k]);
                UNROLL for (int q = 0; q < QQ; q++) acc[r][q] = fma(a, b[q], acc[r][q]);
            }
        }
    }
    int in_wrap = n0 % c_wrap;
    bool vec = full && in_wrap + VW <= c_wrap;
    int base[VW];
    for (int j = 0; j < VW; j++) base[j] = pool_base((n0 + j) % c_wrap, wp, wo);
    UNROLL for (int r = 0; r < TM; r++)
    {
        int i = m0 + r;
        if (i >= M) break;
        floatV best, v, win[QQ];
        UNROLL for (int di = 0; di < POOL; di++) SPLIT((acc[r] + di * POOL), (win + di * POOL))
        intV arg = (intV)(0);
        UNROLL for (int q = 0; q < QQ; q++)
        {
            /* gemm_rows' epilogue (STORE_TILE: alpha, row bias, relu) */
            v = win[q] * alpha;
            if (flags & 1) v += (floatV)(bias[i]);
            if (flags & 4) v = fmax(v, (floatV)(0.0f));
            if (q == 0) {
                best = v;
            } else {
                intV take = isgreater(v, best) | isnan(v);
                best = select(best, v, take);
                arg = select(arg, (intV)(q), take);
            }
        }
        float tb[VW];
        int ta[VW];
        vstoreV(best, 0, tb);
        VSTORE(VW)(arg, 0, ta);
        if (vec) {
            int at = i * c_rs + (n0 / c_wrap) * c_wrap_stride + in_wrap;
            vstoreV(best, 0, C + at);
            UNROLL for (int j = 0; j < VW; j++) idx[at + j] = base[j] + pool_offset(ta[j], wo);
        } else {
            for (int j = 0; j < VW && n0 + j < N; j++) {
                int at = c_index(i, n0 + j, c_rs, c_cs, c_wrap, c_wrap_stride);
                C[at] = tb[j];
                idx[at] = base[j] + pool_offset(ta[j], wo);
            }
        }
    }
}

#endif /* POOLED */

#ifdef PACKED

/* The packed path for CPU devices (gemm_packed.c): the operand read as
 * vectors is first copied by gemm_pack into panels, then gemm_packed
 * multiplies, reading the other operand in place (as broadcasts). Both run
 * in the kernel's orientation: the host swaps A and B (and stores C
 * transposed) when that makes the packed operand the smaller one.
 *
 * gemm_pack: X viewed as R x K, X(r, k) = X[r*rs + k*ks] (the strides say
 *   whether it is stored transposed), is written as ceil(R/W) panels of
 *   K x W floats, row k of panel p holding X(p*W + 0..W-1, k), rows past R
 *   zero; panel p starts at D + p*K*W. Work item: KB consecutive k of one
 *   panel (one k per item would make PoCL run thousands of tiny work
 *   groups, whose start-up cost dominates).
 * gemm_packed: the micro-kernel. Work item (i, j) accumulates the MR x NR
 *   tile of C at rows i*MR, columns j*NR, over k in [k0, k0 + kn), in
 *   MR x NV registers of VW floats: per k one contiguous NR-float row of
 *   B's panel j and MR broadcasts of A(i*MR + r, k) = A[i*a_ts + r*a_rs +
 *   k*a_ks] (rows past M read row M-1, never stored): A in place (a_ts =
 *   MR*a_rs) or packed by gemm_pack too (a_rs 1, a_ks MR, a_ts K*MR). The B stream is contiguous and
 *   zero-padded, so the loop has no edge cases and every transpose is the
 *   same loop; the host splits K into blocks so that the panels in flight
 *   stay in cache, passing beta = 1 after the first block and the bias and
 *   relu flags with the last only. C is addressed as in gemm_rows. */

__kernel void gemm_pack(__global float *D, int d_off, __global const float *X, int x_off, int R, int K, int rs,
                        int ks, int x_bs, int d_bs, int W, int KB)
{
    int p = get_global_id(0), k0 = get_global_id(1) * KB, g = get_global_id(2);
    int r0 = p * W;
    if (r0 >= R || k0 >= K) return;
    int n = min(W, R - r0), k1 = min(K, k0 + KB);
    X += x_off + g * x_bs + r0 * rs;
    D += d_off + g * d_bs + (p * K + k0) * W;
    for (int k = k0; k < k1; k++, D += W) {
        for (int r = 0; r < n; r++) D[r] = X[r * rs + k * ks];
        for (int r = n; r < W; r++) D[r] = 0.0f;
    }
}

#define floatV VTYPE(VW)
#define vloadV VLOAD(VW)
#define vstoreV VSTORE(VW)
#define NR (NV * VW)

__kernel void gemm_packed(__global float *C, int c_off, __global const float *A, int a_off,
                          __global const float *PB, int pb_off, __global const float *bias, int bias_off, int M,
                          int N, int K, int k0, int kn, int c_rs, int c_cs, int c_wrap, int c_wrap_stride, int a_rs,
                          int a_ks, int a_ts, int a_bs, int pb_bs, int c_bs, int bias_bs, float alpha, float beta, int flags)
{
    int m0 = get_global_id(0) * MR, n0 = get_global_id(1) * NR, g = get_global_id(2);
    if (m0 >= M || n0 >= N) return;
    A += a_off + g * a_bs + get_global_id(0) * a_ts + k0 * a_ks;
    __global const float *b = PB + pb_off + g * pb_bs + (get_global_id(1) * K + k0) * NR;
    C += c_off + g * c_bs;
    bias += bias_off + g * bias_bs;
    int arow[MR];
    floatV acc[MR][NV];
    UNROLL for (int r = 0; r < MR; r++)
    {
        arow[r] = min(r, M - 1 - m0) * a_rs;
        UNROLL for (int v = 0; v < NV; v++) acc[r][v] = (floatV)(0.0f);
    }
    for (int k = 0; k < kn; k++) {
        floatV bv[NV];
        UNROLL for (int v = 0; v < NV; v++) bv[v] = vloadV(v, b);
        UNROLL for (int r = 0; r < MR; r++)
        {
            floatV x = (floatV)(A[arow[r]]);
            UNROLL for (int v = 0; v < NV; v++) acc[r][v] = fma(x, bv[v], acc[r][v]);
        }
        A += a_ks;
        b += NR;
    }
    STORE_TILE(acc, MR, NR)
}

#endif /* PACKED */
