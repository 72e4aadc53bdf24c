#!/usr/bin/env python3
"""PyTorch reference timings for the SimpleCNN rows of `oclnn bench`, run on the
same machine: training step (zero_grad, forward, backward, SGD momentum 0.9
step) and eval-mode inference, batch 64 and 256, random images, wall clock.
Run with Debian's python3-torch: /usr/bin/python3 bench/pytorch_reference.py [--threads N]
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
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
