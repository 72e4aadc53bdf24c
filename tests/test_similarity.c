/* Similarity and search vs double-precision host references: top-k on odd
 * sizes (M, N in 1, 7, 33, 300; k in 1, 5, 64, N), largest and smallest,
 * with exact ties, NaN, +-0 and infinities, one- and two-stage selection,
 * bit-exact values and indices; its gradient; L2 normalisation and the
 * pairwise metrics forward and backward on every input layout; the chunked
 * k-NN search with small forced chunks (ties across chunks); and the errors
 * for bad inputs. Outputs are poisoned before every run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/similarity.h"
#include "testutil.h"

static uint64_t next64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ---- host reference for the order: written independently of the
 * library's oclnn_topk_before. NaN last, then by value, then by index. */
typedef struct ref_item {
    double v;
    int64_t i;
    int largest;
} ref_item;

static int ref_cmp(const void *pa, const void *pb)
{
    const ref_item *a = pa, *b = pb;
    int na = isnan(a->v), nb = isnan(b->v);
    if (na != nb) return na ? 1 : -1;
    if (!na && a->v != b->v) return (a->largest ? a->v > b->v : a->v < b->v) ? -1 : 1;
    return a->i < b->i ? -1 : (a->i > b->i);
}

/* values/indices [M, k] of the k best of each row of x [M, N]. */
static void ref_topk(const float *x, int64_t M, int64_t N, int64_t k, int largest, float *v, int32_t *idx)
{
    ref_item *it = malloc(sizeof *it * (size_t)N);
    for (int64_t r = 0; r < M; r++) {
        for (int64_t j = 0; j < N; j++) it[j] = (ref_item){x[r * N + j], j, largest};
        qsort(it, (size_t)N, sizeof *it, ref_cmp);
        for (int64_t j = 0; j < k; j++) {
            v[r * k + j] = x[r * N + it[j].i];
            idx[r * k + j] = (int32_t)it[j].i;
        }
    }
    free(it);
}

enum { DATA_RANDOM, DATA_TIES, DATA_SPECIAL, DATA_KINDS };

static void make_scores(float *x, size_t n, int kind, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next64(rng);
        if (kind == DATA_RANDOM) x[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 4.0 - 2.0);
        else if (kind == DATA_TIES) x[i] = (float)((int)(r % 5) - 2) * 0.5f;
        else {
            static const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, INFINITY, -INFINITY, NAN, 1.0f, 3.0f};
            x[i] = special[r % 10];
        }
    }
}

static int same_value(float a, float b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0; /* -0 stays -0 */
}

/* One graph with both orders on the same scores; each data kind is run
 * on it. parts: forced parts (0: automatic). */
static void check_topk(int64_t M, int64_t N, int64_t k, int parts, uint64_t *rng)
{
    oclnn_topk_force_parts = parts;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 2, (const int64_t[]){M, N});
    oclnn_tensor *vi[2], *ii[2];
    for (int o = 0; o < 2; o++) {
        vi[o] = oclnn_topk(g, x, k, o, &ii[o]);
        TU_OK(oclnn_graph_output(g, vi[o]));
        TU_OK(oclnn_graph_output(g, ii[o]));
    }
    oclnn_topk_force_parts = 0;
    TU_OK(oclnn_graph_compile(g, &(oclnn_compile_options){.poison_intermediates = 1}));
    size_t nx = (size_t)(M * N), nk = (size_t)(M * k);
    float *xs = malloc(nx * sizeof *xs), *v = malloc(nk * sizeof *v), *rv = malloc(nk * sizeof *rv);
    int32_t *ix = malloc(nk * sizeof *ix), *ri = malloc(nk * sizeof *ri);
    for (int kind = 0; kind < DATA_KINDS; kind++) {
        make_scores(xs, nx, kind, rng);
        TU_OK(oclnn_tensor_write(x, xs, nx * sizeof *xs));
        for (size_t j = 0; j < nk; j++) {
            v[j] = TU_POISON;
            ix[j] = -7;
        }
        for (int o = 0; o < 2; o++) {
            TU_OK(oclnn_tensor_write(vi[o], v, nk * sizeof *v));
            TU_OK(oclnn_tensor_write(ii[o], ix, nk * sizeof *ix));
        }
        TU_OK(oclnn_graph_run(g));
        for (int o = 0; o < 2; o++) {
            TU_OK(oclnn_tensor_read(vi[o], v, nk * sizeof *v));
            TU_OK(oclnn_tensor_read(ii[o], ix, nk * sizeof *ix));
            ref_topk(xs, M, N, k, o, rv, ri);
            for (size_t j = 0; j < nk; j++)
                ck_assert_msg(ix[j] == ri[j] && same_value(v[j], rv[j]),
                              "topk M %lld N %lld k %lld parts %d %s data %d: [%zu] got (%g, %d), want (%g, %d)",
                              (long long)M, (long long)N, (long long)k, parts, o ? "largest" : "smallest", kind,
                              j, v[j], ix[j], rv[j], ri[j]);
        }
    }
    free(xs);
    free(v);
    free(rv);
    free(ix);
    free(ri);
    oclnn_graph_release(g);
}

START_TEST(test_topk_sizes)
{
    uint64_t rng = tu_seed() + 1;
    const int64_t ms[] = {1, 7, 33}, ns[] = {1, 7, 33, 300}, ks[] = {1, 5, 64, -1};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++) {
                int64_t k = ks[c] < 0 ? ns[b] : ks[c];
                if (k > ns[b] || (c == 3 && (ns[b] == 1 || ns[b] == 5 || ns[b] == 64))) continue;
                check_topk(ms[a], ns[b], k, 0, &rng);
                if (ns[b] / k >= 2) check_topk(ms[a], ns[b], k, 3, &rng); /* two stages */
            }
}
END_TEST

/* Long rows: the automatic two-stage split, k at its limit, many ties. */
START_TEST(test_topk_long_rows)
{
    uint64_t rng = tu_seed() + 2;
    check_topk(2, 100003, 10, 0, &rng);
    check_topk(3, 50001, 1024, 0, &rng);
    check_topk(1, 4099, 1024, 4, &rng);
}
END_TEST

/* The small-k kernel (k <= 32) around its boundary with the radix path
 * (33): every data kind (ties, NaN, +-inf, -0) in both orders, one and two
 * stages, and forced work items per group: 64 on short rows leaves most
 * per-work-item lists shorter than k (empty slots), 8 on long ones merges
 * long lists. */
START_TEST(test_topk_small)
{
    uint64_t rng = tu_seed() + 9;
    const int64_t ks[] = {1, 10, 32, 33}, ns[] = {33, 50, 3001};
    const int wgs[] = {0, 64, 8};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++)
            for (int w = 0; w < 3; w++) {
                if (ks[a] > ns[b]) continue;
                oclnn_topk_force_wg = wgs[w];
                check_topk(5, ns[b], ks[a], 0, &rng);
                if (ns[b] / ks[a] >= 3) check_topk(2, ns[b], ks[a], 3, &rng);
                oclnn_topk_force_wg = 0;
            }
}
END_TEST

/* Rows long enough for the automatic split over several work-groups (and,
 * on a CPU, several work items per group) with small k. */
START_TEST(test_topk_small_long_rows)
{
    uint64_t rng = tu_seed() + 10;
    check_topk(1, 300007, 1, 0, &rng);
    check_topk(3, 70001, 32, 0, &rng);
}
END_TEST

/* d/dscores of sum(w * topk(scores)) is w scattered to the selected columns. */
START_TEST(test_topk_gradient)
{
    uint64_t rng = tu_seed() + 3;
    const int64_t M = 7, N = 33, k = 5;
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_param(g, "x", 2, (const int64_t[]){M, N});
    oclnn_tensor *w = oclnn_input(g, "w", OCLNN_DTYPE_F32, 2, (const int64_t[]){M, k});
    oclnn_tensor *idx;
    oclnn_tensor *v = oclnn_topk(g, x, k, 0, &idx);
    TU_OK(oclnn_graph_output(g, idx));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, v, w))));
    TU_OK(oclnn_graph_compile(g, &(oclnn_compile_options){.poison_intermediates = 1}));
    float *xs = tu_random((size_t)(M * N), -1, 1, &rng), *ws = tu_random((size_t)(M * k), -1, 1, &rng);
    float gx[7 * 33], want[7 * 33] = {0};
    int32_t ix[7 * 5];
    TU_OK(oclnn_tensor_write(x, xs, sizeof gx));
    TU_OK(oclnn_tensor_write(w, ws, sizeof(float) * (size_t)(M * k)));
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(x), gx, sizeof gx));
    TU_OK(oclnn_tensor_read(idx, ix, sizeof ix));
    float rv[7 * 5];
    int32_t ri[7 * 5];
    ref_topk(xs, M, N, k, 0, rv, ri);
    for (int64_t r = 0; r < M; r++)
        for (int64_t j = 0; j < k; j++) {
            ck_assert_int_eq(ix[r * k + j], ri[r * k + j]);
            want[r * N + ri[r * k + j]] = ws[r * k + j];
        }
    for (int j = 0; j < M * N; j++) ck_assert_msg(gx[j] == want[j], "grad[%d] %g want %g", j, gx[j], want[j]);
    free(xs);
    free(ws);
    oclnn_graph_release(g);
}
END_TEST

/* ---- topk forward through the tu_check harness: strided score layouts. */
typedef struct topk_user {
    int64_t M, N, k;
    int largest;
} topk_user;

static oclnn_tensor *build_topk(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    const topk_user *u = user;
    oclnn_tensor *idx;
    return oclnn_topk(g, in[0], u->k, u->largest, &idx);
}

static void ref_topk_case(const double *const *in, double *out, const void *user)
{
    const topk_user *u = user;
    size_t n = (size_t)(u->M * u->N), nk = (size_t)(u->M * u->k);
    float *x = malloc(n * sizeof *x), *v = malloc(nk * sizeof *v);
    int32_t *i = malloc(nk * sizeof *i);
    for (size_t j = 0; j < n; j++) x[j] = (float)in[0][j];
    ref_topk(x, u->M, u->N, u->k, u->largest, v, i);
    for (size_t j = 0; j < nk; j++) out[j] = v[j];
    free(x);
    free(v);
    free(i);
}

START_TEST(test_topk_layouts)
{
    uint64_t rng = tu_seed() + 4;
    const int64_t ks[] = {1, 5, 32, 33}; /* small path, its limit, radix */
    for (int a = 0; a < 4; a++) {
        topk_user u = {7, 40, ks[a], 1};
        tu_op_case c = {.name = "topk", .ninputs = 1, .ndim = {2}, .dims = {{7, 40}}, .lo = {-1}, .hi = {1},
                        .build = build_topk, .reference = ref_topk_case, .user = &u};
        tu_check_forward_layouts(&c, 0, &rng);
        u.largest = 0;
        tu_check_forward_layouts(&c, 0, &rng);
    }
}
END_TEST

/* ---- L2 normalisation */
static oclnn_tensor *build_l2n(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    (void)user;
    return oclnn_l2_normalize(g, in[0], 0);
}

static const int64_t l2n_dims[5][3] = {{7, 33}, {3, 5, 7}, {203, 300}, {97, 1}, {3, 70, 130}};

static void ref_l2n(const double *const *in, double *out, const void *user)
{
    const int64_t *d = user;
    int64_t D = d[2] ? d[2] : d[1], rows = d[2] ? d[0] * d[1] : d[0];
    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        for (int64_t j = 0; j < D; j++) s += in[0][r * D + j] * in[0][r * D + j];
        double n = fmax(sqrt(s), 1e-12);
        for (int64_t j = 0; j < D; j++) out[r * D + j] = in[0][r * D + j] / n;
    }
}

START_TEST(test_l2_normalize)
{
    uint64_t rng = tu_seed() + 5;
    for (int s = 0; s < 2; s++) {
        tu_op_case c = {.name = "l2_normalize", .ninputs = 1, .ndim = {s ? 3 : 2}, .lo = {-1}, .hi = {1},
                        .build = build_l2n, .reference = ref_l2n, .user = l2n_dims[s]};
        memcpy(c.dims[0], l2n_dims[s], sizeof l2n_dims[s]);
        tu_check_forward_layouts(&c, 1e-10, &rng);
        tu_check_gradient_layouts(&c, 1e-3, 1e-6, 60, &rng);
    }
}
END_TEST

/* A zero row stays zero (x / eps), and its gradient is dy / eps. */
/* Long rows (several columns per work item), one-column rows, and row
 * counts that leave the last group of rows partial. */
START_TEST(test_l2_normalize_shapes)
{
    uint64_t rng = tu_seed() + 11;
    for (int s = 2; s < 5; s++) {
        tu_op_case c = {.name = "l2_normalize", .ninputs = 1, .ndim = {s == 4 ? 3 : 2}, .lo = {-1}, .hi = {1},
                        .build = build_l2n, .reference = ref_l2n, .user = l2n_dims[s]};
        memcpy(c.dims[0], l2n_dims[s], sizeof l2n_dims[s]);
        tu_check_forward_layouts(&c, 1e-10, &rng);
    }
}
END_TEST

START_TEST(test_l2_normalize_zero_row)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_param(g, "x", 2, (const int64_t[]){2, 3});
    oclnn_tensor *y = oclnn_l2_normalize(g, x, 0.5f);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, y)));
    TU_OK(oclnn_graph_compile(g, &(oclnn_compile_options){.poison_intermediates = 1}));
    const float xs[6] = {0, 0, 0, 3, 0, 4};
    float ys[6], gx[6];
    TU_OK(oclnn_tensor_write(x, xs, sizeof xs));
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, ys, sizeof ys));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(x), gx, sizeof gx));
    const float want_y[6] = {0, 0, 0, 0.6f, 0, 0.8f};
    for (int j = 0; j < 6; j++) ck_assert_float_eq_tol(ys[j], want_y[j], 1e-6);
    for (int j = 0; j < 3; j++) ck_assert_float_eq_tol(gx[j], 2.0f, 1e-6);
    /* row 2: (1 - y <1, y>) / 5 */
    double dot = 0.6 + 0.8;
    for (int j = 0; j < 3; j++) ck_assert_float_eq_tol(gx[3 + j], (1 - want_y[3 + j] * dot) / 5, 1e-6);
    oclnn_graph_release(g);
}
END_TEST

/* ---- pairwise metrics */
typedef struct pw_user {
    int64_t M, N, D;
    oclnn_metric metric;
} pw_user;

static oclnn_tensor *build_pw(oclnn_graph *g, oclnn_tensor **in, const void *user)
{
    return oclnn_pairwise(g, in[0], in[1], ((const pw_user *)user)->metric);
}

static void ref_pw(const double *const *in, double *out, const void *user)
{
    const pw_user *u = user;
    for (int64_t i = 0; i < u->M; i++)
        for (int64_t j = 0; j < u->N; j++) {
            const double *a = in[0] + i * u->D, *b = in[1] + j * u->D;
            double dot = 0, na = 0, nb = 0;
            for (int64_t d = 0; d < u->D; d++) {
                dot += a[d] * b[d];
                na += a[d] * a[d];
                nb += b[d] * b[d];
            }
            double r = dot;
            if (u->metric == OCLNN_METRIC_COSINE) r = dot / (fmax(sqrt(na), 1e-12) * fmax(sqrt(nb), 1e-12));
            if (u->metric == OCLNN_METRIC_SQ_EUCLIDEAN) r = fmax(na + nb - 2 * dot, 0);
            out[i * u->N + j] = r;
        }
}

START_TEST(test_pairwise)
{
    uint64_t rng = tu_seed() + 6;
    const int64_t sizes[][3] = {{7, 5, 33}, {1, 7, 1}, {33, 300, 7}, {7, 33, 300}};
    for (int m = 0; m < 3; m++)
        for (int s = 0; s < 4; s++) {
            pw_user u = {sizes[s][0], sizes[s][1], sizes[s][2], (oclnn_metric)m};
            char name[64];
            snprintf(name, sizeof name, "pairwise %s %lldx%lldx%lld", oclnn_metric_name(u.metric),
                     (long long)u.M, (long long)u.N, (long long)u.D);
            tu_op_case c = {.name = name, .ninputs = 2, .ndim = {2, 2}, .dims = {{u.M, u.D}, {u.N, u.D}},
                            .lo = {-1, -1}, .hi = {1, 1}, .build = build_pw, .reference = ref_pw, .user = &u};
            tu_check_forward_layouts(&c, 1e-9, &rng);
            /* cosine of D = 1 vectors is +-1 everywhere: a flat function */
            if (s == 0 || (s == 1 && m != 0)) tu_check_gradient_layouts(&c, 1e-3, 1e-5, 40, &rng);
        }
}
END_TEST

/* ---- chunked k-NN search. Small integer vectors make dot products and
 * distances exact in f32, with many exact ties, also across chunks. */
static void ref_knn(const float *q, int64_t m, const float *t, int64_t n, int64_t dim, int64_t k,
                    oclnn_metric metric, float *v, int32_t *idx, double *sv)
{
    float *s = malloc(sizeof *s * (size_t)(m * n));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double dot = 0, na = 0, nb = 0;
            for (int64_t d = 0; d < dim; d++) {
                dot += (double)q[i * dim + d] * t[j * dim + d];
                na += (double)q[i * dim + d] * q[i * dim + d];
                nb += (double)t[j * dim + d] * t[j * dim + d];
            }
            double r = metric == OCLNN_METRIC_DOT ? dot
                       : metric == OCLNN_METRIC_SQ_EUCLIDEAN
                           ? na + nb - 2 * dot
                           : dot / (fmax(sqrt(na), 1e-12) * fmax(sqrt(nb), 1e-12));
            sv[i * n + j] = r;
            s[i * n + j] = (float)r;
        }
    ref_topk(s, m, n, k, oclnn_metric_largest(metric), v, idx);
    free(s);
}

START_TEST(test_knn_chunks)
{
    uint64_t rng = tu_seed() + 7;
    const int64_t m = 5, n = 33, dim = 7;
    float q[5 * 7], t[33 * 7], v[5 * 33], rv[5 * 33];
    int32_t ix[5 * 33], ri[5 * 33];
    double sv[5 * 33];
    for (int j = 0; j < m * dim; j++) q[j] = (float)((int)(next64(&rng) % 5) - 2);
    for (int j = 0; j < n * dim; j++) t[j] = (float)((int)(next64(&rng) % 3) - 1);
    memcpy(t + 20 * dim, t + 3 * dim, sizeof(float) * dim); /* duplicate rows in other chunks */
    memcpy(t + 32 * dim, t + 3 * dim, sizeof(float) * dim);
    const int64_t ks[] = {1, 5, 10, 33}, chunks[] = {7, 1, 4, 0, 33, 100};
    for (int mt = 0; mt < 3; mt++)
        for (int a = 0; a < 4; a++)
            for (int c = 0; c < 6; c++) {
                oclnn_metric metric = (oclnn_metric)mt;
                int64_t k = ks[a];
                for (int j = 0; j < m * k; j++) {
                    v[j] = TU_POISON;
                    ix[j] = -7;
                }
                TU_OK(oclnn_knn_search(tu_context(), q, m, t, n, dim, k, metric, chunks[c], v, ix));
                ref_knn(q, m, t, n, dim, k, metric, rv, ri, sv);
                for (int64_t j = 0; j < m * k; j++) {
                    if (metric != OCLNN_METRIC_COSINE) {
                        ck_assert_msg(v[j] == rv[j] && ix[j] == ri[j],
                                      "knn %s k %lld chunk %lld [%lld]: (%g, %d) want (%g, %d)",
                                      oclnn_metric_name(metric), (long long)k, (long long)chunks[c], (long long)j,
                                      v[j], ix[j], rv[j], ri[j]);
                    } else { /* rounded: the value matches, and the index has that score */
                        int64_t r = j / k;
                        ck_assert_msg(ix[j] >= 0 && ix[j] < n && fabs(v[j] - rv[j]) < 1e-6 &&
                                          fabs(sv[r * n + ix[j]] - v[j]) < 1e-6,
                                      "knn cosine k %lld chunk %lld [%lld]: (%g, %d) want (%g, %d)", (long long)k,
                                      (long long)chunks[c], (long long)j, v[j], ix[j], rv[j], ri[j]);
                    }
                }
            }
}
END_TEST

/* Cosine search of random vectors against ref_knn: every score within
 * rounding, the row found has that score, and only near-ties may swap. */
static void check_cosine_near(const float *v, const int32_t *ix, const float *rv, const int32_t *ri,
                              const double *sv, int64_t m, int64_t n, int64_t k)
{
    int same = 0;
    for (int64_t j = 0; j < m * k; j++) {
        ck_assert_msg(fabs(v[j] - rv[j]) < 1e-5, "[%lld] %g want %g", (long long)j, v[j], rv[j]);
        ck_assert(fabs(sv[(j / k) * n + ix[j]] - v[j]) < 1e-5);
        same += ix[j] == ri[j];
    }
    ck_assert_int_ge(same, m * k - 4);
}

/* Random real vectors, cosine: the chunked search returns what one chunk does. */
START_TEST(test_knn_cosine_random)
{
    uint64_t rng = tu_seed() + 8;
    const int64_t m = 7, n = 300, dim = 33, k = 64;
    float *q = tu_random((size_t)(m * dim), -1, 1, &rng), *t = tu_random((size_t)(n * dim), -1, 1, &rng);
    float v[7 * 64], rv[7 * 64];
    int32_t ix[7 * 64], ri[7 * 64];
    double *sv = malloc(sizeof *sv * (size_t)(m * n));
    TU_OK(oclnn_knn_search(tu_context(), q, m, t, n, dim, k, OCLNN_METRIC_COSINE, 33, v, ix));
    ref_knn(q, m, t, n, dim, k, OCLNN_METRIC_COSINE, rv, ri, sv);
    check_cosine_near(v, ix, rv, ri, sv, m, n, k);
    free(q);
    free(t);
    free(sv);
}
END_TEST

/* ---- oclnn_knn_index: one table searched repeatedly, with (m, k) changing
 * between calls (the search graph is rebuilt), chunks of 4 rows (the last
 * shorter than k) and the fused scan of up to 4 queries (on and off),
 * exact against the host for small integer data. */
static void check_index(oclnn_knn_index *ix, const float *q, int64_t m, const float *t, int64_t n, int64_t dim,
                        int64_t k, oclnn_metric metric)
{
    float *v = malloc(sizeof *v * (size_t)(m * k)), *rv = malloc(sizeof *rv * (size_t)(m * k));
    int32_t *ix_got = malloc(sizeof *ix_got * (size_t)(m * k)), *ri = malloc(sizeof *ri * (size_t)(m * k));
    double *sv = malloc(sizeof *sv * (size_t)(m * n));
    for (int64_t j = 0; j < m * k; j++) {
        v[j] = TU_POISON;
        ix_got[j] = -7;
    }
    TU_OK(oclnn_knn_index_search(ix, q, m, k, v, ix_got));
    ref_knn(q, m, t, n, dim, k, metric, rv, ri, sv);
    for (int64_t j = 0; j < m * k; j++) {
        int exact = metric != OCLNN_METRIC_COSINE; /* cosine: the value, and the row has it */
        int ok = exact ? v[j] == rv[j] && ix_got[j] == ri[j]
                       : ix_got[j] >= 0 && ix_got[j] < n && fabs(v[j] - rv[j]) < 1e-6 &&
                             fabs(sv[(j / k) * n + ix_got[j]] - v[j]) < 1e-6;
        ck_assert_msg(ok, "index %s m %lld k %lld [%lld]: (%g, %d) want (%g, %d)", oclnn_metric_name(metric),
                      (long long)m, (long long)k, (long long)j, v[j], ix_got[j], rv[j], ri[j]);
    }
    free(v);
    free(rv);
    free(ix_got);
    free(ri);
    free(sv);
}

START_TEST(test_knn_index)
{
    uint64_t rng = tu_seed() + 12;
    const int64_t n = 45, dim = 6, mmax = 9;
    float q[9 * 6], t[45 * 6];
    for (int j = 0; j < mmax * dim; j++) q[j] = (float)((int)(next64(&rng) % 5) - 2);
    for (int j = 0; j < n * dim; j++) t[j] = (float)((int)(next64(&rng) % 3) - 1);
    memcpy(t + 30 * dim, t + 2 * dim, sizeof(float) * dim); /* equal rows in other chunks */
    memcpy(t + 44 * dim, t + 2 * dim, sizeof(float) * dim);
    size_t saved = oclnn_knn_score_bytes;
    for (int mt = 0; mt < 3; mt++) {
        oclnn_knn_index *ix = NULL;
        TU_OK(oclnn_knn_index_create(tu_context(), t, n, dim, (oclnn_metric)mt, &ix));
        /* m <= 4 and k <= 32 take the fused scan (unless turned off) */
        const int64_t ms[] = {9, 9, 1, 9, 4, 4, 5, 1}, ks[] = {10, 10, 1, 45, 32, 33, 10, 10};
        for (int c = 0; c < 8; c++)
            for (int nf = 0; nf < 2; nf++) {
                oclnn_knn_no_fused = nf;
                oclnn_knn_score_bytes = c == 3 ? saved : sizeof(float) * 4 * (size_t)ms[c]; /* 4-row chunks */
                check_index(ix, q, ms[c], t, n, dim, ks[c], (oclnn_metric)mt);
            }
        oclnn_knn_no_fused = 0;
        oclnn_knn_score_bytes = saved;
        oclnn_knn_index_release(&ix);
        ck_assert_ptr_null(ix);
        oclnn_knn_index_release(&ix); /* twice: a no-op */
        oclnn_knn_index_release(NULL);
    }
}
END_TEST

/* Real vectors, cosine, 32 neighbours of 300 rows, in many chunks: the
 * scores agree with the host in double, the rows wherever no near tie. */
START_TEST(test_knn_index_random)
{
    uint64_t rng = tu_seed() + 13;
    const int64_t m = 20, n = 3000, dim = 40, k = 32;
    float *q = tu_random((size_t)(m * dim), -1, 1, &rng), *t = tu_random((size_t)(n * dim), -1, 1, &rng);
    float *v = malloc(sizeof *v * (size_t)(m * k)), *rv = malloc(sizeof *rv * (size_t)(m * k));
    int32_t *ix = malloc(sizeof *ix * (size_t)(m * k)), *ri = malloc(sizeof *ri * (size_t)(m * k));
    double *sv = malloc(sizeof *sv * (size_t)(m * n));
    oclnn_knn_index *index = NULL;
    size_t saved = oclnn_knn_score_bytes;
    oclnn_knn_score_bytes = sizeof(float) * (size_t)(m * 700);
    TU_OK(oclnn_knn_index_create(tu_context(), t, n, dim, OCLNN_METRIC_COSINE, &index));
    TU_OK(oclnn_knn_index_search(index, q, m, k, v, ix));
    oclnn_knn_score_bytes = saved;
    ref_knn(q, m, t, n, dim, k, OCLNN_METRIC_COSINE, rv, ri, sv);
    check_cosine_near(v, ix, rv, ri, sv, m, n, k);
    TU_OK(oclnn_knn_index_search(index, q, 3, k, v, ix)); /* the fused scan: the first 3 queries */
    check_cosine_near(v, ix, rv, ri, sv, 3, n, k);
    oclnn_knn_index_release(&index);
    free(q);
    free(t);
    free(v);
    free(rv);
    free(ix);
    free(ri);
    free(sv);
}
END_TEST

/* ---- leave-one-out precision@k. A hand-worked case: points on a line
 * (x, 0), euclidean, k = 2; row 6 duplicates row 0, so for row 6 the
 * search ranks row 0 (lower index, same distance) before the row itself. */
START_TEST(test_knn_precision_by_hand)
{
    const float x[7] = {0, 1, 3, 7, 8, 20, 0};
    const int32_t labels[7] = {0, 0, 1, 1, 1, 0, 1};
    float v[14] = {0};
    for (int i = 0; i < 7; i++) v[2 * i] = x[i];
    /* neighbours (ties to the lower row) and how many share the label */
    const int32_t want[7][2] = {{6, 1}, {0, 6}, {1, 0}, {4, 2}, {3, 2}, {4, 3}, {0, 1}};
    int32_t got[7 * 2];
    double overall, per_class[3];
    TU_OK(oclnn_knn_precision(tu_context(), v, 7, 2, labels, 3, 2, OCLNN_METRIC_SQ_EUCLIDEAN, &overall, per_class,
                              got));
    for (int i = 0; i < 7; i++)
        ck_assert_msg(got[2 * i] == want[i][0] && got[2 * i + 1] == want[i][1], "row %d: %d %d, want %d %d", i,
                      got[2 * i], got[2 * i + 1], want[i][0], want[i][1]);
    /* per row 1/2, 1/2, 0, 1, 1, 0, 0 */
    ck_assert_double_eq_tol(overall, 3.0 / 7.0, 1e-12);
    ck_assert_double_eq_tol(per_class[0], 1.0 / 3.0, 1e-12); /* rows 0, 1, 5 */
    ck_assert_double_eq_tol(per_class[1], 2.0 / 4.0, 1e-12); /* rows 2, 3, 4, 6 */
    ck_assert(isnan(per_class[2]));                           /* no row has label 2 */

    ck_assert_int_eq(oclnn_knn_precision(tu_context(), v, 7, 2, labels, 3, 7, OCLNN_METRIC_COSINE, &overall, NULL,
                                         NULL), OCLNN_ERR_INVALID_ARG); /* k > n - 1 */
    ck_assert_msg(strstr(oclnn_last_error(), "k = 7"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_knn_precision(tu_context(), v, 7, 2, labels, 1, 2, OCLNN_METRIC_COSINE, &overall, NULL,
                                         NULL), OCLNN_ERR_INVALID_ARG); /* label 1 of 1 class */
    ck_assert_msg(strstr(oclnn_last_error(), "labels[2] = 1"), "%s", oclnn_last_error());
}
END_TEST

/* Random vectors against a host search of each row among the others:
 * integer vectors under euclidean (exact, with ties), real ones under
 * cosine (only near-ties may swap). */
START_TEST(test_knn_precision_random)
{
    uint64_t rng = tu_seed() + 9;
    enum { N = 150, DIM = 9, K = 6, C = 4 };
    float *v = malloc(sizeof *v * N * DIM), rv[N * (K + 1)];
    int32_t labels[N], got[N * K], ri[N * (K + 1)];
    double *sv = malloc(sizeof *sv * N * N);
    for (int i = 0; i < N; i++) labels[i] = (int32_t)(next64(&rng) % C);
    for (int mt = 0; mt < 2; mt++) {
        oclnn_metric metric = mt ? OCLNN_METRIC_SQ_EUCLIDEAN : OCLNN_METRIC_COSINE;
        if (mt) for (int j = 0; j < N * DIM; j++) v[j] = (float)((int)(next64(&rng) % 5) - 2);
        else tu_fill_uniform(v, N * DIM, -1, 1, &rng);
        double overall, per_class[C], want = 0, want_class[C] = {0}, rows[C] = {0};
        TU_OK(oclnn_knn_precision(tu_context(), v, N, DIM, labels, C, K, metric, &overall, per_class, got));
        ref_knn(v, N, v, N, DIM, K + 1, metric, rv, ri, sv);
        int same = 0;
        for (int i = 0; i < N; i++) {
            int hits = 0;
            for (int j = 0, kept = 0; j <= K && kept < K; j++) {
                if (ri[i * (K + 1) + j] == i) continue;
                same += ri[i * (K + 1) + j] == got[i * K + kept];
                hits += labels[got[i * K + kept]] == labels[i]; /* the precision of what was returned */
                kept++;
            }
            want += hits / (double)K;
            want_class[labels[i]] += hits / (double)K;
            rows[labels[i]]++;
            for (int j = 0; j < K; j++) ck_assert_msg(got[i * K + j] != i, "row %d is its own neighbour", i);
        }
        ck_assert_msg(same >= (mt ? N * K : N * K - 4), "%s: %d of %d neighbours as the host finds them",
                      oclnn_metric_name(metric), same, N * K);
        ck_assert_double_eq_tol(overall, want / N, 1e-12);
        for (int c = 0; c < C; c++) ck_assert_double_eq_tol(per_class[c], want_class[c] / rows[c], 1e-12);
    }
    free(v);
    free(sv);
}
END_TEST

/* ---- errors */
static void expect_graph_error(oclnn_graph *g, oclnn_status want, const char *what)
{
    ck_assert_msg(oclnn_graph_status(g) == want, "%s: status %s (%s)", what, oclnn_status_name(oclnn_graph_status(g)),
                  oclnn_graph_error(g));
    oclnn_graph_release(g);
}

START_TEST(test_errors)
{
    oclnn_context *ctx = tu_context();
    oclnn_tensor *idx;
    const int64_t k_bad[] = {0, -1, 8, 2000};
    for (int a = 0; a < 4; a++) {
        oclnn_graph *g = oclnn_graph_create(ctx);
        oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 2, (const int64_t[]){3, k_bad[a] == 2000 ? 3000 : 7});
        ck_assert_ptr_null(oclnn_topk(g, x, k_bad[a], 1, &idx));
        ck_assert_ptr_null(idx);
        expect_graph_error(g, OCLNN_ERR_INVALID_ARG, "topk bad k");
    }
    oclnn_graph *g = oclnn_graph_create(ctx);
    ck_assert_ptr_null(oclnn_topk(g, oclnn_input(g, "x", OCLNN_DTYPE_I32, 2, (const int64_t[]){3, 7}), 2, 1, &idx));
    expect_graph_error(g, OCLNN_ERR_SHAPE, "topk i32");
    g = oclnn_graph_create(ctx);
    ck_assert_ptr_null(oclnn_topk(g, oclnn_input_f32(g, "x", 2, 3, 7), 2, 1, NULL));
    expect_graph_error(g, OCLNN_ERR_INVALID_ARG, "topk NULL indices");
    for (int m = 0; m < 3; m++) {
        g = oclnn_graph_create(ctx);
        ck_assert_ptr_null(oclnn_pairwise(g, oclnn_input_f32(g, "a", 2, 3, 7), oclnn_input_f32(g, "b", 2, 4, 8),
                                          (oclnn_metric)m));
        ck_assert_ptr_nonnull(strstr(oclnn_graph_error(g), "[3, 7]"));
        expect_graph_error(g, OCLNN_ERR_SHAPE, "pairwise mismatched D");
        g = oclnn_graph_create(ctx);
        ck_assert_ptr_null(oclnn_pairwise(g, oclnn_input_f32(g, "a", 3, 2, 3, 7), oclnn_input_f32(g, "b", 2, 4, 7),
                                          (oclnn_metric)m));
        expect_graph_error(g, OCLNN_ERR_SHAPE, "pairwise 3-D");
    }
    g = oclnn_graph_create(ctx);
    ck_assert_ptr_null(oclnn_pairwise(g, oclnn_input_f32(g, "a", 2, 3, 7), oclnn_input_f32(g, "b", 2, 4, 7),
                                      (oclnn_metric)9));
    expect_graph_error(g, OCLNN_ERR_INVALID_ARG, "pairwise metric");
    g = oclnn_graph_create(ctx);
    ck_assert_ptr_null(oclnn_l2_normalize(g, oclnn_input(g, "x", OCLNN_DTYPE_I64, 1, (const int64_t[]){3}), 0));
    expect_graph_error(g, OCLNN_ERR_SHAPE, "l2_normalize i64");

    float q[6] = {0}, t[12] = {0}, v[8];
    int32_t ix[8];
    ck_assert_int_eq(oclnn_knn_search(ctx, q, 2, t, 4, 3, 5, OCLNN_METRIC_DOT, 0, v, ix), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_search(ctx, q, 2, t, 4, 3, 0, OCLNN_METRIC_DOT, 0, v, ix), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_search(ctx, q, 2, t, 4, 0, 1, OCLNN_METRIC_DOT, 0, v, ix), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_search(ctx, q, 2, t, 4, 3, 1, OCLNN_METRIC_DOT, -1, v, ix), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_search(ctx, q, 2, t, 4, 3, 1, (oclnn_metric)7, 0, v, ix), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_search(ctx, NULL, 2, t, 4, 3, 1, OCLNN_METRIC_DOT, 0, v, ix), OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "NULL"));

    /* the index: bad create arguments leave *out NULL */
    oclnn_knn_index *index = (oclnn_knn_index *)&ix; /* overwritten with NULL */
    ck_assert_int_eq(oclnn_knn_index_create(ctx, t, 0, 3, OCLNN_METRIC_DOT, &index), OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_null(index);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "bad sizes"));
    ck_assert_int_eq(oclnn_knn_index_create(ctx, t, 4, 0, OCLNN_METRIC_DOT, &index), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_index_create(ctx, t, (int64_t)INT32_MAX + 1, 3, OCLNN_METRIC_DOT, &index),
                     OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_index_create(ctx, t, 4, 3, (oclnn_metric)7, &index), OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "metric 7"));
    ck_assert_int_eq(oclnn_knn_index_create(ctx, NULL, 4, 3, OCLNN_METRIC_DOT, &index), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_index_create(NULL, t, 4, 3, OCLNN_METRIC_DOT, &index), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_index_create(ctx, t, 4, 3, OCLNN_METRIC_DOT, NULL), OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_null(index);
    /* bad searches fail cleanly and leave the index usable */
    TU_OK(oclnn_knn_index_create(ctx, t, 4, 3, OCLNN_METRIC_DOT, &index));
    ck_assert_int_eq(oclnn_knn_index_search(index, q, 2, 5, v, ix), OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(oclnn_last_error(), "k = 5"));
    ck_assert_int_eq(oclnn_knn_index_search(index, q, 2, 0, v, ix), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_index_search(index, q, 0, 1, v, ix), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_index_search(index, q, -3, 1, v, ix), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_index_search(index, NULL, 2, 1, v, ix), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_index_search(index, q, 2, 1, v, NULL), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_knn_index_search(NULL, q, 2, 1, v, ix), OCLNN_ERR_INVALID_ARG);
    q[0] = 1.0f;
    t[3 * 3] = 2.0f; /* the index holds its own copy: row 3 stays zero */
    TU_OK(oclnn_knn_index_search(index, q, 2, 4, v, ix));
    ck_assert_int_eq(ix[0], 0); /* all scores 0: ties by row */
    ck_assert_int_eq(ix[3], 3);
    ck_assert(v[0] == 0.0f && v[3] == 0.0f);
    oclnn_knn_index_release(&index);
    ck_assert_ptr_null(index);
    oclnn_knn_index_release(&index); /* released twice: nothing happens */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("similarity");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_topk_sizes);
    tcase_add_test(tc, test_topk_long_rows);
    tcase_add_test(tc, test_topk_small);
    tcase_add_test(tc, test_topk_small_long_rows);
    tcase_add_test(tc, test_topk_gradient);
    tcase_add_test(tc, test_topk_layouts);
    tcase_add_test(tc, test_l2_normalize);
    tcase_add_test(tc, test_l2_normalize_shapes);
    tcase_add_test(tc, test_l2_normalize_zero_row);
    tcase_add_test(tc, test_pairwise);
    tcase_add_test(tc, test_knn_chunks);
    tcase_add_test(tc, test_knn_cosine_random);
    tcase_add_test(tc, test_knn_index);
    tcase_add_test(tc, test_knn_index_random);
    tcase_add_test(tc, test_knn_precision_by_hand);
    tcase_add_test(tc, test_knn_precision_random);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
