/* Dropout: y = keep ? x * scale : 0 with keep = uniform >= p, the uniform
 * drawn from Philox-4x32-10 exactly as cl/random.cl and src/core/random.c
 * draw it (element i: block i/4 of stream `stream` under key `seed`, lane
 * i%4, top 24 bits). The generator is copied here rather than shared
 * because every cl/ file is its own program; tests compare the device mask
 * bit for bit with the host's oclnn_philox_uniform, so the copies cannot
 * drift apart unnoticed. The same kernel applied to dy is the backward. */

uint4 philox4x32_10(uint4 c, uint2 k)
{
    for (int r = 0; r < 10; r++) {
        uint lo0 = 0xD2511F53u * c.x, hi0 = mul_hi(0xD2511F53u, c.x);
        uint lo1 = 0xCD9E8D57u * c.z, hi1 = mul_hi(0xCD9E8D57u, c.z);
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k += (uint2)(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

float to_unit(uint w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

/* One work item per Philox block of four elements. */
__kernel void dropout(__global float *y, int y_off, __global const float *x, int x_off, int n, uint seed_lo,
                      uint seed_hi, uint stream_lo, uint stream_hi, float p, float scale)
{
    int b = get_global_id(0);
    if (b * 4 >= n) return;
    uint4 r = philox4x32_10((uint4)((uint)b, 0u, stream_lo, stream_hi), (uint2)(seed_lo, seed_hi));
    uint w[4] = {r.x, r.y, r.z, r.w};
    for (int j = 0; j < 4 && b * 4 + j < n; j++) {
        int i = b * 4 + j;
        y[y_off + i] = to_unit(w[j]) >= p ? x[x_off + i] * scale : 0.0f;
    }
}

/* Eval mode (and p = 0): the identity. */
__kernel void dropout_copy(__global float *y, int y_off, __global const float *x, int x_off, int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] = x[x_off + i];
}
