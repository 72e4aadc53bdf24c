#!/usr/bin/env python3
"""Word-vector fixtures for tests/test_wordvec.c, written by gensim.

Run with a Python that has gensim (python3 -m venv /work/venv-gensim &&
/work/venv-gensim/bin/pip install gensim):

    /work/venv-gensim/bin/python tests/gen/wordvec_fixtures.py [OUT_DIR]

OUT_DIR defaults to tests/data/wordvec. Writes 40 words (ASCII and
non-ASCII: accents, Cyrillic, CJK, an emoji) with dim-8 vectors from a fixed
seed, in every format, each written by gensim's save_word2vec_format:

    vectors.bin        word2vec binary (header, no newline after vectors)
    vectors.txt        word2vec text
    vectors.vec        fastText .vec: word2vec text with fastText's trailing
                       space at the end of each row
    vectors.glove.txt  GloVe: no header (write_header=False)
    words.txt          the words in row order, one per line (UTF-8)
    expected.f32       the vectors, little-endian f32 [40, 8], exactly
    neighbours.txt     per query word: "query<TAB>word<TAB>score..." with the
                       5 most similar words by cosine from gensim's most_similar

Every file is loaded back with gensim (KeyedVectors.load_word2vec_format)
and checked to give the same words and bits. When OUT_DIR also holds
oclnn_written.txt and oclnn_written.bin (written by oclnn's
oclnn_wordvec_save; test_wordvec checks its writer still produces exactly
those bytes, and OCLNN_WORDVEC_REGEN=1 makes it rewrite them), they are
loaded with gensim too and must give the same words and bits: that is the
committed check that gensim reads oclnn's files exactly.
"""
import os
import sys

import numpy as np
from gensim.models import KeyedVectors

WORDS = [
    "the", "king", "queen", "man", "woman", "prince", "princess", "apple", "orange", "banana",
    "car", "truck", "bicycle", "paris", "france", "berlin", "germany", "tokyo", "japan", "river",
    "café", "naïve", "über", "façade", "smörgåsbord", "jalapeño", "привет", "москва", "日本", "東京",
    "北京", "서울", "αλφα", "שלום", "😀", "dog", "cat", "mouse", "computer", "keyboard",
]
DIM = 8
QUERIES = ["king", "paris", "café", "日本", "привет", "😀"]


def load(path, binary=False, no_header=False):
    return KeyedVectors.load_word2vec_format(path, binary=binary, no_header=no_header)


def same(kv, words, vecs, what):
    assert list(kv.index_to_key) == words, f"{what}: words differ"
    got = np.asarray(kv.vectors, dtype=np.float32)
    assert got.shape == vecs.shape and got.tobytes() == vecs.tobytes(), f"{what}: vectors differ"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data", "wordvec")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261127)
    vecs = rng.standard_normal((len(WORDS), DIM)).astype(np.float32)
    kv = KeyedVectors(DIM)
    kv.add_vectors(WORDS, vecs)

    p = lambda name: os.path.join(out, name)
    kv.save_word2vec_format(p("vectors.bin"), binary=True)
    kv.save_word2vec_format(p("vectors.txt"), binary=False)
    kv.save_word2vec_format(p("vectors.glove.txt"), binary=False, write_header=False)
    with open(p("vectors.txt"), "rb") as f:
        lines = f.read().split(b"\n")
    with open(p("vectors.vec"), "wb") as f:  # fastText writes "word v1 ... vD \n"
        f.write(lines[0] + b"\n")
        for line in lines[1:]:
            if line:
                f.write(line + b" \n")
    with open(p("words.txt"), "w", encoding="utf-8") as f:
        f.write("".join(w + "\n" for w in WORDS))
    with open(p("expected.f32"), "wb") as f:
        f.write(vecs.astype("<f4").tobytes())

    same(load(p("vectors.bin"), binary=True), WORDS, vecs, "vectors.bin")
    same(load(p("vectors.txt")), WORDS, vecs, "vectors.txt")
    same(load(p("vectors.vec")), WORDS, vecs, "vectors.vec")
    same(load(p("vectors.glove.txt"), no_header=True), WORDS, vecs, "vectors.glove.txt")

    with open(p("neighbours.txt"), "w", encoding="utf-8") as f:
        for q in QUERIES:
            sims = kv.most_similar(q, topn=5)
            f.write("\t".join([q] + [f"{w}\t{s:.9g}" for w, s in sims]) + "\n")

    checked = []
    for name, binary in (("oclnn_written.txt", False), ("oclnn_written.bin", True)):
        if os.path.exists(p(name)):
            same(load(p(name), binary=binary), WORDS, vecs, name)
            checked.append(name)
    print(f"wrote fixtures to {out}; gensim read back every file exactly"
          + (f", and oclnn's {', '.join(checked)}" if checked else " (no oclnn_written.* yet)"))


if __name__ == "__main__":
    main()
