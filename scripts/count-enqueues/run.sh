#!/usr/bin/env bash
# OpenCL enqueues per SimpleCNN training step (batch 64), counted by an
# LD_PRELOAD shim around the OpenCL entry points: the difference between
# 12 and 2 steps, divided by 10. Usage: run.sh [build dir] (default build/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -shared -fPIC -o "$tmp/libclcount.so" "$here/clcount.c" -ldl -lOpenCL
cc -O2 -I"$here/../../include" -o "$tmp/steps" "$here/steps.c" -L"$build" -loclnn -Wl,-rpath,"$build"
for opt in sgd adam; do
    a=$(LD_PRELOAD="$tmp/libclcount.so" "$tmp/steps" 2 $opt 2>&1 | grep clcount)
    b=$(LD_PRELOAD="$tmp/libclcount.so" "$tmp/steps" 12 $opt 2>&1 | grep clcount)
    echo "$opt, per step:" $(paste <(echo "$a" | tr ' ' '\n') <(echo "$b" | tr ' ' '\n') |
        awk '$1 ~ /^[0-9]+$/ { printf "%s ", ($2 - $1) / 10; next } { printf "%s ", $1 }' | sed 's/\[clcount\] //')
done
