/* Similarity and search: row L2 normalisation (forward and backward),
 * squared euclidean distance from a GEMM plus row norms, and top-k per row
 * by radix selection (no full sort).
 *
 * Sizes are arguments; nothing is specialised with -D. Every kernel
 * bounds-checks its ids; the top-k kernels, which use barriers, never
 * return early (PoCL runs the code after a barrier in the wrong work items
 * when some returned): inactive work items only skip loads and stores. */

/* ---- L2 normalisation over rows of length D: y = x / max(|x|, eps).
 * A work-group of W work items per row, rows_per_group rows each: every
 * work item sums the squares of columns lid, lid + W, ... (neighbouring
 * work items read neighbouring columns, which PoCL vectorises), the
 * partial sums are added in a fixed order (deterministic), then every work
 * item scales its own columns (so y may alias x). The norm is saved for
 * backward. W <= 256. */
__kernel void l2n_forward(__global float *y, int y_off, __global float *nrm, int nrm_off,
                          __global const float *x, int x_off, int rows, int D, float eps, int rows_per_group)
{
    __local float part[256];
    __local float sh_inv;
    int lid = get_local_id(0), W = get_local_size(0);
    int r0 = get_group_id(0) * rows_per_group;
    for (int rr = 0; rr < rows_per_group; rr++) { /* uniform over the group: barriers are safe */
        int r = r0 + rr, active = r < rows;
        __global const float *xr = x + x_off + (active ? r : 0) * D;
        float s = 0.0f;
        for (int j = lid; active && j < D; j += W) s = fma(xr[j], xr[j], s);
        part[lid] = s;
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid == 0) {
            float t = 0.0f;
            for (int w = 0; w < W; w++) t += part[w];
            float n = sqrt(t);
            if (active) nrm[nrm_off + r] = n;
            sh_inv = 1.0f / fmax(n, eps);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        float inv = sh_inv;
        __global float *yr = y + y_off + (active ? r : 0) * D;
        for (int j = lid; active && j < D; j += W) yr[j] = xr[j] * inv;
        barrier(CLK_LOCAL_MEM_FENCE); /* part and sh_inv are reused */
    }
}

/* dx = (dy - y * <dy, y>) / n for n > eps; dx = dy / eps otherwise (the
 * denominator is the constant eps there). */
__kernel void l2n_backward(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                           __global const float *y, int y_off, __global const float *nrm, int nrm_off, int rows,
                           int D, float eps)
{
    int r = get_global_id(0);
    if (r >= rows) return;
    __global const float *dyr = dy + dy_off + r * D, *yr = y + y_off + r * D;
    __global float *dxr = dx + dx_off + r * D;
    float n = nrm[nrm_off + r];
    if (n > eps) {
        float dot = 0.0f;
        for (int j = 0; j < D; j++) dot = fma(dyr[j], yr[j], dot);
        float inv = 1.0f / n;
        for (int j = 0; j < D; j++) dxr[j] = (dyr[j] - yr[j] * dot) * inv;
    } else {
        float inv = 1.0f / eps;
        for (int j = 0; j < D; j++) dxr[j] = dyr[j] * inv;
    }
}

/* ---- squared euclidean distance: |a_i|^2 + |b_j|^2 - 2 <a_i, b_j>. */
__kernel void row_sqnorm(__global float *out, int out_off, __global const float *x, int x_off, int rows, int D)
{
    int r = get_global_id(0);
    if (r >= rows) return;
    __global const float *xr = x + x_off + r * D;
    float s = 0.0f;
    for (int j = 0; j < D; j++) s = fma(xr[j], xr[j], s);
    out[out_off + r] = s;
}

/* d holds -2 <a_i, b_j> from the GEMM; adds the norms and clamps the
 * rounding below zero away. */
__kernel void sqdist_combine(__global float *d, int d_off, __global const float *na, int na_off,
                             __global const float *nb, int nb_off, int M, int N)
{
    int gid = get_global_id(0);
    if (gid >= M * N) return;
    int i = gid / N, j = gid - i * N;
    float v = d[d_off + gid] + na[na_off + i] + nb[nb_off + j];
    d[d_off + gid] = v > 0.0f ? v : (isnan(v) ? v : 0.0f);
}

/* ---- top-k */

/* Order key: a larger key is a better element. Floats map to unsigned ints
 * in their order (flipped for smallest-first); -0 counts as +0; NaN gets
 * 0, below every number (real keys lie in [0x007FFFFF, 0xFF800000]). */
uint topk_key(float f, int largest)
{
    if (isnan(f)) return 0u;
    if (f == 0.0f) f = 0.0f;
    uint u = as_uint(f);
    uint k = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return largest ? k : ~k;
}

/* topk_key of eight floats, branch-free: the same keys. */
uint8 topk_key8(float8 f, int largest)
{
    uint8 u = select(as_uint8(f), (uint8)(0u), f == (float8)(0.0f)); /* -0 -> +0 */
    uint8 k = u ^ ((uint8)(0u) - (u >> 31) | (uint8)(0x80000000u));
    if (!largest) k = ~k;
    return select(k, (uint8)(0u), isnan(f));
}

/* Puts (key, position) into the sorted list best[0..k) (best first, as
 * 64-bit key << 32 | ~position) if it beats the last entry; returns the
 * last entry's key. */
uint topk_insert(ulong *best, int k, uint key, int pos)
{
    ulong e = ((ulong)key << 32) | (ulong)(~(uint)pos);
    if (e > best[k - 1]) {
        int j = k - 1;
        while (j > 0 && best[j - 1] < e) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = e;
    }
    return (uint)(best[k - 1] >> 32);
}

/* The (row, part) of this work-group: the part is [start, start + L) of
 * the row (L = 0 for a padding group, which returns 0). */
int topk_part(int rows, int n, int parts, int *row, int *start, int *L)
{
    int grp = get_group_id(0);
    *row = grp / parts;
    int p = grp - *row * parts, active = *row < rows;
    *start = (int)(((long)p * n) / parts);
    *L = active ? (int)(((long)(p + 1) * n) / parts) - *start : 0;
    return active;
}

/* One work-group per (row, part): selects the k best of the part's
 * elements of in_v (row length n, the part is [p*n/parts, (p+1)*n/parts),
 * at least k long) and writes them best first, ties by lower index, to
 * (row * parts + p) * k of out_v / out_i. The index written is in_i's
 * entry (has_idx: a merge of earlier parts' candidates) or the column.
 *
 * Radix selection (as PyTorch's topk): four passes of an 8-bit histogram
 * in local memory find the key T of the k-th best element and how many
 * elements equal to T are needed (kk); one pass gathers the elements
 * better than T and the first kk equal to T, in column order (each work
 * item scans a contiguous stretch, stretches are ranked by a scan); a
 * bitonic sort of the S >= k (power of two) local slots by (key, position)
 * orders them. Position order is index order: within a part trivially,
 * and merge candidates come part after part, each part sorted. */
__kernel void topk_select(__global float *out_v, int out_v_off, __global int *out_i, int out_i_off,
                          __global const float *in_v, int in_v_off, __global const int *in_i, int in_i_off,
                          int has_idx, int rows, int n, int parts, int k, int S, int largest,
                          __local uint *skey, __local int *spos)
{
    __local int hist[256];
    __local int cnt_b[256], cnt_e[256];
    __local uint sh_prefix;
    __local int sh_kk;
    int lid = get_local_id(0), wg = get_local_size(0);
    int row, start, L, active = topk_part(rows, n, parts, &row, &start, &L);
    __global const float *v = in_v + in_v_off + (active ? row * n + start : 0);

    uint prefix = 0u, mask = 0u;
    if (lid == 0) {
        sh_prefix = 0u;
        sh_kk = k;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int pass = 0; pass < 4; pass++) {
        int shift = 24 - 8 * pass;
        for (int b = lid; b < 256; b += wg) hist[b] = 0;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = lid; i < L; i += wg) {
            uint key = topk_key(v[i], largest);
            if ((key & mask) == prefix) atomic_inc(&hist[(key >> shift) & 255u]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid == 0) {
            int kk = sh_kk, cum = 0, d = 255;
            for (; d > 0; d--) {
                if (cum + hist[d] >= kk) break;
                cum += hist[d];
            }
            sh_kk = kk - cum;
            sh_prefix = prefix | ((uint)d << shift);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        prefix = sh_prefix;
        mask |= 255u << shift;
    }
    uint T = prefix;
    int kk = sh_kk, nbetter = k - kk;

    /* Gather: contiguous stretches keep column order. */
    int seg = (L + wg - 1) / wg;
    int s0 = min(lid * seg, L), s1 = min(s0 + seg, L);
    int nb = 0, ne = 0;
    for (int i = s0; i < s1; i++) {
        uint key = topk_key(v[i], largest);
        nb += key > T;
        ne += key == T;
    }
    cnt_b[lid] = nb;
    cnt_e[lid] = ne;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        int ab = 0, ae = 0;
        for (int t = 0; t < wg; t++) {
            int b = cnt_b[t], e = cnt_e[t];
            cnt_b[t] = ab;
            cnt_e[t] = ae;
            ab += b;
            ae += e;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int j = k + lid; j < S; j += wg) {
        skey[j] = 0u;
        spos[j] = INT_MAX;
    }
    int ob = cnt_b[lid], oe = cnt_e[lid];
    for (int i = s0; i < s1; i++) {
        uint key = topk_key(v[i], largest);
        if (key > T) {
            skey[ob] = key;
            spos[ob] = i;
            ob++;
        } else if (key == T) {
            if (oe < kk) {
                skey[nbetter + oe] = key;
                spos[nbetter + oe] = i;
            }
            oe++;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    /* Bitonic sort, best first: (key descending, position ascending). */
    for (int size = 2; size <= S; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int t = lid; t < (S >> 1); t += wg) {
                int i = 2 * t - (t & (stride - 1)), j = i + stride;
                uint ki = skey[i], kj = skey[j];
                int pi = spos[i], pj = spos[j];
                int j_better = kj > ki || (kj == ki && pj < pi);
                int want_first = (i & size) == 0; /* this half ends best first */
                if (want_first ? j_better : !j_better) {
                    skey[i] = kj;
                    skey[j] = ki;
                    spos[i] = pj;
                    spos[j] = pi;
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }

    if (active) {
        int o = get_group_id(0) * k; /* (row * parts + part) * k */
        for (int j = lid; j < k; j += wg) {
            int pos = spos[j];
            out_v[out_v_off + o + j] = v[pos];
            out_i[out_i_off + o + j] = has_idx ? in_i[in_i_off + row * n + start + pos] : start + pos;
        }
    }
}

/* Top-k for small k (k <= TOPK_SMALL_MAX): same arguments, grid and
 * output as topk_select. Each work item scans a contiguous stretch of the
 * part and keeps its best k in a private list sorted best first; an
 * element costs one compare against the list's worst unless it enters.
 * Entries are 64-bit (key << 32 | ~position): one compare orders by key,
 * then lower position, and 0 (the empty slot) is below every element,
 * NaN included. The lists go to local memory and work item 0 merges them
 * (k picks among W heads). W <= TOPK_SMALL_WG. */
#define TOPK_SMALL_MAX 32
#define TOPK_SMALL_WG 64
__kernel void topk_small(__global float *out_v, int out_v_off, __global int *out_i, int out_i_off,
                         __global const float *in_v, int in_v_off, __global const int *in_i, int in_i_off,
                         int has_idx, int rows, int n, int parts, int k, int S, int largest,
                         __local ulong *lists)
{
    __local int head[TOPK_SMALL_WG];
    int lid = get_local_id(0), wg = get_local_size(0);
    int row, start, L, active = topk_part(rows, n, parts, &row, &start, &L);
    __global const float *v = in_v + in_v_off + (active ? row * n + start : 0);

    ulong best[TOPK_SMALL_MAX];
    for (int j = 0; j < k; j++) best[j] = 0ul;
    uint wkey = 0u; /* the key of the list's worst entry */
    /* blocks of 8 (block b to work item b mod wg): eight keys at once, and
     * only a block with a key that may enter goes element by element */
    int i = 8 * lid;
    for (; i + 8 <= L; i += 8 * wg) {
        uint8 kv = topk_key8(vload8(0, v + i), largest);
        if (!any(kv >= (uint8)(wkey))) continue;
        uint kk[8];
        vstore8(kv, 0, kk);
        for (int t = 0; t < 8; t++) wkey = topk_insert(best, k, kk[t], i + t);
    }
    for (; i < L; i++) wkey = topk_insert(best, k, topk_key(v[i], largest), i); /* the one partial block */
    for (int j = 0; j < k; j++) lists[lid * k + j] = best[j];
    head[lid] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0 && active) {
        int o = get_group_id(0) * k; /* (row * parts + part) * k */
        for (int j = 0; j < k; j++) {
            int bw = 0;
            ulong be = 0ul;
            for (int w = 0; w < wg; w++) {
                ulong e = head[w] < k ? lists[w * k + head[w]] : 0ul;
                if (e > be) {
                    be = e;
                    bw = w;
                }
            }
            head[bw]++;
            int pos = (int)~(uint)(be & 0xFFFFFFFFul);
            out_v[out_v_off + o + j] = v[pos];
            out_i[out_i_off + o + j] = has_idx ? in_i[in_i_off + row * n + start + pos] : start + pos;
        }
    }
}

/* ---- fused k-NN scan for a few queries: dot scores and their top-k
 * without the [m, n] score matrix (the table is read once, for all m
 * queries). One work item per part of the table rows (at least k rows):
 * per query a private sorted list as in topk_small; the winners' scores
 * are computed again at the end (same code, same value) and written, best
 * first, to (query * parts + part) * k with their rows. A topk_small merge
 * pass (has_idx) then picks the k best of the parts. */
#define KNN_SCAN_MAX_M 4

/* <a, b> over D: eight fma lanes, then a fixed-order sum (deterministic). */
float knn_dot(__global const float *a, __global const float *b, int D)
{
    float8 acc = (float8)(0.0f);
    int j = 0;
    for (; j + 8 <= D; j += 8) acc = fma(vload8(0, a + j), vload8(0, b + j), acc);
    float s = ((acc.s0 + acc.s1) + (acc.s2 + acc.s3)) + ((acc.s4 + acc.s5) + (acc.s6 + acc.s7));
    for (; j < D; j++) s = fma(a[j], b[j], s);
    return s;
}

__kernel void knn_scan_dot(__global float *out_v, int out_v_off, __global int *out_i, int out_i_off,
                           __global const float *q, int q_off, __global const float *t, int t_off, int m, int n,
                           int D, int k, int parts, int largest)
{
    int p = get_global_id(0);
    if (p >= parts) return;
    int start = (int)(((long)p * n) / parts), end = (int)(((long)(p + 1) * n) / parts);
    ulong best[KNN_SCAN_MAX_M * TOPK_SMALL_MAX];
    ulong worst[KNN_SCAN_MAX_M];
    for (int j = 0; j < m * k; j++) best[j] = 0ul;
    for (int qi = 0; qi < m; qi++) worst[qi] = 0ul;
    __global const float *qq = q + q_off;
    for (int r = start; r < end; r++) {
        __global const float *tr = t + t_off + (long)r * D;
        for (int qi = 0; qi < m; qi++) {
            ulong e = ((ulong)topk_key(knn_dot(qq + qi * D, tr, D), largest) << 32) | (ulong)(~(uint)r);
            if (e > worst[qi]) {
                ulong *b = best + qi * k;
                int j = k - 1;
                while (j > 0 && b[j - 1] < e) {
                    b[j] = b[j - 1];
                    j--;
                }
                b[j] = e;
                worst[qi] = b[k - 1];
            }
        }
    }
    for (int qi = 0; qi < m; qi++)
        for (int j = 0; j < k; j++) {
            int r = (int)~(uint)(best[qi * k + j] & 0xFFFFFFFFul), o = (qi * parts + p) * k + j;
            out_v[out_v_off + o] = knn_dot(qq + qi * D, t + t_off + (long)r * D, D);
            out_i[out_i_off + o] = r;
        }
}

/* Gradient of the top-k values: dscores is zero except at the selected
 * columns, which get dy (indices in a row are distinct: no conflicts). */
__kernel void topk_grad_zero(__global float *dx, int dx_off, int total)
{
    int gid = get_global_id(0);
    if (gid >= total) return;
    dx[dx_off + gid] = 0.0f;
}

__kernel void topk_grad_scatter(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                                __global const int *idx, int idx_off, int rows, int n, int k)
{
    int gid = get_global_id(0);
    if (gid >= rows * k) return;
    int r = gid / k, c = idx[idx_off + gid];
    if (c >= 0 && c < n) dx[dx_off + r * n + c] = dy[dy_off + gid];
}
