/* Device enumeration and selection by spec string. */
#include "core/context.h"
#include "core/error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

static void info_string(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS) buf[0] = 0;
    buf[size - 1] = 0;
}

static void fill_info(cl_platform_id p, cl_device_id d, int pi, int di, oclnn_device_info *out)
{
    memset(out, 0, sizeof *out);
    out->platform_index = pi;
    out->device_index = di;
    clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof out->platform, out->platform, NULL);
    out->platform[sizeof out->platform - 1] = 0;
    info_string(d, CL_DEVICE_NAME, out->name, sizeof out->name);
    info_string(d, CL_DEVICE_VENDOR, out->vendor, sizeof out->vendor);
    info_string(d, CL_DRIVER_VERSION, out->driver, sizeof out->driver);
    info_string(d, CL_DEVICE_OPENCL_C_VERSION, out->opencl_c_version, sizeof out->opencl_c_version);
    cl_device_type type = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    out->is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
    out->is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
    cl_uint u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL);
    out->compute_units = u;
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL);
    out->clock_mhz = u;
    cl_ulong l = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof l, &l, NULL);
    out->global_mem_bytes = l;
    l = 0;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof l, &l, NULL);
    out->local_mem_bytes = l;
    l = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof l, &l, NULL);
    out->max_alloc_bytes = l;
    size_t wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    out->max_work_group_size = wg;
    if (out->is_cpu) {
        cl_uint w = 0, pw = 0;
        clGetDeviceInfo(d, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof w, &w, NULL);
        clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof pw, &pw, NULL);
        out->simd_floats = w > pw ? w : pw;
        unsigned named = strstr(out->name, "avx512") ? 16 : strstr(out->name, "avx") || strstr(out->name, "haswell") ||
                                                                strstr(out->name, "skylake") || strstr(out->name, "zen")
                                                            ? 8
                                                            : 0;
        if (named > out->simd_floats) out->simd_floats = named;
        out->peak_gflops = (double)out->compute_units * out->simd_floats * 2.0 * out->clock_mhz * 1e-3;
    }
    size_t ext_size = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_size) == CL_SUCCESS && ext_size) {
        char *ext = malloc(ext_size + 1);
        if (ext && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, ext_size, ext, NULL) == CL_SUCCESS) {
            ext[ext_size] = 0;
            out->has_fp16 = strstr(ext, "cl_khr_fp16") != NULL;
            out->has_subgroups = strstr(ext, "cl_khr_subgroups") || strstr(ext, "cl_intel_subgroups");
        }
        free(ext);
    }
}

/* Enumerates all devices; ids[] (optional) receives the cl_device_id of each. */
static oclnn_status enumerate(oclnn_device_info **out, cl_device_id **ids_out, int *count)
{
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint np = 0;
    oclnn_runtime_env_init();
    cl_int err = clGetPlatformIDs(MAX_PLATFORMS, platforms, &np);
    *out = NULL;
    *count = 0;
    if (ids_out) *ids_out = NULL;
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0))
        return oclnn_fail(OCLNN_ERR_NO_DEVICE,
                          "no OpenCL platform found: install an OpenCL driver, e.g. "
                          "'apt-get install pocl-opencl-icd' for the CPU (or run scripts/deps.sh)");
    if (err != CL_SUCCESS) return oclnn_cl_check(err, "clGetPlatformIDs", "devices");
    oclnn_device_info *infos = calloc(MAX_DEVICES, sizeof *infos);
    cl_device_id *ids = calloc(MAX_DEVICES, sizeof *ids);
    if (!infos || !ids) {
        free(infos);
        free(ids);
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "devices: out of host memory");
    }
    int n = 0;
    for (cl_uint p = 0; p < np && p < MAX_PLATFORMS; p++) {
        cl_device_id devs[MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devs, &nd) != CL_SUCCESS) continue;
        for (cl_uint d = 0; d < nd && d < MAX_DEVICES && n < MAX_DEVICES; d++) {
            fill_info(platforms[p], devs[d], (int)p, (int)d, &infos[n]);
            ids[n++] = devs[d];
        }
    }
    if (n == 0) {
        free(infos);
        free(ids);
        return oclnn_fail(OCLNN_ERR_NO_DEVICE,
                          "OpenCL platforms exist but none has a device: install a driver, e.g. "
                          "'apt-get install pocl-opencl-icd'");
    }
    *out = infos;
    *count = n;
    if (ids_out) *ids_out = ids;
    else free(ids);
    return OCLNN_OK;
}

oclnn_status oclnn_devices_list(oclnn_device_info **out, int *count)
{
    if (!out || !count) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_devices_list: NULL argument");
    return enumerate(out, NULL, count);
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return 0;
}

static int pick(const oclnn_device_info *infos, int n, const char *spec)
{
    if (!spec || !*spec) {
        for (int i = 0; i < n; i++)
            if (infos[i].is_gpu) return i;
        for (int i = 0; i < n; i++)
            if (infos[i].is_cpu) return i;
        return 0;
    }
    if (!strcmp(spec, "gpu") || !strcmp(spec, "GPU")) {
        for (int i = 0; i < n; i++)
            if (infos[i].is_gpu) return i;
        return -1;
    }
    if (!strcmp(spec, "cpu") || !strcmp(spec, "CPU")) {
        for (int i = 0; i < n; i++)
            if (infos[i].is_cpu) return i;
        return -1;
    }
    int p, d, used = 0;
    if (sscanf(spec, "%d:%d%n", &p, &d, &used) == 2 && spec[used] == 0) {
        for (int i = 0; i < n; i++)
            if (infos[i].platform_index == p && infos[i].device_index == d) return i;
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (contains_nocase(infos[i].name, spec) || contains_nocase(infos[i].platform, spec) ||
            contains_nocase(infos[i].vendor, spec))
            return i;
    return -1;
}

oclnn_status oclnn_device_find(const char *spec, oclnn_device_info *info, cl_device_id *id)
{
    if (!spec || !*spec) spec = getenv("OCLNN_DEVICE");
    oclnn_device_info *infos;
    cl_device_id *ids;
    int n;
    oclnn_status s = enumerate(&infos, &ids, &n);
    if (s) return s;
    int i = pick(infos, n, spec);
    if (i < 0) {
        char names[1024] = "";
        for (int k = 0; k < n; k++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%d:%d %s", k ? ", " : "", infos[k].platform_index,
                     infos[k].device_index, infos[k].name);
        }
        free(infos);
        free(ids);
        return oclnn_fail(OCLNN_ERR_NO_DEVICE,
                          "no OpenCL device matches '%s' (use gpu, cpu, P:D or part of a name; "
                          "available: %s)", spec, names);
    }
    if (info) *info = infos[i];
    if (id) *id = ids[i];
    free(infos);
    free(ids);
    return OCLNN_OK;
}

oclnn_status oclnn_device_select(const char *spec, oclnn_device_info *out)
{
    if (!out) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_device_select: NULL output");
    return oclnn_device_find(spec, out, NULL);
}
