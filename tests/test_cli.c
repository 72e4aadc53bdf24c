/* Tests of the oclnn command-line program, run as a user would: through
 * the shell, checking exit statuses, the one-line errors on stderr and
 * that JSON output parses. The binary is $OCLNN_CLI, else ./oclnn (ctest
 * runs in the build directory), else next to this test executable. No
 * timing assertions: only that the benchmark runs and reports. */
#include <check.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oclnn/core.h"
#include "oclnn/embeddings.h"
#include "testutil.h"

/* Test accuracy `train lstm|gru` must reach on 2048 images, 2 epochs,
 * hidden 32 (rnn_train_eval_round_trip). Measured on PoCL, seeds 1 and 2:
 * LSTM 0.606 / 0.680, GRU 0.638 / 0.646; chance is 0.1. */
#define RNN_SUBSET_ACCURACY 0.50

static char cli[4096];

static const char *cli_path(void)
{
    if (cli[0]) return cli;
    const char *env = getenv("OCLNN_CLI");
    if (env && *env) {
        snprintf(cli, sizeof cli, "%s", env);
        return cli;
    }
    const char *candidates[] = {"./oclnn", "../oclnn"};
    for (int i = 0; i < 2; i++)
        if (access(candidates[i], X_OK) == 0) {
            snprintf(cli, sizeof cli, "%s", candidates[i]);
            return cli;
        }
    char self[4000];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) *slash = 0;
        snprintf(cli, sizeof cli, "%s/oclnn", self);
    } else {
        snprintf(cli, sizeof cli, "./oclnn");
    }
    return cli;
}

typedef struct run_result {
    int status; /* exit status, or -1 if it did not exit normally */
    char *out, *err;
} run_result;

static char *slurp(FILE *f)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    buf[len] = 0;
    return buf;
}

/* Runs "oclnn <args>" through the shell; stdout and stderr kept apart. */
static run_result run(const char *args)
{
    char err_path[] = "/tmp/oclnn_test_cli_XXXXXX";
    int fd = mkstemp(err_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s'", cli_path(), args, err_path);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen(%s) failed", cmd);
    run_result r;
    r.out = slurp(p);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    FILE *e = fopen(err_path, "r");
    ck_assert_ptr_nonnull(e);
    r.err = slurp(e);
    fclose(e);
    unlink(err_path);
    return r;
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Device option for the commands that run kernels: the test device. */
static const char *device_arg(void)
{
    static char arg[512];
    const char *d = getenv("OCLNN_DEVICE");
    if (d && *d) snprintf(arg, sizeof arg, "--device '%s'", d);
    else arg[0] = 0;
    return arg;
}

/* ---- A small strict JSON checker: one value, nothing after it. */

static const char *json_value(const char *p);

static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    return p;
}

static const char *json_string(const char *p)
{
    if (*p++ != '"') return NULL;
    for (; *p != '"'; p++) {
        if (!*p || (unsigned char)*p < 0x20) return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i]) return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
    }
    return p + 1;
}

static const char *json_number(const char *p)
{
    char *end;
    if (*p != '-' && (*p < '0' || *p > '9')) return NULL;
    strtod(p, &end);
    return end == p ? NULL : end;
}

static const char *json_container(const char *p, char open, char close, int object)
{
    if (*p++ != open) return NULL;
    p = ws(p);
    if (*p == close) return p + 1;
    for (;;) {
        if (object) {
            p = json_string(ws(p));
            if (!p) return NULL;
            p = ws(p);
            if (*p++ != ':') return NULL;
        }
        p = json_value(p);
        if (!p) return NULL;
        p = ws(p);
        if (*p == close) return p + 1;
        if (*p++ != ',') return NULL;
    }
}

static const char *json_value(const char *p)
{
    p = ws(p);
    switch (*p) {
    case '{': return json_container(p, '{', '}', 1);
    case '[': return json_container(p, '[', ']', 0);
    case '"': return json_string(p);
    case 't': return strncmp(p, "true", 4) ? NULL : p + 4;
    case 'f': return strncmp(p, "false", 5) ? NULL : p + 5;
    case 'n': return strncmp(p, "null", 4) ? NULL : p + 4;
    default: return json_number(p);
    }
}

/* Checks every line of text is a JSON object; returns how many lines
 * contain `key` (a quoted key such as "\"gflops\":"). */
static int check_json_lines(const char *text, const char *key, int *lines)
{
    int with_key = 0;
    *lines = 0;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *copy = strndup(line, len);
        ck_assert_ptr_nonnull(copy);
        const char *end = copy[0] == '{' ? json_value(copy) : NULL;
        ck_assert_msg(end && *ws(end) == 0, "not a JSON object line: %s", copy);
        with_key += strstr(copy, key) != NULL;
        free(copy);
        (*lines)++;
        line = nl ? nl + 1 : line + len;
    }
    return with_key;
}

/* ---- Tests */

START_TEST(version_and_help)
{
    run_result r = run("--version");
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, OCLNN_VERSION_STRING) != NULL, "--version printed '%s'", r.out);
    run_free(&r);

    r = run("--help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "devices"));
    ck_assert_ptr_nonnull(strstr(r.out, "bench"));
    run_free(&r);

    const char *helps[] = {"devices --help", "bench --help", "help bench", "bench -h"};
    for (int i = 0; i < 4; i++) {
        r = run(helps[i]);
        ck_assert_msg(r.status == 0, "'oclnn %s' exited %d", helps[i], r.status);
        ck_assert_msg(strstr(r.out, "usage: oclnn ") != NULL, "'oclnn %s' printed no usage", helps[i]);
        ck_assert_str_eq(r.err, "");
        run_free(&r);
    }
}
END_TEST

/* Usage errors: exit 2 and exactly one line on stderr naming the culprit. */
START_TEST(usage_errors)
{
    static const struct {
        const char *args, *mention;
    } cases[] = {
        {"", "oclnn --help"},
        {"frobnicate", "frobnicate"},
        {"--frobnicate", "--frobnicate"},
        {"bench --frobnicate", "--frobnicate"},
        {"bench --repeat zero", "--repeat"},
        {"bench --repeat 0", "--repeat"},
        {"bench --repeat", "--repeat"},
        {"bench --sizes 64,x", "--sizes"},
        {"bench --only nosuchworkload", "nosuchworkload"},
        {"devices stray", "stray"},
        {"devices --json=yes", "--json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r = run(cases[i].args);
        ck_assert_msg(r.status == 2, "'oclnn %s' exited %d, expected 2", cases[i].args, r.status);
        ck_assert_msg(count_lines(r.err) == 1, "'oclnn %s' stderr is not one line: %s", cases[i].args, r.err);
        ck_assert_msg(strstr(r.err, cases[i].mention) != NULL, "'oclnn %s' stderr lacks '%s': %s", cases[i].args,
                      cases[i].mention, r.err);
        ck_assert_str_eq(r.out, "");
        run_free(&r);
    }
}
END_TEST

START_TEST(devices_lists)
{
    run_result r = run("devices");
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "platform") && strstr(r.out, "compute units"), "devices printed: %s", r.out);
    ck_assert_msg(strstr(r.out, "(default)") != NULL, "no default device marked: %s", r.out);
    run_free(&r);

    r = run("devices --json");
    ck_assert_int_eq(r.status, 0);
    int lines;
    int named = check_json_lines(r.out, "\"name\":", &lines);
    ck_assert_int_ge(lines, 1);
    ck_assert_int_eq(named, lines);
    int defaults = 0;
    for (const char *p = r.out; (p = strstr(p, "\"default\":true")); p++) defaults++;
    ck_assert_int_eq(defaults, 1);
    ck_assert_int_eq(check_json_lines(r.out, "\"peak_gflops_estimate\":", &lines), lines);
    /* a CPU device states its estimated peak and what it is made of */
    if (strstr(r.out, "\"type\":\"cpu\"")) {
        ck_assert_ptr_null(strstr(r.out, "\"peak_gflops_estimate\":0.0"));
        run_free(&r);
        r = run("devices");
        ck_assert_msg(strstr(r.out, "peak (estimate)") && strstr(r.out, "x 2 (FMA) x"), "devices printed: %s", r.out);
    }
    run_free(&r);
}
END_TEST

START_TEST(ops_lists_the_registry)
{
    run_result r = run("ops");
    ck_assert_int_eq(r.status, 0);
    char count[32];
    snprintf(count, sizeof count, "\n%d ops\n", oclnn_op_count());
    ck_assert_msg(strstr(r.out, count), "no '%d ops' line: %s", oclnn_op_count(), r.out);
    for (int i = 0; i < oclnn_op_count(); i++) {
        oclnn_op_info op;
        ck_assert_int_eq(oclnn_op_get(i, &op), OCLNN_OK);
        char line[96];
        snprintf(line, sizeof line, "\n%-30s %-12s %-9s", op.name, op.family, op.has_backward ? "yes" : "no");
        ck_assert_msg(strstr(r.out, line), "op %s missing or wrong: %s", op.name, r.out);
    }
    run_free(&r);

    r = run("ops --json");
    ck_assert_int_eq(r.status, 0);
    int lines;
    ck_assert_int_eq(check_json_lines(r.out, "\"backward\":", &lines), oclnn_op_count());
    ck_assert_int_eq(lines, oclnn_op_count());
    run_free(&r);
}
END_TEST

START_TEST(bench_tiny_json_file)
{
    char path[] = "/tmp/oclnn_test_bench_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char args[1024];
    snprintf(args, sizeof args, "bench --tiny %s --json '%s'", device_arg(), path);
    run_result r = run(args);
    ck_assert_msg(r.status == 0, "oclnn %s exited %d: %s", args, r.status, r.err);
    ck_assert_msg(strstr(r.out, "median ms") && strstr(r.out, "sgemm") && strstr(r.out, "driver"),
                  "no table on stdout: %s", r.out);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *json = slurp(f);
    fclose(f);
    unlink(path);
    int lines;
    int gflops = check_json_lines(json, "\"gflops\":", &lines);
    int gbps = check_json_lines(json, "\"gbps\":", &lines);
    int ok = check_json_lines(json, "\"check\":\"ok\"", &lines);
    ck_assert_int_ge(gflops, 2); /* sgemm 64 and 128 */
    ck_assert_int_ge(gbps, 2);   /* add and scale */
    ck_assert_int_eq(ok, lines);
    ck_assert_int_eq(check_json_lines(json, "\"date\":\"", &lines), lines);
    free(json);
    run_free(&r);
}
END_TEST

/* With --json - stdout carries only JSON lines; the table moves to stderr. */
START_TEST(bench_json_stdout)
{
    char args[1024];
    snprintf(args, sizeof args, "bench --tiny --only sgemm --sizes 33 --repeat 1 %s --json -", device_arg());
    run_result r = run(args);
    ck_assert_msg(r.status == 0, "oclnn %s exited %d: %s", args, r.status, r.err);
    int lines;
    ck_assert_int_eq(check_json_lines(r.out, "\"shape\":\"33x33x33\"", &lines), 1);
    ck_assert_int_eq(lines, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "median ms"));
    run_free(&r);
}
END_TEST

/* A stand-in for bench/pytorch_reference.py --serve (no torch needed):
 * announces itself, then answers every request with `answer`. */
static void fake_torch(char *path, const char *answer)
{
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "#!/bin/sh\necho 'ready fake-torch 9.9, 2 threads'\nwhile read line; do echo '%s'; done\n", answer);
    fclose(f);
    ck_assert_int_eq(chmod(path, 0700), 0);
}

/* --compare-pytorch: the reference's figure and the ratio beside the row
 * (JSON too), a failed reference request as a note, and a Python that
 * cannot serve as a one-line error. */
START_TEST(bench_compare_pytorch)
{
    char py[] = "/tmp/oclnn_fake_torch_XXXXXX", args[1024];
    fake_torch(py, "ok 0.5 0.25");
    setenv("OCLNN_TORCH_PYTHON", py, 1);
    snprintf(args, sizeof args, "bench --tiny --only sgemm --sizes 33 --repeat 1 --compare-pytorch %s", device_arg());
    run_result r = run(args);
    ck_assert_msg(r.status == 0, "oclnn %s exited %d: %s", args, r.status, r.err);
    /* 2*33^3 flops in 0.5 s */
    ck_assert_msg(strstr(r.out, "fake-torch 9.9") && strstr(r.out, "torch     0.0 GFLOP/s"), "out: %s", r.out);
    ck_assert_msg(strstr(r.out, "x\n") || strstr(r.out, "x  "), "no ratio: %s", r.out);
    run_free(&r);
    snprintf(args, sizeof args, "bench --tiny --only sgemm --sizes 33 --repeat 1 --compare-pytorch --json - %s",
             device_arg());
    r = run(args);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "\"torch_ms\":500,\"ratio_vs_torch\":"), "json: %s", r.out);
    run_free(&r);
    /* --rounds: every round's rows, then the summary with the median ratio */
    snprintf(args, sizeof args,
             "bench --tiny --only sgemm --sizes 33,34 --repeat 1 --rounds 3 --compare-pytorch --json - %s",
             device_arg());
    r = run(args);
    ck_assert_msg(r.status == 0, "oclnn %s exited %d: %s", args, r.status, r.err);
    int lines;
    ck_assert_int_eq(check_json_lines(r.out, "\"round\":3", &lines), 2);
    ck_assert_int_eq(lines, 6);
    ck_assert_msg(strstr(r.err, "-- round 3 of 3") && strstr(r.err, "summary over 3 rounds"), "table: %s", r.err);
    const char *sum = strstr(r.err, "summary over 3 rounds");
    ck_assert_msg(sum && strstr(sum, "33x33x33 NN                 3") && strstr(sum, "500.000"), "summary: %s", sum);
    run_free(&r);
    unlink(py);
    r = run("bench --tiny --only sgemm --rounds 0");
    ck_assert_msg(r.status == 2 && strstr(r.err, "--rounds"), "rounds 0: %d %s", r.status, r.err);
    run_free(&r);

    strcpy(py, "/tmp/oclnn_fake_torch_XXXXXX");
    fake_torch(py, "error boom");
    setenv("OCLNN_TORCH_PYTHON", py, 1);
    snprintf(args, sizeof args, "bench --tiny --only sgemm --sizes 33 --repeat 1 --compare-pytorch %s", device_arg());
    r = run(args);
    ck_assert_msg(r.status == 0 && strstr(r.out, "no PyTorch figure") && strstr(r.out, "boom"), "out: %s %s", r.out,
                  r.err);
    run_free(&r);
    unlink(py);

    const char *bad[] = {"/nonexistent/python", "/bin/false"};
    for (int i = 0; i < 2; i++) {
        setenv("OCLNN_TORCH_PYTHON", bad[i], 1);
        r = run("bench --tiny --only sgemm --compare-pytorch");
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(count_lines(r.err) == 1 && strstr(r.err, bad[i]) && strstr(r.err, "setup-torch-venv.sh"),
                      "stderr: %s", r.err);
        run_free(&r);
    }
    unsetenv("OCLNN_TORCH_PYTHON");
}
END_TEST

/* --compare-pytorch on the SimpleCNN rows: one "simplecnn train|infer
 * BATCH REPEAT" request per row, the reference's time and ratio in JSON. */
START_TEST(bench_compare_pytorch_simplecnn)
{
    char py[] = "/tmp/oclnn_fake_torch_XXXXXX", log[64], args[1024];
    int fd = mkstemp(py);
    ck_assert_int_ge(fd, 0);
    snprintf(log, sizeof log, "%s.log", py);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "#!/bin/sh\necho 'ready fake-torch 9.9, 2 threads'\nwhile read line; do echo \"$line\" >> '%s'; "
               "echo 'ok 0.5 0.25'; done\n", log);
    fclose(f);
    ck_assert_int_eq(chmod(py, 0700), 0);
    setenv("OCLNN_TORCH_PYTHON", py, 1);
    snprintf(args, sizeof args, "bench --tiny --only simplecnn --repeat 1 --compare-pytorch --json - %s", device_arg());
    run_result r = run(args);
    unsetenv("OCLNN_TORCH_PYTHON");
    ck_assert_msg(r.status == 0, "oclnn %s exited %d: %s", args, r.status, r.err);
    int lines;
    ck_assert_int_eq(check_json_lines(r.out, "\"torch_ms\":500,\"ratio_vs_torch\":", &lines), 2);
    ck_assert_int_eq(lines, 2);
    run_free(&r);
    FILE *lf = fopen(log, "r");
    ck_assert_ptr_nonnull(lf);
    char *requests = slurp(lf);
    fclose(lf);
    ck_assert_str_eq(requests, "simplecnn train 8 1\nsimplecnn infer 8 1\n");
    free(requests);
    unlink(log);
    unlink(py);
}
END_TEST

START_TEST(bench_bad_device)
{
    run_result r = run("bench --tiny --device nosuchdevice");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(count_lines(r.err) == 1, "stderr is not one line: %s", r.err);
    ck_assert_msg(strstr(r.err, "nosuchdevice") && strstr(r.err, "oclnn devices"), "stderr: %s", r.err);
    run_free(&r);

    r = run("bench --tiny --json /nonexistent-dir/x.jsonl");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(count_lines(r.err) == 1 && strstr(r.err, "/nonexistent-dir/x.jsonl"), "stderr: %s", r.err);
    run_free(&r);
}
END_TEST

START_TEST(no_opencl_platform)
{
    /* ocl-icd reads the vendor list from OCL_ICD_VENDORS: an empty folder
     * is a machine without any OpenCL driver. */
    char dir[] = "/tmp/oclnn-no-icd-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char args[256];
    snprintf(args, sizeof args, "devices");
    setenv("OCL_ICD_VENDORS", dir, 1);
    run_result r = run(args);
    unsetenv("OCL_ICD_VENDORS");
    rmdir(dir);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(count_lines(r.err) == 1 && strstr(r.err, "pocl-opencl-icd"), "stderr: %s", r.err);
    run_free(&r);
}
END_TEST

START_TEST(xor_result_line)
{
    char args[128];
    snprintf(args, sizeof args, "xor --steps 1500 %s", device_arg());
    run_result r = run(args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "result: single_layer_correct=") && strstr(r.out, "mlp_correct=4/4"), "stdout: %s",
                  r.out);
    ck_assert_msg(strstr(r.out, "fc1.weight") && strstr(r.out, "xor(1, 1)"), "stdout: %s", r.out);
    run_free(&r);
}
END_TEST

START_TEST(train_eval_forward_round_trip)
{
    char ckpt[] = "/tmp/oclnn-cli-ckpt-XXXXXX", out[] = "/tmp/oclnn-cli-out-XXXXXX";
    int fd = mkstemp(ckpt);
    close(fd);
    fd = mkstemp(out);
    close(fd);
    const char *data = getenv("OCLNN_TEST_DATA");
    char args[1024];
    snprintf(args, sizeof args, "train simple-cnn --limit 256 --test-limit 200 --batch 32 --save %s %s", ckpt,
             device_arg());
    run_result r = run(args);
    ck_assert_msg(r.status == 0, "train exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "result: epochs=1 train_images=256 seconds=") && strstr(r.out, "test_accuracy="),
                  "stdout: %s", r.out);
    run_free(&r);

    snprintf(args, sizeof args, "eval simple-cnn --weights %s --test-limit 200 %s", ckpt, device_arg());
    r = run(args);
    ck_assert_msg(r.status == 0, "eval exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "confusion matrix") && strstr(r.out, "result: test_images=200"), "stdout: %s", r.out);
    run_free(&r);

    snprintf(args, sizeof args, "forward simple-cnn --weights %s --input %s/simple_cnn/forward.safetensors --output %s %s",
             ckpt, data ? data : "tests/data", out, device_arg());
    r = run(args);
    ck_assert_msg(r.status == 0, "forward exit %d: %s", r.status, r.err);
    run_free(&r);
    oclnn_safetensors *st;
    ck_assert_int_eq(oclnn_safetensors_load(out, &st), OCLNN_OK);
    const oclnn_st_tensor *y = oclnn_safetensors_find(st, "output");
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_int_eq(y->shape[0], 3);
    ck_assert_int_eq(y->shape[1], 10);
    oclnn_safetensors_free(st);

    /* a weights file that is not one: one-line error naming it, exit 1 */
    snprintf(args, sizeof args, "eval simple-cnn --weights %s/safetensors/bad_json.safetensors %s",
             data ? data : "tests/data", device_arg());
    r = run(args);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(count_lines(r.err) == 1 && strstr(r.err, "bad_json"), "stderr: %s", r.err);
    run_free(&r);
    remove(ckpt);
    remove(out);
}
END_TEST

/* oclnn tokenize on the committed vocabulary (tests/data/wordpiece): ids,
 * pieces, pairs, --max-length, stdin, and errors as one line each. */
START_TEST(tokenize_prints_ids_and_pieces)
{
    const char *data = getenv("OCLNN_TEST_DATA");
    char args[4096];
    snprintf(args, sizeof args, "tokenize --model '%s/wordpiece' 'A man is eating food.' 'H\xc3\xa9llo, WORLD!'",
             data && *data ? data : "tests/data");
    run_result r = run(args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_str_eq(r.out, "101 1037 2158 2003 5983 2833 1012 102\n101 7592 1010 2088 999 102\n");
    run_free(&r);

    snprintf(args, sizeof args, "tokenize --model '%s/wordpiece/vocab.txt' --tokens --pair 'How old?' 'unaffable'",
             data && *data ? data : "tests/data");
    r = run(args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_str_eq(r.out, "[CLS] how old ? [SEP] una ##ffa ##ble [SEP]\n");
    run_free(&r);

    char in_path[] = "/tmp/oclnn_test_tokenize_XXXXXX";
    int fd = mkstemp(in_path);
    ck_assert_int_ge(fd, 0);
    const char lines[] = "one two three four\n\nfive\n";
    ck_assert_int_eq(write(fd, lines, sizeof lines - 1), (ssize_t)(sizeof lines - 1));
    close(fd);
    snprintf(args, sizeof args, "tokenize --model '%s/wordpiece' --tokens --max-length 4 < '%s'",
             data && *data ? data : "tests/data", in_path);
    r = run(args);
    unlink(in_path);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_str_eq(r.out, "[CLS] one two [SEP]\n[CLS] [SEP]\n[CLS] five [SEP]\n");
    run_free(&r);

    static const struct {
        const char *args;
        int status;
        const char *mention;
    } bad[] = {
        {"tokenize --model /nonexistent/model x", 1, "/nonexistent/model"},
        {"tokenize --model '%s/wordpiece' \"$(printf 'bad \\377')\"", 1, "offset 4"},
        {"tokenize x", 2, "--model"},
        {"tokenize --model '%s/wordpiece' --pair x", 2, "--pair"},
        {"tokenize --model '%s/wordpiece' --max-length 1 x", 2, "--max-length"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, bad[i].args, data && *data ? data : "tests/data");
        r = run(args);
        ck_assert_msg(r.status == bad[i].status, "'oclnn %s' exited %d, expected %d: %s", args, r.status,
                      bad[i].status, r.err);
        ck_assert_msg(count_lines(r.err) == 1 && strstr(r.err, bad[i].mention), "'oclnn %s' stderr: %s", args, r.err);
        ck_assert_str_eq(r.out, "");
        run_free(&r);
    }
}
END_TEST

/* ---- word2vec: trains on a small corpus and writes vectors that read back. */

START_TEST(word2vec_writes_vectors)
{
    char corpus[] = "/tmp/oclnn_test_w2v_XXXXXX", out[] = "/tmp/oclnn_test_w2v_out_XXXXXX";
    int fd = mkstemp(corpus);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    for (int line = 0; line < 200; line++)
        fprintf(f, "a%d b%d c%d d%d e%d\n", line % 3, line % 4, line % 2, line % 5, line % 6);
    fclose(f);
    fd = mkstemp(out);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char args[4096];
    for (int text = 0; text < 2; text++) {
        snprintf(args, sizeof args, "word2vec %s --corpus '%s' --output '%s' --dim 8 --min-count 1 --epochs 2 %s",
                 device_arg(), corpus, out, text ? "--text --cbow --quiet" : "");
        run_result r = run(args);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        ck_assert_msg(strstr(r.err, "vocabulary 20 words (of 1000 corpus tokens), 2000 words trained") &&
                      strstr(r.err, "words/s") && strstr(r.err, text ? "CBOW" : "skip-gram"), "stderr: %s", r.err);
        ck_assert_str_eq(r.out, "");
        run_free(&r);
        oclnn_wordvec *wv;
        oclnn_wordvec_options o = {.format = text ? OCLNN_WORDVEC_WORD2VEC_TEXT : OCLNN_WORDVEC_WORD2VEC_BINARY};
        ck_assert_msg(oclnn_wordvec_load(out, &o, &wv) == OCLNN_OK, "%s", oclnn_last_error());
        ck_assert_int_eq(oclnn_wordvec_count(wv), 20);
        ck_assert_int_eq(oclnn_wordvec_dim(wv), 8);
        ck_assert_int_ge(oclnn_wordvec_find(wv, "e5"), 0);
        oclnn_wordvec_release(wv);
    }
    static const struct {
        const char *args;
        int status;
        const char *mention;
    } bad[] = {
        {"word2vec --output x.bin", 2, "--corpus"},
        {"word2vec --corpus '%s'", 2, "--output"},
        {"word2vec --corpus '%s' --output '%s' --dim 0", 2, "--dim"},
        {"word2vec --corpus /nonexistent/corpus.txt --output '%s'", 1, "/nonexistent/corpus.txt"},
        {"word2vec --corpus '%s' --output '%s' --min-count 1000", 1, "min_count=1000"},
        {"word2vec --corpus '%s' --output /nonexistent/dir/v.bin --min-count 1 --dim 4 --epochs 1", 1,
         "/nonexistent/dir/v.bin"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char fmt[512];
        snprintf(fmt, sizeof fmt, "%s %s", bad[i].args, device_arg());
        if (strstr(bad[i].args, "/nonexistent/corpus")) snprintf(args, sizeof args, fmt, out);
        else snprintf(args, sizeof args, fmt, corpus, out);
        run_result r = run(args);
        ck_assert_msg(r.status == bad[i].status, "'oclnn %s' exited %d, expected %d: %s", args, r.status,
                      bad[i].status, r.err);
        ck_assert_msg(count_lines(r.err) == 1 && strstr(r.err, bad[i].mention), "'oclnn %s' stderr: %s", args, r.err);
        run_free(&r);
    }
    unlink(corpus);
    unlink(out);
}
END_TEST

/* ---- lstm / gru: forward against PyTorch's LSTMModel / GRUModel
 * (tests/gen/rnn_model_fixtures.py), bad files, training. */

static const char *data_dir(void)
{
    const char *d = getenv("OCLNN_TEST_DATA");
    return d && *d ? d : "tests/data";
}

/* max over elements of |a - b| / max(|b|, 1e-3): a relative error that a
 * near-zero reference value does not blow up. */
static double max_rel_error(const oclnn_st_tensor *a, const oclnn_st_tensor *b)
{
    const float *x = a->data, *y = b->data;
    size_t n = b->nbytes / sizeof(float);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)x[i] - (double)y[i]) / fmax(fabs((double)y[i]), 1e-3);
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

START_TEST(rnn_forward_matches_pytorch)
{
    char out[] = "/tmp/oclnn-cli-rnn-XXXXXX";
    int fd = mkstemp(out);
    close(fd);
    oclnn_safetensors *want;
    char path[1024], args[4096];
    snprintf(path, sizeof path, "%s/rnn_model/expected.safetensors", data_dir());
    TU_OK(oclnn_safetensors_load(path, &want));
    const char *kinds[] = {"lstm", "gru"};
    int compared = 0;
    for (int k = 0; k < 2; k++)
        for (int layers = 1; layers <= 3; layers++)
            for (int bi = 0; bi <= 1; bi++)
                for (int with_lengths = 0; with_lengths <= 1; with_lengths++) {
                    char c[64];
                    snprintf(c, sizeof c, "%s_l%d%s", kinds[k], layers, bi ? "_bi" : "");
                    snprintf(args, sizeof args,
                             "forward %s --weights %s/rnn_model/%s.safetensors --input %s/rnn_model/%s.safetensors "
                             "--output %s %s",
                             kinds[k], data_dir(), c, data_dir(), with_lengths ? "input_lengths" : "input", out,
                             device_arg());
                    run_result r = run(args);
                    ck_assert_msg(r.status == 0, "oclnn %s exited %d: %s", args, r.status, r.err);
                    run_free(&r);
                    oclnn_safetensors *got;
                    TU_OK(oclnn_safetensors_load(out, &got));
                    const char *names[] = {"output", "h_n", "c_n"};
                    ck_assert_int_eq(got->count, k == 0 ? 3 : 2);
                    for (int i = 0; i < (k == 0 ? 3 : 2); i++) {
                        char ref_name[128];
                        snprintf(ref_name, sizeof ref_name, "%s%s.%s", c, with_lengths ? ".len" : "", names[i]);
                        const oclnn_st_tensor *a = oclnn_safetensors_find(got, names[i]);
                        const oclnn_st_tensor *b = oclnn_safetensors_find(want, ref_name);
                        ck_assert_msg(a && b, "%s: no %s or %s", c, names[i], ref_name);
                        ck_assert_int_eq(a->ndim, b->ndim);
                        for (int d = 0; d < a->ndim; d++) ck_assert_int_eq(a->shape[d], b->shape[d]);
                        double e = max_rel_error(a, b);
                        ck_assert_msg(e <= 1e-4, "%s: max relative error %g > 1e-4", ref_name, e);
                        compared++;
                    }
                    oclnn_safetensors_free(got);
                }
    ck_assert_int_eq(compared, 2 * 6 * 2 * 2 + 6 * 2 * 1); /* output, h_n (+ c_n for LSTM) of 24 runs */
    oclnn_safetensors_free(want);
    remove(out);
}
END_TEST

/* Copies the tensors of `from` into `to`, leaving out `drop`, replacing one
 * tensor by `replace` (matched by name) and appending `add`. */
static void write_variant(const char *from, const char *to, const char *drop, const oclnn_st_tensor *replace,
                          const oclnn_st_tensor *add)
{
    oclnn_safetensors *st;
    TU_OK(oclnn_safetensors_load(from, &st));
    oclnn_st_tensor *list = calloc((size_t)st->count + 1, sizeof *list);
    ck_assert_ptr_nonnull(list);
    int n = 0;
    for (int i = 0; i < st->count; i++) {
        if (drop && !strcmp(st->tensors[i].name, drop)) continue;
        list[n++] = replace && !strcmp(st->tensors[i].name, replace->name) ? *replace : st->tensors[i];
    }
    if (add) list[n++] = *add;
    TU_OK(oclnn_safetensors_save(to, list, n, NULL, NULL, 0));
    free(list);
    oclnn_safetensors_free(st);
}

START_TEST(rnn_forward_bad_files)
{
    char dir[] = "/tmp/oclnn-cli-rnnbad-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char lstm[1024], input[1024], inlen[1024];
    snprintf(lstm, sizeof lstm, "%s/rnn_model/lstm_l2.safetensors", data_dir());
    snprintf(input, sizeof input, "%s/rnn_model/input.safetensors", data_dir());
    snprintf(inlen, sizeof inlen, "%s/rnn_model/input_lengths.safetensors", data_dir());
    static float zeros[4 * 7 * 4 * 4];
    static const int64_t bad_lengths[4] = {7, 3, 8, 1};
    static const float float_lengths[4] = {7, 3, 5, 1};
    char w[8][1100], x[8][1100];
    for (int i = 0; i < 8; i++) {
        snprintf(w[i], sizeof w[i], "%s/w%d.safetensors", dir, i);
        snprintf(x[i], sizeof x[i], "%s/x%d.safetensors", dir, i);
    }
    /* w0: no fc.bias; w1: weight_hh_l1 [24, 5] instead of [24, 6]; w2: a
     * layer-3 tensor with layer 2 missing; w3: fc.weight for 12 features */
    write_variant(lstm, w[0], "fc.bias", NULL, NULL);
    oclnn_st_tensor hh = {.name = "lstm.weight_hh_l1", .dtype = OCLNN_DTYPE_F32, .ndim = 2, .shape = {24, 5},
                          .nbytes = 24 * 5 * 4, .data = zeros};
    write_variant(lstm, w[1], NULL, &hh, NULL);
    oclnn_st_tensor l3 = {.name = "lstm.weight_ih_l3", .dtype = OCLNN_DTYPE_F32, .ndim = 2, .shape = {24, 6},
                          .nbytes = 24 * 6 * 4, .data = zeros};
    write_variant(lstm, w[2], NULL, NULL, &l3);
    oclnn_st_tensor fc = {.name = "fc.weight", .dtype = OCLNN_DTYPE_F32, .ndim = 2, .shape = {3, 12},
                          .nbytes = 3 * 12 * 4, .data = zeros};
    write_variant(lstm, w[3], NULL, &fc, NULL);
    /* x0: input [4, 7, 4] (the model takes 5 features); x1: no 'input';
     * x2: a length past T; x3: f32 lengths */
    oclnn_st_tensor narrow = {.name = "input", .dtype = OCLNN_DTYPE_F32, .ndim = 3, .shape = {4, 7, 4},
                              .nbytes = 4 * 7 * 4 * 4, .data = zeros};
    write_variant(input, x[0], NULL, &narrow, NULL);
    oclnn_st_tensor other = {.name = "inputs", .dtype = OCLNN_DTYPE_F32, .ndim = 3, .shape = {4, 7, 4},
                             .nbytes = 4 * 7 * 4 * 4, .data = zeros};
    write_variant(input, x[1], "input", NULL, &other);
    oclnn_st_tensor len = {.name = "lengths", .dtype = OCLNN_DTYPE_I64, .ndim = 1, .shape = {4},
                           .nbytes = sizeof bad_lengths, .data = (void *)bad_lengths};
    write_variant(inlen, x[2], NULL, &len, NULL);
    oclnn_st_tensor flen = {.name = "lengths", .dtype = OCLNN_DTYPE_F32, .ndim = 1, .shape = {4},
                            .nbytes = sizeof float_lengths, .data = (void *)float_lengths};
    write_variant(inlen, x[3], NULL, &flen, NULL);

    const struct {
        const char *kind, *weights, *input, *mention, *mention2;
    } cases[] = {
        {"lstm", w[0], input, "'fc.bias'", "w0"},
        {"lstm", w[1], input, "'lstm.weight_hh_l1'", "[24, 5]"},
        {"lstm", w[2], input, "'lstm.weight_ih_l3'", "2-layer"},
        {"lstm", w[3], input, "'fc.weight'", "[3, 12]"},
        {"gru", lstm, input, "'gru.weight_ih_l0'", "use lstm"},
        {"lstm", lstm, x[0], "'input'", "[4, 7, 4]"},
        {"lstm", lstm, x[1], "'input'", "x1"},
        {"lstm", lstm, x[2], "lengths[2] = 8", "x2"},
        {"lstm", lstm, x[3], "'lengths'", "F32"},
    };
    char out[1200], args[8192];
    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, "forward %s --weights %s --input %s --output %s %s", cases[i].kind,
                 cases[i].weights, cases[i].input, out, device_arg());
        run_result r = run(args);
        ck_assert_msg(r.status == 1, "case %zu: oclnn %s exited %d", i, args, r.status);
        ck_assert_msg(count_lines(r.err) == 1 && strstr(r.err, cases[i].mention) && strstr(r.err, cases[i].mention2),
                      "case %zu: stderr lacks %s / %s: %s", i, cases[i].mention, cases[i].mention2, r.err);
        ck_assert_msg(access(out, F_OK) != 0, "case %zu wrote an output", i);
        run_free(&r);
    }
    for (int i = 0; i < 8; i++) {
        remove(w[i]);
        remove(x[i]);
    }
    rmdir(dir);
}
END_TEST

/* Parses "test_accuracy=A" from a result line. */
static double accuracy_of(const char *out)
{
    const char *p = strstr(out, "test_accuracy=");
    ck_assert_msg(p != NULL, "no test_accuracy in: %s", out);
    return strtod(p + strlen("test_accuracy="), NULL);
}

/* A small subset learns well above chance (0.1) in a few seconds; eval of
 * the checkpoint gives the same accuracy on the same test images. */
START_TEST(rnn_train_eval_round_trip)
{
    const char *kinds[] = {"lstm", "gru"};
    for (int k = 0; k < 2; k++) {
        char ckpt[] = "/tmp/oclnn-cli-rnnckpt-XXXXXX";
        int fd = mkstemp(ckpt);
        close(fd);
        char args[1024];
        snprintf(args, sizeof args,
                 "train %s --limit 2048 --test-limit 500 --batch 32 --epochs 2 --hidden 32 --lr 0.005 --save %s %s",
                 kinds[k], ckpt, device_arg());
        run_result r = run(args);
        ck_assert_msg(r.status == 0, "train exit %d: %s", r.status, r.err);
        ck_assert_msg(strstr(r.out, "epoch 1/2: loss") && strstr(r.out, "result: epochs=2 train_images=4096 seconds="),
                      "stdout: %s", r.out);
        double trained = accuracy_of(strstr(r.out, "result:"));
        printf("train %s (2048 images, 2 epochs): test accuracy %.4f\n", kinds[k], trained);
        ck_assert_msg(trained >= RNN_SUBSET_ACCURACY, "%s: test accuracy %.4f < %.2f", kinds[k], trained,
                      RNN_SUBSET_ACCURACY);
        run_free(&r);

        snprintf(args, sizeof args, "eval %s --weights %s --test-limit 500 %s", kinds[k], ckpt, device_arg());
        r = run(args);
        ck_assert_msg(r.status == 0, "eval exit %d: %s", r.status, r.err);
        ck_assert_msg(strstr(r.out, "confusion matrix") && strstr(r.out, "result: test_images=500"), "stdout: %s",
                      r.out);
        ck_assert_double_eq_tol(accuracy_of(r.out), trained, 1e-9);
        run_free(&r);

        /* the other kind's weights: one line naming what is wrong */
        snprintf(args, sizeof args, "eval %s --weights %s --test-limit 500 %s", kinds[1 - k], ckpt, device_arg());
        r = run(args);
        ck_assert_int_eq(r.status, 1);
        ck_assert_msg(count_lines(r.err) == 1 && strstr(r.err, kinds[k]), "stderr: %s", r.err);
        run_free(&r);
        remove(ckpt);
    }
}
END_TEST

/* embed / similarity / search on the tiny random BERT of tests/data/bert. */
START_TEST(bert_embed_similarity_search)
{
    const char *data = getenv("OCLNN_TEST_DATA");
    char model[4096], args[8192];
    snprintf(model, sizeof model, "%s/bert/tiny", data && *data ? data : "tests/data");
    snprintf(args, sizeof args, "embed --model '%s' %s 'a man is eating food.' 'the dog runs'", model, device_arg());
    run_result r = run(args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_int_eq(count_lines(r.out), 2);
    /* 32 numbers per line, unit norm */
    char *p = r.out;
    for (int line = 0; line < 2; line++) {
        double norm = 0;
        for (int i = 0; i < 32; i++) {
            char *end;
            double v = strtod(p, &end);
            ck_assert_msg(end != p, "line %d: number %d missing: %s", line, i, r.out);
            norm += v * v;
            p = end;
        }
        ck_assert_msg(fabs(norm - 1) < 1e-5, "norm^2 %g", norm);
        ck_assert_int_eq(*p, '\n');
        p++;
    }
    run_free(&r);

    snprintf(args, sizeof args, "similarity --model '%s' %s 'the dog runs' 'the dog runs'", model, device_arg());
    r = run(args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_msg(fabs(atof(r.out) - 1) < 1e-5, "%s", r.out);
    run_free(&r);

    char dir[] = "/tmp/oclnn_test_search_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char corpus[256], cache[320], outf[256];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    snprintf(cache, sizeof cache, "%s.oclnn-embeddings.safetensors", corpus);
    snprintf(outf, sizeof outf, "%s/e.safetensors", dir);
    FILE *f = fopen(corpus, "w");
    fputs("a man is eating food.\n\nthe cat runs fast\ntwo red dogs play music\n", f);
    fclose(f);
    snprintf(args, sizeof args, "search --model '%s' %s --corpus '%s' --k 2 'the cat runs fast'", model, device_arg(),
             corpus);
    for (int pass = 0; pass < 3; pass++) {
        r = run(args);
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        ck_assert_msg(!strncmp(r.out, "1\t1.0000\tthe cat runs fast\n2\t", 29), "%s", r.out);
        ck_assert_int_eq(count_lines(r.out), 2);
        ck_assert_msg(strstr(r.err, pass == 1 ? "from" : "cached in"), "pass %d: %s", pass, r.err);
        ck_assert_int_eq(access(cache, R_OK), 0);
        run_free(&r);
        if (pass == 1) { /* a changed corpus invalidates the cache */
            f = fopen(corpus, "a");
            fputs("one more line\n", f);
            fclose(f);
        }
    }
    snprintf(args, sizeof args, "embed --model '%s' %s --input '%s' --output '%s'", model, device_arg(), corpus, outf);
    r = run(args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
    oclnn_safetensors *st;
    ck_assert_int_eq(oclnn_safetensors_load(outf, &st), OCLNN_OK);
    const oclnn_st_tensor *t = oclnn_safetensors_find(st, "embeddings");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->shape[0], 5); /* every line, the blank one too */
    ck_assert_int_eq(t->shape[1], 32);
    oclnn_safetensors_free(st);
    unlink(outf);
    unlink(cache);
    unlink(corpus);
    rmdir(dir);

    snprintf(args, sizeof args, "similarity --model /nonexistent/model a b");
    r = run(args);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "/nonexistent/model"), "%s", r.err);
    run_free(&r);
    r = run("embed --model /x");
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
}
END_TEST

/* ---- nearest / analogy / word2vec-eval on tests/data/wordvec_eval, against
 * numpy and gensim (tests/gen/wordvec_eval_fixtures.py). */

static const char *wveval_path(const char *name) { return tu_data_path("wordvec_eval/%s", name); }

/* Splits a line at tabs (newline dropped); returns the field count. */
static int split_tabs(char *line, char **f, int max)
{
    line[strcspn(line, "\n")] = 0;
    int n = 0;
    for (char *p = line; n < max; p++) {
        f[n++] = p;
        if (!(p = strchr(p, '\t'))) break;
        *p = 0;
    }
    return n;
}

/* Checks 10 output lines "[prefix<TAB>]word<TAB>score" at *out against the
 * expected (word, score) fields; advances *out. */
static void check_hits(const char **out, const char *prefix, char **expect, const char *what)
{
    for (int j = 0; j < 10; j++) {
        char line[512];
        size_t len = strcspn(*out, "\n");
        ck_assert_msg(len > 0 && len < sizeof line, "%s: line %d missing", what, j);
        memcpy(line, *out, len);
        line[len] = 0;
        *out += len + ((*out)[len] == '\n');
        char *f[4];
        int nf = split_tabs(line, f, 4), w = prefix ? 1 : 0;
        ck_assert_msg(nf == w + 2 && (!prefix || !strcmp(f[0], prefix)), "%s: bad line '%s'", what, line);
        ck_assert_msg(!strcmp(f[w], expect[2 * j]), "%s rank %d: %s, numpy %s", what, j, f[w], expect[2 * j]);
        ck_assert_msg(fabs(atof(f[w + 1]) - atof(expect[2 * j + 1])) < 1e-5, "%s rank %d: %s, numpy %s", what, j,
                      f[w + 1], expect[2 * j + 1]);
    }
}

START_TEST(wordvec_nearest_analogy)
{
    char lines[16][2048], *fl[16][32], args[8192];
    char vec[1024];
    snprintf(vec, sizeof vec, "%s", wveval_path("vectors.bin"));
    for (int file = 0; file < 2; file++) {
        FILE *f = fopen(wveval_path(file ? "expected_analogy.txt" : "expected_nearest.txt"), "r");
        ck_assert_ptr_nonnull(f);
        int nl = 0, nin = file ? 3 : 1;
        while (nl < 16 && fgets(lines[nl], sizeof lines[nl], f)) {
            ck_assert_int_eq(split_tabs(lines[nl], fl[nl], 32), 1 + nin + 20);
            nl++;
        }
        fclose(f);
        /* nearest: the queries of one restrict in one run; analogy: one run each */
        for (int first = 0, n; first < nl; first += n) {
            int len = snprintf(args, sizeof args, "%s --vectors '%s' %s --restrict %s --k 10",
                               file ? "analogy" : "nearest", vec, device_arg(), fl[first][0]);
            for (n = 0; first + n < nl && !strcmp(fl[first + n][0], fl[first][0]) && (!file || !n); n++)
                for (int i = 1; i <= nin; i++) len += snprintf(args + len, sizeof args - len, " '%s'", fl[first + n][i]);
            run_result r = run(args);
            ck_assert_msg(r.status == 0, "%s: exit %d: %s", args, r.status, r.err);
            const char *out = r.out;
            for (int q = first; q < first + n; q++) check_hits(&out, file ? NULL : fl[q][1], fl[q] + 1 + nin, args);
            ck_assert_str_eq(out, "");
            run_free(&r);
        }
    }
    /* unknown words and bad command lines */
    static const struct {
        const char *args, *mention;
        int status;
    } bad[] = {
        {"nearest --vectors V king zzqx", "unknown word 'zzqx'", 1},
        {"analogy --vectors V man king queenz", "unknown word 'queenz'", 1},
        {"nearest --vectors /nonexistent/v.bin king", "/nonexistent/v.bin", 1},
        {"nearest --vectors V --format word2vec-text king", "vectors.bin", 1},
        {"nearest --vectors V --format xml king", "--format", 2},
        {"nearest king", "--vectors", 2},
        {"nearest --vectors V", "WORD", 2},
        {"nearest --vectors V --k 0 king", "--k", 2},
        {"analogy --vectors V man king", "A B C", 2},
        {"word2vec-eval --vectors V --restrict -1", "--restrict", 2},
        {"word2vec-eval --vectors V --data /nonexistent", "get-eval-data.sh", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[2048];
        const char *v = strstr(bad[i].args, " V");
        if (v) snprintf(cmd, sizeof cmd, "%.*s '%s'%s %s", (int)(v - bad[i].args), bad[i].args, vec, v + 2, device_arg());
        else snprintf(cmd, sizeof cmd, "%s", bad[i].args);
        run_result r = run(cmd);
        ck_assert_msg(r.status == bad[i].status && count_lines(r.err) == 1 && strstr(r.err, bad[i].mention),
                      "'%s': exit %d, stderr %s", cmd, r.status, r.err);
        ck_assert_str_eq(r.out, "");
        run_free(&r);
    }
}
END_TEST

/* Value of "key": in a JSON line (a number). */
static double json_field(const char *line, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(line, k);
    ck_assert_msg(p != NULL, "no %s in %s", key, line);
    return atof(p + strlen(k));
}

START_TEST(wordvec_eval_matches_gensim)
{
    char args[8192], line[512], *fl[8] = {0};
    char vec[1024];
    snprintf(vec, sizeof vec, "%s", wveval_path("vectors.bin"));
    FILE *f = fopen(wveval_path("expected_eval.txt"), "r");
    ck_assert_ptr_nonnull(f);
    char restrict_vocab[32] = "";
    run_result r = {0};
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        int nf = split_tabs(line, fl, 8);
        if (strcmp(fl[1], restrict_vocab)) { /* one run per restrict */
            if (r.out) run_free(&r);
            snprintf(restrict_vocab, sizeof restrict_vocab, "%s", fl[1]);
            snprintf(args, sizeof args, "word2vec-eval --vectors '%s' --data '%s' --restrict %s --json %s", vec,
                     wveval_path(""), restrict_vocab, device_arg());
            r = run(args);
            ck_assert_msg(r.status == 0, "%s: exit %d: %s", args, r.status, r.err);
            int lines;
            ck_assert_int_eq(check_json_lines(r.out, "\"used\":", &lines), 9);
            ck_assert_int_eq(lines, 9);
        }
        char want[128];
        if (!strcmp(fl[0], "pairs")) snprintf(want, sizeof want, "\"file\":\"%s\"", fl[2]);
        else snprintf(want, sizeof want, "\"section\":\"%s\"", fl[2]);
        const char *at = strstr(r.out, want);
        ck_assert_msg(at != NULL, "no %s in %s", want, r.out);
        char *got = strndup(at, strcspn(at, "\n"));
        ck_assert_msg(json_field(got, "used") == atof(fl[nf == 7 ? 3 : 4]), "%s used, gensim %s", got, fl[3]);
        if (nf == 7) {
            ck_assert_msg(json_field(got, "skipped") == atof(fl[4]), "%s skipped, gensim %s", got, fl[4]);
            ck_assert_msg(fabs(json_field(got, "spearman") - atof(fl[5])) < 1e-6, "%s, gensim %s", got, fl[5]);
            ck_assert_msg(fabs(json_field(got, "pearson") - atof(fl[6])) < 1e-6, "%s, gensim %s", got, fl[6]);
        } else {
            ck_assert_msg(json_field(got, "correct") == atof(fl[3]), "%s correct, gensim %s", got, fl[3]);
            ck_assert_msg(json_field(got, "skipped") == atof(fl[5]), "%s skipped, gensim %s", got, fl[5]);
        }
        free(got);
        checked++;
    }
    fclose(f);
    run_free(&r);
    ck_assert_int_eq(checked, 14);

    /* the plain report, an empty vector file and a malformed question file */
    snprintf(args, sizeof args, "word2vec-eval --vectors '%s' --data '%s' %s", vec, wveval_path(""), device_arg());
    r = run(args);
    ck_assert_msg(r.status == 0 && strstr(r.out, "wordsim353.tsv   Spearman") && strstr(r.out, "  total "), "%s", r.out);
    run_free(&r);
    char dir[] = "/tmp/oclnn_test_wveval_XXXXXX", path[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *names[] = {"wordsim353.tsv", "simlex999.txt", "questions-words.txt", "empty.txt"};
    const char *texts[] = {"king\tqueen\t9\n", "man\twoman\t3\n", ": family\nman king woman\n", "0 24\n"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        f = fopen(path, "w");
        fputs(texts[i], f);
        fclose(f);
    }
    snprintf(args, sizeof args, "word2vec-eval --vectors '%s' --data '%s' %s", vec, dir, device_arg());
    r = run(args);
    ck_assert_msg(r.status == 1 && count_lines(r.err) == 1 && strstr(r.err, "questions-words.txt:2: expected 4 words"),
                  "exit %d: %s", r.status, r.err);
    run_free(&r);
    snprintf(args, sizeof args, "nearest --vectors '%s/empty.txt' %s king", dir, device_arg());
    r = run(args);
    ck_assert_msg(r.status == 1 && count_lines(r.err) == 1 && strstr(r.err, "holds no word vectors"), "%s", r.err);
    run_free(&r);
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}
END_TEST

/* ---- similar-images on 30 made-up 28x28 images: image i has label
 * i % 10 and a 4x4 square at its label's own place, of brightness 150, 200
 * or 250 (i / 10). By raw pixels an image's two nearest others are the two
 * of its label (cosine 1, small distance), and every third neighbour has
 * another label: precision@3 is exactly 2/3 by cosine and by distance. */
enum { SI_N = 30 };
/* The grid layout promised by 'similar-images --help'. */
enum { SI_SCALE = 2, SI_FRAME = 3, SI_GAP = 4, SI_QUERY_GAP = 16, SI_CELL = 28 * SI_SCALE + 2 * SI_FRAME };

static unsigned char si_images[SI_N][28][28];

static void write_idx(const char *dir, const char *name, int ndim, const uint32_t *dims, const void *data, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    unsigned char head[4] = {0, 0, 0x08, (unsigned char)ndim};
    fwrite(head, 1, 4, f);
    for (int d = 0; d < ndim; d++) {
        unsigned char be[4] = {dims[d] >> 24, dims[d] >> 16 & 255, dims[d] >> 8 & 255, dims[d] & 255};
        fwrite(be, 1, 4, f);
    }
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_si_data(const char *dir)
{
    unsigned char labels[SI_N];
    memset(si_images, 0, sizeof si_images);
    for (int i = 0; i < SI_N; i++) {
        int c = labels[i] = (unsigned char)(i % 10), top = 4 + 12 * (c / 5), left = 2 + 5 * (c % 5);
        for (int y = top; y < top + 4; y++)
            for (int x = left; x < left + 4; x++) si_images[i][y][x] = (unsigned char)(150 + 50 * (i / 10));
    }
    write_idx(dir, "t10k-images-idx3-ubyte", 3, (const uint32_t[]){SI_N, 28, 28}, si_images, sizeof si_images);
    write_idx(dir, "t10k-labels-idx1-ubyte", 1, (const uint32_t[]){SI_N}, labels, sizeof labels);
}

typedef struct png_image_rgb {
    png_uint_32 width, height;
    unsigned char *rgb;
} png_image_rgb;

static png_image_rgb read_png(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(png && info);
    png_image_rgb im = {0};
    ck_assert_msg(!setjmp(png_jmpbuf(png)), "%s: not a readable PNG", path);
    png_init_io(png, f);
    png_read_info(png, info);
    im.width = png_get_image_width(png, info);
    im.height = png_get_image_height(png, info);
    ck_assert_int_eq(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
    ck_assert_int_eq(png_get_bit_depth(png, info), 8);
    im.rgb = malloc((size_t)im.width * im.height * 3);
    ck_assert_ptr_nonnull(im.rgb);
    for (png_uint_32 y = 0; y < im.height; y++) png_read_row(png, im.rgb + (size_t)y * im.width * 3, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return im;
}

static int pixel_is(const png_image_rgb *im, int x, int y, int r, int g, int b)
{
    const unsigned char *p = im->rgb + ((size_t)y * im->width + (size_t)x) * 3;
    return p[0] == r && p[1] == g && p[2] == b;
}

/* The cell at (x0, y0) shows image i (every pixel, at 2x) in a frame of rgb. */
static void check_cell(const png_image_rgb *im, int x0, int y0, int i, const int rgb[3], const char *what)
{
    ck_assert_msg(pixel_is(im, x0, y0, rgb[0], rgb[1], rgb[2]) &&
                      pixel_is(im, x0 + SI_CELL - 1, y0 + SI_CELL - 1, rgb[0], rgb[1], rgb[2]),
                  "%s: frame is not %d,%d,%d", what, rgb[0], rgb[1], rgb[2]);
    for (int y = 0; y < 28 * SI_SCALE; y++)
        for (int x = 0; x < 28 * SI_SCALE; x++) {
            int v = si_images[i][y / SI_SCALE][x / SI_SCALE];
            ck_assert_msg(pixel_is(im, x0 + SI_FRAME + x, y0 + SI_FRAME + y, v, v, v), "%s: pixel %d,%d is not %d",
                          what, x, y, v);
        }
}

START_TEST(similar_images_precision_and_png)
{
    char dir[] = "/tmp/oclnn-cli-images-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_si_data(dir);
    char weights[1100], png[1100], args[4096];
    snprintf(weights, sizeof weights, "%s/w.safetensors", dir);
    snprintf(png, sizeof png, "%s/grid.png", dir);
    tu_write_simple_cnn_weights(weights, 1000);
    for (int pass = 0; pass < 2; pass++) { /* the first image of each class; --queries 2 */
        snprintf(args, sizeof args, "similar-images --weights %s --data %s --k 3 --png %s %s %s", weights, dir, png,
                 pass ? "--queries 2" : "", device_arg());
        run_result r = run(args);
        ck_assert_msg(r.status == 0, "oclnn %s exited %d: %s", args, r.status, r.err);
        ck_assert_msg(strstr(r.out, "result: k=3 images=30 cnn_cosine=") &&
                          strstr(r.out, "pixels_cosine=0.6667 pixels_euclidean=0.6667 seconds="),
                      "stdout: %s", r.out);
        ck_assert_msg(strstr(r.out, "\n9       "), "no per-class rows: %s", r.out);
        /* the listed neighbours are what the grid shows */
        int nrows = pass ? 2 : 10;
        png_image_rgb im = read_png(png);
        ck_assert_int_eq(im.width, 2 * SI_GAP + SI_QUERY_GAP + 4 * SI_CELL + 2 * SI_GAP);
        ck_assert_int_eq(im.height, SI_GAP + nrows * (SI_CELL + SI_GAP));
        ck_assert(pixel_is(&im, 0, 0, 255, 255, 255));
        const char *line = strstr(r.out, "as 'index (label)':\n");
        ck_assert_ptr_nonnull(line);
        for (int row = 0; row < nrows; row++) {
            line = strchr(line, '\n') + 1;
            int q, ql, nb[3], nl[3];
            ck_assert_msg(sscanf(line, "%d (%d): %d (%d) %d (%d) %d (%d)", &q, &ql, &nb[0], &nl[0], &nb[1], &nl[1],
                                 &nb[2], &nl[2]) == 8, "bad line: %s", line);
            ck_assert_int_eq(q, row); /* image i is the first of label i, and --queries 2 takes 0 and 1 */
            int y0 = SI_GAP + row * (SI_CELL + SI_GAP), blue[3] = {40, 90, 220}, green[3] = {0, 170, 0},
                red[3] = {220, 0, 0};
            check_cell(&im, SI_GAP, y0, q, blue, "query");
            for (int j = 0; j < 3; j++) {
                ck_assert(nb[j] >= 0 && nb[j] < SI_N && nb[j] != q && nl[j] == nb[j] % 10);
                check_cell(&im, SI_GAP + SI_CELL + SI_QUERY_GAP + j * (SI_CELL + SI_GAP), y0, nb[j],
                           nl[j] == ql ? green : red, "neighbour");
            }
        }
        free(im.rgb);
        run_free(&r);
    }

    /* errors: one line naming what is wrong */
    char other[1100], folder_png[1100];
    snprintf(other, sizeof other, "%s/other.safetensors", dir);
    tu_write_simple_cnn_weights(other, 500);
    snprintf(folder_png, sizeof folder_png, "%s", dir);
    const struct {
        const char *weights, *data, *extra;
        int status;
        const char *mention, *mention2;
    } cases[] = {
        {"/nonexistent/w.safetensors", dir, "", 1, "/nonexistent/w.safetensors", "embed"},
        {"%s/safetensors/bad_json.safetensors", dir, "", 1, "bad_json", "embed"},
        {other, dir, "", 1, "'fc1.weight'", "[500, 3136]"},
        {"%s/rnn_model/lstm_l2.safetensors", dir, "", 1, "'conv1.weight'", "missing"},
        {weights, "/nonexistent-data", "", 1, "/nonexistent-data", "t10k-images"},
        {weights, "%s/idx/mnist-ok", "", 1, "2x2", "28x28"},
        {weights, dir, "--k 0", 2, "--k", "1023"},
        {weights, dir, "--k 1024", 2, "--k", "1023"},
        {weights, dir, "--k 30", 2, "--k 30", "30 test images"},
        {weights, dir, "--png /nonexistent-dir/g.png", 1, "/nonexistent-dir/g.png", "folder"},
        {weights, dir, "--png", 2, "--png", "--png"},
        {weights, dir, "--queries 0", 2, "--queries", "--queries"},
        {weights, dir, "--queries 100000 --png g.png", 2, "100000 queries", "pixels"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char w[1100], d[1100];
        snprintf(w, sizeof w, cases[i].weights, data_dir());
        snprintf(d, sizeof d, cases[i].data, data_dir());
        snprintf(args, sizeof args, "similar-images --weights %s --data %s %s %s", w, d, cases[i].extra, device_arg());
        run_result r = run(args);
        ck_assert_msg(r.status == cases[i].status, "oclnn %s exited %d, not %d: %s", args, r.status, cases[i].status,
                      r.err);
        ck_assert_msg(count_lines(r.err) == 1 && strstr(r.err, cases[i].mention) && strstr(r.err, cases[i].mention2),
                      "oclnn %s: stderr lacks '%s' / '%s': %s", args, cases[i].mention, cases[i].mention2, r.err);
        run_free(&r);
    }
    snprintf(args, sizeof args, "similar-images --weights %s --data %s --png %s", weights, dir, folder_png);
    run_result r = run(args);
    ck_assert_msg(r.status == 1 && strstr(r.err, "is a folder"), "exit %d: %s", r.status, r.err);
    run_free(&r);
    r = run("similar-images --data /x");
    ck_assert_msg(r.status == 2 && strstr(r.err, "--weights"), "exit %d: %s", r.status, r.err);
    run_free(&r);
    char path[1200];
    const char *files[] = {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "w.safetensors", "other.safetensors",
                           "grid.png"};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        ck_assert_msg(remove(path) == 0, "%s was not there", path);
    }
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, version_and_help);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, devices_lists);
    tcase_add_test(tc, ops_lists_the_registry);
    tcase_add_test(tc, bench_tiny_json_file);
    tcase_add_test(tc, bench_json_stdout);
    tcase_add_test(tc, bench_bad_device);
    tcase_add_test(tc, bench_compare_pytorch);
    tcase_add_test(tc, bench_compare_pytorch_simplecnn);
    tcase_add_test(tc, no_opencl_platform);
    tcase_add_test(tc, xor_result_line);
    tcase_add_test(tc, train_eval_forward_round_trip);
    tcase_add_test(tc, tokenize_prints_ids_and_pieces);
    tcase_add_test(tc, word2vec_writes_vectors);
    tcase_add_test(tc, rnn_forward_matches_pytorch);
    tcase_add_test(tc, rnn_forward_bad_files);
    tcase_add_test(tc, rnn_train_eval_round_trip);
    tcase_add_test(tc, bert_embed_similarity_search);
    tcase_add_test(tc, wordvec_nearest_analogy);
    tcase_add_test(tc, wordvec_eval_matches_gensim);
    tcase_add_test(tc, similar_images_precision_and_png);
    suite_add_tcase(s, tc);
    printf("oclnn binary under test: %s\n", cli_path());
    return tu_run_suite(s);
}
