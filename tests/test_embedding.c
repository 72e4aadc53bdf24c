/* Embedding lookup vs a double-precision host reference: odd sizes, i32 and
 * i64 ids, transposed (strided) ids, padding_idx, repeated and out-of-range
 * ids; the table's gradient dense and row-sparse (densified, bit-identical
 * to the dense one, and the same bits when run again), accumulation over
 * runs, the accumulator's capacity, a 2,000,000-row table whose step
 * touches only the rows looked up, and the errors for bad inputs. Outputs
 * are poisoned before every run and every element is checked. max_norm is
 * checked against F.embedding (tests/gen/embedding_max_norm_fixture.py):
 * outputs, the renormalised table and the gradient, with repeated ids,
 * padding_idx, norms 1, 2, 3 and inf, and two runs in a row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { V = 37, D = 13, A = 5, B = 7, N = A * B, RUNS = 2 };

static uint64_t next64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct emb_case {
    int i64, transposed, pad, sparse, max_runs, runs;
    int64_t ids[RUNS][N]; /* logical ids, row-major over [A, B] */
    float table[V * D], w[RUNS][N * D];
} emb_case;

typedef struct emb_result {
    float y[RUNS][N * D], grad[V * D]; /* grad: dense, or the sparse one densified */
} emb_result;

/* Mostly valid ids with many repeats; with bad != 0 also ids outside [0, V). */
static void make_case(emb_case *c, uint64_t *rng, int bad)
{
    tu_fill_uniform(c->table, V * D, -1, 1, rng);
    for (int r = 0; r < RUNS; r++) {
        tu_fill_uniform(c->w[r], N * D, -1, 1, rng);
        for (int i = 0; i < N; i++) c->ids[r][i] = (int64_t)(next64(rng) % (bad ? V + 6 : V)) - (bad ? 3 : 0);
        c->ids[r][3] = c->ids[r][10] = c->ids[r][N - 1] = 11; /* repeats for sure */
        c->ids[r][4] = 2;                                     /* the padding row, when there is one */
    }
}

static oclnn_graph *build(const emb_case *c, oclnn_tensor **table, oclnn_tensor **ids, oclnn_tensor **w,
                          oclnn_tensor **y)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    *table = oclnn_param(g, "emb.weight", 2, (const int64_t[]){V, D});
    if (c->sparse) TU_OK(oclnn_param_set_sparse_grad(*table, c->max_runs));
    oclnn_dtype dt = c->i64 ? OCLNN_DTYPE_I64 : OCLNN_DTYPE_I32;
    *ids = oclnn_input(g, "ids", dt, 2, c->transposed ? (const int64_t[]){B, A} : (const int64_t[]){A, B});
    oclnn_tensor *view = c->transposed ? oclnn_transpose(g, *ids, 0, 1) : *ids;
    *w = oclnn_input(g, "w", OCLNN_DTYPE_F32, 3, (const int64_t[]){A, B, D});
    *y = oclnn_embedding(g, *table, view, c->pad ? 2 : -1);
    TU_OK(oclnn_graph_output(g, *y));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, *y, *w))));
    TU_OK(oclnn_graph_compile(g, &(oclnn_compile_options){.poison_intermediates = 1}));
    return g;
}

/* Ids of run r in the input's own layout and dtype. */
static void write_ids(const emb_case *c, oclnn_tensor *ids, int r)
{
    int64_t raw[N];
    int32_t raw32[N];
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++) raw[c->transposed ? b * A + a : a * B + b] = c->ids[r][a * B + b];
    for (int i = 0; i < N; i++) raw32[i] = (int32_t)raw[i];
    if (c->i64) TU_OK(oclnn_tensor_write(ids, raw, sizeof raw));
    else TU_OK(oclnn_tensor_write(ids, raw32, sizeof raw32));
}

static void run_case(const emb_case *c, emb_result *res)
{
    oclnn_tensor *table, *ids, *w, *y;
    oclnn_graph *g = build(c, &table, &ids, &w, &y);
    TU_OK(oclnn_tensor_write(table, c->table, sizeof c->table));
    TU_OK(oclnn_graph_zero_grad(g));
    for (int r = 0; r < c->runs; r++) {
        write_ids(c, ids, r);
        TU_OK(oclnn_tensor_write(w, c->w[r], sizeof c->w[r]));
        TU_OK(oclnn_tensor_fill(y, TU_POISON));
        TU_OK(oclnn_graph_run(g));
        TU_OK(oclnn_tensor_read(y, res->y[r], sizeof res->y[r]));
        ck_assert_int_eq(tu_count_poison(res->y[r], N * D), 0);
    }
    if (c->sparse) {
        ck_assert_ptr_null(oclnn_tensor_grad(table));
        ck_assert_msg(strstr(oclnn_last_error(), "row-sparse"), "%s", oclnn_last_error());
        for (int i = 0; i < V * D; i++) res->grad[i] = TU_POISON;
        TU_OK(oclnn_sparse_grad_densify(table, res->grad, sizeof res->grad));
    } else {
        TU_OK(oclnn_tensor_read(oclnn_tensor_grad(table), res->grad, sizeof res->grad));
    }
    oclnn_graph_release(g);
}

static int valid_row(const emb_case *c, int64_t id) { return id >= 0 && id < V && !(c->pad && id == 2); }

static void check_against_host(const emb_case *c, const emb_result *res)
{
    double *ref = calloc(V * D, sizeof *ref);
    for (int r = 0; r < c->runs; r++) {
        for (int i = 0; i < N; i++) {
            int64_t id = c->ids[r][i];
            for (int k = 0; k < D; k++) {
                float got = res->y[r][i * D + k];
                if (id < 0 || id >= V) ck_assert_msg(isnan(got), "id %lld: y[%d][%d] = %g, want NaN", (long long)id, i, k, (double)got);
                else ck_assert_msg(got == c->table[id * D + k], "y[%d][%d]: %g vs %g", i, k, (double)got,
                                   (double)c->table[id * D + k]);
                if (valid_row(c, id)) ref[id * D + k] += c->w[r][i * D + k];
            }
        }
    }
    ck_assert_int_eq(tu_count_poison(res->grad, V * D), 0);
    ck_assert_msg(tu_nmse(res->grad, ref, V * D) < 1e-12, "gradient NMSE %g", tu_nmse(res->grad, ref, V * D));
    for (int k = 0; k < D; k++) /* padding and unused rows: exactly zero */
        if (c->pad) ck_assert_float_eq(res->grad[2 * D + k], 0.0f);
    free(ref);
}

/* Every layout and dtype, dense and sparse, one run and two: the sparse
 * gradient equals the dense one bit for bit, and so does a second run. */
START_TEST(test_forward_and_gradients)
{
    uint64_t rng = tu_seed() + 101;
    emb_case *c = calloc(1, sizeof *c);
    emb_result *dense = calloc(1, sizeof *dense), *sparse = calloc(1, sizeof *sparse), *again = calloc(1, sizeof *again);
    for (int variant = 0; variant < 16; variant++) {
        make_case(c, &rng, variant & 8);
        c->i64 = variant & 1;
        c->transposed = (variant >> 1) & 1;
        c->pad = (variant >> 2) & 1;
        c->runs = 1 + (variant % 3 == 0);
        c->max_runs = c->runs;
        c->sparse = 0;
        run_case(c, dense);
        check_against_host(c, dense);
        c->sparse = 1;
        run_case(c, sparse);
        check_against_host(c, sparse);
        run_case(c, again);
        ck_assert_msg(memcmp(sparse->grad, dense->grad, sizeof dense->grad) == 0, "variant %d: sparse != dense",
                      variant);
        ck_assert_msg(memcmp(sparse->grad, again->grad, sizeof dense->grad) == 0, "variant %d: not repeatable",
                      variant);
    }
    free(c);
    free(dense);
    free(sparse);
    free(again);
}
END_TEST

/* The entries: one segment per run, sorted unique rows; zero_grad empties
 * it; a run past max_runs fails (naming the param) until zero_grad. */
START_TEST(test_sparse_entries_and_capacity)
{
    uint64_t rng = tu_seed() + 202;
    emb_case *c = calloc(1, sizeof *c);
    make_case(c, &rng, 1);
    c->sparse = 1;
    c->max_runs = 2;
    c->pad = 1;
    oclnn_tensor *table, *ids, *w, *y;
    oclnn_graph *g = build(c, &table, &ids, &w, &y);
    ck_assert_int_eq(oclnn_param_sparse_grad(table), 2);
    TU_OK(oclnn_tensor_write(table, c->table, sizeof c->table));
    TU_OK(oclnn_tensor_write(w, c->w[0], sizeof c->w[0]));
    int64_t count = -1, expect = 0;
    TU_OK(oclnn_sparse_grad_read(table, NULL, NULL, 0, &count));
    ck_assert_int_eq(count, 0);
    int32_t rows[RUNS * N];
    for (int r = 0; r < 2; r++) {
        write_ids(c, ids, r);
        TU_OK(oclnn_graph_run(g));
        int seen[V] = {0};
        for (int i = 0; i < N; i++)
            if (valid_row(c, c->ids[r][i]) && !seen[c->ids[r][i]]++) expect++;
        TU_OK(oclnn_sparse_grad_read(table, rows, NULL, RUNS * N, &count));
        ck_assert_int_eq(count, expect);
    }
    /* segment 0 = the sorted unique valid rows of run 0 */
    int k = 0;
    for (int row = 0; row < V; row++) {
        int used = 0;
        for (int i = 0; i < N; i++) used |= valid_row(c, c->ids[0][i]) && c->ids[0][i] == row;
        if (used) ck_assert_int_eq(rows[k++], row);
    }
    ck_assert_int_eq(oclnn_sparse_grad_read(table, rows, NULL, 1, &count), OCLNN_ERR_SHAPE);
    oclnn_status s = oclnn_graph_run(g);
    ck_assert_int_eq(s, OCLNN_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(oclnn_last_error(), "emb.weight") && strstr(oclnn_last_error(), "zero_grad"), "%s",
                  oclnn_last_error());
    TU_OK(oclnn_sparse_grad_read(table, NULL, NULL, 0, &count));
    ck_assert_int_eq(count, expect); /* the refused run changed nothing */
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_sparse_grad_read(table, NULL, NULL, 0, &count));
    ck_assert_int_eq(count, 0);
    TU_OK(oclnn_graph_run(g));
    oclnn_graph_release(g);
    free(c);
}
END_TEST

/* 2,000,000 x 8 table: a step changes exactly the rows looked up (by
 * -lr * their summed gradient) and leaves every other bit alone; after
 * zero_grad a step changes nothing. Nothing here sweeps the table except
 * the test's own reads. */
START_TEST(test_huge_table_touches_only_its_rows)
{
    enum { BIGV = 2000000, BD = 8, NI = 64 };
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *table = oclnn_param(g, "big.weight", 2, (const int64_t[]){BIGV, BD});
    TU_OK(oclnn_param_set_sparse_grad(table, 1));
    oclnn_tensor *ids = oclnn_input(g, "ids", OCLNN_DTYPE_I64, 1, (const int64_t[]){NI});
    oclnn_tensor *loss = oclnn_sum_all(g, oclnn_embedding(g, table, ids, -1));
    TU_OK(oclnn_graph_backward(g, loss));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_fill_uniform(table, 7, 1, -1, 1));
    oclnn_optimizer *opt = oclnn_optimizer_sgd(g, 0.5f, 0, 0, 0, 0);
    ck_assert_ptr_nonnull(opt);
    int64_t idv[NI];
    uint64_t rng = tu_seed() + 303;
    for (int i = 0; i < NI; i++) idv[i] = (int64_t)(next64(&rng) % BIGV);
    idv[1] = idv[0];
    idv[NI - 1] = BIGV - 1;
    TU_OK(oclnn_tensor_write(ids, idv, sizeof idv));
    size_t n = (size_t)BIGV * BD;
    float *before = malloc(n * sizeof *before), *after = malloc(n * sizeof *after);
    ck_assert_ptr_nonnull(before);
    ck_assert_ptr_nonnull(after);
    TU_OK(oclnn_tensor_read(table, before, n * sizeof *before));
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_optimizer_step(opt));
    TU_OK(oclnn_tensor_read(table, after, n * sizeof *after));
    for (size_t row = 0; row < BIGV; row++) {
        int hits = 0;
        for (int i = 0; i < NI; i++) hits += idv[i] == (int64_t)row;
        for (int k = 0; k < BD; k++) {
            size_t e = row * BD + k;
            float want = hits ? before[e] - 0.5f * (float)hits : before[e];
            if (after[e] != want)
                ck_abort_msg("row %zu col %d (hits %d): %.9g, want %.9g", row, k, hits, (double)after[e],
                             (double)want);
        }
    }
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_optimizer_step(opt));
    TU_OK(oclnn_tensor_read(table, before, n * sizeof *before));
    ck_assert(memcmp(before, after, n * sizeof *before) == 0);
    free(before);
    free(after);
    oclnn_optimizer_release(opt);
    oclnn_graph_release(g);
}
END_TEST

static const oclnn_st_tensor *need(const oclnn_safetensors *st, int k, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "k%d.%s", k, name);
    const oclnn_st_tensor *t = oclnn_safetensors_find(st, key);
    ck_assert_msg(t != NULL, "fixture tensor %s missing", key);
    return t;
}

/* Every element within 1e-6 of the largest (the renorm scale is f32 here,
 * f64 in PyTorch); the fixture must not be all zeros. */
static void match_torch(const float *got, const oclnn_st_tensor *want, const char *what, int k)
{
    const float *w = want->data;
    size_t n = want->nbytes / sizeof(float);
    double scale = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(w[i]));
        err = fmax(err, fabs((double)got[i] - w[i]));
    }
    ck_assert_msg(scale > 0, "case %d %s: the fixture is all zeros", k, what);
    ck_assert_msg(err <= 1e-6 * scale, "case %d %s: max error %.3g vs PyTorch (largest %.3g)", k, what, err, scale);
}

/* Loop index: fixture case (_i / 4), dense (even) or row-sparse gradient,
 * ids contiguous or read through a transposed view ((_i / 2) % 2: stored
 * [cols, rows], so the renormalising kernels walk them by strides). */
START_TEST(test_max_norm_vs_pytorch)
{
    int k = _i / 4, sparse = _i % 2, transposed = (_i / 2) % 2;
    const char *path = tu_data_path("embedding/max_norm_fixture.safetensors");
    oclnn_safetensors *st;
    TU_OK(oclnn_safetensors_load(path, &st));
    const int32_t *cf = need(st, k, "config")->data;
    const float *pf = need(st, k, "params")->data;
    int64_t vd[2] = {cf[0], cf[1]}, ad[2] = {cf[2], cf[3]}, n = cf[0] * cf[1], m = cf[2] * cf[3] * cf[1];
    int runs = cf[5];
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *table = oclnn_param(g, "emb.weight", 2, vd);
    if (sparse) TU_OK(oclnn_param_set_sparse_grad(table, runs));
    oclnn_tensor *ids_store = oclnn_input(g, "ids", OCLNN_DTYPE_I32, 2,
                                          transposed ? (const int64_t[]){ad[1], ad[0]} : ad);
    oclnn_tensor *ids = transposed ? oclnn_transpose(g, ids_store, 0, 1) : ids_store;
    oclnn_tensor *w = oclnn_input(g, "w", OCLNN_DTYPE_F32, 3, (const int64_t[]){ad[0], ad[1], vd[1]});
    oclnn_embedding_options o = {.max_norm = pf[0], .norm_type = pf[1]};
    oclnn_tensor *y = oclnn_embedding_ex(g, table, ids, cf[4], &o);
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, y, w))));
    TU_OK(oclnn_graph_compile(g, &(oclnn_compile_options){.poison_intermediates = 1}));
    const oclnn_st_tensor *t0 = need(st, k, "table");
    TU_OK(oclnn_tensor_write(table, t0->data, t0->nbytes));
    TU_OK(oclnn_graph_zero_grad(g));
    float *got = malloc((size_t)(m > n ? m : n) * sizeof *got);
    int32_t *ids_t = malloc((size_t)(ad[0] * ad[1]) * sizeof *ids_t);
    for (int r = 0; r < runs; r++) {
        char name[16];
        snprintf(name, sizeof name, "ids.%d", r);
        const oclnn_st_tensor *idv = need(st, k, name);
        const int32_t *idd = idv->data;
        for (int64_t i = 0; i < ad[0] * ad[1]; i++) /* element (i / ad[1], i % ad[1]) */
            ids_t[transposed ? (i % ad[1]) * ad[0] + i / ad[1] : i] = idd[i];
        TU_OK(oclnn_tensor_write(ids_store, ids_t, idv->nbytes));
        snprintf(name, sizeof name, "w.%d", r);
        TU_OK(oclnn_tensor_write(w, need(st, k, name)->data, need(st, k, name)->nbytes));
        TU_OK(oclnn_graph_run(g));
        TU_OK(oclnn_tensor_read(y, got, (size_t)m * sizeof *got));
        snprintf(name, sizeof name, "out.%d", r);
        match_torch(got, need(st, k, name), name, k);
    }
    TU_OK(oclnn_tensor_read(table, got, (size_t)n * sizeof *got));
    match_torch(got, need(st, k, "table_after"), "table_after", k);
    if (sparse) TU_OK(oclnn_sparse_grad_densify(table, got, (size_t)n * sizeof *got));
    else TU_OK(oclnn_tensor_read(oclnn_tensor_grad(table), got, (size_t)n * sizeof *got));
    match_torch(got, need(st, k, "grad"), "grad", k);
    free(got);
    free(ids_t);
    oclnn_graph_release(g);
    oclnn_safetensors_free(st);
}
END_TEST

/* Out-of-range ids under max_norm: NaN rows, and no table row written for
 * them; the valid repeated id renormalises its row once. */
START_TEST(test_max_norm_bad_ids)
{
    enum { SV = 4, SD = 3 };
    const float tab[SV * SD] = {2, 0, 0, 0, 3, 4, 0.5f, 0, 0, 0, 0, -9};
    const int64_t idv[4] = {1, SV + 3, -2, 1};
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *table = oclnn_param(g, "t", 2, (const int64_t[]){SV, SD});
    oclnn_tensor *ids = oclnn_input(g, "ids", OCLNN_DTYPE_I64, 1, (const int64_t[]){4});
    oclnn_tensor *y = oclnn_embedding_ex(g, table, ids, -1, &(oclnn_embedding_options){.max_norm = 1.0f});
    TU_OK(oclnn_graph_output(g, y));
    TU_OK(oclnn_graph_compile(g, NULL));
    TU_OK(oclnn_tensor_write(table, tab, sizeof tab));
    TU_OK(oclnn_tensor_write(ids, idv, sizeof idv));
    TU_OK(oclnn_graph_run(g));
    float out[4 * SD], after[SV * SD];
    TU_OK(oclnn_tensor_read(y, out, sizeof out));
    TU_OK(oclnn_tensor_read(table, after, sizeof after));
    const float s = 1.0f / (5.0f + 1e-7f); /* row 1 = (0, 3, 4), norm 5 */
    for (int c = 0; c < SD; c++) {
        ck_assert_float_eq(out[c], tab[SD + c] * s);
        ck_assert_float_eq(out[3 * SD + c], tab[SD + c] * s);
        ck_assert(isnan(out[SD + c]) && isnan(out[2 * SD + c]));
        ck_assert_float_eq(after[SD + c], tab[SD + c] * s);
        for (int r = 0; r < SV; r++)
            if (r != 1) ck_assert_float_eq(after[r * SD + c], tab[r * SD + c]);
    }
    oclnn_graph_release(g);
}
END_TEST

static void expect_graph_error(oclnn_graph *g, const char *part1, const char *part2)
{
    ck_assert_int_ne(oclnn_graph_status(g), OCLNN_OK);
    const char *msg = oclnn_graph_error(g);
    ck_assert_msg(strstr(msg, part1) && strstr(msg, part2), "message: %s", msg);
}

START_TEST(test_bad_inputs)
{
    const int64_t vd[2] = {V, D}, nd[1] = {4};
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *t = oclnn_param(g, "t", 2, vd);
    ck_assert_ptr_null(oclnn_embedding(g, t, oclnn_input(g, "f", OCLNN_DTYPE_F32, 1, nd), -1));
    expect_graph_error(g, "embedding: ids must be i32 or i64", "f32 [4]");
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    oclnn_tensor *flat = oclnn_param(g, "flat", 1, (const int64_t[]){V});
    ck_assert_ptr_null(oclnn_embedding(g, flat, oclnn_input(g, "i", OCLNN_DTYPE_I32, 1, nd), -1));
    expect_graph_error(g, "table must be a 2-D f32", "[37]");
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    t = oclnn_param(g, "t", 2, vd);
    ck_assert_ptr_null(oclnn_embedding(g, t, oclnn_input(g, "i", OCLNN_DTYPE_I32, 1, nd), V));
    expect_graph_error(g, "padding_idx 37", "[37, 13]");
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    t = oclnn_param(g, "t", 2, vd);
    oclnn_tensor *x = oclnn_input(g, "x", OCLNN_DTYPE_F32, 2, vd);
    ck_assert_int_eq(oclnn_param_set_sparse_grad(x, 1), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "'x' [37, 13] is not a parameter"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_param_set_sparse_grad(flat = oclnn_param(g, "b", 1, nd), 1), OCLNN_ERR_SHAPE);
    ck_assert_int_eq(oclnn_param_set_sparse_grad(t, -1), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_param_set_sparse_grad(NULL, 1), OCLNN_ERR_INVALID_ARG);
    /* a sparse table read by another op: backward names both */
    TU_OK(oclnn_param_set_sparse_grad(t, 1));
    oclnn_tensor *ids = oclnn_input(g, "i", OCLNN_DTYPE_I32, 1, nd);
    oclnn_tensor *loss = oclnn_add(g, oclnn_sum_all(g, oclnn_embedding(g, t, ids, -1)),
                                   oclnn_sum_all(g, oclnn_mul(g, t, x)));
    ck_assert_int_ne(oclnn_graph_backward(g, loss), OCLNN_OK);
    expect_graph_error(g, "'t' has a row-sparse gradient", "'mul'");
    ck_assert_int_eq(oclnn_param_set_sparse_grad(t, 1), OCLNN_ERR_INVALID_ARG); /* too late */
    oclnn_graph_release(g);

    /* sparse settings an optimizer does not support are refused */
    g = oclnn_graph_create(tu_context());
    t = oclnn_param(g, "t", 2, vd);
    TU_OK(oclnn_param_set_sparse_grad(t, 1));
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_embedding(g, t, oclnn_input(g, "i", OCLNN_DTYPE_I64, 1,
                                                                                     nd), -1))));
    TU_OK(oclnn_graph_compile(g, NULL));
    ck_assert_ptr_null(oclnn_optimizer_sgd(g, 0.1f, 0.9f, 0, 0, 0));
    ck_assert_msg(strstr(oclnn_last_error(), "'t' has a row-sparse gradient; momentum"), "%s", oclnn_last_error());
    ck_assert_ptr_null(oclnn_optimizer_adam(g, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1));
    ck_assert_msg(strstr(oclnn_last_error(), "weight decay"), "%s", oclnn_last_error());
    ck_assert_ptr_null(oclnn_optimizer_adagrad(g, 0.1f, 0, 0.01f, 0, 1e-10f));
    ck_assert_msg(strstr(oclnn_last_error(), "adagrad: parameter 't'"), "%s", oclnn_last_error());
    oclnn_optimizer *ok = oclnn_optimizer_adam(g, 0.1f, 0.9f, 0.999f, 1e-8f, 0, 1);
    ck_assert_ptr_nonnull(ok);
    oclnn_optimizer_release(ok);
    oclnn_graph_release(g);

    /* max_norm: bad values, and tables it could not renormalise in place */
    const oclnn_embedding_options bad[2] = {{.max_norm = -1}, {.max_norm = 1, .norm_type = NAN}};
    for (int b = 0; b < 2; b++) {
        g = oclnn_graph_create(tu_context());
        t = oclnn_param(g, "t", 2, vd);
        ck_assert_ptr_null(oclnn_embedding_ex(g, t, oclnn_input(g, "i", OCLNN_DTYPE_I32, 1, nd), -1, &bad[b]));
        expect_graph_error(g, "embedding: max_norm", "must be >= 0");
        oclnn_graph_release(g);
    }
    const oclnn_embedding_options mn = {.max_norm = 1};
    g = oclnn_graph_create(tu_context());
    t = oclnn_param(g, "t", 2, vd);
    ck_assert_ptr_null(oclnn_embedding_ex(g, oclnn_scale(g, t, 2.0f, 0.0f), oclnn_input(g, "i", OCLNN_DTYPE_I32, 1, nd),
                                          -1, &mn));
    expect_graph_error(g, "max_norm renormalises the table in place", "[37, 13] must be a param or input");
    oclnn_graph_release(g);
    g = oclnn_graph_create(tu_context());
    t = oclnn_param(g, "t", 2, (const int64_t[]){D, V});
    ck_assert_ptr_null(oclnn_embedding_ex(g, oclnn_transpose(g, t, 0, 1),
                                          oclnn_input(g, "i", OCLNN_DTYPE_I32, 1, nd), -1, &mn));
    expect_graph_error(g, "max_norm renormalises the table in place", "must be a param or input");
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("embedding");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_forward_and_gradients);
    tcase_add_test(tc, test_sparse_entries_and_capacity);
    tcase_add_test(tc, test_huge_table_touches_only_its_rows);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_loop_test(tc, test_max_norm_vs_pytorch, 0, 20);
    tcase_add_test(tc, test_max_norm_bad_ids);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
