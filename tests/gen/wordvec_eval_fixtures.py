#!/usr/bin/env python3
"""Word-vector query and evaluation fixtures for tests/test_wordvec_eval.c
and tests/test_cli.c, with expected results from numpy and gensim.

Run with a Python that has gensim, numpy and scipy (/work/venv-gensim):

    /work/venv-gensim/bin/python tests/gen/wordvec_eval_fixtures.py [OUT_DIR]

OUT_DIR defaults to tests/data/wordvec_eval. The evaluation files are
subsets of the ones gensim ships (gensim/test/test_data), written under the
same names so that OUT_DIR works as `oclnn word2vec-eval --data OUT_DIR`:

    questions-words.txt  4 sections of the Google analogies (2 semantic, 2
                         "gram" syntactic), the questions among 8 word pairs
                         of each, plus 3 per section with a word outside the
                         vocabulary (skipped and counted)
    wordsim353.tsv       the comment lines and the first 150 pairs
    simlex999.txt        the comment lines and the first 150 pairs
    vectors.bin          word2vec binary (written by gensim), ~600 words of
                         dim 24: the words of those files (lower case) and
                         filler words, in shuffled order, with two case
                         variants: "Man" before "man" (so the case-
                         insensitive evaluation uses its vector) and
                         "Athens" after "athens" (a near copy of it, which
                         gensim ignores as an answer because its upper case
                         is an input's). Vectors are random except that each
                         analogy section adds its own offset to the second
                         word of its pairs, and each similarity pair pulls
                         its second word towards its first by the human
                         score, so neighbours, accuracies and correlations
                         are neither trivial nor random.
    expected_nearest.txt per line "restrict<TAB>query<TAB>w1<TAB>s1..." with
                         the 10 nearest words by cosine from numpy brute
                         force in float64 (the query excluded)
    expected_analogy.txt per line "restrict<TAB>a<TAB>b<TAB>c<TAB>w1<TAB>s1..."
                         likewise for unit(b) - unit(a) + unit(c), a b c
                         excluded (numpy; gensim's most_similar agrees)
    expected_eval.txt    gensim's evaluate_word_pairs / evaluate_word_analogies
                         (case_insensitive=True) for restrict_vocab 300000
                         and RESTRICT:
                           pairs RESTRICT FILE used oov spearman pearson
                           analogy RESTRICT SECTION correct used oov
                         (SECTION "total" is gensim's "Total accuracy")

Results whose order would hang on a difference under 1e-5 (neighbours) or
1e-6 (pair cosines) are left out, so that float32 rounding on the device
cannot change them; the script checks this for every line it writes.
"""
import os
import sys

import numpy as np
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

DIM = 24
VOCAB = 600
RESTRICT = 480  # a restricted evaluation / search: the first 480 rows
SECTIONS = ["capital-common-countries", "family", "gram3-comparative", "gram8-plural"]
PAIRS_PER_SECTION = 8
NOISE = {"family": 0.7}  # per-dimension noise on the pair offsets (default 1.4): family's analogies mostly work
MUST_PAIRS = {"family": [("king", "queen"), ("man", "woman")]}
PAIR_LINES = 150
K = 10
GAP = 1e-5


def read_sections(path):
    sections, cur = {}, None
    order = []
    for line in open(path, encoding="utf-8"):
        if line.startswith(": "):
            cur = line[2:].strip()
            sections[cur] = []
            order.append(cur)
        else:
            sections[cur].append(line)
    return order, sections


def read_pairs(path):
    comments, pairs = [], []
    for line in open(path, encoding="utf-8"):
        (comments if line.startswith("#") else pairs).append(line)
    return comments, pairs


def ranked(vecs, query, exclude, n):
    """Rows of the first n by cosine to query (float64), best first, ties to the lower row."""
    unit = vecs[:n] / np.maximum(np.linalg.norm(vecs[:n], axis=1, keepdims=True), 1e-12)
    sims = unit @ (query / np.linalg.norm(query))
    order = np.lexsort((np.arange(n), -sims))
    return [(int(r), float(sims[r])) for r in order if r not in exclude], sims


def unit(v):
    return v / np.linalg.norm(v)


def separated(scores, count):
    """The first count+1 scores differ pairwise by more than GAP."""
    s = scores[: count + 1]
    return all(s[i] - s[i + 1] > GAP for i in range(len(s) - 1))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data", "wordvec_eval")
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    rng = np.random.default_rng(20261202)

    # ---- vocabulary: analogy pairs, similarity pairs, filler
    order, sections = read_sections(datapath("questions-words.txt"))
    chosen = {}
    for s in SECTIONS:
        pairs = []
        for line in sections[s]:
            a, b, c, d = line.split()
            for pr in ((a, b), (c, d)):
                if pr not in pairs:
                    pairs.append(pr)
        want = MUST_PAIRS.get(s, [])
        chosen[s] = want + [pr for pr in pairs if pr not in want][: PAIRS_PER_SECTION - len(want)]
    ws_comments, ws_pairs = read_pairs(datapath("wordsim353.tsv"))
    sl_comments, sl_pairs = read_pairs(datapath("simlex999.txt"))
    words = []

    def add(w):
        w = w.lower()
        if w not in words:
            words.append(w)

    for s in SECTIONS:
        for a, b in chosen[s]:
            add(a)
            add(b)
    for lines in (ws_pairs, sl_pairs):
        for line in lines[: PAIR_LINES - 25]:  # the last 25 of each file's subset may fall outside
            a, b, _ = line.split("\t")
            add(a)
            add(b)
    filler = sorted({w.lower() for s in order for line in sections[s] for w in line.split()} - set(words))
    rng.shuffle(filler)
    words += filler[: VOCAB - 2 - len(words)]
    rng.shuffle(words)
    words.insert(words.index("man"), "Man")
    words.insert(words.index("athens") + 1, "Athens")
    row = {w: i for i, w in enumerate(words)}

    # ---- vectors with structure
    vecs = rng.standard_normal((len(words), DIM))
    fixed = set()
    for s in SECTIONS:
        offset = rng.standard_normal(DIM) * 1.2
        for a, b in chosen[s]:
            a, b = a.lower(), b.lower()
            if b not in fixed:
                vecs[row[b]] = vecs[row[a]] + offset + rng.standard_normal(DIM) * NOISE.get(s, 1.4)
                fixed.add(b)
            fixed.add(a)
    pulled = set()
    for lines in (ws_pairs, sl_pairs):
        for line in lines[:PAIR_LINES]:
            a, b, score = line.split("\t")
            a, b = a.lower(), b.lower()
            if a in row and b in row and a not in fixed and b not in fixed | pulled and a != b:
                pull = float(score) / 10.0
                vecs[row[b]] = pull * vecs[row[a]] + (1 - pull) * vecs[row[b]]
                pulled.add(b)
    vecs[row["Man"]] = rng.standard_normal(DIM)
    vecs[row["Athens"]] = vecs[row["athens"]] + rng.standard_normal(DIM) * 0.05
    kv = KeyedVectors(DIM)
    kv.add_vectors(words, vecs.astype(np.float32))
    kv.save_word2vec_format(p("vectors.bin"), binary=True)
    kv = KeyedVectors.load_word2vec_format(p("vectors.bin"), binary=True)
    assert kv.index_to_key == words
    v32 = kv.vectors
    v64 = v32.astype(np.float64)

    # ---- evaluation file subsets
    with open(p("questions-words.txt"), "w", encoding="utf-8") as f:
        for s in SECTIONS:
            f.write(f": {s}\n")
            keep = {(a.lower(), b.lower()) for a, b in chosen[s]}
            oov = 0
            for line in sections[s]:
                a, b, c, d = [w.lower() for w in line.split()]
                if (a, b) in keep and (c, d) in keep and (a, b) != (c, d):
                    f.write(line)
                elif oov < 3 and any(w not in row for w in (a, b, c, d)):
                    f.write(line)
                    oov += 1
    for name, comments, lines in (("wordsim353.tsv", ws_comments, ws_pairs), ("simlex999.txt", sl_comments, sl_pairs)):
        with open(p(name), "w", encoding="utf-8") as f:
            f.writelines(comments + lines[:PAIR_LINES])

    # ---- expected neighbours and analogies (numpy float64 brute force)
    def top(query, exclude, n):
        hits, _ = ranked(v64, query, exclude, n)
        assert separated([s for _, s in hits], K), "near tie in the expected neighbours"
        return hits[:K]

    with open(p("expected_nearest.txt"), "w", encoding="utf-8") as f:
        for restrict, queries in ((0, ["king", "man", "Man", "athens", "china", "cold", "cars", "tiger"]),
                                  (RESTRICT, ["king", "woman"])):
            n = restrict or len(words)
            for q in queries:
                hits = top(v64[row[q]], {row[q]}, n)
                ref = kv.most_similar(q, topn=K, restrict_vocab=restrict or None)
                assert [w for w, _ in ref] == [words[r] for r, _ in hits], f"gensim disagrees on {q}"
                f.write("\t".join([str(restrict), q] + [f"{words[r]}\t{s:.9g}" for r, s in hits]) + "\n")
    with open(p("expected_analogy.txt"), "w", encoding="utf-8") as f:
        for restrict, (a, b, c) in ((0, ("man", "king", "woman")), (0, ("athens", "greece", "baghdad")),
                                    (0, ("big", "bigger", "cold")), (0, ("car", "cars", "bird")),
                                    (RESTRICT, ("man", "king", "woman"))):
            n = restrict or len(words)
            q = unit(v64[row[b]]) - unit(v64[row[a]]) + unit(v64[row[c]])
            hits = top(q, {row[a], row[b], row[c]}, n)
            ref = kv.most_similar(positive=[b, c], negative=[a], topn=K, restrict_vocab=restrict or None)
            assert [w for w, _ in ref] == [words[r] for r, _ in hits], f"gensim disagrees on {a} {b} {c}"
            f.write("\t".join([str(restrict), a, b, c] + [f"{words[r]}\t{s:.9g}" for r, s in hits]) + "\n")

    # ---- gensim's evaluation, with checks that float32 rounding cannot flip it
    with open(p("expected_eval.txt"), "w", encoding="utf-8") as f:
        for restrict in (300000, RESTRICT):
            n = min(restrict, len(words))
            upper = {}
            for r in reversed(range(n)):
                upper[words[r].upper()] = r
            for name in ("wordsim353.tsv", "simlex999.txt"):
                used = oov = 0
                sims = []
                for line in open(p(name), encoding="utf-8"):
                    if line.startswith("#"):
                        continue
                    a, b, _ = [w.upper() for w in line.split("\t")]
                    if a in upper and b in upper:
                        used += 1
                        sims.append(float(np.dot(unit(v64[upper[a]]), unit(v64[upper[b]]))))
                    else:
                        oov += 1
                ss = sorted(sims)
                assert all(y - x > 1e-6 or y == x for x, y in zip(ss, ss[1:])), f"{name}: near tie in cosines"
                pearson, spearman, oov_ratio = kv.evaluate_word_pairs(p(name), restrict_vocab=restrict)
                assert abs(oov_ratio - 100.0 * oov / (used + oov)) < 1e-9
                f.write(f"pairs\t{restrict}\t{name}\t{used}\t{oov}\t{spearman[0]:.17g}\t{pearson[0]:.17g}\n")
            score, secs = kv.evaluate_word_analogies(p("questions-words.txt"), restrict_vocab=restrict)
            lines_per = {}
            cur = None
            for line in open(p("questions-words.txt"), encoding="utf-8"):
                if line.startswith(": "):
                    cur = line[2:].strip()
                    lines_per[cur] = 0
                    continue
                lines_per[cur] += 1
                a, b, c, d = [w.upper() for w in line.split()]
                if all(w in upper for w in (a, b, c, d)):
                    q = unit(v64[upper[b]]) - unit(v64[upper[a]]) + unit(v64[upper[c]])
                    hits, _ = ranked(v64, q, {upper[a], upper[b], upper[c]}, n)
                    # gensim's answer: the first of the top 5 not a case variant of an input
                    j = next((i for i, (r, _) in enumerate(hits[:5]) if words[r].upper() not in (a, b, c)), 4)
                    assert separated([s for _, s in hits], j + 1), f"near tie in the analogy {line.strip()}"
            total_oov = 0
            for sec in secs:
                used = len(sec["correct"]) + len(sec["incorrect"])
                if sec["section"] == "Total accuracy":
                    name, oov = "total", total_oov
                else:
                    name, oov = sec["section"], lines_per[sec["section"]] - used
                    total_oov += oov
                f.write(f"analogy\t{restrict}\t{name}\t{len(sec['correct'])}\t{used}\t{oov}\n")
            print(f"restrict {restrict}: analogy accuracy {score:.3f}")
    print(f"wrote {len(words)} words x {DIM} and the expected results to {out}")


if __name__ == "__main__":
    main()
