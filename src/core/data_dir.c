#include "core/data_dir.h"

#include <stdio.h>
#include <stdlib.h>

const char *oclnn_data_dir_file(const char *rel, char *buf, size_t size)
{
    const char *data = getenv("OCLNN_DATA"), *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    int n;
    if (data && *data) n = snprintf(buf, size, "%s/%s", data, rel);
    else if (xdg && *xdg) n = snprintf(buf, size, "%s/oclnn/%s", xdg, rel);
    else n = snprintf(buf, size, "%s/.local/share/oclnn/%s", home && *home ? home : ".", rel);
    return n >= 0 && (size_t)n < size ? buf : NULL;
}
