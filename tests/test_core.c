/* Core runtime: device listing and selection, errors, the program cache,
 * and the Philox generator (device fills vs the host implementation). */
#define _GNU_SOURCE /* sched_getaffinity, for the PoCL affinity default */
#include <dirent.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/context.h"
#include "testutil.h"

/* PoCL's workers are pinned to their cores (POCL_AFFINITY=1) unless the
 * user chose (POCL_AFFINITY, POCL_MAX_PTHREAD_COUNT) or the process may
 * not run on every online CPU. */
START_TEST(test_runtime_env_defaults)
{
    char *affinity = getenv("POCL_AFFINITY"), *threads = getenv("POCL_MAX_PTHREAD_COUNT");
    char *saved_affinity = affinity ? strdup(affinity) : NULL, *saved_threads = threads ? strdup(threads) : NULL;
    setenv("POCL_AFFINITY", "0", 1);
    oclnn_runtime_env_defaults();
    ck_assert_str_eq(getenv("POCL_AFFINITY"), "0");
    unsetenv("POCL_AFFINITY");
    setenv("POCL_MAX_PTHREAD_COUNT", "1", 1);
    oclnn_runtime_env_defaults();
    ck_assert_ptr_null(getenv("POCL_AFFINITY"));
    unsetenv("POCL_MAX_PTHREAD_COUNT");
    oclnn_runtime_env_defaults();
    cpu_set_t set;
    CPU_ZERO(&set);
    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    int every_cpu = CPU_COUNT(&set) == sysconf(_SC_NPROCESSORS_ONLN) && CPU_ISSET(0, &set);
    if (every_cpu) ck_assert_str_eq(getenv("POCL_AFFINITY"), "1");
    else ck_assert_ptr_null(getenv("POCL_AFFINITY"));
    if (saved_affinity) setenv("POCL_AFFINITY", saved_affinity, 1);
    else unsetenv("POCL_AFFINITY");
    if (saved_threads) setenv("POCL_MAX_PTHREAD_COUNT", saved_threads, 1);
    free(saved_affinity);
    free(saved_threads);
}
END_TEST

START_TEST(test_devices_listed)
{
    oclnn_device_info *devs;
    int n;
    TU_OK(oclnn_devices_list(&devs, &n));
    ck_assert_int_ge(n, 1);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(devs[i].name[0] && devs[i].platform[0], "device %d has no name", i);
        ck_assert_msg(strncmp(devs[i].opencl_c_version, "OpenCL C", 8) == 0, "bad C version '%s'",
                      devs[i].opencl_c_version);
        ck_assert_uint_gt(devs[i].compute_units, 0);
        ck_assert_uint_gt(devs[i].max_work_group_size, 0);
    }
    /* every listed device can be selected by its P:D index and by name */
    for (int i = 0; i < n; i++) {
        char spec[32];
        snprintf(spec, sizeof spec, "%d:%d", devs[i].platform_index, devs[i].device_index);
        oclnn_device_info d;
        TU_OK(oclnn_device_select(spec, &d));
        ck_assert_str_eq(d.name, devs[i].name);
        TU_OK(oclnn_device_select(devs[i].name, &d));
    }
    free(devs);
}
END_TEST

START_TEST(test_unknown_device_is_a_clear_error)
{
    oclnn_device_info d;
    ck_assert_int_eq(oclnn_device_select("no-such-device-xyz", &d), OCLNN_ERR_NO_DEVICE);
    ck_assert_msg(strstr(oclnn_last_error(), "no-such-device-xyz"), "message: %s", oclnn_last_error());
    ck_assert_int_eq(oclnn_device_select("9:9", &d), OCLNN_ERR_NO_DEVICE);
    oclnn_context *ctx = NULL;
    ck_assert_int_eq(oclnn_context_create("no-such-device-xyz", &ctx), OCLNN_ERR_NO_DEVICE);
    ck_assert_ptr_null(ctx);
}
END_TEST

START_TEST(test_case_insensitive_name_match)
{
    oclnn_device_info first, d;
    TU_OK(oclnn_device_select("0:0", &first));
    char upper[128];
    size_t i;
    for (i = 0; first.platform[i] && i < sizeof upper - 1; i++)
        upper[i] = (char)(first.platform[i] >= 'a' && first.platform[i] <= 'z' ? first.platform[i] - 32
                                                                               : first.platform[i]);
    upper[i] = 0;
    TU_OK(oclnn_device_select(upper, &d));
    ck_assert_str_eq(d.platform, first.platform);
}
END_TEST

static const char bad_source[] = "__kernel void broken(__global float *x) { x[0] = undefined_name; }\n";

START_TEST(test_bad_kernel_source_returns_build_log)
{
    cl_program p;
    oclnn_status s = oclnn_program_get(tu_context(), bad_source, "", "test_op", &p);
    ck_assert_int_eq(s, OCLNN_ERR_BUILD);
    ck_assert_msg(strstr(oclnn_last_error(), "undefined_name") && strstr(oclnn_last_error(), "test_op"),
                  "message: %s", oclnn_last_error());
}
END_TEST

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A unique source per test run so no earlier cache entry exists. */
static char cache_source[512];

static double build_once(oclnn_cache_stats *stats)
{
    oclnn_context *ctx;
    TU_OK(oclnn_context_create(NULL, &ctx));
    double t0 = now();
    cl_program p;
    TU_OK(oclnn_program_get(ctx, cache_source, "-DSCALE=3", "cache_test", &p));
    double t = now() - t0;
    *stats = oclnn_context_cache_stats(ctx);
    oclnn_context_release(ctx);
    return t;
}

static int cache_files(const char *dir, char *first, size_t size)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".bin")) {
            if (!n) snprintf(first, size, "%s/%s", dir, e->d_name);
            n++;
        }
    closedir(d);
    return n;
}

START_TEST(test_program_cache_hit_and_corruption)
{
    char dir[] = "/tmp/oclnn-cache-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("OCLNN_CACHE_DIR", dir, 1);
    unsetenv("OCLNN_NO_CACHE");
    snprintf(cache_source, sizeof cache_source,
             "/* %ld %d */ __kernel void k(__global float *x, int n) { int i = get_global_id(0);"
             " if (i < n) x[i] = x[i] * SCALE + sqrt((float)i); }\n",
             (long)time(NULL), (int)getpid());

    oclnn_cache_stats s1, s2, s3;
    double cold = build_once(&s1);
    ck_assert_uint_eq(s1.programs_built, 1);
    ck_assert_uint_eq(s1.disk_hits, 0);
    char path[1200];
    ck_assert_int_eq(cache_files(dir, path, sizeof path), 1);

    double warm = build_once(&s2);
    ck_assert_uint_eq(s2.disk_hits, 1);
    ck_assert_uint_eq(s2.programs_built, 0);
    fprintf(stderr, "program build: %.1f ms from source, %.1f ms from the disk cache\n", cold * 1e3, warm * 1e3);

    /* Truncate the entry to half: must be detected, rebuilt and rewritten. */
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    ck_assert_int_eq(truncate(path, size / 2), 0);
    build_once(&s3);
    ck_assert_uint_eq(s3.disk_rejected, 1);
    ck_assert_uint_eq(s3.programs_built, 1);

    /* Garbage with a valid length: also rejected. */
    f = fopen(path, "wb");
    for (long i = 0; i < size; i++) fputc((int)(i * 131 % 251), f);
    fclose(f);
    build_once(&s3);
    ck_assert_uint_eq(s3.disk_rejected, 1);
    ck_assert_uint_eq(s3.programs_built, 1);
    /* and the rewritten entry is good again */
    build_once(&s3);
    ck_assert_uint_eq(s3.disk_hits, 1);

    remove(path);
    rmdir(dir);
    unsetenv("OCLNN_CACHE_DIR");
}
END_TEST

START_TEST(test_cache_can_be_disabled)
{
    setenv("OCLNN_NO_CACHE", "1", 1);
    ck_assert_ptr_null(oclnn_cache_dir());
    unsetenv("OCLNN_NO_CACHE");
    setenv("OCLNN_CACHE_DIR", "/tmp/somewhere", 1);
    ck_assert_str_eq(oclnn_cache_dir(), "/tmp/somewhere");
    unsetenv("OCLNN_CACHE_DIR");
}
END_TEST

/* Per-context state of op families: found by key, released last-first
 * while the queue still works (a release may enqueue and finish). */
static int release_order[4], release_count;
static int key_a, key_b;

static void record_release(oclnn_context *ctx, void *data)
{
    ck_assert_int_eq(clFinish(ctx->queue), CL_SUCCESS);
    release_order[release_count++] = *(int *)data;
}

START_TEST(test_context_ext_released_in_reverse)
{
    oclnn_context *ctx;
    TU_OK(oclnn_context_create(NULL, &ctx));
    static int one = 1, two = 2;
    ck_assert_ptr_null(oclnn_context_ext(ctx, &key_a));
    TU_OK(oclnn_context_ext_set(ctx, &key_a, &one, record_release));
    TU_OK(oclnn_context_ext_set(ctx, &key_b, &two, record_release));
    ck_assert_int_eq(oclnn_context_ext_set(ctx, &key_a, &two, record_release), OCLNN_ERR_INVALID_ARG);
    ck_assert_ptr_eq(oclnn_context_ext(ctx, &key_a), &one);
    ck_assert_ptr_eq(oclnn_context_ext(ctx, &key_b), &two);
    release_count = 0;
    oclnn_context_release(ctx);
    ck_assert_int_eq(release_count, 2);
    ck_assert_int_eq(release_order[0], 2);
    ck_assert_int_eq(release_order[1], 1);
}
END_TEST

START_TEST(test_philox_known_answer)
{
    /* Known-answer vectors of Philox-4x32-10 from the Random123 distribution. */
    uint32_t out[4];
    oclnn_philox4x32_10((const uint32_t[]){0, 0, 0, 0}, (const uint32_t[]){0, 0}, out);
    ck_assert_uint_eq(out[0], 0x6627e8d5u);
    ck_assert_uint_eq(out[1], 0xe169c58du);
    ck_assert_uint_eq(out[2], 0xbc57ac4cu);
    ck_assert_uint_eq(out[3], 0x9b00dbd8u);
    oclnn_philox4x32_10((const uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                        (const uint32_t[]){0xffffffffu, 0xffffffffu}, out);
    ck_assert_uint_eq(out[0], 0x408f276du);
    ck_assert_uint_eq(out[1], 0x41c83b0eu);
    ck_assert_uint_eq(out[2], 0xa20bc7c6u);
    ck_assert_uint_eq(out[3], 0x6d5451fdu);
}
END_TEST

START_TEST(test_device_random_matches_host)
{
    oclnn_graph *g = oclnn_graph_create(tu_context());
    const int n = 1029; /* not a multiple of 4: exercises the tail */
    oclnn_tensor *u = oclnn_input_f32(g, "u", 1, n), *z = oclnn_input_f32(g, "z", 1, n);
    TU_OK(oclnn_graph_compile(g, NULL));
    const uint64_t seed = 0x123456789abcull, stream = 77;
    TU_OK(oclnn_tensor_fill_uniform(u, seed, stream, -2.0f, 3.0f));
    TU_OK(oclnn_tensor_fill_normal(z, seed, stream, 0.5f, 2.0f));
    float *hu = malloc(n * sizeof *hu), *hz = malloc(n * sizeof *hz);
    TU_OK(oclnn_tensor_read(u, hu, n * sizeof *hu));
    TU_OK(oclnn_tensor_read(z, hz, n * sizeof *hz));
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) {
        /* uniform: bit-exact transform of the same word */
        float want = fmaf(5.0f, oclnn_philox_uniform(seed, stream, (uint64_t)i), -2.0f);
        ck_assert_msg(hu[i] == want, "uniform[%d]: device %.9g host %.9g", i, hu[i], want);
        mean += hz[i];
    }
    mean /= n;
    for (int i = 0; i < n; i++) var += (hz[i] - mean) * (hz[i] - mean);
    var /= n - 1;
    /* normal: Box-Muller on word pairs, checked against a host recomputation */
    for (int i = 0; i < n; i++) {
        int pair = (i % 4) / 2, base = i - i % 4;
        double u1 = oclnn_philox_uniform(seed, stream, (uint64_t)(base + 2 * pair)) + 1.0 / 16777216.0;
        double u2 = oclnn_philox_uniform(seed, stream, (uint64_t)(base + 2 * pair + 1));
        double r = sqrt(-2 * log(u1)), a = 6.283185307179586 * u2;
        double want = 0.5 + 2.0 * (i % 2 ? r * sin(a) : r * cos(a));
        ck_assert_msg(fabs(hz[i] - want) < 1e-4 * (1 + fabs(want)), "normal[%d]: %g vs %g", i, hz[i], want);
    }
    ck_assert_msg(fabs(mean - 0.5) < 0.25 && fabs(var - 4.0) < 0.8, "normal stats: mean %g var %g", mean, var);
    free(hu);
    free(hz);
    oclnn_graph_release(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_devices_listed);
    tcase_add_test(tc, test_runtime_env_defaults);
    tcase_add_test(tc, test_unknown_device_is_a_clear_error);
    tcase_add_test(tc, test_case_insensitive_name_match);
    tcase_add_test(tc, test_bad_kernel_source_returns_build_log);
    tcase_add_test(tc, test_program_cache_hit_and_corruption);
    tcase_add_test(tc, test_cache_can_be_disabled);
    tcase_add_test(tc, test_context_ext_released_in_reverse);
    tcase_add_test(tc, test_philox_known_answer);
    tcase_add_test(tc, test_device_random_matches_host);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
