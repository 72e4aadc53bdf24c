/* Optimizer updates, one work item per parameter element (or per chunk of
 * elements in the fused kernels); the rules are torch.optim's single-tensor
 * implementations, written in the same order of operations. Per-step
 * scalars (lr, bias corrections) arrive as arguments, so there is no -D
 * specialisation. */

/* The per-element rules, shared by the per-parameter kernels and the fused
 * ones so that both give the same bits. p[pi], g[gi]: the element and its
 * gradient; state[si]: the element's optimizer state. */

/* SGD: momentum == 0 leaves buf untouched (it may alias p). */
void sgd_elem(__global float *p, int pi, __global const float *g, int gi, __global float *buf, int si, float lr,
              float momentum, float dampening, float weight_decay, int nesterov, int first)
{
    float param = p[pi];
    float d = g[gi];
    if (weight_decay != 0.0f) d = d + weight_decay * param;
    if (momentum != 0.0f) {
        float b = first ? d : momentum * buf[si] + (1.0f - dampening) * d;
        buf[si] = b;
        d = nesterov ? d + momentum * b : b;
    }
    p[pi] = param - lr * d;
}

/* torch.lerp(a, b, w): the formula switches at w = 0.5 to stay exact at w = 1 */
float lerp_torch(float a, float b, float w) { return w < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w); }

/* Adam / AdamW. decay: 1 - lr*wd (AdamW) or 1; l2: wd (Adam) or 0;
 * step_size = lr / (1 - beta1^t); bc2_sqrt = sqrt(1 - beta2^t). */
void adam_elem(__global float *p, int pi, __global const float *g, int gi, __global float *m, __global float *v,
               int si, float beta1, float beta2, float eps, float decay, float l2, float step_size, float bc2_sqrt)
{
    float param = p[pi];
    float grad = g[gi];
    if (l2 != 0.0f) grad = grad + l2 * param;
    if (decay != 1.0f) param = param * decay;
    float mi = lerp_torch(m[si], grad, 1.0f - beta1);
    float vi = v[si] * beta2 + (1.0f - beta2) * grad * grad;
    m[si] = mi;
    v[si] = vi;
    float denom = sqrt(vi) / bc2_sqrt + eps;
    p[pi] = param - step_size * (mi / denom);
}

/* Adagrad (dense). clr = lr / (1 + (t-1)*lr_decay); wd: L2 weight decay. */
void adagrad_elem(__global float *p, int pi, __global const float *g, int gi, __global float *sum, int si, float clr,
                  float eps, float weight_decay)
{
    float param = p[pi];
    float grad = g[gi];
    if (weight_decay != 0.0f) grad = grad + weight_decay * param;
    float s = sum[si] + grad * grad;
    sum[si] = s;
    p[pi] = param - clr * (grad / (sqrt(s) + eps));
}

/* ---- One parameter per launch; state buffers start at element 0. */

__kernel void sgd_step(__global float *p, int p_off, __global const float *g, int g_off, __global float *buf, int n,
                       float lr, float momentum, float dampening, float weight_decay, int nesterov, int first)
{
    int i = get_global_id(0);
    if (i >= n) return;
    sgd_elem(p, p_off + i, g, g_off + i, buf, i, lr, momentum, dampening, weight_decay, nesterov, first);
}

__kernel void adam_step(__global float *p, int p_off, __global const float *g, int g_off, __global float *m,
                        __global float *v, int n, float beta1, float beta2, float eps, float decay, float l2,
                        float step_size, float bc2_sqrt)
{
    int i = get_global_id(0);
    if (i >= n) return;
    adam_elem(p, p_off + i, g, g_off + i, m, v, i, beta1, beta2, eps, decay, l2, step_size, bc2_sqrt);
}

__kernel void adagrad_step(__global float *p, int p_off, __global const float *g, int g_off, __global float *sum,
                           int n, float clr, float eps, float weight_decay)
{
    int i = get_global_id(0);
    if (i >= n) return;
    adagrad_elem(p, p_off + i, g, g_off + i, sum, i, clr, eps, weight_decay);
}

/* ---- Every parameter in one launch. The parameters live in one buffer p,
 * their gradients in one buffer g and each state in one buffer. Work item w
 * updates `chunk` consecutive elements of one parameter: seg holds a row
 * {first work item, n, p offset, g offset, state offset} per parameter, grp
 * the row of each work item. A chunk of 1 is one element per item (GPUs);
 * on CPUs a long chunk gives an inner loop whose bounds and bases are known
 * before it starts, which the compiler vectorises (loads of the table inside
 * a work-item loop kept PoCL from vectorising one element per item). */

#define FUSED_LOOP(update)                                                                                             \
    int w = get_global_id(0);                                                                                          \
    if (w >= nitems) return;                                                                                           \
    int r = 5 * grp[w], j0 = (w - seg[r]) * chunk, n = seg[r + 1];                                                     \
    int j1 = n - j0 < chunk ? n : j0 + chunk, pb = seg[r + 2], gb = seg[r + 3], sb = seg[r + 4];                       \
    for (int j = j0; j < j1; j++) update;

__kernel void sgd_fused(__global float *p, __global const float *g, __global float *buf, __global const int *seg,
                        __global const int *grp, int nitems, int chunk, float lr, float momentum, float dampening,
                        float weight_decay, int nesterov, int first)
{
    FUSED_LOOP(sgd_elem(p, pb + j, g, gb + j, buf, sb + j, lr, momentum, dampening, weight_decay, nesterov, first))
}

__kernel void adam_fused(__global float *p, __global const float *g, __global float *m, __global float *v,
                         __global const int *seg, __global const int *grp, int nitems, int chunk, float beta1,
                         float beta2, float eps, float decay, float l2, float step_size, float bc2_sqrt)
{
    FUSED_LOOP(adam_elem(p, pb + j, g, gb + j, m, v, sb + j, beta1, beta2, eps, decay, l2, step_size, bc2_sqrt))
}

__kernel void adagrad_fused(__global float *p, __global const float *g, __global float *sum, __global const int *seg,
                            __global const int *grp, int nitems, int chunk, float clr, float eps, float weight_decay)
{
    FUSED_LOOP(adagrad_elem(p, pb + j, g, gb + j, sum, sb + j, clr, eps, weight_decay))
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
