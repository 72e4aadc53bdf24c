/* Dropout: y = keep ? x * scale : 0 with keep = uniform >= p, the uniform
 * drawn from Philox-4x32-10 exactly as cl/random.cl and src/core/random.c
 * draw it (element i: block i/4 of stream `stream` under key `seed`, lane
 * i%4, top 24 bits). The generator is copied here rather than shared
 * because every cl/ file is its own program; tests compare the device mask
 * bit for bit with the host's oclnn_philox_uniform, so the copies cannot
 * drift apart unnoticed. The same kernel applied to dy is the backward. */

float to_unit(uint w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

/* One work item per Philox block of four elements. PoCL vectorises across
 * work items only straight-line code without calls that return vectors:
 * so the rounds are written in the kernel and unrolled, and the last,
 * partial block is handled by guarded stores rather than a loop. */
__kernel void dropout(__global float *y, int y_off, __global const float *x, int x_off, int n, uint seed_lo,
                      uint seed_hi, uint stream_lo, uint stream_hi, float p, float scale)
{
    int b = get_global_id(0), i = b * 4;
    if (i >= n) return;
    uint4 c = (uint4)((uint)b, 0u, stream_lo, stream_hi);
    uint2 k = (uint2)(seed_lo, seed_hi);
#pragma unroll
    for (int r = 0; r < 10; r++) {
        uint lo0 = 0xD2511F53u * c.x, hi0 = mul_hi(0xD2511F53u, c.x);
        uint lo1 = 0xCD9E8D57u * c.z, hi1 = mul_hi(0xCD9E8D57u, c.z);
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k += (uint2)(0x9E3779B9u, 0xBB67AE85u);
    }
    __global float *yp = y + y_off + i;
    __global const float *xp = x + x_off + i;
    yp[0] = to_unit(c.x) >= p ? xp[0] * scale : 0.0f;
    if (i + 1 < n) yp[1] = to_unit(c.y) >= p ? xp[1] * scale : 0.0f;
    if (i + 2 < n) yp[2] = to_unit(c.z) >= p ? xp[2] * scale : 0.0f;
    if (i + 3 < n) yp[3] = to_unit(c.w) >= p ? xp[3] * scale : 0.0f;
}

/* Eval mode (and p = 0): the identity. */
__kernel void dropout_copy(__global float *y, int y_off, __global const float *x, int x_off, int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] = x[x_off + i];
}
