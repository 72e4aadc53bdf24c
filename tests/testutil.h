/* Shared test helpers: a context on the test device, random host data,
 * a double-precision comparison by NMSE, and output poisoning. */
#ifndef OCLNN_TESTUTIL_H
#define OCLNN_TESTUTIL_H

#include <check.h>
#include <stdint.h>

#include "oclnn/oclnn.h"

/* One context per test process ($OCLNN_DEVICE or the default device). */
oclnn_context *tu_context(void);
/* A per-run seed: $OCLNN_TEST_SEED if set, else from the clock; printed
 * once so a failure can be reproduced. */
uint64_t tu_seed(void);
/* Fills with uniform values in [lo, hi) from a host generator. */
void tu_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t *state);
float *tu_random(size_t n, float lo, float hi, uint64_t *state);
/* sum((a-b)^2) / sum(b^2) (or the plain squared error when b is all zero). */
double tu_nmse(const float *a, const double *b, size_t n);
double tu_nmse_f(const float *a, const float *b, size_t n);
/* A value no correct kernel writes: outputs are filled with it first so
 * elements a kernel skips are caught. */
#define TU_POISON 1.2345e30f
int tu_count_poison(const float *x, size_t n);
/* Fails the test with the library's message when s != OCLNN_OK. */
#define TU_OK(expr)                                                                                       \
    do {                                                                                                  \
        oclnn_status tu_s_ = (expr);                                                                      \
        ck_assert_msg(tu_s_ == OCLNN_OK, "%s -> %s: %s", #expr, oclnn_status_name(tu_s_), oclnn_last_error()); \
    } while (0)


/* Runs a Check suite and returns the process exit status. */
int tu_run_suite(Suite *s);

#endif

/* ---- Op checking: an op case builds the op on graph inputs and has a
 * double-precision host reference. tu_check_forward compares the device
 * output (poisoned first) with the reference by NMSE; tu_check_gradient
 * compares the device gradient of L = sum(w * op(x)) (w random) with central
 * finite differences of the reference, for every input that has a
 * gradient. Inputs marked integer are filled with values in [lo, hi) cast
 * to int32 and get no gradient. */
#define TU_MAX_INPUTS 6
typedef struct tu_op_case {
    const char *name;
    int ninputs;
    int ndim[TU_MAX_INPUTS];
    int64_t dims[TU_MAX_INPUTS][8];
    float lo[TU_MAX_INPUTS], hi[TU_MAX_INPUTS];
    int integer[TU_MAX_INPUTS];   /* i32 input (indices, labels) */
    int no_grad[TU_MAX_INPUTS];   /* skip the gradient check for this input */
    float kink[TU_MAX_INPUTS];    /* keep values at least this far from 0 (relu-like kinks
                                     break finite differences) */
    oclnn_tensor *(*build)(oclnn_graph *g, oclnn_tensor **in, const void *user);
    /* out has numel(op output) elements; in[i] has the input's elements */
    void (*reference)(const double *const *in, double *out, const void *user);
    const void *user;
} tu_op_case;

void tu_check_forward(const tu_op_case *c, double limit, uint64_t *rng);
/* fd_step: finite-difference step; limit: NMSE between device gradient and
 * the finite differences. At most max_checked elements per input are
 * perturbed (spread over the tensor). */
void tu_check_gradient(const tu_op_case *c, double fd_step, double limit, int max_checked, uint64_t *rng);
