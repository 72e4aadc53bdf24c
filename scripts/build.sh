#!/usr/bin/env bash
# Configures and builds oclnn into build/ (or $OCLNN_BUILD_DIR).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${OCLNN_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=${OCLNN_BUILD_TYPE:-RelWithDebInfo} ${OCLNN_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"
