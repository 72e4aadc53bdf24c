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
