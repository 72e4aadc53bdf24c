#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every
# Check suite through ctest on the default OpenCL device (PoCL on a CPU-only
# machine). Exit status is ctest's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
"$root/scripts/build.sh"
build=${OCLNN_BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure -j"${OCLNN_TEST_JOBS:-2}" "$@"
