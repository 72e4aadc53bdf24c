/* oclnn devices: every OpenCL device with the facts that decide where and
 * how fast a model runs, and which one a plain command would use. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *device_type(const oclnn_device_info *d)
{
    return d->is_gpu ? "gpu" : d->is_cpu ? "cpu" : "other";
}

static void print_text(const oclnn_device_info *d, int is_default)
{
    char global[32], local[32], alloc[32];
    cli_format_bytes(d->global_mem_bytes, global, sizeof global);
    cli_format_bytes(d->local_mem_bytes, local, sizeof local);
    cli_format_bytes(d->max_alloc_bytes, alloc, sizeof alloc);
    printf("%s %d:%d  %s%s\n", is_default ? "*" : " ", d->platform_index, d->device_index, d->name,
           is_default ? "  (default)" : "");
    printf("      platform        %s\n", d->platform);
    printf("      vendor          %s\n", d->vendor);
    printf("      type            %s\n", device_type(d));
    printf("      driver          %s\n", d->driver);
    printf("      OpenCL C        %s\n", d->opencl_c_version);
    printf("      compute units   %u @ %u MHz\n", d->compute_units, d->clock_mhz);
    if (d->peak_gflops > 0)
        printf("      peak (estimate) %.0f GFLOP/s fp32 = %u units x %u-float SIMD x 2 (FMA) x %u MHz\n", d->peak_gflops,
               d->compute_units, d->simd_floats, d->clock_mhz);
    printf("      global memory   %s (max alloc %s)\n", global, alloc);
    printf("      local memory    %s\n", local);
    printf("      max work-group  %zu\n", d->max_work_group_size);
    printf("      fp16            %s\n", d->has_fp16 ? "yes" : "no");
    printf("      subgroups       %s\n", d->has_subgroups ? "yes" : "no");
}

static void print_json(const oclnn_device_info *d, int is_default)
{
    printf("{\"index\":\"%d:%d\",\"platform_index\":%d,\"device_index\":%d,\"platform\":", d->platform_index,
           d->device_index, d->platform_index, d->device_index);
    cli_json_string(stdout, d->platform);
    printf(",\"name\":");
    cli_json_string(stdout, d->name);
    printf(",\"vendor\":");
    cli_json_string(stdout, d->vendor);
    printf(",\"type\":\"%s\",\"driver\":", device_type(d));
    cli_json_string(stdout, d->driver);
    printf(",\"opencl_c_version\":");
    cli_json_string(stdout, d->opencl_c_version);
    printf(",\"compute_units\":%u,\"clock_mhz\":%u,\"global_mem_bytes\":%llu,\"local_mem_bytes\":%llu,"
           "\"max_alloc_bytes\":%llu,\"max_work_group_size\":%zu,\"fp16\":%s,\"subgroups\":%s,\"simd_floats\":%u,"
           "\"peak_gflops_estimate\":%.1f,\"default\":%s}\n",
           d->compute_units, d->clock_mhz, (unsigned long long)d->global_mem_bytes,
           (unsigned long long)d->local_mem_bytes, (unsigned long long)d->max_alloc_bytes, d->max_work_group_size,
           d->has_fp16 ? "true" : "false", d->has_subgroups ? "true" : "false", d->simd_floats, d->peak_gflops,
           is_default ? "true" : "false");
}

int cmd_devices(int argc, char **argv)
{
    int json = 0;
    const cli_option options[] = {
        {"json", CLI_FLAG, &json, NULL, "one JSON object per line instead of the table", 0, 0},
        {0},
    };
    const cli_spec spec = {
        "devices", NULL,
        "Lists every device of every OpenCL platform. The index P:D selects a device\n"
        "with --device P:D in the other commands; '*' marks the default one\n"
        "($OCLNN_DEVICE if set, else the first GPU, else the first CPU).\n"
        "CPU devices show an estimated fp32 peak: compute units x SIMD width (from the\n"
        "float vector widths or the PoCL device name) x 2 (FMA) x clock; one FMA per\n"
        "cycle is assumed, so cores with two FMA pipes or turbo clocks can beat it.",
        options, 0, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc >= 0) return rc;

    oclnn_device_info *devs;
    int n;
    if (oclnn_devices_list(&devs, &n)) return cli_fail("cannot list OpenCL devices");
    /* The default is what oclnn_context_create(NULL) would pick; a bad
     * $OCLNN_DEVICE leaves none marked but the list is still useful. */
    oclnn_device_info def;
    int have_default = oclnn_device_select(NULL, &def) == OCLNN_OK;
    if (!have_default && !json) {
        const char *env = getenv("OCLNN_DEVICE");
        fprintf(stderr, "oclnn: note: $OCLNN_DEVICE='%s' matches no device below\n", env ? env : "");
    }
    for (int i = 0; i < n; i++) {
        int is_default = have_default && def.platform_index == devs[i].platform_index &&
                         def.device_index == devs[i].device_index;
        if (json) print_json(&devs[i], is_default);
        else print_text(&devs[i], is_default);
    }
    free(devs);
    return fflush(stdout) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
