/* Internal error helpers: every failure path sets the thread's message and
 * returns its status in one expression, so callers write
 *     return oclnn_fail(OCLNN_ERR_SHAPE, "matmul: %s vs %s", a, b); */
#ifndef OCLNN_ERROR_H
#define OCLNN_ERROR_H

#include "oclnn/core.h"

#if defined(__GNUC__)
#define OCLNN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define OCLNN_PRINTF(f, a)
#endif

oclnn_status oclnn_fail(oclnn_status status, const char *fmt, ...) OCLNN_PRINTF(2, 3);

/* Appends to the current message (adds context to a lower-level failure). */
oclnn_status oclnn_fail_append(oclnn_status status, const char *fmt, ...) OCLNN_PRINTF(2, 3);

/* OpenCL error name for a cl_int code, e.g. "CL_OUT_OF_RESOURCES". */
const char *oclnn_cl_error_name(int code);

/* Turns an OpenCL error code into OCLNN_ERR_OPENCL (or OUT_OF_MEMORY) with a
 * message naming the call, the error and the op; OCLNN_OK when code == 0. */
oclnn_status oclnn_cl_check(int code, const char *call, const char *op);

#endif
