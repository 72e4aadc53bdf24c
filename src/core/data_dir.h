/* Where oclnn's download scripts (scripts/get-model.sh, get-eval-data.sh,
 * get-corpus.sh) put their files: $OCLNN_DATA, else
 * ${XDG_DATA_HOME:-$HOME/.local/share}/oclnn. One rule here, so that the
 * library, the CLI and the bench look where the scripts wrote. */
#ifndef OCLNN_CORE_DATA_DIR_H
#define OCLNN_CORE_DATA_DIR_H

#include <stddef.h>

/* "<data dir>/<rel>" into buf; NULL when it does not fit. */
const char *oclnn_data_dir_file(const char *rel, char *buf, size_t size);

#endif
