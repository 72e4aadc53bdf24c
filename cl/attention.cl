/* Scaled dot-product attention, fused (FlashAttention 2 structure).
 *
 * Tensors are [N, H, L, D]; q, k, v and the additive mask are read through
 * their element strides (int4: n, h, row, col), so permuted views straight
 * from a projection need no copy. The outputs (o, lse, dq, dk, dv) are
 * contiguous.
 *
 * Build options (real specialisation only):
 *   DMAX      private/local row length: the head dim, or a bucket above it
 *   HEAD_DIM  the head dim when it is specialised (loops of fixed length);
 *             absent for the generic path, which takes it at run time
 *   BQ        rows owned by a work-group (its size): query rows in the
 *             forward and dq kernels, key rows in the dk/dv kernel
 *   BK        rows of the tile streamed through local memory: keys in the
 *             forward and dq kernels, queries in the dk/dv kernel
 * Sizes (N, H, Lq, Lk), the scale and the mask mode are arguments.
 *
 * Masking of score (i, j) of batch n, head h (flags: 1 additive mask, 2
 * key padding, 4 causal, top-left aligned as PyTorch's is_causal):
 *   s = scale * q_i . k_j + mask[n, h, i, j]; -inf when kpm[n, j] != 0 or
 *   (causal and j > i).
 * A row whose scores are all -inf gets output 0 and lse = +inf, so every
 * recomputed probability exp(s - lse) of it is 0 in the backward. */

#ifdef HEAD_DIM
#define DD HEAD_DIM
#else
#define DD dim
#endif

#define F_MASK 1
#define F_KPM 2
#define F_CAUSAL 4

/* The mask's contribution to score (i, j): 0, a finite bias or -inf. */
float mask_bias(__global const float *mask, int mask_off, int4 ms, __global const int *kpm, int kpm_off, int n,
                int h, int i, int j, int Lk, int flags)
{
    float b = 0.0f;
    if ((flags & F_CAUSAL) && j > i) return -INFINITY;
    if ((flags & F_KPM) && kpm[kpm_off + n * Lk + j] != 0) return -INFINITY;
    if (flags & F_MASK) b = mask[mask_off + n * ms.x + h * ms.y + i * ms.z + j * ms.w];
    return b;
}

/* Attention dropout: probability (i, j) of (n, h) is kept when the
 * Philox-4x32-10 uniform of element (nh Lq + i) Lk + j (of stream
 * rng.zw under key rng.xy, lane idx % 4 of block idx / 4, top 24 bits,
 * exactly as src/core/random.c and cl/dropout.cl draw it) is >= p; kept
 * values are scaled by 1 / (1 - p). Returns that factor (1 when p is 0). */
float drop_factor(float p, uint4 rng, int nh, int i, int j, int Lq, int Lk)
{
    if (p == 0.0f) return 1.0f;
    ulong idx = ((ulong)nh * (ulong)Lq + (ulong)i) * (ulong)Lk + (ulong)j, block = idx >> 2;
    uint4 c = (uint4)((uint)block, (uint)(block >> 32), rng.z, rng.w);
    uint2 k = rng.xy;
    for (int r = 0; r < 10; r++) {
        uint lo0 = 0xD2511F53u * c.x, hi0 = mul_hi(0xD2511F53u, c.x);
        uint lo1 = 0xCD9E8D57u * c.z, hi1 = mul_hi(0xCD9E8D57u, c.z);
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k += (uint2)(0x9E3779B9u, 0xBB67AE85u);
    }
    uint lane = (uint)(idx & 3);
    uint w = lane == 0 ? c.x : lane == 1 ? c.y : lane == 2 ? c.z : c.w;
    return (float)(w >> 8) * (1.0f / 16777216.0f) >= p ? 1.0f / (1.0f - p) : 0.0f;
}

/* delta[n, h, i] = sum_c do[n, h, i, c] * o[n, h, i, c] (both contiguous). */
__kernel void sdpa_backward_delta(__global float *delta, int delta_off, __global const float *dout, int do_off,
                                  __global const float *o, int o_off, int rows, int dim)
{
    int i = get_global_id(0);
    if (i >= rows) return;
    float s = 0.0f;
    for (int c = 0; c < DD; c++) s += dout[do_off + i * DD + c] * o[o_off + i * DD + c];
    delta[delta_off + i] = s;
}

/* ---- Each program holds one kernel set (PoCL builds every kernel of a
 * program): SDPA_CPU selects the CPU kernels, SDPA_MASK the unfused path's
 * mask kernel, neither the work-group (GPU) kernels. */
#if !defined(SDPA_CPU) && !defined(SDPA_MASK)

/* Number of BK-row key tiles the query rows [i0, i1) need (causal rows
 * stop at their own index); at least one, so no barrier loop is empty. */
int key_tiles(int i1, int Lk, int flags)
{
    int keys = (flags & F_CAUSAL) ? min(Lk, i1) : Lk;
    int t = (keys + BK - 1) / BK;
    return t > 0 ? t : 1;
}

/* Copies rows [r0, r0 + BK) of a strided [L, D] matrix into a local tile
 * of DMAX-long rows (zeros past the end). All work-items take part. */
void load_tile(__local float *tile, __global const float *src, int base, int row_stride, int col_stride, int r0,
               int L, int dim)
{
    int lid = get_local_id(0);
    for (int e = lid; e < BK * DD; e += BQ) {
        int r = e / DD, c = e - r * DD;
        int row = r0 + r;
        tile[r * DMAX + c] = row < L ? src[base + row * row_stride + c * col_stride] : 0.0f;
    }
}

/* o[n, h, i, :] = softmax_j(s_ij) v_j; lse[n, h, i] = log sum_j exp(s_ij).
 * Group (x, y): query rows [x * BQ, x * BQ + BQ) of (n, h) = y. Each
 * work-item keeps its query row, running max, running sum and the fp32
 * accumulator in private memory; K and V tiles of BK rows pass through
 * local memory. */
__kernel void sdpa_forward(__global float *o, int o_off, __global float *lse, int lse_off,
                           __global const float *q, int q_off, int4 qs, __global const float *k, int k_off, int4 ks,
                           __global const float *v, int v_off, int4 vs, __global const float *mask, int mask_off,
                           int4 ms, __global const int *kpm, int kpm_off, int H, int Lq, int Lk, int dim, float scale,
                           int flags, float drop_p, uint4 rng)
{
    __local float kt[BK * DMAX], vt[BK * DMAX];
    int lid = get_local_id(0);
    int i0 = get_group_id(0) * BQ, i = i0 + lid;
    int nh = get_group_id(1), n = nh / H, h = nh - n * H;
    int valid = i < Lq;
    int row = valid ? i : Lq - 1;

    float qp[DMAX], acc[DMAX], sv[BK];
    int qbase = q_off + n * qs.x + h * qs.y + row * qs.z;
    for (int c = 0; c < DD; c++) {
        qp[c] = q[qbase + c * qs.w];
        acc[c] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    int kbase = k_off + n * ks.x + h * ks.y, vbase = v_off + n * vs.x + h * vs.y;
    int ntiles = key_tiles(min(i0 + BQ, Lq), Lk, flags);
    for (int t = 0; t < ntiles; t++) {
        int j0 = t * BK;
        barrier(CLK_LOCAL_MEM_FENCE);
        load_tile(kt, k, kbase, ks.z, ks.w, j0, Lk, dim);
        load_tile(vt, v, vbase, vs.z, vs.w, j0, Lk, dim);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (valid) {
            float tmax = -INFINITY;
            for (int r = 0; r < BK; r++) {
                int j = j0 + r;
                float s = -INFINITY;
                if (j < Lk) {
                    float b = mask_bias(mask, mask_off, ms, kpm, kpm_off, n, h, i, j, Lk, flags);
                    if (b != -INFINITY) {
                        float d = 0.0f;
                        for (int c = 0; c < DD; c++) d += qp[c] * kt[r * DMAX + c];
                        s = d * scale + b;
                    }
                }
                sv[r] = s;
                tmax = fmax(tmax, s);
            }
            float mn = fmax(m, tmax);
            if (mn != -INFINITY) {
                float alpha = exp(m - mn); /* 0 while m is still -inf */
                l *= alpha;
                for (int c = 0; c < DD; c++) acc[c] *= alpha;
                for (int r = 0; r < BK; r++) {
                    float p = exp(sv[r] - mn);
                    l += p;
                    if (drop_p != 0.0f && p != 0.0f) p *= drop_factor(drop_p, rng, nh, i, j0 + r, Lq, Lk);
                    for (int c = 0; c < DD; c++) acc[c] += p * vt[r * DMAX + c];
                }
                m = mn;
            }
        }
    }
    if (!valid) return;
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    int obase = o_off + (nh * Lq + i) * DD;
    for (int c = 0; c < DD; c++) o[obase + c] = acc[c] * inv;
    lse[lse_off + nh * Lq + i] = l > 0.0f ? m + log(l) : INFINITY;
}

/* dq_i = scale * sum_j p_ij (dp_ij - delta_i) k_j, p_ij = exp(s_ij - lse_i),
 * dp_ij = do_i . v_j. Same grid and tiles as the forward. */
__kernel void sdpa_backward_dq(__global float *dq, int dq_off, __global const float *q, int q_off, int4 qs,
                               __global const float *k, int k_off, int4 ks, __global const float *v, int v_off,
                               int4 vs, __global const float *mask, int mask_off, int4 ms, __global const int *kpm,
                               int kpm_off, __global const float *dout, int do_off, __global const float *lse,
                               int lse_off, __global const float *delta, int delta_off, int H, int Lq, int Lk,
                               int dim, float scale, int flags, float drop_p, uint4 rng)
{
    __local float kt[BK * DMAX], vt[BK * DMAX];
    int lid = get_local_id(0);
    int i0 = get_group_id(0) * BQ, i = i0 + lid;
    int nh = get_group_id(1), n = nh / H, h = nh - n * H;
    int valid = i < Lq;
    int row = valid ? i : Lq - 1;

    float qp[DMAX], dop[DMAX], acc[DMAX];
    int qbase = q_off + n * qs.x + h * qs.y + row * qs.z, dbase = do_off + (nh * Lq + row) * DD;
    for (int c = 0; c < DD; c++) {
        qp[c] = q[qbase + c * qs.w];
        dop[c] = dout[dbase + c];
        acc[c] = 0.0f;
    }
    float L = lse[lse_off + nh * Lq + row], Di = delta[delta_off + nh * Lq + row];
    int kbase = k_off + n * ks.x + h * ks.y, vbase = v_off + n * vs.x + h * vs.y;
    int ntiles = key_tiles(min(i0 + BQ, Lq), Lk, flags);
    for (int t = 0; t < ntiles; t++) {
        int j0 = t * BK;
        barrier(CLK_LOCAL_MEM_FENCE);
        load_tile(kt, k, kbase, ks.z, ks.w, j0, Lk, dim);
        load_tile(vt, v, vbase, vs.z, vs.w, j0, Lk, dim);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (valid) {
            for (int r = 0; r < BK; r++) {
                int j = j0 + r;
                if (j >= Lk) break;
                float b = mask_bias(mask, mask_off, ms, kpm, kpm_off, n, h, i, j, Lk, flags);
                if (b == -INFINITY) continue;
                float d = 0.0f, dp = 0.0f;
                for (int c = 0; c < DD; c++) {
                    d += qp[c] * kt[r * DMAX + c];
                    dp += dop[c] * vt[r * DMAX + c];
                }
                float p = exp(d * scale + b - L);
                if (drop_p != 0.0f) dp *= drop_factor(drop_p, rng, nh, i, j, Lq, Lk);
                float ds = p * (dp - Di);
                for (int c = 0; c < DD; c++) acc[c] += ds * kt[r * DMAX + c];
            }
        }
    }
    if (!valid) return;
    int obase = dq_off + (nh * Lq + i) * DD;
    for (int c = 0; c < DD; c++) dq[obase + c] = acc[c] * scale;
}

/* dv_j = sum_i p_ij do_i; dk_j = scale * sum_i p_ij (dp_ij - delta_i) q_i.
 * Group (x, y): key rows [x * BQ, x * BQ + BQ) of (n, h) = y, one per
 * work-item; query tiles of BK rows (q, do, lse, delta) pass through local
 * memory. No atomics: each dk/dv row has one owner. */
__kernel void sdpa_backward_dkv(__global float *dk, int dk_off, __global float *dv, int dv_off,
                                __global const float *q, int q_off, int4 qs, __global const float *k, int k_off,
                                int4 ks, __global const float *v, int v_off, int4 vs, __global const float *mask,
                                int mask_off, int4 ms, __global const int *kpm, int kpm_off,
                                __global const float *dout, int do_off, __global const float *lse, int lse_off,
                                __global const float *delta, int delta_off, int H, int Lq, int Lk, int dim,
                                float scale, int flags, float drop_p, uint4 rng)
{
    __local float qt[BK * DMAX], dot[BK * DMAX], lt[BK], dlt[BK];
    int lid = get_local_id(0);
    int j0 = get_group_id(0) * BQ, j = j0 + lid;
    int nh = get_group_id(1), n = nh / H, h = nh - n * H;
    int valid = j < Lk;
    int row = valid ? j : Lk - 1;

    float kp[DMAX], vp[DMAX], dka[DMAX], dva[DMAX];
    int kb = k_off + n * ks.x + h * ks.y + row * ks.z, vb = v_off + n * vs.x + h * vs.y + row * vs.z;
    for (int c = 0; c < DD; c++) {
        kp[c] = k[kb + c * ks.w];
        vp[c] = v[vb + c * vs.w];
        dka[c] = 0.0f;
        dva[c] = 0.0f;
    }
    int qbase = q_off + n * qs.x + h * qs.y;
    int ntiles = (Lq + BK - 1) / BK;
    /* causal: queries before the group's first key see none of its keys */
    int first = (flags & F_CAUSAL) ? min(j0 / BK, ntiles - 1) : 0;
    for (int t = first; t < ntiles; t++) {
        int r0 = t * BK;
        barrier(CLK_LOCAL_MEM_FENCE);
        load_tile(qt, q, qbase, qs.z, qs.w, r0, Lq, dim);
        load_tile(dot, dout, do_off + nh * Lq * DD, DD, 1, r0, Lq, dim);
        for (int r = lid; r < BK; r += BQ) {
            int i = r0 + r;
            lt[r] = i < Lq ? lse[lse_off + nh * Lq + i] : INFINITY;
            dlt[r] = i < Lq ? delta[delta_off + nh * Lq + i] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (valid) {
            for (int r = 0; r < BK; r++) {
                int i = r0 + r;
                if (i >= Lq) break;
                float b = mask_bias(mask, mask_off, ms, kpm, kpm_off, n, h, i, j, Lk, flags);
                if (b == -INFINITY) continue;
                float d = 0.0f, dp = 0.0f;
                for (int c = 0; c < DD; c++) {
                    d += qt[r * DMAX + c] * kp[c];
                    dp += dot[r * DMAX + c] * vp[c];
                }
                float p = exp(d * scale + b - lt[r]);
                float z = drop_p != 0.0f ? drop_factor(drop_p, rng, nh, i, j, Lq, Lk) : 1.0f;
                float ds = p * (dp * z - dlt[r]);
                for (int c = 0; c < DD; c++) {
                    dva[c] += p * z * dot[r * DMAX + c];
                    dka[c] += ds * qt[r * DMAX + c];
                }
            }
        }
    }
    if (!valid) return;
    int ob = (nh * Lk + j) * DD;
    for (int c = 0; c < DD; c++) {
        dk[dk_off + ob + c] = dka[c] * scale;
        dv[dv_off + ob + c] = dva[c];
    }
}

#endif /* work-group kernels */

#ifdef SDPA_MASK
/* The unfused path's mask: bias[n, h, i, j] = the mask's contribution with
 * -inf replaced by -1e30 (exp of it underflows to 0 beside any unmasked
 * score, and a fully masked row stays finite), and keep[n, h, i] = 1 when
 * row i has an unmasked key, else 0 (multiplied into the probabilities so
 * a fully masked row gives zeros). One work-item per row. */
__kernel void sdpa_mask_build(__global float *bias, int bias_off, __global float *keep, int keep_off,
                              __global const float *mask, int mask_off, int4 ms, __global const int *kpm, int kpm_off,
                              int H, int Lq, int Lk, int rows, int flags)
{
    int r = get_global_id(0);
    if (r >= rows) return;
    int i = r % Lq, nh = r / Lq, n = nh / H, h = nh - n * H;
    int any = 0;
    for (int j = 0; j < Lk; j++) {
        float b = mask_bias(mask, mask_off, ms, kpm, kpm_off, n, h, i, j, Lk, flags);
        any |= b != -INFINITY;
        bias[bias_off + r * Lk + j] = b == -INFINITY ? -1e30f : b;
    }
    keep[keep_off + r] = any ? 1.0f : 0.0f;
}

#endif /* SDPA_MASK */

#ifdef SDPA_CPU
/* ---- CPU devices (PoCL): no local memory, no barriers; each work-item
 * owns R query (or key) rows and vectorises by hand over VW keys (or
 * queries) at a time, so that PoCL emits SIMD code (it does not vectorise
 * the work-group kernels above across work-items: they have loops). Scores
 * of VW keys are vector FMAs of a broadcast q element with a row of K^T;
 * the accumulator is VW-wide chunks along the head dim. The operands come
 * from pack kernels into a workspace: transposed [NH, D, Lp] and row-major
 * [NH, Lp, Dp] (Lp = L and Dp = D rounded up to VW, zero padding), O(N H L
 * D) like the inputs. The forward reads V rows straight from v (strides
 * vps: n, h, row) when its rows are unit-stride and D is a multiple of VW.
 * Build options: SDPA_CPU, R, VW (8 or 16). */

/* Loops over the R rows and the VW-wide chunks are unrolled, so that the
 * score and accumulator vectors stay in registers (PoCL's compiler leaves
 * them on the stack otherwise: a store-forwarding chain per FMA). */
#define UNROLL _Pragma("unroll")

#ifndef VW
#define VW 8
#endif
#if VW == 16
typedef float16 floatv;
#define vloadv vload16
#define vstorev vstore16
#else
typedef float8 floatv;
#define vloadv vload8
#define vstorev vstore8
#endif
#ifdef HEAD_DIM
#define DV (HEAD_DIM / VW)
#else
#define DV (dp / VW)
#endif

float hmaxv(floatv v)
{
#if VW == 16
    float8 z = fmax(v.lo, v.hi);
#else
    float8 z = v;
#endif
    float4 a = fmax(z.lo, z.hi);
    float2 b = fmax(a.lo, a.hi);
    return fmax(b.x, b.y);
}

float hsumv(floatv v)
{
#if VW == 16
    float8 z = v.lo + v.hi;
#else
    float8 z = v;
#endif
    float4 a = z.lo + z.hi;
    float2 b = a.lo + a.hi;
    return b.x + b.y;
}

/* dst[nh, c, j] = src[n, h, j, c] (zero for j >= L); one work-item per
 * (nh, c) row of dst, global NH * D: a few large groups rather than one
 * tiny group per VW elements (PoCL's cost per group is microseconds) */
__kernel void sdpa_pack_t(__global float *dst, int dst_off, __global const float *src, int src_off, int4 ss, int H,
                          int L, int Lp, int dim, int rows)
{
    int r = get_global_id(0);
    if (r >= rows) return;
    int nh = r / dim, c = r - nh * dim, n = nh / H, h = nh - n * H;
    __global const float *in = src + src_off + n * ss.x + h * ss.y + c * ss.w;
    __global float *out = dst + dst_off + r * Lp;
    for (int j = 0; j < L; j++) out[j] = in[j * ss.z];
    for (int j = L; j < Lp; j++) out[j] = 0.0f;
}

/* dst[nh, j, c] = src[n, h, j, c] (zero for j >= L or c >= D); one
 * work-item per (nh, j) row of dst, global NH * Lp */
__kernel void sdpa_pack_rows(__global float *dst, int dst_off, __global const float *src, int src_off, int4 ss,
                             int H, int L, int Lp, int dim, int dp, int rows)
{
    int r = get_global_id(0);
    if (r >= rows) return;
    int nh = r / Lp, j = r - nh * Lp, n = nh / H, h = nh - n * H;
    __global const float *in = src + src_off + n * ss.x + h * ss.y + j * ss.z;
    __global float *out = dst + dst_off + r * dp;
    int c = 0;
    if (j < L)
        for (; c < dim; c++) out[c] = in[c * ss.w];
    for (; c < dp; c++) out[c] = 0.0f;
}

/* Applies scale, the mask and the sequence end to the scores s of VW
 * (query, key) pairs: keys j0 .. j0 + VW - 1 of query i (keys_vary), or
 * queries i .. i + VW - 1 of key j0; `lim` bounds the varying index. */
void maskv(floatv *s, float scale, __global const float *mask, int mask_off, int4 ms, __global const int *kpm,
           int kpm_off, int n, int h, int i, int j0, int Lk, int flags, int keys_vary, int lim)
{
    *s *= scale;
    if (!flags && (keys_vary ? j0 : i) + VW <= lim) return;
    float t[VW];
    vstorev(*s, 0, t);
    for (int e = 0; e < VW; e++) {
        int j = keys_vary ? j0 + e : j0, ii = keys_vary ? i : i + e;
        int end = (keys_vary ? j : ii) >= lim;
        float b = end ? -INFINITY : mask_bias(mask, mask_off, ms, kpm, kpm_off, n, h, ii, j, Lk, flags);
        t[e] = b == -INFINITY ? -INFINITY : t[e] + b;
    }
    *s = vloadv(0, t);
}

__kernel void sdpa_forward_cpu(__global float *o, int o_off, __global float *lse, int lse_off,
                               __global const float *q, int q_off, int4 qs, __global const float *kt, int kt_off,
                               __global const float *vp, int vp_off, int4 vps, __global const float *mask,
                               int mask_off, int4 ms, __global const int *kpm, int kpm_off, int H, int Lq, int Lk,
                               int dim, int dp,
                               float scale, int flags, float drop_p, uint4 rng)
{
    int i0 = get_global_id(0) * R, nh = get_global_id(1);
    if (i0 >= Lq || nh >= get_global_size(1)) return;
    int n = nh / H, h = nh - n * H;
    int Lp = (Lk + VW - 1) / VW * VW;
    float qr[R][DMAX], m[R], l[R], pe[R][VW];
    floatv acc[R][(DMAX + VW - 1) / VW];
    UNROLL
    for (int r = 0; r < R; r++) {
        int i = min(i0 + r, Lq - 1);
        for (int c = 0; c < DD; c++) qr[r][c] = q[q_off + n * qs.x + h * qs.y + i * qs.z + c * qs.w];
        UNROLL
        for (int c = 0; c < DV; c++) acc[r][c] = (floatv)(0.0f);
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }
    __global const float *ktp = kt + kt_off + nh * DD * Lp, *vpp = vp + vp_off + n * vps.x + h * vps.y;
    int kend = (flags & F_CAUSAL) ? min(Lk, i0 + R) : Lk;
    for (int j0 = 0; j0 < kend; j0 += VW) {
        floatv s[R];
        UNROLL
        for (int r = 0; r < R; r++) s[r] = (floatv)(0.0f);
        for (int c = 0; c < DD; c++) {
            floatv kv = vloadv(0, ktp + c * Lp + j0);
            UNROLL
            for (int r = 0; r < R; r++) s[r] = fma((floatv)(qr[r][c]), kv, s[r]);
        }
        /* masking by key alone (padding, the sequence end): one bias
         * vector for the block, shared by the R rows */
        int key_only = !(flags & (F_MASK | F_CAUSAL));
        floatv kb = (floatv)(0.0f);
        if (key_only && ((flags & F_KPM) || j0 + VW > Lk)) {
            float t[VW];
            for (int e = 0; e < VW; e++) {
                int j = j0 + e;
                t[e] = j >= Lk || ((flags & F_KPM) && kpm[kpm_off + n * Lk + j] != 0) ? -INFINITY : 0.0f;
            }
            kb = vloadv(0, t);
        }
        UNROLL
        for (int r = 0; r < R; r++) {
            if (key_only)
                s[r] = select(s[r] * scale, kb, kb != (floatv)(0.0f));
            else
                maskv(&s[r], scale, mask, mask_off, ms, kpm, kpm_off, n, h, min(i0 + r, Lq - 1), j0, Lk, flags, 1, Lk);
            float mn = fmax(m[r], hmaxv(s[r]));
            floatv p = (floatv)(0.0f);
            float alpha = 1.0f;
            if (mn != -INFINITY) {
                alpha = exp(m[r] - mn);
                p = exp(s[r] - mn);
                m[r] = mn;
            }
            l[r] = l[r] * alpha + hsumv(p);
            UNROLL
            for (int c = 0; c < DV; c++) acc[r][c] *= alpha;
            vstorev(p, 0, pe[r]);
            if (drop_p != 0.0f)
                for (int e = 0; e < VW; e++)
                    if (pe[r][e] != 0.0f) pe[r][e] *= drop_factor(drop_p, rng, nh, min(i0 + r, Lq - 1), j0 + e, Lq, Lk);
        }
        for (int e = 0; e < min(VW, Lk - j0); e++) { /* keys past the end have p = 0 */
            __global const float *vrow = vpp + (j0 + e) * vps.z;
            UNROLL
            for (int c = 0; c < DV; c++) {
                floatv vv = vloadv(c, vrow);
                UNROLL
                for (int r = 0; r < R; r++) acc[r][c] = fma((floatv)(pe[r][e]), vv, acc[r][c]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < R; r++) {
        int i = i0 + r;
        if (i >= Lq) break;
        float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        float t[VW];
        UNROLL
        for (int c = 0; c < DV; c++) {
            vstorev(acc[r][c] * inv, 0, t);
            for (int e = 0; e < VW && c * VW + e < DD; e++) o[o_off + (nh * Lq + i) * DD + c * VW + e] = t[e];
        }
        lse[lse_off + nh * Lq + i] = l[r] > 0.0f ? m[r] + log(l[r]) : INFINITY;
    }
}

/* dq for R query rows: scores and dp over VW keys from K^T and V^T, then
 * dq += ds_j k_j from K rows. Workspace parts as bound by the host. */
__kernel void sdpa_backward_dq_cpu(__global float *dq, int dq_off, __global const float *q, int q_off, int4 qs,
                                   __global const float *kt, int kt_off, __global const float *vt, int vt_off,
                                   __global const float *kr, int kr_off, __global const float *mask, int mask_off,
                                   int4 ms, __global const int *kpm, int kpm_off, __global const float *dout,
                                   int do_off, __global const float *lse, int lse_off, __global const float *delta,
                                   int delta_off, int H, int Lq, int Lk, int dim, int dp, float scale, int flags, float drop_p, uint4 rng)
{
    int i0 = get_global_id(0) * R, nh = get_global_id(1);
    if (i0 >= Lq || nh >= get_global_size(1)) return;
    int n = nh / H, h = nh - n * H;
    int Lp = (Lk + VW - 1) / VW * VW;
    float qr[R][DMAX], dor[R][DMAX], L[R], Di[R], dse[R][VW];
    floatv acc[R][(DMAX + VW - 1) / VW];
    for (int r = 0; r < R; r++) {
        int i = min(i0 + r, Lq - 1);
        for (int c = 0; c < DD; c++) {
            qr[r][c] = q[q_off + n * qs.x + h * qs.y + i * qs.z + c * qs.w];
            dor[r][c] = dout[do_off + (nh * Lq + i) * DD + c];
        }
        for (int c = 0; c < DV; c++) acc[r][c] = (floatv)(0.0f);
        L[r] = lse[lse_off + nh * Lq + i];
        Di[r] = delta[delta_off + nh * Lq + i];
    }
    __global const float *ktp = kt + kt_off + nh * DD * Lp, *vtp = vt + vt_off + nh * DD * Lp;
    __global const float *krp = kr + kr_off + nh * Lp * (DV * VW);
    int kend = (flags & F_CAUSAL) ? min(Lk, i0 + R) : Lk;
    for (int j0 = 0; j0 < kend; j0 += VW) {
        floatv s[R], d[R];
        for (int r = 0; r < R; r++) s[r] = d[r] = (floatv)(0.0f);
        for (int c = 0; c < DD; c++) {
            floatv kv = vloadv(0, ktp + c * Lp + j0), vv = vloadv(0, vtp + c * Lp + j0);
            for (int r = 0; r < R; r++) {
                s[r] = fma((floatv)(qr[r][c]), kv, s[r]);
                d[r] = fma((floatv)(dor[r][c]), vv, d[r]);
            }
        }
        for (int r = 0; r < R; r++) {
            maskv(&s[r], scale, mask, mask_off, ms, kpm, kpm_off, n, h, min(i0 + r, Lq - 1), j0, Lk, flags, 1, Lk);
            floatv p = exp(s[r] - L[r]);
            if (drop_p != 0.0f) {
                float z[VW];
                for (int e = 0; e < VW; e++) z[e] = drop_factor(drop_p, rng, nh, min(i0 + r, Lq - 1), j0 + e, Lq, Lk);
                d[r] *= vloadv(0, z);
            }
            vstorev(p * (d[r] - Di[r]), 0, dse[r]);
        }
        for (int e = 0; e < VW; e++) {
            __global const float *krow = krp + (j0 + e) * (DV * VW);
            for (int c = 0; c < DV; c++) {
                floatv kv = vloadv(c, krow);
                for (int r = 0; r < R; r++) acc[r][c] = fma((floatv)(dse[r][e]), kv, acc[r][c]);
            }
        }
    }
    for (int r = 0; r < R && i0 + r < Lq; r++) {
        float t[VW];
        for (int c = 0; c < DV; c++) {
            vstorev(acc[r][c] * scale, 0, t);
            for (int e = 0; e < VW && c * VW + e < DD; e++) dq[dq_off + (nh * Lq + i0 + r) * DD + c * VW + e] = t[e];
        }
    }
}

/* dk and dv for R key rows: scores and dp over VW queries from Q^T and
 * dO^T, then dv += p_i do_i and dk += ds_i q_i from Q and dO rows. */
__kernel void sdpa_backward_dkv_cpu(__global float *dk, int dk_off, __global float *dv, int dv_off,
                                    __global const float *k, int k_off, int4 ks, __global const float *v, int v_off,
                                    int4 vs, __global const float *qt, int qt_off, __global const float *dot,
                                    int dot_off, __global const float *qr, int qr_off, __global const float *dor,
                                    int dor_off, __global const float *mask, int mask_off, int4 ms,
                                    __global const int *kpm, int kpm_off, __global const float *lse, int lse_off,
                                    __global const float *delta, int delta_off, int H, int Lq, int Lk, int dim, int dp,
                                    float scale, int flags, float drop_p, uint4 rng)
{
    int j0 = get_global_id(0) * R, nh = get_global_id(1);
    if (j0 >= Lk || nh >= get_global_size(1)) return;
    int n = nh / H, h = nh - n * H;
    int Lp = (Lq + VW - 1) / VW * VW;
    float kp[R][DMAX], vp[R][DMAX], pe[R][VW], dse[R][VW];
    floatv dka[R][(DMAX + VW - 1) / VW], dva[R][(DMAX + VW - 1) / VW];
    for (int r = 0; r < R; r++) {
        int j = min(j0 + r, Lk - 1);
        for (int c = 0; c < DD; c++) {
            kp[r][c] = k[k_off + n * ks.x + h * ks.y + j * ks.z + c * ks.w];
            vp[r][c] = v[v_off + n * vs.x + h * vs.y + j * vs.z + c * vs.w];
        }
        for (int c = 0; c < DV; c++) dka[r][c] = dva[r][c] = (floatv)(0.0f);
    }
    __global const float *qtp = qt + qt_off + nh * DD * Lp, *dtp = dot + dot_off + nh * DD * Lp;
    __global const float *qrp = qr + qr_off + nh * Lp * (DV * VW), *drp = dor + dor_off + nh * Lp * (DV * VW);
    /* causal: query i sees key j only when i >= j */
    int first = (flags & F_CAUSAL) ? j0 / VW * VW : 0;
    for (int i0 = first; i0 < Lq; i0 += VW) {
        float lt[VW], dlt[VW];
        for (int e = 0; e < VW; e++) {
            int i = i0 + e;
            lt[e] = i < Lq ? lse[lse_off + nh * Lq + i] : INFINITY;
            dlt[e] = i < Lq ? delta[delta_off + nh * Lq + i] : 0.0f;
        }
        floatv lv = vloadv(0, lt), dlv = vloadv(0, dlt);
        floatv s[R], d[R];
        for (int r = 0; r < R; r++) s[r] = d[r] = (floatv)(0.0f);
        for (int c = 0; c < DD; c++) {
            floatv qv = vloadv(0, qtp + c * Lp + i0), gv = vloadv(0, dtp + c * Lp + i0);
            for (int r = 0; r < R; r++) {
                s[r] = fma((floatv)(kp[r][c]), qv, s[r]);
                d[r] = fma((floatv)(vp[r][c]), gv, d[r]);
            }
        }
        for (int r = 0; r < R; r++) {
            maskv(&s[r], scale, mask, mask_off, ms, kpm, kpm_off, n, h, i0, min(j0 + r, Lk - 1), Lk, flags, 0, Lq);
            floatv p = exp(s[r] - lv);
            if (drop_p != 0.0f) {
                float z[VW];
                for (int e = 0; e < VW; e++) z[e] = drop_factor(drop_p, rng, nh, i0 + e, min(j0 + r, Lk - 1), Lq, Lk);
                floatv zv = vloadv(0, z);
                d[r] *= zv;
                vstorev(p * zv, 0, pe[r]);
            } else {
                vstorev(p, 0, pe[r]);
            }
            vstorev(p * (d[r] - dlv), 0, dse[r]);
        }
        for (int e = 0; e < VW; e++) {
            __global const float *qrow = qrp + (i0 + e) * (DV * VW), *drow = drp + (i0 + e) * (DV * VW);
            for (int c = 0; c < DV; c++) {
                floatv qv = vloadv(c, qrow), gv = vloadv(c, drow);
                for (int r = 0; r < R; r++) {
                    dva[r][c] = fma((floatv)(pe[r][e]), gv, dva[r][c]);
                    dka[r][c] = fma((floatv)(dse[r][e]), qv, dka[r][c]);
                }
            }
        }
    }
    for (int r = 0; r < R && j0 + r < Lk; r++) {
        float t[VW], u[VW];
        int ob = (nh * Lk + j0 + r) * DD;
        for (int c = 0; c < DV; c++) {
            vstorev(dka[r][c] * scale, 0, t);
            vstorev(dva[r][c], 0, u);
            for (int e = 0; e < VW && c * VW + e < DD; e++) {
                dk[dk_off + ob + c * VW + e] = t[e];
                dv[dv_off + ob + c * VW + e] = u[e];
            }
        }
    }
}
#endif /* SDPA_CPU */
