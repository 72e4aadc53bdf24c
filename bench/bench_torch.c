/* --compare-pytorch: PyTorch timed in the same run, beside each oclnn row.
 *
 * bench/pytorch_reference.py --serve runs as a child process for the whole
 * bench: the bench writes one request line per measurement ("gemm M N K
 * TA TB REPEAT"), right after timing the same workload itself, and reads
 * back "ok MEDIAN_S MIN_S" (or "error WHY"). Taking turns per case keeps
 * both sides under the same machine load, which on a shared CPU moves
 * more than the difference being measured. Python is only ever a bench
 * tool here: the library never starts it. */
#include "bench.h"
#include "core/error.h"

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifndef OCLNN_SOURCE_DIR
#define OCLNN_SOURCE_DIR "."
#endif

/* $OCLNN_TORCH_PYTHON, else $OCLNN_TORCH_VENV/bin/python, else the venv
 * bench/setup-torch-venv.sh makes in the source tree. */
static void python_path(char *out, size_t size)
{
    const char *py = getenv("OCLNN_TORCH_PYTHON"), *venv = getenv("OCLNN_TORCH_VENV");
    if (py && *py) snprintf(out, size, "%s", py);
    else if (venv && *venv) snprintf(out, size, "%s/bin/python", venv);
    else snprintf(out, size, "%s/bench/.venv/bin/python", OCLNN_SOURCE_DIR);
}

int bench_torch_start(bench_torch *t, int threads)
{
    char py[512], script[512], nthreads[16];
    python_path(py, sizeof py);
    const char *sc = getenv("OCLNN_PYTORCH_REFERENCE");
    snprintf(script, sizeof script, "%s", sc && *sc ? sc : OCLNN_SOURCE_DIR "/bench/pytorch_reference.py");
    snprintf(nthreads, sizeof nthreads, "%d", threads);
    memset(t, 0, sizeof *t);
    int to_child[2], from_child[2];
    if (pipe(to_child)) return cli_fail("--compare-pytorch: cannot create a pipe");
    if (pipe(from_child)) {
        close(to_child[0]);
        close(to_child[1]);
        return cli_fail("--compare-pytorch: cannot create a pipe");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
    posix_spawn_file_actions_addclose(&fa, to_child[1]);
    posix_spawn_file_actions_addclose(&fa, from_child[0]);
    char *argv[] = {py, script, "--serve", "--threads", nthreads, NULL};
    pid_t pid;
    int err = posix_spawn(&pid, py, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(to_child[0]);
    close(from_child[1]);
    if (err) {
        close(to_child[1]);
        close(from_child[0]);
        cli_error("--compare-pytorch: cannot run '%s': %s - run bench/setup-torch-venv.sh, or point "
                  "$OCLNN_TORCH_VENV or $OCLNN_TORCH_PYTHON at a Python with torch",
                  py, strerror(err));
        return CLI_EXIT_FAIL;
    }
    t->pid = pid;
    t->in = fdopen(to_child[1], "w");
    t->out = fdopen(from_child[0], "r");
    char line[256];
    if (!t->in || !t->out || !fgets(line, sizeof line, t->out) || strncmp(line, "ready ", 6)) {
        bench_torch_stop(t);
        cli_error("--compare-pytorch: '%s %s' did not start (is torch installed there? see its stderr above; "
                  "bench/setup-torch-venv.sh makes a venv)",
                  py, script);
        return CLI_EXIT_FAIL;
    }
    line[strcspn(line, "\n")] = 0;
    snprintf(t->version, sizeof t->version, "%s", line + 6);
    return CLI_EXIT_OK;
}

int bench_torch_time(bench_torch *t, const char *request, double *median, double *min, char *why, size_t why_size)
{
    char line[512];
    *median = *min = 0;
    if (!t->in) return snprintf(why, why_size, "PyTorch reference not running"), 1;
    if (fprintf(t->in, "%s\n", request) < 0 || fflush(t->in) || !fgets(line, sizeof line, t->out)) {
        snprintf(why, why_size, "the PyTorch reference process ended");
        return 1;
    }
    line[strcspn(line, "\n")] = 0;
    if (sscanf(line, "ok %lf %lf", median, min) == 2) return 0;
    snprintf(why, why_size, "PyTorch: %s", line);
    return 1;
}

void bench_torch_stop(bench_torch *t)
{
    if (t->in) fclose(t->in); /* EOF on its stdin: the server exits */
    if (t->out) fclose(t->out);
    if (t->pid > 0) waitpid(t->pid, NULL, 0);
    memset(t, 0, sizeof *t);
}
