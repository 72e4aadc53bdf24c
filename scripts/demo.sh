#!/usr/bin/env bash
# The README's main job: installs what is missing, builds, lists the OpenCL
# devices, then trains the classic SimpleCNN on Fashion-MNIST for one epoch
# on the best device found ($OCLNN_DEVICE overrides) and prints its test
# accuracy. Extra arguments go to `oclnn train simple-cnn`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
"$root/scripts/build.sh"
oclnn="${OCLNN_BUILD_DIR:-$root/build}/oclnn"
echo "== OpenCL devices"
"$oclnn" devices
echo "== SimpleCNN on Fashion-MNIST, one epoch"
"$oclnn" train simple-cnn --epochs 1 --batch 64 --optimizer adam --lr 0.001 \
  --save "${OCLNN_DEMO_CHECKPOINT:-$root/build/simple-cnn.safetensors}" "$@"
