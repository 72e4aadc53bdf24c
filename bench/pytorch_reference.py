#!/usr/bin/env python3
"""PyTorch reference timings for the SimpleCNN rows of `oclnn bench`, run on the
same machine: training step (zero_grad, forward, backward, SGD momentum 0.9
step) and eval-mode inference, batch 64 and 256, random images, wall clock.
Run with Debian's python3-torch: /usr/bin/python3 bench/pytorch_reference.py [--threads N]

--bert DIR adds the `minilm` rows: all-MiniLM-L6-v2 sentence embeddings per
second (sentence-transformers' encode when installed, else transformers'
BertModel + mean pooling + normalisation, sorted by length as encode does),
batch 1 and 32, on the 64 sentences of 8-64 tokens bench/bench_bert.c builds.
Needs a PyTorch with transformers, e.g. /work/venv-torch/bin/python.
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


def median_seconds(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--bert", metavar="DIR", help="all-MiniLM-L6-v2 folder (scripts/get-model.sh minilm): "
                    "time only the minilm rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.bert:
        print(f"torch {torch.__version__}, {args.threads} threads")
        bench_minilm(args.bert, args.repeat)
        return
    torch.manual_seed(0)
    model = SimpleCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    print(f"torch {torch.__version__}, {args.threads} threads")
    for batch in (64, 256):
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

        t = median_seconds(train_step, args.repeat)
        print(f"simplecnn train_sgd.b{batch}: {t * 1e3:.1f} ms, {batch / t:.1f} img/s")
        t = median_seconds(infer, args.repeat)
        print(f"simplecnn inference.b{batch}: {t * 1e3:.1f} ms, {batch / t:.1f} img/s")


if __name__ == "__main__":
    main()
