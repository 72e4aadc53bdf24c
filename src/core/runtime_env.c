/* Settings the OpenCL runtime reads from the environment when it starts,
 * made before the first OpenCL call of the process (device.c). */
#define _GNU_SOURCE
#include "core/context.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#endif

/* PoCL's CPU device runs kernels on one worker thread per core, asleep
 * between launches. Left to the OS, both workers of a 2-core machine were
 * at times woken onto the same core for a whole run of launches, measured
 * (2026-12-02, 2-vCPU EPYC VM, PoCL 3.1): a 256^3 GEMM took 0.20 ms in
 * some processes and 0.36-0.40 ms in others with the same CPU time, and
 * SimpleCNN's training step swung by 1.5x; with each worker pinned to its
 * core (POCL_AFFINITY=1) the fast figure is the usual one. PoCL pins
 * worker i to CPU i, so pinning is asked for only when the process may run
 * on every online CPU (not in a cpuset that excludes some: PoCL would fail
 * to pin, or abort), and never over the user's own POCL_AFFINITY or
 * POCL_MAX_PTHREAD_COUNT. */
void oclnn_runtime_env_defaults(void)
{
#ifdef __linux__
    if (getenv("POCL_AFFINITY") || getenv("POCL_MAX_PTHREAD_COUNT")) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set)) return;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1 || n > CPU_SETSIZE || CPU_COUNT(&set) != n) return;
    for (long i = 0; i < n; i++)
        if (!CPU_ISSET((int)i, &set)) return;
    setenv("POCL_AFFINITY", "1", 0);
#endif
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

void oclnn_runtime_env_init(void) { pthread_once(&once, oclnn_runtime_env_defaults); }
