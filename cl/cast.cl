/* Dtype casts with PyTorch's .to(dtype) semantics. Specialised with -D:
 *   SRC_DT, DST_DT  element types: 0 f32 (float), 1 i32 (int), 2 i64 (long)
 * Sizes, shapes, strides and ranks are kernel arguments. OpenCL C 1.2's `long` is
 * a core type, so no extension is needed. Conversions are spelled out with
 * convert_* so their rounding does not depend on the compiler's defaults:
 *   float -> int/long  toward zero; NaN gives 0 and out-of-range values
 *                      saturate (PyTorch leaves both undefined)
 *   long -> int        the low 32 bits (wraps modulo 2^32, like PyTorch)
 *   int/long -> float  round to nearest, ties to even
 *   int -> long        sign extension; same type: a copy */

#if SRC_DT == 0
typedef float src_t;
#elif SRC_DT == 1
typedef int src_t;
#else
typedef long src_t;
#endif

#if DST_DT == 0
typedef float dst_t;
#elif DST_DT == 1
typedef int dst_t;
#else
typedef long dst_t;
#endif

dst_t cast_value(src_t v)
{
#if SRC_DT == DST_DT
    return v;
#elif DST_DT == 0
    return convert_float_rte(v);
#elif DST_DT == 1 && SRC_DT == 0
    return convert_int_sat_rtz(v);
#elif DST_DT == 1
    /* ulong -> uint keeps the low 32 bits (unsigned conversions are
     * modular); as_int reinterprets them, so the wrap is well defined. */
    return as_int(convert_uint(as_ulong(v)));
#elif SRC_DT == 0
    return convert_long_sat_rtz(v);
#else
    return convert_long(v);
#endif
}

/* Contiguous input (any element offset). */
__kernel void cast_flat(__global dst_t *y, int y_off, __global const src_t *x, int x_off, int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] = cast_value(x[x_off + i]);
}

/* n / d for n < 2^31, given m and s from the host (oclnn_magic_div). */
uint div_magic(uint n, uint m, uint s) { return (uint)(((ulong)n * m) >> s); }

/* Strided input (transposed, permuted or sliced view), as rows of its
 * last dim: output row r, row-major over the outer dims before it, starts
 * in x at sum(coord[d] * str[d]); element j of it is at + j * inner_stride.
 * The (up to 7) outer dims come innermost first: size d8, division magic
 * m8/s8, stride st8; unused ones are size 1, stride 0. Straight-line code
 * with constant vector components (no private arrays, no branches, no
 * integer division), so the offset vectorises across work items. */
#define OUTER_ARGS int8 d8, uint8 m8, uint8 s8, int8 st8
#define OUTER_STEP(k)                                                                                              \
    {                                                                                                               \
        uint q = div_magic(rem, m8.s##k, s8.s##k);                                                                  \
        xi += ((int)rem - (int)q * d8.s##k) * st8.s##k;                                                             \
        rem = q;                                                                                                    \
    }

int row_offset(int r, OUTER_ARGS)
{
    uint rem = (uint)r;
    int xi = 0;
    OUTER_STEP(0) OUTER_STEP(1) OUTER_STEP(2) OUTER_STEP(3) OUTER_STEP(4) OUTER_STEP(5) OUTER_STEP(6)
    return xi;
}

/* Rows of unit stride (a permute that keeps the last dim): a work item
 * copies 8 consecutive elements of one row (strip id % strips of row
 * id / strips), so the row's offset is found once per 8 elements and the
 * copy itself is two vector moves. global: rows * strips. */
__kernel void cast_rows(__global dst_t *y, int y_off, __global const src_t *x, int x_off, int n, uint strips_m,
                        uint strips_s, int strips, int len, OUTER_ARGS)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int r = (int)div_magic((uint)i, strips_m, strips_s), j0 = (i - r * strips) * 8;
    __global const src_t *src = x + x_off + row_offset(r, d8, m8, s8, st8) + j0;
    __global dst_t *dst = y + y_off + r * len + j0;
    if (j0 + 8 <= len) {
#pragma unroll
        for (int k = 0; k < 8; k++) dst[k] = cast_value(src[k]);
    } else {
        for (int k = 0; j0 + k < len; k++) dst[k] = cast_value(src[k]);
    }
}

/* Any other view: a work item per element, row r = i / len (len_m,
 * len_s), element j = i - r * len at + j * inner_stride. */
__kernel void cast_strided(__global dst_t *y, int y_off, __global const src_t *x, int x_off, int n, uint len_m,
                           uint len_s, int len, int inner_stride, OUTER_ARGS)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int r = (int)div_magic((uint)i, len_m, len_s), j = i - r * len;
    y[y_off + i] = cast_value(x[x_off + row_offset(r, d8, m8, s8, st8) + j * inner_stride]);
}

/* Rows whose elements are far apart in x, where consecutive rows are
 * consecutive in x (transposes, batched or not): the innermost outer dim
 * has stride 1 and size run = d8.s0. A work item moves an 8 x 8 block:
 * eight loads of 8 consecutive rows' elements, eight stores of 8
 * consecutive elements of a row, so x and y are both read and written a
 * cache line at a time. Blocks cut by the edges go element by element.
 * global: (blocks along a run, blocks along a row, runs). */
__kernel void cast_blocks(__global dst_t *y, int y_off, __global const src_t *x, int x_off, int len, int rows,
                          int inner_stride, OUTER_ARGS)
{
    int bi = get_global_id(0), bj = get_global_id(1), q = get_global_id(2);
    int run = d8.s0, r0 = q * run + bi * 8, j0 = bj * 8;
    if (bi * 8 >= run || j0 >= len || r0 >= rows) return;
    __global const src_t *src = x + x_off + row_offset(r0, d8, m8, s8, st8);
    __global dst_t *dst = y + y_off + r0 * len + j0;
    if (bi * 8 + 8 > run || j0 + 8 > len) {
        for (int rr = 0; rr < 8 && bi * 8 + rr < run; rr++)
            for (int jj = 0; jj < 8 && j0 + jj < len; jj++)
                dst[rr * len + jj] = cast_value(src[rr + (j0 + jj) * inner_stride]);
        return;
    }
    src_t v[8][8];
#pragma unroll
    for (int jj = 0; jj < 8; jj++)
#pragma unroll
        for (int rr = 0; rr < 8; rr++) v[jj][rr] = src[rr + (j0 + jj) * inner_stride];
#pragma unroll
    for (int rr = 0; rr < 8; rr++)
#pragma unroll
        for (int jj = 0; jj < 8; jj++) dst[rr * len + jj] = cast_value(v[jj][rr]);
}
