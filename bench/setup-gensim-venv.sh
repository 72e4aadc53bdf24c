#!/usr/bin/env bash
# Creates the Python environment of bench/gensim_word2vec.py (gensim's
# Word2Vec and its evaluation data): bench/setup-gensim-venv.sh [DIR]
# (default .venv-gensim), then DIR/bin/python bench/gensim_word2vec.py ...
# Needs python3-venv (Debian). Only the bench uses it, never the library.
set -euo pipefail
dir="${1:-.venv-gensim}"
[ -x "$dir/bin/python" ] || python3 -m venv "$dir"
"$dir/bin/pip" install -q gensim numpy scipy
"$dir/bin/python" -c 'import gensim; print("gensim", gensim.__version__, "in '"$dir"'")'
