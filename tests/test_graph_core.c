/* The graph core's contracts, one test per defect they fixed: strided
 * views into ops, aliasing in in-place reuse, gradients of extra outputs,
 * state kept across compiles, API misuse, 32-bit limits, the registry. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "graph/graph.h"
#include "testutil.h"
#include "testutil_graph.h"

static float *iota(int n, float scale)
{
    float *v = malloc((size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) v[i] = scale * (float)(i + 1) + 0.25f * (float)(i % 3);
    return v;
}

/* The case a new user tried: add(transpose(x), y) on 3x3 inputs returned x
 * untransposed, because the flat kernel read the view as dense. */
START_TEST(test_binary_op_reads_a_transposed_view)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 2, 3, 3), *y = oclnn_input_f32(g, "y", 2, 3, 3);
    oclnn_tensor *z[4] = {oclnn_add(g, oclnn_transpose(g, x, 0, 1), y), oclnn_sub(g, y, oclnn_transpose(g, x, 0, 1)),
                          oclnn_mul(g, oclnn_transpose(g, x, 0, 1), oclnn_transpose(g, y, 0, 1)),
                          oclnn_relu(g, oclnn_transpose(g, x, 0, 1))};
    for (int k = 0; k < 4; k++) TU_OK(oclnn_graph_output(g, z[k]));
    TU_OK(oclnn_graph_compile(g, NULL));
    float *xv = iota(9, 1.0f), *yv = iota(9, -0.5f), out[9];
    TU_OK(oclnn_tensor_write(x, xv, sizeof out));
    TU_OK(oclnn_tensor_write(y, yv, sizeof out));
    TU_OK(oclnn_graph_run(g));
    for (int k = 0; k < 4; k++) {
        TU_OK(oclnn_tensor_read(z[k], out, sizeof out));
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                float xt = xv[j * 3 + i], want = k == 0 ? xt + yv[i * 3 + j]
                                                 : k == 1 ? yv[i * 3 + j] - xt
                                                 : k == 2 ? xt * yv[j * 3 + i]
                                                          : fmaxf(xt, 0.0f);
                ck_assert_msg(out[i * 3 + j] == want, "op %d [%d,%d]: got %g want %g", k, i, j, out[i * 3 + j], want);
            }
    }
    free(xv);
    free(yv);
    oclnn_graph_release(g);
}
END_TEST

/* mul's backward is mul(grad, b): with b a transposed view it inherited
 * the same misreading. */
START_TEST(test_gradient_through_a_transposed_operand)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *a = oclnn_param(g, "a", 2, (const int64_t[]){3, 4});
    oclnn_tensor *b = oclnn_input_f32(g, "b", 2, 4, 3);
    oclnn_tensor *loss = oclnn_sum_all(g, oclnn_mul(g, a, oclnn_transpose(g, b, 0, 1)));
    TU_OK(oclnn_graph_backward(g, loss));
    TU_OK(oclnn_graph_compile(g, NULL));
    float *av = iota(12, 0.1f), *bv = iota(12, 1.0f), grad[12];
    TU_OK(oclnn_tensor_write(a, av, sizeof grad));
    TU_OK(oclnn_tensor_write(b, bv, sizeof grad));
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(a), grad, sizeof grad));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) ck_assert_float_eq(grad[i * 4 + j], bv[j * 3 + i]);
    free(av);
    free(bv);
    oclnn_graph_release(g);
}
END_TEST

oclnn_tensor *oclnn_grad_accumulate_node(oclnn_graph *g, oclnn_tensor *acc, oclnn_tensor *x);

/* The graph of test_gradients_land_in_their_accumulators: p's gradient
 * is one GEMM read only by its accumulator (fused), q's is the sum of two
 * contributions (an add: not fusable), and acc gets a GEMM that a relu
 * output reads as well (two readers: not fused). */
typedef struct accumulate_graph {
    oclnn_graph *g;
    oclnn_tensor *x, *p, *q, *acc, *r;
} accumulate_graph;

static accumulate_graph accumulate_graph_new(const oclnn_compile_options *opt, const float *xv, const float *pv,
                                             const float *qv)
{
    accumulate_graph a;
    a.g = oclnn_graph_create(tu_context());
    a.x = oclnn_input_f32(a.g, "x", 2, 5, 7);
    a.p = oclnn_param(a.g, "p", 2, (const int64_t[]){3, 7});
    a.q = oclnn_param(a.g, "q", 2, (const int64_t[]){3, 2});
    oclnn_tensor *h = oclnn_linear(a.g, a.x, a.p, NULL); /* [5, 3] */
    oclnn_tensor *y = oclnn_add(a.g, oclnn_matmul(a.g, h, a.q), oclnn_matmul(a.g, oclnn_scale(a.g, h, 0.5f, 1.0f), a.q));
    oclnn_tensor *loss = oclnn_sum_all(a.g, oclnn_mul(a.g, y, y));
    TU_OK(oclnn_graph_backward(a.g, loss));
    oclnn_tensor *m = oclnn_matmul_t(a.g, a.x, 1, a.x, 0); /* [7, 7] */
    a.acc = oclnn_state_new(a.g, "acc", OCLNN_DTYPE_F32, 2, m->dims, 0.5);
    ck_assert_ptr_nonnull(oclnn_grad_accumulate_node(a.g, a.acc, m));
    a.r = oclnn_relu(a.g, m);
    TU_OK(oclnn_graph_output(a.g, a.r));
    TU_OK(oclnn_graph_compile(a.g, opt));
    TU_OK(oclnn_tensor_write(a.x, xv, 35 * sizeof(float)));
    TU_OK(oclnn_tensor_write(a.p, pv, 21 * sizeof(float)));
    TU_OK(oclnn_tensor_write(a.q, qv, 6 * sizeof(float)));
    TU_OK(oclnn_graph_zero_grad(a.g));
    /* twice without zero_grad: the second run must add to the first */
    TU_OK(oclnn_graph_run(a.g));
    TU_OK(oclnn_graph_run(a.g));
    return a;
}

/* A gradient GEMM whose only reader is a parameter's accumulator adds
 * straight into it (beta = 1) and the accumulator node launches nothing;
 * gradients still accumulate over runs, and the cases that cannot be
 * fused (two contributions, a second reader) are left alone. Every value
 * matches the graph compiled without memory reuse, which fuses nothing. */
START_TEST(test_gradients_land_in_their_accumulators)
{
    float *xv = iota(35, 0.05f), *pv = iota(21, -0.03f), *qv = iota(6, 0.2f);
    oclnn_compile_options plain = {.no_memory_reuse = 1};
    accumulate_graph fused = accumulate_graph_new(NULL, xv, pv, qv), ref = accumulate_graph_new(&plain, xv, pv, qv);
    ck_assert_int_eq(tu_accumulate_launches(fused.g, oclnn_tensor_grad(fused.p)), 0);
    ck_assert_int_eq(tu_accumulate_launches(fused.g, oclnn_tensor_grad(fused.q)), 1);
    ck_assert_int_eq(tu_accumulate_launches(fused.g, fused.acc), 1);
    ck_assert_int_eq(tu_accumulate_launches(ref.g, oclnn_tensor_grad(ref.p)), 1);
    struct {
        oclnn_tensor *a, *b;
        int n;
    } pairs[] = {{oclnn_tensor_grad(fused.p), oclnn_tensor_grad(ref.p), 21},
                 {oclnn_tensor_grad(fused.q), oclnn_tensor_grad(ref.q), 6},
                 {fused.acc, ref.acc, 49},
                 {fused.r, ref.r, 49}};
    float a[49], b[49];
    for (int k = 0; k < 4; k++) {
        TU_OK(oclnn_tensor_read(pairs[k].a, a, (size_t)pairs[k].n * sizeof(float)));
        TU_OK(oclnn_tensor_read(pairs[k].b, b, (size_t)pairs[k].n * sizeof(float)));
        for (int i = 0; i < pairs[k].n; i++)
            ck_assert_msg(a[i] == b[i] && a[i] != 0.0f, "tensor %d [%d]: fused %g, unfused %g", k, i, a[i], b[i]);
    }
    /* acc = 0.5 + 2 x^T x, the relu reads x^T x itself */
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 7; j++) {
            double want = 0;
            for (int n = 0; n < 5; n++) want += (double)xv[n * 7 + i] * xv[n * 7 + j];
            ck_assert_float_eq_tol(a[i * 7 + j], (float)want, 1e-4f * (float)want);
        }
    TU_OK(oclnn_tensor_read(fused.acc, a, 49 * sizeof(float)));
    for (int i = 0; i < 49; i++) {
        double want = 0;
        for (int n = 0; n < 5; n++) want += (double)xv[n * 7 + i / 7] * xv[n * 7 + i % 7];
        ck_assert_float_eq_tol(a[i], (float)(0.5 + 2 * want), 1e-4f * (float)(0.5 + 2 * want));
    }
    oclnn_graph_release(fused.g);
    oclnn_graph_release(ref.g);
    free(xv);
    free(pv);
    free(qv);
}
END_TEST

/* add(x, slice(x)) where x dies at the add: writing the sum over x while
 * the slice still reads it corrupts the result. */
START_TEST(test_in_place_reuse_respects_aliasing)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *in = oclnn_input_f32(g, "in", 2, 4, 65);
    oclnn_tensor *x = oclnn_scale(g, in, 1.0f, 0.0f); /* an intermediate: eligible for in-place reuse */
    oclnn_tensor *y = oclnn_add(g, x, oclnn_slice(g, x, 0, 0, 1));
    oclnn_tensor *x2 = oclnn_scale(g, in, 2.0f, 0.0f);
    oclnn_tensor *y2 = oclnn_mul(g, oclnn_slice(g, x2, 0, 3, 4), x2); /* aliasing source second */
    /* outputs are persistent and never written in place: read copies */
    oclnn_tensor *out1 = oclnn_scale(g, y, 1.0f, 0.0f), *out2 = oclnn_scale(g, y2, 1.0f, 0.0f);
    TU_OK(oclnn_graph_output(g, out1));
    TU_OK(oclnn_graph_output(g, out2));
    TU_OK(oclnn_graph_compile(g, NULL));
    ck_assert_msg(y->inplace_of == NULL, "add wrote over a buffer it still reads");
    ck_assert_ptr_null(y2->inplace_of);
    float *iv = iota(260, 1.0f), out[260];
    TU_OK(oclnn_tensor_write(in, iv, sizeof out));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(out1, out, sizeof out));
    for (int i = 0; i < 260; i++) ck_assert_float_eq(out[i], iv[i] + iv[i % 65]);
    TU_OK(oclnn_tensor_read(out2, out, sizeof out));
    for (int i = 0; i < 260; i++) ck_assert_float_eq(out[i], (2 * iv[195 + i % 65]) * (2 * iv[i]));
    free(iv);
    oclnn_graph_release(g);

    /* without aliasing the same chain still runs in place */
    g = oclnn_graph_create(tu_context());
    in = oclnn_input_f32(g, "in", 2, 4, 65);
    oclnn_tensor *other = oclnn_input_f32(g, "other", 2, 1, 65);
    x = oclnn_scale(g, in, 1.0f, 0.0f);
    y = oclnn_add(g, x, other);
    TU_OK(oclnn_graph_output(g, oclnn_relu(g, y)));
    TU_OK(oclnn_graph_compile(g, NULL));
    ck_assert_ptr_eq(y->inplace_of, x);
    oclnn_graph_release(g);
}
END_TEST

/* Gradients into every output of a multi-output node: split into three
 * parts, the loss reads parts 0 and 2 only; part 1's gradient is zero, the
 * others arrive, and retain_grad works on an extra output. */
START_TEST(test_gradients_of_every_output_arrive)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_param(g, "x", 2, (const int64_t[]){3, 9});
    oclnn_tensor *p[3];
    TU_OK(oclnn_split(g, x, 1, 3, (const int64_t[]){2, 3, 4}, p));
    oclnn_tensor *w0 = oclnn_input_f32(g, "w0", 2, 3, 2), *w2 = oclnn_input_f32(g, "w2", 2, 3, 4);
    TU_OK(oclnn_graph_retain_grad(g, p[2]));
    oclnn_tensor *loss = oclnn_add(g, oclnn_sum_all(g, oclnn_mul(g, p[0], w0)), oclnn_sum_all(g, oclnn_mul(g, p[2], w2)));
    TU_OK(oclnn_graph_output(g, p[1]));
    TU_OK(oclnn_graph_backward(g, loss));
    oclnn_compile_options opt = {.poison_intermediates = 1};
    TU_OK(oclnn_graph_compile(g, &opt));
    float *xv = iota(27, 0.5f), *w0v = iota(6, -1.0f), *w2v = iota(12, 0.75f), grad[27], part[12];
    TU_OK(oclnn_tensor_write(x, xv, sizeof grad));
    TU_OK(oclnn_tensor_write(w0, w0v, 6 * sizeof(float)));
    TU_OK(oclnn_tensor_write(w2, w2v, 12 * sizeof(float)));
    TU_OK(oclnn_graph_zero_grad(g));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(p[1], part, 9 * sizeof(float)));
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) ck_assert_float_eq(part[r * 3 + c], xv[r * 9 + 2 + c]);
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(x), grad, sizeof grad));
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 9; c++) {
            float want = c < 2 ? w0v[r * 2 + c] : c < 5 ? 0.0f : w2v[r * 4 + c - 5];
            ck_assert_msg(grad[r * 9 + c] == want, "d x[%d,%d] = %g, want %g", r, c, grad[r * 9 + c], want);
        }
    TU_OK(oclnn_tensor_read(oclnn_tensor_grad(p[2]), part, sizeof part));
    for (int i = 0; i < 12; i++) ck_assert_float_eq(part[i], w2v[i]);
    free(xv);
    free(w0v);
    free(w2v);
    oclnn_graph_release(g);

    /* an output that carries no gradient refuses retain_grad by name */
    g = oclnn_graph_create(tu_context());
    oclnn_tensor *m = oclnn_param(g, "m", 2, (const int64_t[]){2, 5});
    oclnn_tensor *idx = oclnn_argmax(g, m, 1, 0); /* max's index output */
    ck_assert_int_eq(oclnn_graph_retain_grad(g, idx), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "no gradient"), "%s", oclnn_last_error());
    oclnn_graph_release(g);
}
END_TEST

/* Compiling an eval graph that shares a trained graph's state must not
 * reset it (batch norm's running_var used to be refilled with 1). */
START_TEST(test_compiling_a_sharing_graph_keeps_state)
{
    oclnn_graph *train = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(train, "x", 2, 16, 4);
    oclnn_tensor *w = oclnn_param(train, "bn.weight", 1, (const int64_t[]){4});
    oclnn_tensor *b = oclnn_param(train, "bn.bias", 1, (const int64_t[]){4});
    oclnn_tensor *y = oclnn_batch_norm1d(train, x, w, b, "bn", 0.5f, 1e-5f);
    TU_OK(oclnn_graph_output(train, y));
    TU_OK(oclnn_graph_compile(train, NULL));
    float var[4], again[4], ones[4] = {1, 1, 1, 1};
    oclnn_tensor *rv = oclnn_graph_find(train, "bn.running_var");
    TU_OK(oclnn_tensor_read(rv, var, sizeof var));
    ck_assert_mem_eq(var, ones, sizeof var); /* declared initial value, set at allocation */
    float *xv = iota(64, 3.0f);
    TU_OK(oclnn_tensor_write(x, xv, 64 * sizeof(float)));
    TU_OK(oclnn_graph_run(train));
    TU_OK(oclnn_tensor_read(rv, var, sizeof var));
    ck_assert_msg(var[0] > 10.0f, "running_var was not updated: %g", var[0]);

    oclnn_graph *eval = oclnn_graph_create(tu_context());
    oclnn_tensor *ex = oclnn_input_f32(eval, "x", 2, 3, 4);
    oclnn_tensor *ew = oclnn_param(eval, "bn.weight", 1, (const int64_t[]){4});
    oclnn_tensor *eb = oclnn_param(eval, "bn.bias", 1, (const int64_t[]){4});
    TU_OK(oclnn_graph_output(eval, oclnn_batch_norm1d(eval, ex, ew, eb, "bn", 0.5f, 1e-5f)));
    TU_OK(oclnn_graph_share_params(eval, train));
    TU_OK(oclnn_graph_compile(eval, NULL));
    TU_OK(oclnn_tensor_read(oclnn_graph_find(eval, "bn.running_var"), again, sizeof again));
    ck_assert_mem_eq(again, var, sizeof var);
    TU_OK(oclnn_tensor_read(rv, again, sizeof again));
    ck_assert_mem_eq(again, var, sizeof var);
    free(xv);
    oclnn_graph_release(eval);
    oclnn_graph_release(train);
}
END_TEST

START_TEST(test_tensors_of_another_graph_are_refused)
{
    oclnn_graph *g = oclnn_graph_create(tu_context()), *other = oclnn_graph_create(tu_context());
    oclnn_tensor *w = oclnn_param(g, "w", 1, (const int64_t[]){3});
    oclnn_tensor *loss = oclnn_sum_all(g, w);
    oclnn_tensor *foreign = oclnn_sum_all(other, oclnn_param(other, "v", 1, (const int64_t[]){3}));
    /* each refusal leaves g without a sticky error: the next is checked on its own */
    ck_assert_int_eq(oclnn_graph_output(g, foreign), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "another graph"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_OK);
    ck_assert_int_eq(oclnn_graph_retain_grad(g, foreign), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "another graph"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_OK);
    ck_assert_int_eq(oclnn_graph_backward(g, foreign), OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "another graph"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_OK);
    ck_assert_ptr_null(oclnn_add(g, w, foreign));
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), OCLNN_ERR_INVALID_ARG);
    oclnn_graph_release(g);
    g = oclnn_graph_create(tu_context());
    w = oclnn_param(g, "w", 1, (const int64_t[]){3});
    loss = oclnn_sum_all(g, w);
    TU_OK(oclnn_graph_backward(g, loss)); /* the refused calls left the graph usable */
    TU_OK(oclnn_graph_compile(g, NULL));
    ck_assert_int_eq(oclnn_graph_retain_grad(g, w), OCLNN_ERR_INVALID_ARG); /* too late */
    oclnn_graph_release(g);
    oclnn_graph_release(other);
}
END_TEST

/* A compile that fails after the arena was handed out (here: a bad
 * $OCLNN_GEMM seen by matmul's prepare, after relu's) is undone: compiling
 * again once the cause is gone works, with no leak or double free. */
START_TEST(test_compile_retried_after_a_failed_prepare)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 2, 3, 4), *w = oclnn_input_f32(g, "w", 2, 4, 2);
    oclnn_tensor *y = oclnn_matmul(g, oclnn_relu(g, oclnn_scale(g, x, 1.0f, -1.0f)), w);
    TU_OK(oclnn_graph_output(g, y));
    setenv("OCLNN_GEMM", "bogus", 1);
    oclnn_status first = oclnn_graph_compile(g, NULL);
    unsetenv("OCLNN_GEMM");
    ck_assert_int_eq(first, OCLNN_ERR_INVALID_ARG);
    ck_assert_msg(strstr(oclnn_last_error(), "OCLNN_GEMM"), "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_graph_run(g), OCLNN_ERR_INVALID_ARG); /* not compiled */
    TU_OK(oclnn_graph_compile(g, NULL));
    float xv[12], wv[8], out[6];
    for (int i = 0; i < 12; i++) xv[i] = (float)(i % 5) - 0.5f;
    for (int i = 0; i < 8; i++) wv[i] = 0.25f * (float)(i + 1);
    TU_OK(oclnn_tensor_write(x, xv, sizeof xv));
    TU_OK(oclnn_tensor_write(w, wv, sizeof wv));
    TU_OK(oclnn_graph_run(g));
    TU_OK(oclnn_tensor_read(y, out, sizeof out));
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 2; c++) {
            float want = 0;
            for (int k = 0; k < 4; k++) want += fmaxf(xv[r * 4 + k] - 1.0f, 0.0f) * wv[k * 2 + c];
            ck_assert_float_eq_tol(out[r * 2 + c], want, 1e-5f);
        }
    oclnn_graph_release(g);
}
END_TEST

/* A compile that fails (here: an intermediate larger than the device's
 * largest allocation) may be retried: no leak, no double free, same error. */
START_TEST(test_failed_compile_can_be_retried)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 1, 64);
    cl_ulong max_alloc = 0;
    ck_assert_int_eq(clGetDeviceInfo(tu_context()->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc,
                                     NULL),
                     CL_SUCCESS);
    int64_t rows = (int64_t)(max_alloc / (64 * sizeof(float))) + 2;
    if (rows * 64 > INT32_MAX) rows = INT32_MAX / 64; /* devices whose limit is beyond one tensor */
    oclnn_tensor *big = oclnn_input(g, "big", OCLNN_DTYPE_F32, 2, (const int64_t[]){rows, 64});
    oclnn_tensor *mid = oclnn_add(g, big, x); /* an arena tensor */
    TU_OK(oclnn_graph_output(g, oclnn_sum_all(g, mid)));
    oclnn_status first = oclnn_graph_compile(g, NULL);
    if (first == OCLNN_OK) { /* this device holds it all: nothing to retry */
        oclnn_graph_release(g);
        return;
    }
    char message[512];
    snprintf(message, sizeof message, "%s", oclnn_last_error());
    ck_assert_int_eq(oclnn_graph_compile(g, NULL), first);
    ck_assert_str_eq(oclnn_last_error(), message);
    ck_assert_int_eq(oclnn_graph_run(g), OCLNN_ERR_INVALID_ARG); /* still not compiled */
    oclnn_graph_release(g);
}
END_TEST

/* Tensors beyond int indexing are refused by shape, not silently wrapped;
 * kernels see offsets within their tensor, never within the arena. */
START_TEST(test_sizes_beyond_32_bits)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    ck_assert_ptr_null(oclnn_input(g, "huge", OCLNN_DTYPE_F32, 2, (const int64_t[]){65536, 32769}));
    ck_assert_int_eq(oclnn_graph_status(g), OCLNN_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(oclnn_graph_error(g), "[65536, 32769]") && strstr(oclnn_graph_error(g), "2^31"), "%s",
                  oclnn_graph_error(g));
    oclnn_graph_release(g);

    g = oclnn_graph_create(tu_context());
    oclnn_tensor *x = oclnn_input_f32(g, "x", 2, 8, 33);
    oclnn_tensor *a = oclnn_scale(g, x, 2.0f, 0.0f), *b = oclnn_tanh(g, x), *c = oclnn_add(g, a, b);
    oclnn_tensor *d = oclnn_slice(g, c, 0, 3, 5);
    TU_OK(oclnn_graph_output(g, oclnn_relu(g, d)));
    oclnn_compile_options opt = {.no_memory_reuse = 1};
    TU_OK(oclnn_graph_compile(g, &opt));
    ck_assert_uint_gt(oclnn_graph_arena_bytes(g), 0);
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        ck_assert_msg(oclnn_tensor_elem_offset(t) == t->offset, "tensor %d: kernel offset %lld, view offset %lld", i,
                      (long long)oclnn_tensor_elem_offset(t), (long long)t->offset);
    }
    oclnn_graph_release(g);
}
END_TEST

/* Releasing a graph whose work is still queued: with cold caches PoCL
 * compiles kernels on its device threads while they run, and a process
 * that released the graph and exited under it crashed in LLVM's teardown.
 * Check runs each test in a child process, so the environment set here
 * (before the first context of this process) reaches PoCL. */
START_TEST(test_release_while_work_is_queued)
{
    setenv("OCLNN_NO_CACHE", "1", 1);
    setenv("POCL_KERNEL_CACHE", "0", 1);
    for (int k = 0; k < 2; k++) {
        oclnn_graph *g = oclnn_graph_create(tu_context());
        oclnn_tensor *x = oclnn_param(g, "x", 2, (const int64_t[]){3 + 5 * k, 4});
        oclnn_tensor *w = oclnn_param(g, "w", 2, (const int64_t[]){4, 7 + k});
        TU_OK(oclnn_graph_backward(g, oclnn_sum_all(g, oclnn_tanh(g, oclnn_matmul(g, x, w)))));
        TU_OK(oclnn_graph_compile(g, NULL));
        TU_OK(oclnn_graph_run(g));
        oclnn_graph_release(g); /* nothing read: the run may still be queued */
    }
}
END_TEST

START_TEST(test_registry_lists_every_op_once)
{
    int n = oclnn_op_count();
    ck_assert_int_gt(n, 40);
    for (int i = 0; i < n; i++) {
        oclnn_op_info a;
        TU_OK(oclnn_op_get(i, &a));
        ck_assert_msg(a.name && *a.name && a.family && *a.family, "op %d has no name or family", i);
        ck_assert_ptr_nonnull(oclnn_op_registry_get(i)->prepare);
        for (int j = 0; j < i; j++) {
            oclnn_op_info b;
            TU_OK(oclnn_op_get(j, &b));
            ck_assert_msg(strcmp(a.name, b.name) != 0, "op name %s registered twice", a.name);
        }
    }
    oclnn_op_info info;
    ck_assert_int_eq(oclnn_op_get(n, &info), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_op_get(-1, &info), OCLNN_ERR_INVALID_ARG);
    ck_assert_int_eq(oclnn_op_get(0, NULL), OCLNN_ERR_INVALID_ARG);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("graph_core");
    TCase *tc = tcase_create("graph_core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_binary_op_reads_a_transposed_view);
    tcase_add_test(tc, test_gradient_through_a_transposed_operand);
    tcase_add_test(tc, test_in_place_reuse_respects_aliasing);
    tcase_add_test(tc, test_gradients_land_in_their_accumulators);
    tcase_add_test(tc, test_gradients_of_every_output_arrive);
    tcase_add_test(tc, test_compiling_a_sharing_graph_keeps_state);
    tcase_add_test(tc, test_tensors_of_another_graph_are_refused);
    tcase_add_test(tc, test_failed_compile_can_be_retried);
    tcase_add_test(tc, test_compile_retried_after_a_failed_prepare);
    tcase_add_test(tc, test_sizes_beyond_32_bits);
    tcase_add_test(tc, test_release_while_work_is_queued);
    tcase_add_test(tc, test_registry_lists_every_op_once);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
