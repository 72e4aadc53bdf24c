#!/bin/sh
# Makes the Python virtual environment `oclnn bench --compare-pytorch` and
# bench/pytorch_reference.py use: a current PyTorch from PyPI (CPU wheels)
# and numpy. Idempotent: an environment that already imports torch is kept.
#   bench/setup-torch-venv.sh            -> bench/.venv (the bench's default)
#   OCLNN_TORCH_VENV=DIR bench/setup-torch-venv.sh
# An existing venv elsewhere (e.g. /work/venv-torch) needs no setup: point
# OCLNN_TORCH_VENV at it when running the bench.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${OCLNN_TORCH_VENV:-$here/.venv}
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import torch, numpy' 2>/dev/null; then
    echo "$venv: torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)') already there"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet --index-url https://download.pytorch.org/whl/cpu torch || "$venv/bin/pip" install --quiet torch
"$venv/bin/pip" install --quiet numpy
echo "$venv: torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
