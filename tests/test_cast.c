/* Casts between f32, i32 and i64 vs host references of PyTorch's
 * .to(dtype) rules, on contiguous inputs of odd sizes and on transposed,
 * permuted and sliced views; i64 copies, fills and host transfers; the
 * gradient rules; the error for an unknown dtype. Outputs are poisoned
 * before every run and compared element by element, bit for bit. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define F32 OCLNN_DTYPE_F32
#define I32 OCLNN_DTYPE_I32
#define I64 OCLNN_DTYPE_I64

static const oclnn_dtype all_dtypes[3] = {F32, I32, I64};
static const char *dt_name(oclnn_dtype d) { return d == F32 ? "f32" : d == I32 ? "i32" : "i64"; }
static size_t esize(oclnn_dtype d) { return d == I64 ? 8 : 4; }

static uint64_t next64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) */
static double unit(uint64_t *s) { return (double)(next64(s) >> 11) * (1.0 / 9007199254740992.0); }

/* ---- test data: edge values first, then random values of three kinds */

static const float f32_special[] = {
    0.0f, -0.0f, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 0.999f, -0.999f, 7.9f, -7.9f,
    16777216.0f, -16777218.0f, 2147483520.0f, -2147483648.0f, /* largest floats inside the i32 range */
    2147483648.0f, -2147483904.0f, 3e9f, -3e9f,                /* outside i32: saturate */
    4.5e15f, -4.5e15f, 9.2233715e18f, -9.223372e18f,           /* i64 range edge */
    1e19f, -1e19f, INFINITY, -INFINITY, NAN,                   /* outside i64: saturate, NaN -> 0 */
};
static const int32_t i32_special[] = {0,         1,          -1,        INT32_MAX, INT32_MIN,
                                      16777217,  -16777217,  16777219,  16777218,  2147483584,
                                      123456789, -123456789, 2147483647 - 64};
static const int64_t i64_special[] = {
    0, 1, -1, INT64_MAX, INT64_MIN,
    (int64_t)1 << 31, -((int64_t)1 << 31) - 1, ((int64_t)1 << 32) + 5, 0xFFFFFFFFll, -((int64_t)1 << 32),
    ((int64_t)1 << 53) + 1, ((int64_t)1 << 24) + 1, ((int64_t)1 << 24) - 1, 0x123456789ABCll, -0x123456789ABCll,
    ((int64_t)1 << 62) + 12345, 4294967296ll * 3 - 7};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void *make_values(oclnn_dtype dt, size_t n, uint64_t *rng)
{
    void *buf = malloc((n ? n : 1) * esize(dt));
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < n; i++) {
        int kind = (int)(i % 3);
        double u = unit(rng) * 2 - 1;
        if (dt == F32) {
            float v = i < COUNT(f32_special) ? f32_special[i]
                      : kind == 0            ? (float)(u * 1000.0)          /* fractions, both signs */
                      : kind == 1            ? (float)(u * 4e9)             /* around the i32 range */
                                             : (float)(u * 1.1e12);         /* large, inside i64 */
            ((float *)buf)[i] = v;
        } else if (dt == I32) {
            uint64_t r = next64(rng);
            int32_t v = i < COUNT(i32_special) ? i32_special[i]
                        : kind == 0            ? (int32_t)(u * 5000.0)
                                               : (int32_t)(uint32_t)r; /* any 32-bit pattern */
            ((int32_t *)buf)[i] = v;
        } else {
            uint64_t r = next64(rng);
            int64_t v = i < COUNT(i64_special) ? i64_special[i]
                        : kind == 0            ? (int64_t)(u * 5000.0)
                        : kind == 1            ? (int64_t)(u * 1.5e13) /* beyond 2^31 */
                                               : (int64_t)r;           /* any 64-bit pattern */
            ((int64_t *)buf)[i] = v;
        }
    }
    return buf;
}

/* ---- the reference: one element of `from` at src[si] to `to` at dst[di] */

static int32_t f32_to_i32(float v)
{
    if (isnan(v)) return 0;
    if (v >= 2147483648.0f) return INT32_MAX;
    if (v < -2147483648.0f) return INT32_MIN;
    return (int32_t)v;
}

static int64_t f32_to_i64(float v)
{
    if (isnan(v)) return 0;
    if (v >= 9223372036854775808.0f) return INT64_MAX;
    if (v < -9223372036854775808.0f) return INT64_MIN;
    return (int64_t)v;
}

static int32_t wrap32(int64_t v)
{
    uint32_t low = (uint32_t)(uint64_t)v;
    int32_t r;
    memcpy(&r, &low, sizeof r);
    return r;
}

static void ref_one(oclnn_dtype from, const void *src, size_t si, oclnn_dtype to, void *dst, size_t di)
{
    if (from == F32) {
        float v = ((const float *)src)[si];
        if (to == F32) ((float *)dst)[di] = v;
        else if (to == I32) ((int32_t *)dst)[di] = f32_to_i32(v);
        else ((int64_t *)dst)[di] = f32_to_i64(v);
    } else if (from == I32) {
        int32_t v = ((const int32_t *)src)[si];
        if (to == F32) ((float *)dst)[di] = (float)v; /* the host rounds to nearest even */
        else if (to == I32) ((int32_t *)dst)[di] = v;
        else ((int64_t *)dst)[di] = v;
    } else {
        int64_t v = ((const int64_t *)src)[si];
        if (to == F32) ((float *)dst)[di] = (float)v;
        else if (to == I32) ((int32_t *)dst)[di] = wrap32(v);
        else ((int64_t *)dst)[di] = v;
    }
}

static void print_elem(oclnn_dtype d, const void *buf, size_t i, char *out, size_t size)
{
    if (d == F32) snprintf(out, size, "%.9g", (double)((const float *)buf)[i]);
    else if (d == I32) snprintf(out, size, "%d", ((const int32_t *)buf)[i]);
    else snprintf(out, size, "%lld", (long long)((const int64_t *)buf)[i]);
}

/* ---- views the cast reads: the graph view and the host index map */

typedef enum { V_FLAT, V_TRANSPOSE, V_SLICE_COLS, V_PERMUTE_SLICE, V_SLICE_ROWS } view_kind;
static const char *view_names[] = {"flat", "transpose", "slice cols", "permute+slice", "slice rows"};

typedef struct view_case {
    view_kind kind;
    int64_t d[3]; /* input dims: [n], [R, C] or [A, B, C] */
} view_case;

static int in_ndim(const view_case *v) { return v->kind == V_FLAT ? 1 : v->kind == V_PERMUTE_SLICE ? 3 : 2; }

static size_t in_numel(const view_case *v)
{
    size_t n = 1;
    for (int i = 0; i < in_ndim(v); i++) n *= (size_t)v->d[i];
    return n;
}

static oclnn_tensor *make_view(oclnn_graph *g, oclnn_tensor *x, const view_case *v)
{
    switch (v->kind) {
    case V_FLAT: return x;
    case V_TRANSPOSE: return oclnn_transpose(g, x, 0, 1);
    case V_SLICE_COLS: return oclnn_slice(g, x, 1, 1, v->d[1] - 1);
    case V_PERMUTE_SLICE: return oclnn_slice(g, oclnn_permute(g, x, (const int[]){2, 0, 1}), 2, 1, v->d[1] - 1);
    default: return oclnn_slice(g, x, 0, 2, v->d[0]);
    }
}

/* Input index read by output element i (row-major over the view's dims). */
static size_t source_index(const view_case *v, size_t i)
{
    size_t R = (size_t)v->d[0], C = (size_t)v->d[1];
    switch (v->kind) {
    case V_FLAT: return i;
    case V_TRANSPOSE: return (i % R) * C + i / R;               /* out [C, R] */
    case V_SLICE_COLS: return (i / (C - 2)) * C + 1 + i % (C - 2); /* out [R, C-2] */
    case V_PERMUTE_SLICE: {                                    /* in [A, B, Cc], out [Cc, A, B-2] */
        size_t A = R, B = C, Cc = (size_t)v->d[2];
        size_t k = i % (B - 2), a = (i / (B - 2)) % A, c = i / ((B - 2) * A);
        return (a * B + k + 1) * Cc + c;
    }
    default: return i + 2 * C; /* rows [2, R) */
    }
}

/* Builds input -> view -> cast, poisons the output, runs, and compares
 * every element with the reference, bit for bit. */
static void check_cast(oclnn_dtype from, oclnn_dtype to, const view_case *v, uint64_t *rng)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    ck_assert_ptr_nonnull(g);
    oclnn_tensor *x = oclnn_input(g, "x", from, in_ndim(v), v->d);
    oclnn_tensor *view = make_view(g, x, v);
    oclnn_tensor *y = oclnn_cast(g, view, to);
    ck_assert_msg(y != NULL, "cast %s -> %s (%s): %s", dt_name(from), dt_name(to), view_names[v->kind],
                  oclnn_graph_error(g));
    ck_assert_int_eq(oclnn_tensor_dtype(y), to);
    ck_assert_int_eq(oclnn_tensor_ndim(y), oclnn_tensor_ndim(view));
    for (int d = 0; d < oclnn_tensor_ndim(y); d++) ck_assert_int_eq(oclnn_tensor_dim(y, d), oclnn_tensor_dim(view, d));
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));

    size_t nin = in_numel(v), nout = (size_t)oclnn_tensor_numel(y), es = esize(to);
    void *src = make_values(from, nin, rng);
    TU_OK(oclnn_tensor_write(x, src, nin * esize(from)));
    unsigned char *want = malloc(nout * es + 1), *got = malloc(nout * es + 1), poison[8];
    memset(poison, 0xA5, sizeof poison);
    for (size_t i = 0; i < nout; i++) {
        ref_one(from, src, source_index(v, i), to, want, i);
        ck_assert_msg(memcmp(want + i * es, poison, es) != 0, "reference hit the poison value");
    }
    memset(got, 0xA5, nout * es);
    if (nout) TU_OK(oclnn_tensor_write(y, got, nout * es));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, got, nout * es));
    size_t bad = 0, first = 0, unwritten = 0;
    for (size_t i = 0; i < nout; i++) {
        if (memcmp(got + i * es, poison, es) == 0) unwritten++;
        if (memcmp(got + i * es, want + i * es, es) != 0 && bad++ == 0) first = i;
    }
    char gs[32] = "", ws[32] = "", ss[32] = "";
    if (bad) {
        print_elem(to, got, first, gs, sizeof gs);
        print_elem(to, want, first, ws, sizeof ws);
        print_elem(from, src, source_index(v, first), ss, sizeof ss);
    }
    ck_assert_msg(unwritten == 0 && bad == 0,
                  "cast %s -> %s, %s view of %zu elements: %zu never written, %zu wrong (first at %zu: %s -> got %s, "
                  "want %s)",
                  dt_name(from), dt_name(to), view_names[v->kind], nout, unwritten, bad, first, ss, gs, ws);
    free(src);
    free(want);
    free(got);
    oclnn_graph_release(g);
}

START_TEST(test_every_pair_contiguous)
{
    uint64_t rng = tu_seed() + 11;
    const int64_t sizes[] = {1, 7, 1000, 4099};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (size_t s = 0; s < COUNT(sizes); s++) {
                view_case v = {V_FLAT, {sizes[s], 0, 0}};
                check_cast(all_dtypes[a], all_dtypes[b], &v, &rng);
            }
}
END_TEST

START_TEST(test_every_pair_strided)
{
    uint64_t rng = tu_seed() + 12;
    const view_case views[] = {
        {V_TRANSPOSE, {7, 13, 0}},      {V_TRANSPOSE, {61, 67, 0}},      {V_SLICE_COLS, {33, 129, 0}},
        {V_SLICE_COLS, {1, 3, 0}},      {V_PERMUTE_SLICE, {3, 5, 7}},    {V_PERMUTE_SLICE, {9, 11, 13}},
        {V_SLICE_ROWS, {9, 111, 0}},    {V_SLICE_ROWS, {2, 5, 0}}, /* empty */
    };
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (size_t k = 0; k < COUNT(views); k++) check_cast(all_dtypes[a], all_dtypes[b], &views[k], &rng);
}
END_TEST

/* ---- known values, independent of the reference functions above */

/* One input of `from` holding `n` values, cast to `to`, read back. */
static void run_values(oclnn_dtype from, const void *values, size_t n, oclnn_dtype to, void *out)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", from, 1, (const int64_t[]){(int64_t)n});
    oclnn_tensor *y = oclnn_cast(g, x, to);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_write(x, values, n * esize(from)));
    memset(out, 0xA5, n * esize(to));
    TU_OK(oclnn_tensor_write(y, out, n * esize(to)));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, out, n * esize(to)));
    oclnn_graph_release(g);
}

START_TEST(test_known_values)
{
    const float f[] = {-2.5f, 2.9f, -0.7f, 0.7f, -1e10f, 1e10f, 3e9f, NAN};
    int32_t fi[8];
    int64_t fl[8];
    run_values(F32, f, 8, I32, fi);
    run_values(F32, f, 8, I64, fl);
    const int32_t want_fi[] = {-2, 2, 0, 0, INT32_MIN, INT32_MAX, INT32_MAX, 0};
    const int64_t want_fl[] = {-2, 2, 0, 0, -10000000000ll, 10000000000ll, 3000000000ll, 0};
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(fi[i], want_fi[i]);
        ck_assert_int_eq(fl[i], want_fl[i]);
    }

    /* int -> float rounds to nearest, ties to even */
    const int32_t i[] = {16777217, 16777219, -16777217, 16777218, INT32_MAX, INT32_MIN};
    float i_f[6];
    run_values(I32, i, 6, F32, i_f);
    const float want_if[] = {16777216.0f, 16777220.0f, -16777216.0f, 16777218.0f, 2147483648.0f, -2147483648.0f};
    for (int k = 0; k < 6; k++) ck_assert_float_eq(i_f[k], want_if[k]);

    /* i64 -> i32 wraps modulo 2^32 */
    const int64_t l[] = {((int64_t)1 << 32) + 5, (int64_t)1 << 31, -((int64_t)1 << 31) - 1, 0xFFFFFFFFll,
                         -((int64_t)1 << 32), INT64_MIN, INT64_MAX, -7};
    int32_t l_i[8];
    run_values(I64, l, 8, I32, l_i);
    const int32_t want_li[] = {5, INT32_MIN, INT32_MAX, -1, 0, 0, -1, -7};
    for (int k = 0; k < 8; k++) ck_assert_int_eq(l_i[k], want_li[k]);

    /* i64 -> f32 rounds to nearest: 2^53 + 1 and 2^24 + 1 */
    const int64_t big[] = {((int64_t)1 << 53) + 1, ((int64_t)1 << 24) + 1, ((int64_t)1 << 24) + 3, -((int64_t)1 << 40)};
    float big_f[4];
    run_values(I64, big, 4, F32, big_f);
    const float want_bf[] = {9007199254740992.0f, 16777216.0f, 16777220.0f, -1099511627776.0f};
    for (int k = 0; k < 4; k++) ck_assert_float_eq(big_f[k], want_bf[k]);
}
END_TEST

/* i64 -> f32 -> i64 is exact below 2^24, in one graph. */
START_TEST(test_i64_f32_round_trip)
{
    uint64_t rng = tu_seed() + 13;
    const size_t n = 4099;
    int64_t *v = malloc(n * sizeof *v), *back = malloc(n * sizeof *back);
    for (size_t i = 0; i < n; i++) v[i] = (int64_t)(next64(&rng) % (2u << 24)) - ((int64_t)1 << 24) + 1;
    v[0] = ((int64_t)1 << 24) - 1;
    v[1] = -((int64_t)1 << 24) + 1;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", I64, 1, (const int64_t[]){(int64_t)n});
    oclnn_tensor *y = oclnn_cast(g, oclnn_cast(g, x, F32), I64);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_write(x, v, n * sizeof *v));
    memset(back, 0xA5, n * sizeof *back);
    TU_OK(oclnn_tensor_write(y, back, n * sizeof *back));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, back, n * sizeof *back));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(back[i] == v[i], "element %zu: %lld came back as %lld", i, (long long)v[i], (long long)back[i]);
    oclnn_graph_release(g);
    free(v);
    free(back);
}
END_TEST

/* ---- copies of views by each strided path of cast.c: rows of unit
 * stride (cast_rows: strips of 8 and a tail), transposes by 8 x 8 blocks
 * (cast_blocks: whole blocks, cut blocks, batched), anything else element
 * by element (cast_strided); each against the host's index arithmetic. */
typedef struct permute_case {
    int ndim;
    int64_t dims[4];
    int perm[4]; /* y = contiguous(permute(x, perm)) */
} permute_case;

START_TEST(test_copies_of_permuted_views)
{
    const permute_case cases[] = {
        {3, {3, 13, 21}, {0, 2, 1}},       /* batched transpose, cut blocks */
        {4, {2, 5, 16, 24}, {0, 1, 3, 2}}, /* whole blocks */
        {4, {2, 1, 9, 8}, {0, 3, 1, 2}},   /* a unit dim dropped: a batched transpose */
        {4, {2, 3, 17, 10}, {0, 2, 1, 3}}, /* head split: rows of 10 (one strip and a tail) */
        {4, {2, 7, 3, 37}, {2, 0, 1, 3}},  /* rows of 37 under three outer dims */
        {3, {4, 6, 5}, {2, 1, 0}},         /* no dim of unit stride in place: element by element */
        {4, {3, 4, 5, 6}, {3, 1, 0, 2}},
    };
    uint64_t rng = tu_seed() + 21;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const permute_case *vc = &cases[c];
        int64_t n = 1, xstr[4], ydims[4];
        for (int d = vc->ndim - 1; d >= 0; d--) {
            xstr[d] = n;
            n *= vc->dims[d];
        }
        for (int d = 0; d < vc->ndim; d++) ydims[d] = vc->dims[vc->perm[d]];
        for (int dt = 0; dt < 3; dt++) {
            oclnn_dtype type = dt == 0 ? F32 : dt == 1 ? I32 : I64;
            size_t es = type == I64 ? 8 : 4;
            int64_t *v = make_values(I64, (size_t)n, &rng);
            unsigned char *xv = malloc((size_t)n * es), *got = malloc((size_t)n * es);
            for (int64_t i = 0; i < n; i++) {
                if (type == I64) ((int64_t *)xv)[i] = v[i];
                else if (type == I32) ((int32_t *)xv)[i] = (int32_t)v[i];
                else ((float *)xv)[i] = (float)(v[i] % 100000);
            }
            oclnn_graph *g = oclnn_graph_create(tu_context());
            oclnn_tensor *x = oclnn_input(g, "x", type, vc->ndim, vc->dims);
            oclnn_tensor *y = oclnn_contiguous(g, oclnn_permute(g, x, vc->perm));
            TU_OK(oclnn_graph_output(g, y));
            TU_OK(oclnn_graph_compile(g, NULL));
            TU_OK(oclnn_tensor_write(x, xv, (size_t)n * es));
            memset(got, 0xA5, (size_t)n * es);
            TU_OK(oclnn_tensor_write(y, got, (size_t)n * es));
            TU_OK(oclnn_graph_run(g));
            TU_OK(oclnn_tensor_read(y, got, (size_t)n * es));
            for (int64_t i = 0; i < n; i++) {
                int64_t rem = i, src = 0;
                for (int d = vc->ndim - 1; d >= 0; d--) {
                    src += rem % ydims[d] * xstr[vc->perm[d]];
                    rem /= ydims[d];
                }
                ck_assert_msg(!memcmp(got + (size_t)i * es, xv + (size_t)src * es, es),
                              "case %zu dtype %d: element %lld is not x's element %lld", c, dt, (long long)i,
                              (long long)src);
            }
            oclnn_graph_release(g);
            free(v);
            free(xv);
            free(got);
        }
    }
}
END_TEST

/* ---- i64 tensors: host transfers, fill, contiguous copies of views */
START_TEST(test_i64_transfers_and_copies)
{
    const int64_t R = 37, C = 53;
    const size_t n = (size_t)(R * C);
    uint64_t rng = tu_seed() + 14;
    int64_t *v = make_values(I64, n, &rng), *got = malloc(n * sizeof *got);
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", I64, 2, (const int64_t[]){R, C});
    oclnn_tensor *same = oclnn_contiguous(g, x);
    ck_assert_ptr_eq(same, x); /* already contiguous: no copy */
    oclnn_tensor *t = oclnn_contiguous(g, oclnn_transpose(g, x, 0, 1));
    oclnn_tensor *s = oclnn_copy(g, oclnn_slice(g, x, 1, 3, 10));
    oclnn_tensor *c = oclnn_cast(g, x, I64); /* same dtype: a copy */
    ck_assert_msg(t && s && c, "%s", oclnn_graph_error(g));
    ck_assert_int_eq(oclnn_tensor_dtype(t), I64);
    ck_assert_int_eq(oclnn_tensor_dtype(s), I64);
    TU_OK(oclnn_graph_output(g, t));
    TU_OK(oclnn_graph_output(g, s));
    TU_OK(oclnn_graph_output(g, c));
    TU_OK(oclnn_graph_compile(g, NULL));

    /* the input itself reads back as written */
    TU_OK(oclnn_tensor_write(x, v, n * sizeof *v));
    memset(got, 0, n * sizeof *got);
    TU_OK(oclnn_tensor_read(x, got, n * sizeof *got));
    ck_assert_int_eq(memcmp(got, v, n * sizeof *v), 0);
    ck_assert_int_eq(oclnn_tensor_read(x, got, n * 4), OCLNN_ERR_SHAPE); /* i32-sized read: refused */

    memset(got, 0xA5, n * sizeof *got);
    TU_OK(oclnn_tensor_write(t, got, n * sizeof *got));
    TU_OK(oclnn_tensor_write(s, got, (size_t)R * 7 * sizeof *got));
    TU_OK(oclnn_tensor_write(c, got, n * sizeof *got));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(t, got, n * sizeof *got));
    for (int64_t j = 0; j < C; j++)
        for (int64_t i = 0; i < R; i++) ck_assert_int_eq(got[j * R + i], v[i * C + j]);
    TU_OK(oclnn_tensor_read(s, got, (size_t)R * 7 * sizeof *got));
    for (int64_t i = 0; i < R; i++)
        for (int64_t k = 0; k < 7; k++) ck_assert_int_eq(got[i * 7 + k], v[i * C + 3 + k]);
    TU_OK(oclnn_tensor_read(c, got, n * sizeof *got));
    ck_assert_int_eq(memcmp(got, v, n * sizeof *v), 0);

    /* fill truncates toward zero, as for i32 */
    TU_OK(oclnn_tensor_fill(x, -3.0f));
    TU_OK(oclnn_tensor_read(x, got, n * sizeof *got));
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(got[i], -3);
    TU_OK(oclnn_tensor_fill(x, 7.9f));
    TU_OK(oclnn_tensor_read(x, got, n * sizeof *got));
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(got[i], 7);
    oclnn_graph_release(g);
    free(v);
    free(got);
}
END_TEST

/* ---- gradients: f32 -> f32 passes it through, integers stop it */
static oclnn_tensor *build_cast_f32(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    return oclnn_cast(g, user ? oclnn_transpose(g, in[0], 0, 1) : in[0], F32);
}

static void ref_identity(const double *const *in, double *out, const void *user)
{
    (void)user;
    for (int i = 0; i < 7 * 13; i++) out[i] = in[0][i];
}

static void ref_transposed(const double *const *in, double *out, const void *user)
{
    (void)user;
    for (int j = 0; j < 13; j++)
        for (int i = 0; i < 7; i++) out[j * 7 + i] = in[0][i * 13 + j];
}

START_TEST(test_f32_gradient)
{
    uint64_t rng = tu_seed() + 15;
    static const int transposed = 1;
    tu_op_case c = {.name = "cast f32", .ninputs = 1, .ndim = {2}, .dims = {{7, 13}}, .lo = {-3}, .hi = {3},
                    .build = build_cast_f32, .reference = ref_identity};
    tu_check_forward(&c, 0, &rng);
    tu_check_gradient(&c, 1e-3, 1e-8, 91, &rng);
    c.name = "cast f32 of a transpose";
    c.reference = ref_transposed;
    c.user = &transposed;
    tu_check_forward(&c, 0, &rng);
    tu_check_gradient(&c, 1e-3, 1e-8, 91, &rng);
}
END_TEST

START_TEST(test_integer_casts_have_no_gradient)
{
    const float pv[5] = {-2.5f, -0.5f, 0.25f, 1.75f, 3.0f};
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *p = oclnn_param(g, "p", 1, (const int64_t[]){5});
    /* L = sum(p * float(int(p))): the integer round trip is a constant */
    oclnn_tensor *q = oclnn_cast(g, oclnn_cast(g, p, I32), F32);
    oclnn_tensor *loss = oclnn_sum_all(g, oclnn_mul(g, p, q));
    oclnn_tensor *q64 = oclnn_cast(g, oclnn_cast(g, p, I64), F32);
    oclnn_tensor *loss64 = oclnn_sum_all(g, oclnn_mul(g, p, q64));
    oclnn_tensor *total = oclnn_add(g, loss, loss64);
    TU_OK(oclnn_graph_status(g));
    TU_OK(oclnn_graph_backward(g, total));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_write(p, pv, sizeof pv));
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    float grad[5];
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(p), grad, sizeof grad));
    const float want[5] = {-4, 0, 0, 2, 6}; /* 2 * trunc(p) */
    for (int i = 0; i < 5; i++) ck_assert_float_eq(grad[i], want[i]);
    oclnn_graph_release(g);

    /* a loss reached only through integers depends on no parameter */
    g = oclnn_graph_create(tu_context());
    p = oclnn_param(g, "p", 1, (const int64_t[]){5});
    loss = oclnn_sum_all(g, oclnn_cast(g, oclnn_cast(g, p, I64), F32));
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(oclnn_graph_backward(g, loss), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "no parameter"), "message: %s", oclnn_last_error());
    oclnn_graph_release(g);
}
END_TEST

START_TEST(test_unknown_dtype_is_a_clear_error)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", I64, 2, (const int64_t[]){3, 4});
    ck_assert_ptr_null(oclnn_cast(g, x, (oclnn_dtype)7));
    ck_assert_ptr_null(oclnn_cast(g, x, F32)); /* sticky: later constructors are no-ops */
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "cast") && strstr(oclnn_last_error(), "unknown dtype 7") &&
                      strstr(oclnn_last_error(), "[3, 4]"),
                  "message: %s", oclnn_last_error());
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cast");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_every_pair_contiguous);
    tcase_add_test(tc, test_every_pair_strided);
    tcase_add_test(tc, test_copies_of_permuted_views);
    tcase_add_test(tc, test_known_values);
    tcase_add_test(tc, test_i64_f32_round_trip);
    tcase_add_test(tc, test_i64_transfers_and_copies);
    tcase_add_test(tc, test_f32_gradient);
    tcase_add_test(tc, test_integer_casts_have_no_gradient);
    tcase_add_test(tc, test_unknown_dtype_is_a_clear_error);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
