#!/usr/bin/env bash
# Downloads the standard word-vector evaluation files into the oclnn data
# directory, once:
#   wordsim353.tsv       WordSim-353 (Finkelstein et al. 2002), as gensim ships it
#   simlex999.txt        SimLex-999 (Hill et al. 2015), as gensim ships it
#   questions-words.txt  the Google analogy questions (Mikolov et al. 2013)
# They come from gensim's PyPI wheel (gensim/test/test_data/), fetched with
# `pip download --no-deps` and unpacked by Python's zipfile module, each file
# checked against the wheel's RECORD (see scripts/lib/wheel.sh; the same way
# scripts/get-model.sh fetches MiniLM). The wheel is pinned to one gensim
# version and one platform tag, so any python3 with pip gets the same files.
# They land in
#   $OCLNN_DATA/word-eval                      when OCLNN_DATA is set, else
#   ${XDG_DATA_HOME:-~/.local/share}/oclnn/word-eval
# next to a sha256 list (oclnn-eval.sha256); a second run checks them and
# downloads nothing when they are intact. The last line printed is the
# folder, which is where `oclnn word2vec-eval` looks by default (--data DIR).
set -euo pipefail

case "${1:-}" in
  "") ;;
  -h|--help) echo "usage: scripts/get-eval-data.sh  (WordSim-353, SimLex-999, Google analogies; ~28 MB download)"; exit 0 ;;
  *) echo "usage: scripts/get-eval-data.sh  (no arguments)" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/wheel.sh
. "$here/lib/wheel.sh"
dest="$(oclnn_data_root)/word-eval"
sums=oclnn-eval.sha256
files=(wordsim353.tsv simlex999.txt questions-words.txt)

if wheel_intact get-eval-data "$dest" "$sums"; then
  echo "get-eval-data: the evaluation files are already in place (checked)" >&2
  echo "$dest"
  exit 0
fi
wheel_fetch get-eval-data "gensim==4.4.0 --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp" \
  "$dest" "$sums" gensim/test/test_data/ "${files[@]}"
echo "get-eval-data: ${files[*]} are in $dest" >&2
echo "$dest"
