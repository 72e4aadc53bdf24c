/* Embedding lookup (a gather of table rows by id) and its gradient, a sum
 * of output-gradient rows per table row. The gradient is deterministic and
 * needs no atomics: each id gets a sort key (its row), ids are sorted by
 * (key, position) (merge passes), equal keys form segments, and one work item sums each
 * (segment, column) in position order.
 * Specialised with -D IDS_I64 (ids are long, else int); sizes, shapes and
 * strides are arguments. Ids are read through their strides (a transposed
 * or sliced ids tensor is not copied): dims/strides are padded to 8 axes
 * with leading 1s, so the index walk needs no rank. */

#ifdef IDS_I64
typedef long id_t;
#else
typedef int id_t;
#endif

/* Element offset of logical id i; dense (row-major contiguous ids, the
 * usual case) skips the walk. The walk reads the vector components
 * directly: vstore8 to a private array kept PoCL from vectorising. */
int id_offset(int i, int8 d, int8 s, int dense)
{
    if (dense) return i;
    int off = 0, c;
#define ID_AXIS(k) c = i % d.k; i /= d.k; off += c * s.k;
    ID_AXIS(s7) ID_AXIS(s6) ID_AXIS(s5) ID_AXIS(s4) ID_AXIS(s3) ID_AXIS(s2) ID_AXIS(s1) ID_AXIS(s0)
#undef ID_AXIS
    return off;
}

/* An id outside [0, V) never indexes the table: its output row is NaN
 * (PyTorch raises), so the mistake shows in every result it reaches. */
__kernel void emb_forward(__global float *y, int y_off, __global const float *w, int w_off,
                          __global const id_t *ids, int ids_off, int8 dims8, int8 str8, int dense, int total, int V,
                          int D)
{
    int gid = get_global_id(0);
    if (gid >= total) return;
    int i = gid / D, c = gid - i * D;
    id_t v = ids[ids_off + id_offset(i, dims8, str8, dense)];
    y[y_off + gid] = (v >= 0 && v < V) ? w[w_off + (int)v * D + c] : NAN;
}

/* ---- max_norm (F.embedding's max_norm, norm_type): the rows looked up
 * whose p-norm exceeds max_norm are scaled in place to max_norm / (norm +
 * 1e-7) of themselves before the lookup. Three launches, so that repeated
 * ids need neither atomics nor a sort: scale[i] from the unchanged table
 * (every copy of a row computes the same bits), then the outputs y = w *
 * scale, then the table rows written back from y (copies of a row write
 * identical values, and nothing reads the table in that launch).
 * p = 0 stands for infinity (max |x|). */
__kernel void emb_renorm_scale(__global float *scale, int scale_off, __global const float *w, int w_off,
                               __global const id_t *ids, int ids_off, int8 dims8, int8 str8, int dense, int n,
                               int V, int D, float max_norm, float p)
{
    int i = get_global_id(0);
    if (i >= n) return;
    id_t v = ids[ids_off + id_offset(i, dims8, str8, dense)];
    float f = 1.0f;
    if (v >= 0 && v < V) {
        __global const float *row = w + w_off + (int)v * D;
        float norm = 0.0f;
        if (p == 0.0f) {
            for (int c = 0; c < D; c++) norm = fmax(norm, fabs(row[c]));
        } else if (p == 2.0f) {
            for (int c = 0; c < D; c++) norm += row[c] * row[c];
            norm = sqrt(norm);
        } else if (p == 1.0f) {
            for (int c = 0; c < D; c++) norm += fabs(row[c]);
        } else {
            for (int c = 0; c < D; c++) norm += pow(fabs(row[c]), p);
            norm = pow(norm, 1.0f / p);
        }
        if (norm > max_norm) f = max_norm / (norm + 1e-7f);
    }
    scale[scale_off + i] = f;
}

__kernel void emb_forward_renorm(__global float *y, int y_off, __global const float *w, int w_off,
                                 __global const float *scale, int scale_off, __global const id_t *ids, int ids_off,
                                 int8 dims8, int8 str8, int dense, int total, int V, int D)
{
    int gid = get_global_id(0);
    if (gid >= total) return;
    int i = gid / D, c = gid - i * D;
    id_t v = ids[ids_off + id_offset(i, dims8, str8, dense)];
    y[y_off + gid] = (v >= 0 && v < V) ? w[w_off + (int)v * D + c] * scale[scale_off + i] : NAN;
}

__kernel void emb_renorm_store(__global float *w, int w_off, __global const float *y, int y_off,
                               __global const float *scale, int scale_off, __global const id_t *ids, int ids_off,
                               int8 dims8, int8 str8, int dense, int total, int V, int D)
{
    int gid = get_global_id(0);
    if (gid >= total) return;
    int i = gid / D, c = gid - i * D;
    if (scale[scale_off + i] == 1.0f) return;
    id_t v = ids[ids_off + id_offset(i, dims8, str8, dense)];
    if (v >= 0 && v < V) w[w_off + (int)v * D + c] = y[y_off + gid];
}

/* Sort key of each id: its row, or V (after every row) for ids that get no
 * gradient: padding_idx and out-of-range ids. */
__kernel void emb_keys(__global int *keys, int keys_off, __global const id_t *ids, int ids_off, int8 dims8,
                       int8 str8, int dense, int n, int V, int pad)
{
    int i = get_global_id(0);
    if (i >= n) return;
    id_t v = ids[ids_off + id_offset(i, dims8, str8, dense)];
    keys[keys_off + i] = (v < 0 || v >= V || v == pad) ? V : (int)v;
}

/* Sort of the (key, position) pairs by merging: pass w merges runs of w
 * sorted pairs two by two, so ceil(log2 n) passes sort them, O(n log^2 n)
 * work in all. Pairs are distinct (positions are), so the order is total
 * and equal rows keep their id order. Item i finds its place in the merged
 * run: its rank in its own run plus the number of pairs of the partner run
 * before it (binary search). first: the input is keys with position i. */
__kernel void emb_merge(__global int *okey, int okey_off, __global int *opos, int opos_off,
                        __global const int *ikey, int ikey_off, __global const int *ipos, int ipos_off, int n, int w,
                        int first)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int run = i / w, k = ikey[ikey_off + i], p = first ? i : ipos[ipos_off + i];
    int lo = (run ^ 1) * w, hi = min(lo + w, n);
    if (lo > n) lo = n;
    while (lo < hi) { /* first partner pair after (k, p) */
        int mid = lo + (hi - lo) / 2, km = ikey[ikey_off + mid], pm = first ? mid : ipos[ipos_off + mid];
        if (km < k || (km == k && pm < p)) lo = mid + 1;
        else hi = mid;
    }
    int out = (run & ~1) * w + (i - run * w) + (lo - min((run ^ 1) * w, n));
    okey[okey_off + out] = k;
    opos[opos_off + out] = p;
}

/* One work item walks the sorted keys: a serial O(n) pass keeps the
 * segment order without a parallel scan. Writes the unique rows to
 * rows[base + u], their first sorted position to starts[u] (and the end to
 * starts[count]), the count to starts[n + 1]. Sparse: base = seg[s] and
 * seg[s + 1] = base + count (appending segment s); dense: base = 0. */
__kernel void emb_segments(__global int *rows, int rows_off, __global int *starts, int starts_off,
                           __global int *seg, int seg_off, __global const int *skey, int skey_off, int s, int n,
                           int V, int sparse)
{
    if (get_global_id(0) != 0) return;
    int base = sparse ? seg[seg_off + s] : 0, u = 0, r = 0;
    for (; r < n && skey[skey_off + r] < V; r++) {
        if (r == 0 || skey[skey_off + r] != skey[skey_off + r - 1]) {
            rows[rows_off + base + u] = skey[skey_off + r];
            starts[starts_off + u] = r;
            u++;
        }
    }
    starts[starts_off + u] = r;
    starts[starts_off + n + 1] = u;
    if (sparse) seg[seg_off + s + 1] = base + u;
}

__kernel void emb_zero(__global float *y, int y_off, int total)
{
    int i = get_global_id(0);
    if (i < total) y[y_off + i] = 0.0f;
}

/* Item (u, c) sums column c of the output-gradient rows of segment u, in
 * id order, into row rows[u] of a dense gradient (sparse = 0) or entry
 * seg[s] + u of a sparse accumulator. */
__kernel void emb_rowsum(__global float *out, int out_off, __global const float *dy, int dy_off,
                         __global const int *perm, int perm_off, __global const int *starts, int starts_off,
                         __global const int *rows, int rows_off, __global const int *seg, int seg_off, int s, int n,
                         int D, int sparse)
{
    int gid = get_global_id(0);
    if (gid >= n * D) return;
    int u = gid / D, c = gid - u * D;
    if (u >= starts[starts_off + n + 1]) return;
    float sum = 0.0f;
    int end = starts[starts_off + u + 1];
    for (int r = starts[starts_off + u]; r < end; r++) sum += dy[dy_off + perm[perm_off + r] * D + c];
    int row = sparse ? seg[seg_off + s] + u : rows[rows_off + u];
    out[out_off + row * D + c] = sum;
}
