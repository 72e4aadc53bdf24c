/* Optimizer updates, one work item per parameter element; the rules are
 * torch.optim's single-tensor implementations, written in the same order
 * of operations. Per-step scalars (lr, bias corrections) arrive as
 * arguments, so there is no -D specialisation. State buffers start at
 * element 0 of their own buffers. */

/* SGD: momentum == 0 leaves buf untouched (it may alias p). */
__kernel void sgd_step(__global float *p, int p_off, __global const float *g, int g_off, __global float *buf, int n,
                       float lr, float momentum, float dampening, float weight_decay, int nesterov, int first)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float param = p[p_off + i];
    float d = g[g_off + i];
    if (weight_decay != 0.0f) d = d + weight_decay * param;
    if (momentum != 0.0f) {
        float b = first ? d : momentum * buf[i] + (1.0f - dampening) * d;
        buf[i] = b;
        d = nesterov ? d + momentum * b : b;
    }
    p[p_off + i] = param - lr * d;
}

/* torch.lerp(a, b, w): the formula switches at w = 0.5 to stay exact at w = 1 */
float lerp_torch(float a, float b, float w) { return w < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w); }

/* Adam / AdamW. decay: 1 - lr*wd (AdamW) or 1; l2: wd (Adam) or 0;
 * step_size = lr / (1 - beta1^t); bc2_sqrt = sqrt(1 - beta2^t). */
__kernel void adam_step(__global float *p, int p_off, __global const float *g, int g_off, __global float *m,
                        __global float *v, int n, float beta1, float beta2, float eps, float decay, float l2,
                        float step_size, float bc2_sqrt)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float param = p[p_off + i];
    float grad = g[g_off + i];
    if (l2 != 0.0f) grad = grad + l2 * param;
    if (decay != 1.0f) param = param * decay;
    float mi = lerp_torch(m[i], grad, 1.0f - beta1);
    float vi = v[i] * beta2 + (1.0f - beta2) * grad * grad;
    m[i] = mi;
    v[i] = vi;
    float denom = sqrt(vi) / bc2_sqrt + eps;
    p[p_off + i] = param - step_size * (mi / denom);
}

/* Adagrad (dense). clr = lr / (1 + (t-1)*lr_decay); wd: L2 weight decay. */
__kernel void adagrad_step(__global float *p, int p_off, __global const float *g, int g_off, __global float *sum,
                           int n, float clr, float eps, float weight_decay)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float param = p[p_off + i];
    float grad = g[g_off + i];
    if (weight_decay != 0.0f) grad = grad + weight_decay * param;
    float s = sum[i] + grad * grad;
    sum[i] = s;
    p[p_off + i] = param - clr * (grad / (sqrt(s) + eps));
}

/* ---- Row-sparse gradients (layout in src/graph/sparse_grad.h): entries
 * in nseg segments, each sorted and unique, so a row appears at most once
 * per segment. The first segment holding a row owns it: its work items sum
 * the row's values over the later segments, in segment order (binary
 * searches), and update the parameter row; the row's other entries do
 * nothing. So each touched element is updated once, deterministically, and
 * nothing else is read or written. Accumulator buffers start at element 0. */

/* Index of row in the sorted rows[lo, hi), or -1. */
int find_row(__global const int *rows, int lo, int hi, int row)
{
    int end = hi;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (rows[mid] < row) lo = mid + 1;
        else hi = mid;
    }
    return lo < end && rows[lo] == row ? lo : -1;
}

/* Item gid = (entry, column). False for items that own nothing. */
bool sparse_entry(__global const int *rows, __global const float *vals, __global const int *seg, int nseg, int gid,
                  int D, int *row_out, float *grad_out)
{
    int e = gid / D, c = gid - e * D, s = 0;
    while (s < nseg && seg[s + 1] <= e) s++;
    if (s == nseg) return false;
    int row = rows[e];
    for (int t = 0; t < s; t++)
        if (find_row(rows, seg[t], seg[t + 1], row) >= 0) return false;
    float sum = vals[e * D + c];
    for (int t = s + 1; t < nseg; t++) {
        int j = find_row(rows, seg[t], seg[t + 1], row);
        if (j >= 0) sum += vals[j * D + c];
    }
    *row_out = row * D + c;
    *grad_out = sum;
    return true;
}

/* torch.optim.SGD on a sparse gradient, without momentum or weight decay:
 * p += -lr * g. n: entries the segments may hold (items = n * D). */
__kernel void sgd_sparse_step(__global float *p, int p_off, __global const int *rows, __global const float *vals,
                              __global const int *seg, int D, int nseg, int n, float lr)
{
    int gid = get_global_id(0), k;
    float g;
    if (gid >= n * D || !sparse_entry(rows, vals, seg, nseg, gid, D, &k, &g)) return;
    p[p_off + k] = p[p_off + k] - lr * g;
}

/* torch.optim.SparseAdam, same order of operations; step_size =
 * lr * sqrt(1 - beta2^t) / (1 - beta1^t). Absent rows keep their moments. */
__kernel void adam_sparse_step(__global float *p, int p_off, __global const int *rows, __global const float *vals,
                               __global const int *seg, int D, __global float *m, __global float *v, int nseg, int n,
                               float beta1, float beta2, float eps, float step_size)
{
    int gid = get_global_id(0), k;
    float g;
    if (gid >= n * D || !sparse_entry(rows, vals, seg, nseg, gid, D, &k, &g)) return;
    float mo = m[k], vo = v[k];
    float mu = (g - mo) * (1.0f - beta1);
    float vu = (g * g - vo) * (1.0f - beta2);
    m[k] = mo + mu;
    v[k] = vo + vu;
    float denom = sqrt(vu + vo) + eps;
    p[p_off + k] = p[p_off + k] + (-step_size) * ((mu + mo) / denom);
}

/* torch.optim.Adagrad's sparse branch: sum += g^2 on the rows present,
 * p += -clr * g / (sqrt(sum) + eps). */
__kernel void adagrad_sparse_step(__global float *p, int p_off, __global const int *rows, __global const float *vals,
                                  __global const int *seg, int D, __global float *sum, int nseg, int n, float clr,
                                  float eps)
{
    int gid = get_global_id(0), k;
    float g;
    if (gid >= n * D || !sparse_entry(rows, vals, seg, nseg, gid, D, &k, &g)) return;
    float s = sum[k] + g * g;
    sum[k] = s;
    p[p_off + k] = p[p_off + k] + (-clr) * (g / (sqrt(s) + eps));
}
