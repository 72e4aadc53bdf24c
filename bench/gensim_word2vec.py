#!/usr/bin/env python3
"""Reference for `oclnn word2vec`: trains gensim's Word2Vec on the same corpus
with the same settings and evaluates word vectors, gensim's or anyone's.

  bench/gensim_word2vec.py train --corpus FILE [--output gensim.bin] [--cbow] [--no-eval]
        [--dim 100 --window 5 --negative 5 --min-count 5 --sample 1e-3
         --epochs 5 --alpha A --workers 2 --seed 1]
  bench/gensim_word2vec.py eval VECTORS.bin [MORE.bin ...] [--restrict 30000]

train prints gensim's speed as corpus vocabulary words per second (epochs x
the tokens of words that reach min_count, over the time of model.train(),
vocabulary building excluded: what `oclnn word2vec` reports), then
evaluates its vectors. eval loads word2vec files with
KeyedVectors.load_word2vec_format and scores them with gensim's own
evaluate_word_pairs (WordSim-353, SimLex-999: Spearman rho, pairs with an
unknown word skipped, as gensim does) and evaluate_word_analogies (Google's
questions-words.txt, the restrict_vocab most frequent words, case_insensitive
as gensim defaults), using the data files shipped inside gensim's package.
The venv comes from bench/setup-gensim-venv.sh.
"""
import argparse
import logging
import os
import time

import gensim
from gensim.models import KeyedVectors, Word2Vec
from gensim.models.word2vec import LineSentence

DATA = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data")


def evaluate(path, restrict):
    kv = KeyedVectors.load_word2vec_format(path, binary=not path.endswith(".txt"))
    res = {"vectors": path, "vocab": len(kv.index_to_key)}
    for name, fname in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        pearson, spearman, oov = kv.evaluate_word_pairs(os.path.join(DATA, fname))
        res[name] = round(float(spearman[0]), 4)
        res[name + "_oov%"] = round(float(oov), 1)
    score, sections = kv.evaluate_word_analogies(os.path.join(DATA, "questions-words.txt"),
                                                 restrict_vocab=restrict)
    total = next(s for s in sections if s["section"] == "Total accuracy")
    res["analogy"] = round(float(score), 4)
    res["analogy_questions"] = len(total["correct"]) + len(total["incorrect"])
    print(" ".join(f"{k}={v}" for k, v in res.items()), flush=True)
    return res


def train(a):
    sentences = LineSentence(a.corpus)
    alpha = a.alpha if a.alpha else (0.05 if a.cbow else 0.025)
    model = Word2Vec(vector_size=a.dim, window=a.window, negative=a.negative, hs=0, min_count=a.min_count,
                     sample=a.sample, sg=0 if a.cbow else 1, cbow_mean=1, alpha=alpha, min_alpha=0.0001,
                     workers=a.workers, seed=a.seed)
    t0 = time.perf_counter()
    model.build_vocab(sentences)
    t_vocab = time.perf_counter() - t0
    vocab_words = sum(model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key)
    t0, c0 = time.perf_counter(), time.process_time()
    trained, raw = model.train(sentences, total_examples=model.corpus_count, epochs=a.epochs)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    words = a.epochs * vocab_words
    print(f"gensim {gensim.__version__} {'CBOW' if a.cbow else 'skip-gram'} workers={a.workers}: vocabulary "
          f"{len(model.wv.index_to_key)} words, {words} words trained ({trained} after subsampling) in "
          f"{secs:.2f} s: {words / secs:.0f} words/s; vocabulary {t_vocab:.2f} s; CPU time of training {cpu:.2f} s",
          flush=True)
    if a.output:
        model.wv.save_word2vec_format(a.output, binary=not a.output.endswith(".txt"))
        if not a.no_eval:
            evaluate(a.output, a.restrict)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--corpus", required=True)
    t.add_argument("--output", default="gensim-word2vec.bin")
    t.add_argument("--cbow", action="store_true")
    t.add_argument("--dim", type=int, default=100)
    t.add_argument("--window", type=int, default=5)
    t.add_argument("--negative", type=int, default=5)
    t.add_argument("--min-count", type=int, default=5)
    t.add_argument("--sample", type=float, default=1e-3)
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--alpha", type=float, default=0)
    t.add_argument("--workers", type=int, default=2)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--restrict", type=int, default=30000)
    t.add_argument("--no-eval", action="store_true", help="only train and save")
    e = sub.add_parser("eval")
    e.add_argument("vectors", nargs="+")
    e.add_argument("--restrict", type=int, default=30000)
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if a.cmd == "train":
        train(a)
    else:
        for v in a.vectors:
            evaluate(v, a.restrict)


if __name__ == "__main__":
    main()
