#!/usr/bin/env bash
# Runs the whole test suite once per OpenCL device (OCLNN_DEVICE=P:D), for
# machines with more than one device (a GPU next to PoCL, say). The README's
# test command runs on the default device only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
"$root/scripts/build.sh"
build=${OCLNN_BUILD_DIR:-$root/build}
status=0
for index in $("$build/oclnn" devices --json | sed -n 's/.*"index":"\([0-9]*:[0-9]*\)".*/\1/p'); do
  echo "== tests on device $index"
  (cd "$build" && OCLNN_DEVICE=$index ctest --output-on-failure -j"${OCLNN_TEST_JOBS:-2}" "$@") || status=1
done
exit $status
