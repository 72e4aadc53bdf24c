#!/usr/bin/env python3
"""PyTorch reference timings for rows of `oclnn bench`, run on the same machine,
wall clock, median of --repeat runs after a warm-up:

  simplecnn  training step (zero_grad, forward, backward, SGD momentum 0.9
             step) and eval-mode inference, batch 64 and 256, random images
  rnn        nn.LSTM / nn.GRU (batch_first, 2 layers): forward under no_grad
             ("fwd") and zero_grad + forward + backward of sum(out * r)
             ("train", no optimizer step), for the cases of bench/bench_rnn.c;
             GFLOP/s with the same formula (GEMM work only: per layer,
             T * 2 * N * G*H * (in + H), G = 4 LSTM / 3 GRU; train = 3x)
  attention  F.scaled_dot_product_attention on [N, H, L, D] (the shapes of
             bench/bench_attention.c): forward under no_grad and forward +
             backward of sum(out * r); GFLOP/s 4 N H L^2 D forward, 3.5x that
             for forward+backward (as the oclnn rows); --quick for the
             smaller variants of `oclnn bench --quick`
  embedding  the cases of bench/bench_embedding.c: F.embedding (sparse=True)
             on a [V, D] table with 64 x 128 i64 ids, forward under no_grad
             ("fwd") and forward + backward of sum(out * r) ("train", no
             optimizer step), GB/s counted as oclnn counts them; top-10
             cosine search of m = 1 and 1024 queries (--quick: 256) against a
             table L2-normalised once (not timed): per batch F.normalize of
             the queries, matmul per chunk of the table (the [m, chunk]
             scores within 256 MiB, as oclnn), torch.topk per chunk and over
             the merged lists; queries/s and GFLOP/s (2 m n D)

--bert DIR times only the `minilm` rows: all-MiniLM-L6-v2 sentence embeddings
per second (sentence-transformers' encode when installed, else transformers'
BertModel + mean pooling + normalisation, sorted by length as encode does),
batch 1 and 32, on the 64 sentences of 8-64 tokens bench/bench_bert.c builds.

--serve is the other end of `oclnn bench --compare-pytorch`: it prints
"ready torch <version>, <N> threads", then answers one request line at a time
on stdin until EOF:
  gemm M N K TA TB REPEAT   torch.matmul of op(A) [M, K] and op(B) [K, N] (TA/TB 1:
                            the operand is stored transposed and passed as a
                            .t() view, as the oclnn case stores it)
  simplecnn KIND BATCH REPEAT
                            SimpleCNN on random [BATCH, 1, 28, 28] images, KIND
                            train (zero_grad, forward, cross-entropy, backward,
                            SGD momentum 0.9 step) or infer (eval, no_grad); the
                            model is made once per batch size and kept
  conv KIND N CIN H W COUT K PAD REPEAT
                            F.conv2d with bias (stride 1) on random [N, CIN, H, W]
                            input and [COUT, CIN, K, K] weights, KIND fwd
                            (no_grad) or train (forward, then the gradients
                            of sum(y * r) into input, weight and bias); four
                            warm-up runs, not one
with "ok MEDIAN_S MIN_S" (after one warm-up run) or "error WHY".

Use a current PyTorch (bench/setup-torch-venv.sh makes a virtual environment
with pip install torch numpy; add transformers for --bert):
    /work/venv-torch/bin/python bench/pytorch_reference.py [--threads N] [--only simplecnn,rnn,attention,embedding] [--quick] [--bert DIR]
"""
import argparse
import time

import torch
import torch.nn as nn


class SimpleCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.drop = nn.Dropout(0.25)
        self.fc1 = nn.Linear(3136, 1000)
        self.fc2 = nn.Linear(1000, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = self.drop(x).flatten(1)
        return self.fc2(torch.relu(self.fc1(x)))


def time_runs(fn, repeat):
    """(median, min) wall seconds of repeat runs after one warm-up."""
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    n = len(times)
    return (times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])), times[0]


def median_seconds(fn, repeat):
    return time_runs(fn, repeat)[0]


def simplecnn_steps(batch):
    """The training step and inference pass timed for SimpleCNN at `batch`."""
    model = SimpleCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))

    def train_step():
        model.train()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    def infer():
        model.eval()
        with torch.no_grad():
            model(x)

    return {"train": train_step, "infer": infer}


# (label, input, hidden, layers, batch, steps), as in bench/bench_rnn.c
RNN_CASES = [("large", 256, 256, 2, 64, 100), ("classic", 10, 20, 2, 64, 50)]


def rnn_flops(gates, i, h, layers, n, t):
    return sum(t * 2.0 * n * gates * h * ((i if l == 0 else h) + h) for l in range(layers))


def bench_rnn(args):
    for label, i, h, layers, n, t in RNN_CASES:
        for kind, cls, gates in (("lstm", nn.LSTM, 4), ("gru", nn.GRU, 3)):
            m = cls(i, h, num_layers=layers, batch_first=True)
            x = torch.rand(n, t, i) * 2 - 1
            r = torch.rand(n, t, h) * 2 - 1
            fwd = rnn_flops(gates, i, h, layers, n, t)

            def forward():
                m.eval()
                with torch.no_grad():
                    m(x)

            def train():
                m.train()
                m.zero_grad()
                out, _ = m(x)
                (out * r).sum().backward()

            for name, fn, flops in (("fwd", forward, fwd), ("train", train, 3 * fwd)):
                s = median_seconds(fn, args.repeat)
                print(f"rnn {kind}.{label}.{name} I{i} H{h} L{layers} N{n} T{t}: {s * 1e3:.2f} ms, "
                      f"{flops / s * 1e-9:.2f} GFLOP/s", flush=True)


WORDS = ("the man woman dog cat is eating food in a small house near river while children play music on old "
         "guitar and people walk through green park with their friends every morning before work city bright").split()


def bench_sentences(count=64):
    """The sentences of bench/bench_bert.c: 6 + (37 i mod 57) words each."""
    return [" ".join(WORDS[(7 * i + 13 * j) % len(WORDS)] for j in range(6 + (37 * i) % 57)) for i in range(count)]


def bench_minilm(model_dir, repeat):
    sentences = bench_sentences()
    from transformers import AutoTokenizer, BertModel
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir).eval()
    order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))

    def raw(batch):
        with torch.no_grad():
            for k in range(0, len(order), batch):
                enc = tok([sentences[i] for i in order[k:k + batch]], padding=True, truncation=True,
                          max_length=256, return_tensors="pt")
                h = model(**enc).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).float()
                torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)
    runs = [("transformers BertModel + mean pooling", raw)]
    try:
        from sentence_transformers import SentenceTransformer
        st = SentenceTransformer(model_dir, device="cpu")

        def encode(batch):
            st.encode(sentences, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)
        runs.append(("sentence-transformers encode", encode))
    except ImportError:
        pass
    for how, embed in runs:
        for batch in (1, 32):
            t = median_seconds(lambda: embed(batch), repeat)
            print(f"minilm embed.b{batch}: {t * 1e3:.1f} ms for {len(sentences)} sentences, "
                  f"{len(sentences) / t:.1f} sentences/s ({how})")


ATTN_CASES = [("bert512", 8, 12, 512, 64), ("long4096", 1, 16, 4096, 64), ("minilm128", 32, 12, 128, 32)]
ATTN_QUICK = [("bert512", 2, 12, 512, 64), ("long1024", 1, 16, 1024, 64), ("minilm128", 8, 12, 128, 32)]


def bench_attention(args):
    F = torch.nn.functional
    for label, n, h, length, d in ATTN_QUICK if args.quick else ATTN_CASES:
        q, k, v, r = (torch.rand(n, h, length, d) * 2 - 1 for _ in range(4))
        qg, kg, vg = (t.clone().requires_grad_() for t in (q, k, v))
        fwd = 4.0 * n * h * length * length * d

        def forward():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v)

        def train():
            for t in (qg, kg, vg):
                t.grad = None
            (F.scaled_dot_product_attention(qg, kg, vg) * r).sum().backward()

        for name, fn, flops in (("fwd", forward, fwd), ("train", train, 3.5 * fwd)):
            s = median_seconds(fn, args.repeat)
            print(f"attention sdpa.{label}.{name} N{n} H{h} L{length} D{d}: {s * 1e3:.2f} ms, "
                  f"{flops / s * 1e-9:.2f} GFLOP/s", flush=True)


EMB_CASES = [("1m_x128", 1000000, 128), ("100k_x300", 100000, 300)]
EMB_QUICK = [("100k_x128", 100000, 128), ("20k_x300", 20000, 300)]


def bench_embedding(args):
    F = torch.nn.functional
    n_ids = 64 * 128
    for label, rows, dim in EMB_QUICK if args.quick else EMB_CASES:
        table = torch.rand(rows, dim) * 2 - 1
        ids = torch.randint(0, rows, (64, 128))
        r = torch.rand(64, 128, dim) * 2 - 1
        weight = table.clone().requires_grad_()

        def forward():
            with torch.no_grad():
                F.embedding(ids, table, sparse=True)

        def train():
            weight.grad = None
            (F.embedding(ids, weight, sparse=True) * r).sum().backward()

        fwd_bytes = 8.0 * n_ids + 8.0 * n_ids * dim
        for name, fn, nbytes in (("fwd", forward, fwd_bytes), ("train", train, 2 * fwd_bytes)):
            s = median_seconds(fn, args.repeat)
            print(f"embedding lookup.{label}.{name} {rows}x{dim} ids 64x128: {s * 1e3:.3f} ms, "
                  f"{nbytes / s * 1e-9:.2f} GB/s", flush=True)
        normalised = F.normalize(table, dim=1)
        del weight, r
        for m in (1, 256 if args.quick else 1024):
            rows_idx = (torch.arange(m) * 7919 + 13) % rows
            queries = 3.0 * table[rows_idx]
            chunk = min(rows, (256 << 20) // 4 // m)

            def search():
                with torch.no_grad():
                    qn = F.normalize(queries, dim=1)
                    vals, idx = [], []
                    for start in range(0, rows, chunk):
                        v, i = torch.topk(qn @ normalised[start:start + chunk].T, 10, dim=1)
                        vals.append(v)
                        idx.append(i + start)
                    if len(vals) == 1:
                        return vals[0], idx[0]
                    v, pos = torch.topk(torch.cat(vals, 1), 10, dim=1)
                    return v, torch.gather(torch.cat(idx, 1), 1, pos)

            s = median_seconds(search, args.repeat)
            v, i = search()
            ok = bool((i[:, 0] == rows_idx).all()) and bool(((v[:, 0] - 1).abs() < 1e-4).all())
            print(f"embedding search.{label}.q{m} {rows}x{dim} q{m} k10: {s * 1e3:.3f} ms, "
                  f"{2.0 * m * rows * dim / s * 1e-9:.2f} GFLOP/s, {m / s:.1f} queries/s"
                  f"{'' if ok else '  WRONG RESULT'}", flush=True)


def time_gemm(m, n, k, ta, tb, repeat):
    a = torch.rand(k, m).t() if ta else torch.rand(m, k)
    b = torch.rand(n, k).t() if tb else torch.rand(k, n)
    with torch.no_grad():
        return time_runs(lambda: torch.matmul(a, b), repeat)


def conv_step(kind, n, cin, h, w, cout, k, pad):
    import torch.nn.functional as F
    train = kind == "train"
    x = torch.rand(n, cin, h, w, requires_grad=train)
    wt = (torch.rand(cout, cin, k, k) * 0.2 - 0.1).requires_grad_(train)
    b = (torch.rand(cout) * 0.2 - 0.1).requires_grad_(train)
    if not train:
        def fwd():
            with torch.no_grad():
                return F.conv2d(x, wt, b, padding=pad)
        return fwd
    r = torch.rand(n, cout, h + 2 * pad - k + 1, w + 2 * pad - k + 1) * 2 - 1

    def step():
        x.grad = wt.grad = b.grad = None
        (F.conv2d(x, wt, b, padding=pad) * r).sum().backward()
    return step


def serve(threads):
    import sys
    print(f"ready torch {torch.__version__}, {threads} threads", flush=True)
    cnn = {}  # batch -> steps, so that alternating requests reuse the model
    for line in sys.stdin:
        words = line.split()
        try:
            if words[:1] == ["gemm"] and len(words) == 7:
                m, n, k, ta, tb, repeat = (int(w) for w in words[1:])
                median, low = time_gemm(m, n, k, ta, tb, max(repeat, 1))
                print(f"ok {median:.9f} {low:.9f}", flush=True)
            elif words[:1] == ["simplecnn"] and len(words) == 4 and words[1] in ("train", "infer"):
                batch, repeat = int(words[2]), int(words[3])
                if batch < 1:
                    raise ValueError(f"batch {batch}")
                if batch not in cnn:
                    torch.manual_seed(0)
                    cnn[batch] = simplecnn_steps(batch)
                median, low = time_runs(cnn[batch][words[1]], max(repeat, 1))
                print(f"ok {median:.9f} {low:.9f}", flush=True)
            elif words[:1] == ["conv"] and len(words) == 10 and words[1] in ("fwd", "train"):
                n, cin, h, w, cout, k, pad, repeat = (int(v) for v in words[2:])
                step = conv_step(words[1], n, cin, h, w, cout, k, pad)
                for _ in range(3):  # oneDNN makes its primitives over the first runs of a shape
                    step()
                median, low = time_runs(step, max(repeat, 1))
                print(f"ok {median:.9f} {low:.9f}", flush=True)
            else:
                print(f"error unknown request: {line.strip()}", flush=True)
        except Exception as e:  # a failed case must not end the session
            print(f"error {type(e).__name__}: {e}".replace("\n", " "), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--only", default="simplecnn,rnn", help="comma-separated: simplecnn, rnn, attention, embedding")
    ap.add_argument("--quick", action="store_true", help="attention, embedding: the smaller shapes of oclnn bench --quick")
    ap.add_argument("--serve", action="store_true", help="answer timing requests on stdin "
                    "(oclnn bench --compare-pytorch)")
    ap.add_argument("--bert", metavar="DIR", help="all-MiniLM-L6-v2 folder (scripts/get-model.sh minilm): "
                    "time only the minilm rows")
    args = ap.parse_args()
    only = set(args.only.split(","))
    torch.set_num_threads(args.threads)
    if args.serve:
        serve(args.threads)
        return
    if args.bert:
        print(f"torch {torch.__version__}, {args.threads} threads")
        bench_minilm(args.bert, args.repeat)
        return
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads")
    if "rnn" in only:
        bench_rnn(args)
    if "attention" in only:
        bench_attention(args)
    if "embedding" in only:
        bench_embedding(args)
    if "simplecnn" not in only:
        return
    for batch in (64, 256):
        steps = simplecnn_steps(batch)
        t = median_seconds(steps["train"], args.repeat)
        print(f"simplecnn train_sgd.b{batch}: {t * 1e3:.1f} ms, {batch / t:.1f} img/s")
        t = median_seconds(steps["infer"], args.repeat)
        print(f"simplecnn inference.b{batch}: {t * 1e3:.1f} ms, {batch / t:.1f} img/s")


if __name__ == "__main__":
    main()
