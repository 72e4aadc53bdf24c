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

/* SimpleCNN weights by the formula of tests/gen/simple_cnn_fixture.py
 * (element k of parameter p = bound_p sin(0.731 k + 0.377 p + 0.1)), saved
 * as safetensors; fc1 width `hidden` (1000 is SimpleCNN, another width a
 * file of some other model). */
void tu_write_simple_cnn_weights(const char *path, int64_t hidden);

/* ---- Committed fixtures (tests/data, made by the scripts in tests/gen) */

/* printf-style path under $OCLNN_TEST_DATA (tests/data when unset or empty,
 * for runs from the repository root): tu_data_path("rnn/%s", name). The
 * result lives in one of 8 static buffers, reused in turn, so a few paths
 * may be held at once. */
const char *tu_data_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The tensor prefix+name of a fixture file; fails the test when missing. */
const oclnn_st_tensor *tu_fixture_tensor(const oclnn_safetensors *st, const char *prefix, const char *name);
/* Writes an f32 fixture tensor into t (sizes must agree). */
void tu_fixture_write(oclnn_tensor *t, const oclnn_st_tensor *v);
/* t against the peer's values: the max error within rel of the largest
 * |element|, and the fixture not all zeros (it would test nothing). */
void tu_fixture_match(oclnn_tensor *t, const oclnn_st_tensor *want, double rel, const char *what);

/* ---- Input layouts. An op must give the same result whatever the layout
 * of its inputs' memory: a tensor of shape dims can reach it as
 *   TU_CONTIGUOUS  the graph leaf itself;
 *   TU_PERMUTED    a strided view: the leaf holds dims with the last two
 *                  axes longer than 1 swapped and the op gets their
 *                  transpose; with fewer than two such axes the leaf gets an
 *                  extra trailing axis of 2 and the op gets its element 1
 *                  (a slice, reshaped back to dims, which the graph copies);
 *   TU_OFFSET      a contiguous view at a nonzero element offset: the leaf
 *                  has one extra leading row (rank 0: one extra element)
 *                  and the op gets the slice from row 1.
 * Leaf elements outside the view hold NaN (i32: -7, an invalid index), so
 * an op that reads out of place shows it. */
typedef enum tu_layout { TU_CONTIGUOUS = 0, TU_PERMUTED = 1, TU_OFFSET = 2 } tu_layout;
#define TU_NLAYOUTS 3
const char *tu_layout_name(tu_layout layout);

typedef struct tu_view {
    oclnn_tensor *leaf; /* graph input or parameter, in its own layout */
    oclnn_tensor *view; /* what ops get: shape dims */
    tu_layout layout;
    oclnn_dtype dtype;
    int ndim;
    int64_t dims[8];
    size_t n, leaf_n;   /* elements of the view and of the leaf */
    /* element idx of the view (a multi-index over dims) is leaf element
     * base + sum(idx[d] * stride[d]) */
    int64_t base, stride[8];
} tu_view;

/* Creates the leaf (an f32 parameter when param, else an input of dtype)
 * and its view in the given layout. */
void tu_view_create(tu_view *v, oclnn_graph *g, const char *name, oclnn_dtype dtype, int param, int ndim,
                    const int64_t *dims, tu_layout layout);
/* Leaf element holding element k (row-major over dims) of the view. */
size_t tu_view_leaf_index(const tu_view *v, size_t k);
/* Writes the view's values (row-major over dims; converted for i32 leaves)
 * into the leaf, with the elements outside the view poisoned. */
void tu_view_write(const tu_view *v, const float *data);
/* Reads the gradient of a parameter leaf as the view's gradient (row-major
 * over dims). Fails, naming `what`, when any element of the leaf's gradient
 * is not finite or an element outside the view got a nonzero gradient. */
void tu_view_read_grad(const tu_view *v, const char *what, float *grad);

/* ---- Op checking: an op case builds the op on graph inputs and has a
 * double-precision host reference. tu_check_forward compares the device
 * output (poisoned first) with the reference by NMSE; tu_check_gradient
 * compares the device gradient of L = sum(w * op(x)) (w random) with central
 * finite differences of the reference, for every input that has a
 * gradient. Inputs marked integer are filled with values in [lo, hi) cast
 * to int32 and get no gradient. Both compile with every intermediate its
 * own memory, filled with NaN: an element a kernel never writes (a forward
 * value, a gradient contribution) becomes NaN in what the check reads, and
 * any non-finite output or gradient element fails the check. Every input
 * (integer ones too) reaches the op in the case's layout. */
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
    tu_layout layout;             /* of every input; TU_CONTIGUOUS when left zero */
} tu_op_case;

void tu_check_forward(const tu_op_case *c, double limit, uint64_t *rng);
/* fd_step: finite-difference step; limit: NMSE between device gradient and
 * the finite differences. At most max_checked elements per input are
 * perturbed (spread over the tensor). */
void tu_check_gradient(const tu_op_case *c, double fd_step, double limit, int max_checked, uint64_t *rng);
/* The same checks once per layout (c->layout is ignored). */
void tu_check_forward_layouts(const tu_op_case *c, double limit, uint64_t *rng);
void tu_check_gradient_layouts(const tu_op_case *c, double fd_step, double limit, int max_checked, uint64_t *rng);
/* Only the non-contiguous layouts (PERMUTED, OFFSET), for cases whose
 * contiguous run is already checked elsewhere. */
void tu_check_forward_strided(const tu_op_case *c, double limit, uint64_t *rng);
void tu_check_gradient_strided(const tu_op_case *c, double fd_step, double limit, int max_checked, uint64_t *rng);

#endif
