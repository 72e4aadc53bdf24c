#!/usr/bin/env python3
"""gensim's word-vector evaluation, side by side with `oclnn word2vec-eval`.

    python bench/word2vec_eval_reference.py VECTORS [--data DIR] [--restrict N]
        [--oclnn build/oclnn] [--device D]

Runs KeyedVectors.evaluate_word_pairs (WordSim-353, SimLex-999) and
evaluate_word_analogies (questions-words.txt) with case_insensitive=True on
a word2vec file (binary or text, detected by its first bytes), then
`oclnn word2vec-eval --json` on the same file and data, prints both figures
side by side with the wall time of each, and exits 1 if any count differs
or a correlation differs by more than 1e-6. Needs gensim and scipy; the data
folder is what scripts/get-eval-data.sh fetches.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from gensim.models import KeyedVectors


def default_data():
    root = os.environ.get("OCLNN_DATA") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "oclnn")
    return os.path.join(root, "word-eval")


def is_binary(path):
    with open(path, "rb") as f:
        f.readline()
        rec = f.read(4096)
    try:
        rec.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def gensim_results(kv, data, restrict):
    out = {}
    for name in ("wordsim353.tsv", "simlex999.txt"):
        path = os.path.join(data, name)
        pearson, spearman, oov_ratio = kv.evaluate_word_pairs(path, restrict_vocab=restrict)
        total = sum(1 for line in open(path, encoding="utf8") if not line.startswith("#") and len(line.split("\t")) == 3)
        skipped = round(total * oov_ratio / 100)
        out[name] = {"spearman": float(spearman[0]), "pearson": float(pearson[0]), "used": total - skipped,
                     "skipped": skipped}
    _, sections = kv.evaluate_word_analogies(os.path.join(data, "questions-words.txt"), restrict_vocab=restrict)
    sem = {"correct": 0, "used": 0}
    syn = {"correct": 0, "used": 0}
    for s in sections:
        r = {"correct": len(s["correct"]), "used": len(s["correct"]) + len(s["incorrect"])}
        name = "total" if s["section"] == "Total accuracy" else s["section"]
        out[name] = r
        if name != "total":
            to = syn if name.startswith("gram") else sem
            to["correct"] += r["correct"]
            to["used"] += r["used"]
    out["semantic"], out["syntactic"] = sem, syn
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vectors")
    ap.add_argument("--data", default=default_data())
    ap.add_argument("--restrict", type=int, default=300000)
    ap.add_argument("--oclnn", default="build/oclnn")
    ap.add_argument("--device")
    a = ap.parse_args()

    t = time.perf_counter()
    kv = KeyedVectors.load_word2vec_format(a.vectors, binary=is_binary(a.vectors))
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    ref = gensim_results(kv, a.data, a.restrict)
    t_gensim = time.perf_counter() - t

    cmd = [a.oclnn, "word2vec-eval", "--vectors", a.vectors, "--data", a.data, "--restrict", str(a.restrict), "--json"]
    if a.device:
        cmd += ["--device", a.device]
    t = time.perf_counter()
    lines = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()
    t_oclnn = time.perf_counter() - t
    got = {}
    for line in lines:
        r = json.loads(line)
        got[r.get("file") or r["section"]] = r

    print(f"{a.vectors}: {len(kv)} words x {kv.vector_size}, restrict {a.restrict}")
    print(f"{'':28} {'gensim':>24} {'oclnn':>24}")
    bad = 0
    for name, r in ref.items():
        o = got.get(name)
        if o is None:
            print(f"{name:28} missing from oclnn's output")
            bad += 1
            continue
        if "spearman" in r:
            g_s = f"{r['spearman']:.6f}/{r['pearson']:.6f} ({r['used']})"
            o_s = f"{o['spearman']:.6f}/{o['pearson']:.6f} ({o['used']})"
            ok = (abs(r["spearman"] - o["spearman"]) <= 1e-6 and abs(r["pearson"] - o["pearson"]) <= 1e-6
                  and r["used"] == o["used"])
        else:
            g_s = f"{r['correct']}/{r['used']}"
            o_s = f"{o['correct']}/{o['used']}"
            ok = r["correct"] == o["correct"] and r["used"] == o["used"]
        bad += not ok
        print(f"{name:28} {g_s:>24} {o_s:>24}{'' if ok else '  DIFFERS'}")
    print(f"wall time: gensim {t_load:.2f} s load + {t_gensim:.2f} s evaluate; "
          f"oclnn {t_oclnn:.2f} s (load + device + evaluate)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
