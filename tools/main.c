/* The oclnn command-line program: one binary, one subcommand per job. */
#include <stdio.h>
#include <string.h>

#include "oclnn/oclnn.h"

static int cmd_devices(void)
{
    oclnn_device_info *devs;
    int n;
    if (oclnn_devices_list(&devs, &n)) {
        fprintf(stderr, "oclnn: %s\n", oclnn_last_error());
        return 1;
    }
    for (int i = 0; i < n; i++)
        printf("%d:%d  %s | %s | %s\n", devs[i].platform_index, devs[i].device_index, devs[i].platform, devs[i].name,
               devs[i].opencl_c_version);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "devices")) return cmd_devices();
    fprintf(stderr, "usage: oclnn devices\n");
    return 2;
}
