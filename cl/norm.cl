/* Batch normalisation over axis 1 of x viewed as [outer, C, inner]
 * (outer = N, inner = H*W, or 1 for [N, C]).
 * Per-channel reductions use one work-group per channel (local size a
 * power of two, scratch passed as a __local argument) so no -D variants
 * are needed. `saved` is [2, C]: row 0 the mean, row 1 1/sqrt(var + eps),
 * written by the forward pass in either mode and read by the backward.
 * Kernels with barriers never return early, not even uniformly per group:
 * PoCL 3.1 then ran the code after the barriers in every work item. Out of
 * range groups instead reduce zero elements and write nothing. */

/* Sum of v over the work-group, returned to every work item. */
float group_sum(float v, __local float *scratch)
{
    int lid = get_local_id(0), size = get_local_size(0);
    barrier(CLK_LOCAL_MEM_FENCE); /* the previous call's readers are done */
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = size / 2; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] += scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return scratch[0];
}

int channel_index(int i, int c, int C, int inner)
{
    int o = i / inner;
    return (o * C + c) * inner + (i - o * inner);
}

/* Training statistics: two passes (mean, then squared deviations) for
 * accuracy; updates the running statistics and num_batches_tracked. */
__kernel void bn_stats(__global const float *x, int x_off, __global float *saved, int saved_off,
                       __global float *rmean, int rmean_off, __global float *rvar, int rvar_off,
                       __global long *tracked, int tracked_off, int outer, int C, int inner, float momentum,
                       float eps, __local float *scratch)
{
    int c = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    int count = c < C ? outer * inner : 0;
    __global const float *xc = x + x_off;
    float s = 0.0f;
    for (int i = lid; i < count; i += size) s += xc[channel_index(i, c, C, inner)];
    float mean = group_sum(s, scratch) / (float)count;
    float ss = 0.0f;
    for (int i = lid; i < count; i += size) {
        float d = xc[channel_index(i, c, C, inner)] - mean;
        ss += d * d;
    }
    float m2 = group_sum(ss, scratch);
    if (lid == 0 && c < C) {
        saved[saved_off + c] = mean;
        saved[saved_off + C + c] = 1.0f / sqrt(m2 / (float)count + eps);
        rmean[rmean_off + c] = (1.0f - momentum) * rmean[rmean_off + c] + momentum * mean;
        rvar[rvar_off + c] = (1.0f - momentum) * rvar[rvar_off + c] + momentum * (m2 / (float)(count - 1));
        if (c == 0) tracked[tracked_off] += 1;
    }
}

/* Eval mode: the running statistics stand in for the batch's. */
__kernel void bn_eval_stats(__global float *saved, int saved_off, __global const float *rmean, int rmean_off,
                            __global const float *rvar, int rvar_off, int C, float eps)
{
    int c = get_global_id(0);
    if (c >= C) return;
    saved[saved_off + c] = rmean[rmean_off + c];
    saved[saved_off + C + c] = 1.0f / sqrt(rvar[rvar_off + c] + eps);
}

/* y = (x - mean) * invstd * w + b; w and b are not read when affine == 0. */
__kernel void bn_apply(__global float *y, int y_off, __global const float *x, int x_off,
                       __global const float *saved, int saved_off, __global const float *w, int w_off,
                       __global const float *b, int b_off, int n, int C, int inner, int affine)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int c = (i / inner) % C;
    float v = (x[x_off + i] - saved[saved_off + c]) * saved[saved_off + C + c];
    if (affine) v = v * w[w_off + c] + b[b_off + c];
    y[y_off + i] = v;
}

/* sums [2, C]: row 0 sum(dy * xhat) (= d weight), row 1 sum(dy) (= d bias). */
__kernel void bn_backward_reduce(__global float *sums, int sums_off, __global const float *dy, int dy_off,
                                 __global const float *x, int x_off, __global const float *saved, int saved_off,
                                 int outer, int C, int inner, __local float *scratch)
{
    int c = get_group_id(0), lid = get_local_id(0), size = get_local_size(0);
    int count = c < C ? outer * inner : 0;
    float mean = count ? saved[saved_off + c] : 0.0f, invstd = count ? saved[saved_off + C + c] : 0.0f;
    float sg = 0.0f, sgx = 0.0f;
    for (int i = lid; i < count; i += size) {
        int k = channel_index(i, c, C, inner);
        float g = dy[dy_off + k];
        sg += g;
        sgx += g * (x[x_off + k] - mean) * invstd;
    }
    sgx = group_sum(sgx, scratch);
    sg = group_sum(sg, scratch);
    if (lid == 0 && c < C) {
        sums[sums_off + c] = sgx;
        sums[sums_off + C + c] = sg;
    }
}

/* Training: dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
 * the batch statistics being functions of x. Eval: dx = w * invstd * dy. */
__kernel void bn_backward_dx(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                             __global const float *x, int x_off, __global const float *saved, int saved_off,
                             __global const float *sums, int sums_off, __global const float *w, int w_off, int n,
                             int C, int inner, int affine, int training)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int c = (i / inner) % C;
    float invstd = saved[saved_off + C + c];
    float scale = affine ? w[w_off + c] * invstd : invstd;
    float g = dy[dy_off + i];
    if (training) {
        float count = (float)(n / C);
        float xhat = (x[x_off + i] - saved[saved_off + c]) * invstd;
        g = g - sums[sums_off + C + c] / count - xhat * (sums[sums_off + c] / count);
    }
    dx[dx_off + i] = scale * g;
}
