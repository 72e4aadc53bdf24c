/* Optimizer steps on embedding tables vs a double-precision host copy of
 * PyTorch's rules: SGD, SparseAdam ("lazy" Adam) and Adagrad on row-sparse
 * gradients, Adagrad on a dense one. A few steps, one of them accumulating
 * two runs (rows repeated across the runs); rows absent from a step's
 * gradient must keep every bit of their value and optimizer state. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

enum { V = 23, D = 5, NI = 9, STEPS = 3 };

typedef enum { K_SGD, K_ADAM, K_ADAGRAD } kind;

typedef struct cfg {
    kind k;
    int sparse;
    double lr, beta1, beta2, eps, lr_decay, wd, init_acc;
} cfg;

static uint64_t next64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* One step of the reference on row-major [V, D] doubles; present[r]: row r
 * is in the (sparse) gradient. Dense: every row is updated. */
static void ref_step(const cfg *c, int64_t t, double *p, const double *g, const int *present, double *s0, double *s1)
{
    double clr = c->lr / (1 + (double)(t - 1) * c->lr_decay);
    double bc1 = 1 - pow(c->beta1, (double)t), bc2 = 1 - pow(c->beta2, (double)t);
    for (int r = 0; r < V; r++) {
        if (c->sparse && !present[r]) continue;
        for (int k = 0; k < D; k++) {
            int e = r * D + k;
            double grad = g[e];
            if (c->k == K_SGD) {
                p[e] -= c->lr * grad;
            } else if (c->k == K_ADAM) { /* SparseAdam */
                s0[e] += (grad - s0[e]) * (1 - c->beta1);
                s1[e] += (grad * grad - s1[e]) * (1 - c->beta2);
                p[e] -= c->lr * sqrt(bc2) / bc1 * s0[e] / (sqrt(s1[e]) + c->eps);
            } else {
                grad += c->wd * p[e];
                s0[e] += grad * grad;
                p[e] -= clr * grad / (sqrt(s0[e]) + c->eps);
            }
        }
    }
}

static void check_close(const char *what, int step, const float *got, const double *want)
{
    for (int e = 0; e < V * D; e++)
        ck_assert_msg(fabs(got[e] - want[e]) <= 1e-5 * (1 + fabs(want[e])), "%s after step %d [%d][%d]: %.9g vs %.9g",
                      what, step, e / D, e % D, (double)got[e], want[e]);
}

static void run_config(const cfg *c, uint64_t *rng)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *table = oclnn_param(g, "emb.weight", 2, (const int64_t[]){V, D});
    if (c->sparse) TU_OK(oclnn_param_set_sparse_grad(table, 2));
    oclnn_tensor *ids = oclnn_input(g, "ids", OCLNN_DTYPE_I32, 1, (const int64_t[]){NI});
    oclnn_tensor *w = oclnn_input(g, "w", OCLNN_DTYPE_F32, 2, (const int64_t[]){NI, D});
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_mul(g, oclnn_embedding(g, table, ids, -1), w))));
    TU_OK(oclnn_graph_compile(g, NULL));
    oclnn_optimizer *opt = c->k == K_SGD    ? oclnn_optimizer_sgd(g, (float)c->lr, 0, 0, 0, 0)
                           : c->k == K_ADAM ? oclnn_optimizer_adam(g, (float)c->lr, (float)c->beta1, (float)c->beta2,
                                                                   (float)c->eps, 0, 0)
                                            : oclnn_optimizer_adagrad(g, (float)c->lr, (float)c->lr_decay,
                                                                      (float)c->wd, (float)c->init_acc, (float)c->eps);
    ck_assert_msg(opt != NULL, "%s", oclnn_last_error());
    int nstates = oclnn_optimizer_state_count(opt);
    ck_assert_int_eq(nstates, c->k == K_SGD ? 0 : c->k == K_ADAM ? 2 : 1);
    if (c->k == K_ADAGRAD) ck_assert_str_eq(oclnn_optimizer_state_name(opt, 0), "emb.weight.sum");

    float pf[V * D], prev[V * D], sf[2][V * D], sprev[2][V * D], wf[NI * D];
    double p[V * D], s[2][V * D], gsum[V * D];
    tu_fill_uniform(pf, V * D, -1, 1, rng);
    TU_OK(oclnn_tensor_write(table, pf, sizeof pf));
    for (int e = 0; e < V * D; e++) {
        p[e] = pf[e];
        s[0][e] = c->k == K_ADAGRAD ? (double)(float)c->init_acc : 0;
        s[1][e] = 0;
        sf[0][e] = (float)s[0][e];
        sf[1][e] = 0;
    }
    for (int step = 1; step <= STEPS; step++) {
        int present[V] = {0}, runs = step == 2 ? 2 : 1;
        memset(gsum, 0, sizeof gsum);
        TU_OK(oclnn_graph_zero_grad(g));
        for (int r = 0; r < runs; r++) {
            int32_t idv[NI];
            for (int i = 0; i < NI; i++) idv[i] = (int32_t)(next64(rng) % V);
            idv[0] = idv[NI - 1] = 5 + step; /* a repeated row, in both runs of step 2 */
            tu_fill_uniform(wf, NI * D, -1, 1, rng);
            for (int i = 0; i < NI; i++) {
                present[idv[i]] = 1;
                for (int k = 0; k < D; k++) gsum[idv[i] * D + k] += wf[i * D + k];
            }
            TU_OK(oclnn_tensor_write(ids, idv, sizeof idv));
            TU_OK(oclnn_tensor_write(w, wf, sizeof wf));
            TU_OK(oclnn_graph_run(g));
        }
        memcpy(prev, pf, sizeof pf);
        memcpy(sprev, sf, sizeof sf);
        TU_OK(oclnn_optimizer_step(opt));
        ref_step(c, step, p, gsum, present, s[0], s[1]);
        TU_OK(oclnn_tensor_read(table, pf, sizeof pf));
        check_close("param", step, pf, p);
        for (int k = 0; k < nstates; k++) {
            TU_OK(oclnn_optimizer_state_read(opt, k, sf[k], sizeof sf[k]));
            check_close(oclnn_optimizer_state_name(opt, k), step, sf[k], s[k]);
        }
        if (!c->sparse) continue;
        for (int e = 0; e < V * D; e++) {
            if (present[e / D]) continue;
            ck_assert_msg(memcmp(&pf[e], &prev[e], sizeof(float)) == 0, "absent row %d changed", e / D);
            for (int k = 0; k < nstates; k++)
                ck_assert_msg(memcmp(&sf[k][e], &sprev[k][e], sizeof(float)) == 0, "state of absent row %d changed",
                              e / D);
        }
    }
    ck_assert_int_eq(oclnn_optimizer_get_step(opt), STEPS);
    oclnn_optimizer_release(opt);
    oclnn_graph_release(g);
}

START_TEST(test_sparse_sgd)
{
    uint64_t rng = tu_seed() + 11;
    run_config(&(cfg){.k = K_SGD, .sparse = 1, .lr = 0.3}, &rng);
}
END_TEST

START_TEST(test_sparse_adam_is_lazy)
{
    uint64_t rng = tu_seed() + 12;
    run_config(&(cfg){.k = K_ADAM, .sparse = 1, .lr = 0.05, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8}, &rng);
    run_config(&(cfg){.k = K_ADAM, .sparse = 1, .lr = 0.2, .beta1 = 0.5, .beta2 = 0.75, .eps = 1e-3}, &rng);
}
END_TEST

START_TEST(test_adagrad_sparse_and_dense)
{
    uint64_t rng = tu_seed() + 13;
    run_config(&(cfg){.k = K_ADAGRAD, .sparse = 1, .lr = 0.1, .lr_decay = 0.05, .init_acc = 0.1, .eps = 1e-10},
               &rng);
    run_config(&(cfg){.k = K_ADAGRAD, .sparse = 0, .lr = 0.1, .lr_decay = 0.05, .wd = 0.01, .init_acc = 0.1,
                      .eps = 1e-10},
               &rng);
    run_config(&(cfg){.k = K_ADAGRAD, .sparse = 0, .lr = 0.5, .eps = 1e-6}, &rng);
}
END_TEST

START_TEST(test_adagrad_hyper_parameters)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *p = oclnn_param(g, "p", 1, (const int64_t[]){3});
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, p)));
    TU_OK(oclnn_graph_compile(g, NULL));
    ck_assert_ptr_null(oclnn_optimizer_adagrad(g, -1, 0, 0, 0, 1e-10f));
    ck_assert_msg(strstr(oclnn_last_error(), "adagrad: invalid"), "%s", oclnn_last_error());
    ck_assert_ptr_null(oclnn_optimizer_adagrad(g, 0.1f, 0, 0, -0.5f, 1e-10f));
    oclnn_optimizer *opt = oclnn_optimizer_adagrad(g, 0.1f, 0, 0, 0, 1e-10f);
    ck_assert_ptr_nonnull(opt);
    ck_assert_str_eq(oclnn_optimizer_name(opt), "adagrad");
    oclnn_optimizer_release(opt);
    oclnn_graph_release(g);
}
END_TEST

/* A sparse table trained with Adagrad resumes from a checkpoint exactly:
 * weights, "<param>.sum" and the hyper-parameters (lr_decay included). */
static oclnn_graph *small_graph(oclnn_tensor **table, oclnn_tensor **ids)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    *table = oclnn_param(g, "emb.weight", 2, (const int64_t[]){V, D});
    TU_OK(oclnn_param_set_sparse_grad(*table, 1));
    *ids = oclnn_input(g, "ids", OCLNN_DTYPE_I64, 1, (const int64_t[]){NI});
    TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_embedding(g, *table, *ids, 0))));
    TU_OK(oclnn_graph_compile(g, NULL));
    return g;
}

START_TEST(test_adagrad_checkpoint_round_trip)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/oclnn_test_sparse_adagrad_%ld.safetensors", (long)getpid());
    oclnn_tensor *ta, *ia, *tb, *ib;
    oclnn_graph *a = small_graph(&ta, &ia), *b = small_graph(&tb, &ib);
    TU_OK(oclnn_graph_init_params(a, 5));
    oclnn_optimizer *oa = oclnn_optimizer_adagrad(a, 0.2f, 0.1f, 0, 0.25f, 1e-10f);
    oclnn_optimizer *ob = oclnn_optimizer_adagrad(b, 1.0f, 0, 0, 0, 1e-6f);
    ck_assert_ptr_nonnull(oa);
    ck_assert_ptr_nonnull(ob);
    const int64_t idv[NI] = {0, 1, 1, 4, 9, 9, 9, 22, 3};
    TU_OK(oclnn_tensor_write(ia, idv, sizeof idv));
    TU_OK(oclnn_tensor_write(ib, idv, sizeof idv));
    TU_OK(oclnn_graph_zero_grad(a));
    TU_OK(oclnn_graph_run(a));
    TU_OK(oclnn_optimizer_step(oa));
    TU_OK(oclnn_checkpoint_save(a, oa, path));
    TU_OK(oclnn_checkpoint_load(b, ob, path));
    ck_assert_int_eq(oclnn_optimizer_get_step(ob), 1);
    for (int step = 0; step < 2; step++) {
        TU_OK(oclnn_graph_zero_grad(a));
        TU_OK(oclnn_graph_zero_grad(b));
        TU_OK(oclnn_graph_run(a));
        TU_OK(oclnn_graph_run(b));
        TU_OK(oclnn_optimizer_step(oa));
        TU_OK(oclnn_optimizer_step(ob));
    }
    float pa[V * D], pb[V * D], sa[V * D], sb[V * D];
    TU_OK(oclnn_tensor_read(ta, pa, sizeof pa));
    TU_OK(oclnn_tensor_read(tb, pb, sizeof pb));
    TU_OK(oclnn_optimizer_state_read(oa, 0, sa, sizeof sa));
    TU_OK(oclnn_optimizer_state_read(ob, 0, sb, sizeof sb));
    ck_assert(memcmp(pa, pb, sizeof pa) == 0);
    ck_assert(memcmp(sa, sb, sizeof sa) == 0);
    ck_assert_float_eq(sa[0], 0.25f); /* row 0 is padding: never updated */
    remove(path);
    oclnn_optimizer_release(oa);
    oclnn_optimizer_release(ob);
    oclnn_graph_release(a);
    oclnn_graph_release(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sparse_optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_sparse_sgd);
    tcase_add_test(tc, test_sparse_adam_is_lazy);
    tcase_add_test(tc, test_adagrad_sparse_and_dense);
    tcase_add_test(tc, test_adagrad_hyper_parameters);
    tcase_add_test(tc, test_adagrad_checkpoint_round_trip);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
