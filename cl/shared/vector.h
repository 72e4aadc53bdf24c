/* Vector types and loads of a -D width (float##VW), for the kernels
 * whose register tiles are sized per device (cl/gemm.cl,
 * cl/conv_direct.cl; pasted in by cmake/embed_cl.cmake). */
#define UNROLL _Pragma("unroll")
#define VTYPE_(w) float##w
#define VTYPE(w) VTYPE_(w)
#define ITYPE_(w) int##w
#define ITYPE(w) ITYPE_(w)
#define VLOAD_(w) vload##w
#define VLOAD(w) VLOAD_(w)
#define VSTORE_(w) vstore##w
#define VSTORE(w) VSTORE_(w)
