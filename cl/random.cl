/* Philox-4x32-10 (Salmon et al., SC'11). Must match src/core/random.c bit
 * for bit: one work item turns one counter block into four elements. */

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

uint4 philox_block(uint block, uint key_lo, uint key_hi, uint stream_lo, uint stream_hi)
{
    return philox4x32_10((uint4)(block, 0u, stream_lo, stream_hi), (uint2)(key_lo, key_hi));
}

float to_unit(uint w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }
/* (0,1]: safe for log() in Box-Muller. */
float to_unit_open(uint w) { return (float)((w >> 8) + 1u) * (1.0f / 16777216.0f); }

__kernel void fill_uniform(__global float *y, int y_off, int n, uint key_lo, uint key_hi, uint stream_lo,
                           uint stream_hi, float low, float high)
{
    int b = get_global_id(0);
    if (b * 4 >= n) return;
    uint4 r = philox_block((uint)b, key_lo, key_hi, stream_lo, stream_hi);
    uint w[4] = {r.x, r.y, r.z, r.w};
    for (int j = 0; j < 4 && b * 4 + j < n; j++) y[y_off + b * 4 + j] = fma(high - low, to_unit(w[j]), low);
}

/* Box-Muller on word pairs (0,1) and (2,3). */
__kernel void fill_normal(__global float *y, int y_off, int n, uint key_lo, uint key_hi, uint stream_lo,
                          uint stream_hi, float mean, float stddev)
{
    int b = get_global_id(0);
    if (b * 4 >= n) return;
    uint4 r = philox_block((uint)b, key_lo, key_hi, stream_lo, stream_hi);
    float out[4];
    for (int p = 0; p < 2; p++) {
        float u1 = to_unit_open(p ? r.z : r.x), u2 = to_unit(p ? r.w : r.y);
        float radius = sqrt(-2.0f * log(u1));
        float angle = 6.283185307179586f * u2;
        out[2 * p] = radius * cos(angle);
        out[2 * p + 1] = radius * sin(angle);
    }
    for (int j = 0; j < 4 && b * 4 + j < n; j++) y[y_off + b * 4 + j] = fma(stddev, out[j], mean);
}
