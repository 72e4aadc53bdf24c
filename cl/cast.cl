/* Dtype casts with PyTorch's .to(dtype) semantics. Specialised with -D:
 *   SRC_DT, DST_DT  element types: 0 f32 (float), 1 i32 (int), 2 i64 (long)
 *   NDIM            rank of the strided index map (cast_strided only)
 * Sizes, shapes and strides are kernel arguments. OpenCL C 1.2's `long` is
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

#ifndef NDIM
#define NDIM 1
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

/* Strided input (transposed, permuted or sliced view): output element i
 * (row-major over dims) reads x at sum(coord[d] * str[d]). */
__kernel void cast_strided(__global dst_t *y, int y_off, __global const src_t *x, int x_off, int n, int8 dims8,
                           int8 str8)
{
    int i = get_global_id(0);
    if (i >= n) return;
    int dims[8], str[8];
    vstore8(dims8, 0, dims);
    vstore8(str8, 0, str);
    int rem = i, xi = 0;
    for (int d = NDIM - 1; d >= 0; d--) {
        int c = rem % dims[d];
        rem /= dims[d];
        xi += c * str[d];
    }
    y[y_off + i] = cast_value(x[x_off + xi]);
}
