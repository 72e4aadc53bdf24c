/* LD_PRELOAD counter of OpenCL enqueues, for measurements (scripts/count-enqueues/run.sh):
 * counts every kernel launch, fill, transfer and clFinish the process makes,
 * CLBlast's included, and prints the totals at exit. Not part of the library. */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
static unsigned long nd, fill, wr, wrb, rd, rdb, fin, map, cp;
#define REAL(name) static __typeof__(&name) real; if (!real) real = (__typeof__(&name))dlsym(RTLD_NEXT, #name)
cl_int clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint d, const size_t *o, const size_t *g, const size_t *l, cl_uint n, const cl_event *w, cl_event *e)
{ REAL(clEnqueueNDRangeKernel); nd++; return real(q, k, d, o, g, l, n, w, e); }
cl_int clEnqueueFillBuffer(cl_command_queue q, cl_mem b, const void *p, size_t ps, size_t off, size_t sz, cl_uint n, const cl_event *w, cl_event *e)
{ REAL(clEnqueueFillBuffer); fill++; return real(q, b, p, ps, off, sz, n, w, e); }
cl_int clEnqueueWriteBuffer(cl_command_queue q, cl_mem b, cl_bool bl, size_t off, size_t sz, const void *p, cl_uint n, const cl_event *w, cl_event *e)
{ REAL(clEnqueueWriteBuffer); wr++; wrb += bl != 0; return real(q, b, bl, off, sz, p, n, w, e); }
cl_int clEnqueueReadBuffer(cl_command_queue q, cl_mem b, cl_bool bl, size_t off, size_t sz, void *p, cl_uint n, const cl_event *w, cl_event *e)
{ REAL(clEnqueueReadBuffer); rd++; rdb += bl != 0; return real(q, b, bl, off, sz, p, n, w, e); }
cl_int clEnqueueCopyBuffer(cl_command_queue q, cl_mem a, cl_mem b, size_t o1, size_t o2, size_t sz, cl_uint n, const cl_event *w, cl_event *e)
{ REAL(clEnqueueCopyBuffer); cp++; return real(q, a, b, o1, o2, sz, n, w, e); }
void *clEnqueueMapBuffer(cl_command_queue q, cl_mem b, cl_bool bl, cl_map_flags f, size_t off, size_t sz, cl_uint n, const cl_event *w, cl_event *e, cl_int *err)
{ REAL(clEnqueueMapBuffer); map++; return real(q, b, bl, f, off, sz, n, w, e, err); }
cl_int clFinish(cl_command_queue q) { REAL(clFinish); fin++; return real(q); }
__attribute__((destructor)) static void report(void)
{
    fprintf(stderr, "[clcount] ndrange %lu fill %lu write %lu blocking-write %lu read %lu blocking-read %lu copy %lu map %lu "
            "finish %lu\n",
            nd, fill, wr, wrb, rd, rdb, cp, map, fin);
}
