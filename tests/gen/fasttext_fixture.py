#!/usr/bin/env python3
"""fastText .bin fixture for tests/test_wordvec.c, written by gensim.

Trains a tiny gensim FastText model (skip-gram, dim 12, n-grams 3..5,
bucket 2000, 2 epochs, one worker, fixed seed: deterministic) on a small
generated text with ASCII and non-ASCII words, and saves it in Facebook's
binary format with gensim.models.fasttext.save_facebook_model. Then loads
it back with gensim.models.fasttext.load_facebook_model (the reader of
Facebook's files) and writes the vectors oclnn must reproduce:

    model.bin      the model (magic 793712314, version 12), as fastText's
                   save_model writes it
    expected.txt   one line per word: kind (iv or oov), the word, then its
                   vector from the loaded model's wv[word] ("%.9g"):
                   in-vocabulary words (their own row averaged with their
                   n-gram rows) and out-of-vocabulary ones (n-gram rows
                   only; gensim's ft_ngram_hashes, the same FNV-1a on signed
                   bytes as fastText's dictionary)

    /work/venv-gensim/bin/python tests/gen/fasttext_fixture.py [OUT_DIR]
"""
import os
import struct
import sys

import numpy as np
from gensim.models.fasttext import FastText, load_facebook_model, save_facebook_model

STEMS = ["play", "walk", "talk", "jump", "read", "cook", "paint", "write", "sing", "dance",
         "café", "naïve", "über", "привет", "日本"]
SUFFIXES = ["", "s", "ed", "ing", "er"]
OOV = ["playful", "walkers", "singings", "cafés", "приветик", "日本語", "zzz", "a", "dancer", "ü"]


def corpus():
    words = [s + x for s in STEMS for x in SUFFIXES]
    rng = np.random.default_rng(20261202)
    return [[words[i] for i in rng.integers(0, len(words), 12)] for _ in range(300)]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data", "fasttext")
    os.makedirs(out, exist_ok=True)
    model = FastText(vector_size=12, window=3, min_count=1, sg=1, min_n=3, max_n=5, bucket=2000, epochs=2,
                     workers=1, seed=7)
    sentences = corpus()
    model.build_vocab(corpus_iterable=sentences)
    model.train(corpus_iterable=sentences, total_examples=len(sentences), epochs=model.epochs)
    path = os.path.join(out, "model.bin")
    save_facebook_model(model, path)
    with open(path, "rb") as f:
        magic, version = struct.unpack("<ii", f.read(8))
    assert (magic, version) == (793712314, 12), (magic, version)
    loaded = load_facebook_model(path).wv
    vocab = list(loaded.index_to_key)
    iv = vocab[:3] + vocab[len(vocab) // 2:len(vocab) // 2 + 2] + [w for w in vocab if not w.isascii()][:4]
    oov = [w for w in OOV if w not in loaded.key_to_index]
    with open(os.path.join(out, "expected.txt"), "w", encoding="utf-8") as f:
        for kind, words in (("iv", iv), ("oov", oov)):
            for w in words:
                f.write(kind + " " + w + " " + " ".join("%.9g" % x for x in np.asarray(loaded[w], np.float32)) + "\n")
    print(f"{path}: {len(vocab)} words, dim {loaded.vector_size}, bucket {loaded.bucket}, "
          f"{os.path.getsize(path)} bytes; {len(iv)} + {len(oov)} expected vectors")


if __name__ == "__main__":
    main()
