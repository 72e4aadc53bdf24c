/* Loss kernels. Nothing is specialised with -D: the loss kind and the
 * reduction are run-time arguments, so the family is a single program.
 * Group reductions need a power-of-two work-group (the host picks it from
 * the device limits) and __local scratch of that many floats.
 *   reduce: 0 none, 1 mean, 2 sum          kind: 0 mse, 1 bce with logits
 * Labels outside [0, C) are never used as an index: their rows get NaN
 * (IGNORE_INDEX rows get 0 and do not count for the mean). */

#define IGNORE_INDEX (-100)

float group_sum(float v, __local float *scratch)
{
    int lid = get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] += scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* scratch is reused by the next call */
    return r;
}

float group_max(float v, __local float *scratch)
{
    int lid = get_local_id(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] = fmax(scratch[lid], scratch[lid + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

float pointwise_term(int kind, float a, float b)
{
    if (kind == 0) {
        float d = a - b;
        return d * d;
    }
    /* stable for any sign of the logit: log1p(exp(-|x|)) never overflows */
    return fmax(a, 0.0f) - a * b + log1p(exp(-fabs(a)));
}

/* reduction none: one output per element */
__kernel void pointwise_loss_map(__global float *y, int y_off, __global const float *a, int a_off,
                                 __global const float *b, int b_off, int n, int kind)
{
    int i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] = pointwise_term(kind, a[a_off + i], b[b_off + i]);
}

/* mean/sum, stage 1: each work-group writes one partial sum */
__kernel void pointwise_loss_partial(__global float *part, int part_off, __global const float *a, int a_off,
                                     __global const float *b, int b_off, int n, int kind, __local float *scratch)
{
    float acc = 0.0f;
    for (int i = get_global_id(0); i < n; i += get_global_size(0))
        acc += pointwise_term(kind, a[a_off + i], b[b_off + i]);
    acc = group_sum(acc, scratch);
    if (get_local_id(0) == 0) part[part_off + get_group_id(0)] = acc;
}

/* stage 2 (one work-group): y = sum(part) / denom; denom = n for the mean,
 * so an empty input gives 0/0 = NaN as in PyTorch. */
__kernel void finish_sum(__global float *y, int y_off, __global const float *part, int part_off, int m, float denom,
                         __local float *scratch)
{
    float acc = 0.0f;
    for (int i = get_local_id(0); i < m; i += get_local_size(0)) acc += part[part_off + i];
    acc = group_sum(acc, scratch);
    if (get_local_id(0) == 0) y[y_off] = acc / denom;
}

/* d/da (wrt 0) or d/db (wrt 1) of the pointwise loss times the incoming
 * gradient (a scalar when reduced). */
__kernel void pointwise_loss_backward(__global float *d, int d_off, __global const float *grad, int grad_off,
                                      __global const float *a, int a_off, __global const float *b, int b_off, int n,
                                      int kind, int wrt, int reduce, float denom)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float g = grad[grad_off + (reduce ? 0 : i)] / denom;
    float x = a[a_off + i], t = b[b_off + i], v;
    if (kind == 0) {
        v = 2.0f * (x - t) * g;
        if (wrt) v = -v;
    } else {
        v = wrt ? -x * g : (1.0f / (1.0f + exp(-x)) - t) * g;
    }
    d[d_off + i] = v;
}

/* Cross entropy, one work-group per row: lse[r] = logsumexp(x[r, :]) is kept
 * for the backward pass; loss[r] = (1-eps)*(lse - x[r,t]) + eps*(lse - mean(x[r,:])). */
__kernel void ce_rows(__global float *loss, int loss_off, __global float *lse_out, int lse_off,
                      __global const float *x, int x_off, __global const int *labels, int lab_off, int rows, int C,
                      float eps, __local float *scratch)
{
    /* One group per row (the launch has exactly `rows` groups), so no early
     * return: PoCL 3.1 mishandles a return before barriers (see cl/norm.cl). */
    int r = get_group_id(0), lid = get_local_id(0), wg = get_local_size(0);
    __global const float *row = x + x_off + r * C;
    float m = -INFINITY;
    for (int c = lid; c < C; c += wg) m = fmax(m, row[c]);
    m = group_max(m, scratch);
    float s = 0.0f, sx = 0.0f;
    for (int c = lid; c < C; c += wg) {
        s += exp(row[c] - m);
        sx += row[c];
    }
    s = group_sum(s, scratch);
    sx = group_sum(sx, scratch);
    if (lid != 0) return;
    float lse = m + log(s);
    int t = labels[lab_off + r];
    float v;
    if (t == IGNORE_INDEX) v = 0.0f;
    else if (t < 0 || t >= C) v = NAN;
    else v = (1.0f - eps) * (lse - row[t]) + eps * (lse - sx / (float)C);
    loss[loss_off + r] = v;
    lse_out[lse_off + r] = lse;
}

__kernel void nll_rows(__global float *loss, int loss_off, __global const float *logp, int logp_off,
                       __global const int *labels, int lab_off, int rows, int C)
{
    int r = get_global_id(0);
    if (r >= rows) return;
    int t = labels[lab_off + r];
    float v;
    if (t == IGNORE_INDEX) v = 0.0f;
    else if (t < 0 || t >= C) v = NAN;
    else v = -logp[logp_off + r * C + t];
    loss[loss_off + r] = v;
}

/* One work-group: y = sum of row losses, divided for the mean by the number
 * of rows not ignored; that count (or 1) goes to *denom_out for backward. */
__kernel void rows_finish(__global float *y, int y_off, __global float *denom_out, int denom_off,
                          __global const float *loss, int loss_off, __global const int *labels, int lab_off, int rows,
                          int mean, __local float *scratch)
{
    float acc = 0.0f, count = 0.0f;
    for (int r = get_local_id(0); r < rows; r += get_local_size(0)) {
        acc += loss[loss_off + r];
        count += labels[lab_off + r] != IGNORE_INDEX ? 1.0f : 0.0f;
    }
    acc = group_sum(acc, scratch);
    count = group_sum(count, scratch);
    if (get_local_id(0) != 0) return;
    y[y_off] = mean ? acc / count : acc;
    denom_out[denom_off] = mean ? count : 1.0f;
}

/* d logits = g / denom * (softmax(x) - ((1-eps)*onehot(t) + eps/C)) */
__kernel void ce_backward(__global float *dx, int dx_off, __global const float *grad, int grad_off,
                          __global const float *x, int x_off, __global const int *labels, int lab_off,
                          __global const float *stats, int stats_off, int rows, int C, float eps, int reduce)
{
    int i = get_global_id(0);
    if (i >= rows * C) return;
    int r = i / C, c = i - r * C;
    int t = labels[lab_off + r];
    float g = grad[grad_off + (reduce ? 0 : r)];
    if (reduce == 1) g /= stats[stats_off + rows];
    float v;
    if (t == IGNORE_INDEX) v = 0.0f;
    else if (t < 0 || t >= C) v = NAN;
    else {
        float p = exp(x[x_off + i] - stats[stats_off + r]);
        float target = (c == t ? 1.0f - eps : 0.0f) + eps / (float)C;
        v = g * (p - target);
    }
    dx[dx_off + i] = v;
}

__kernel void nll_backward(__global float *dx, int dx_off, __global const float *grad, int grad_off,
                           __global const int *labels, int lab_off, __global const float *stats, int stats_off,
                           int rows, int C, int reduce)
{
    int i = get_global_id(0);
    if (i >= rows * C) return;
    int r = i / C, c = i - r * C;
    int t = labels[lab_off + r];
    float g = grad[grad_off + (reduce ? 0 : r)];
    if (reduce == 1) g /= stats[stats_off];
    float v;
    if (t == IGNORE_INDEX) v = 0.0f;
    else if (t < 0 || t >= C) v = NAN;
    else v = c == t ? -g : 0.0f;
    dx[dx_off + i] = v;
}
