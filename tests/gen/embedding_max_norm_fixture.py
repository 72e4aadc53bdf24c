#!/usr/bin/env python3
"""Writes tests/data/embedding/max_norm_fixture.safetensors: F.embedding with
max_norm, which tests/test_embedding.c must match.

Each case "kK." is one call F.embedding(ids, weight, padding_idx, max_norm,
norm_type) on a [V, D] table whose rows have norms spread around max_norm
(some above, some below), with ids [A, B] holding repeated ids, and:
  config      I32 [V, D, A, B, padding_idx (-1: none), runs]
  params      F32 [max_norm, norm_type]
  table       the table before the calls
  ids.<r>     I32 [A, B], the ids of call r (runs calls in a row, the same
              weight renormalised in place by each)
  w.<r>       F32 [A, B, D], loss weights: L = sum_r sum(out_r * w_r)
  out.<r>     each call's output
  table_after the table after the calls (renormalised rows)
  grad        the table's gradient of L (dense; as the renormalised table
              were the weight)
PyTorch runs in float32, as oclnn does (the renorm scale is computed in
float64 by PyTorch, in float32 by oclnn: the test allows rounding).

    /work/venv-torch/bin/python tests/gen/embedding_max_norm_fixture.py [out_path]
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encoder_fixture import write_safetensors  # noqa: E402

V, D, A, B = 11, 6, 3, 5
# (padding_idx, max_norm, norm_type, runs)
CASES = [(-1, 1.0, 2.0, 1), (2, 1.5, 2.0, 2), (4, 2.0, 1.0, 1), (-1, 0.8, float("inf"), 1), (0, 1.2, 3.0, 1)]


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "data", "embedding", "max_norm_fixture.safetensors")
    torch.manual_seed(20261202)
    named = []
    for k, (pad, max_norm, p, runs) in enumerate(CASES):
        pre = f"k{k}."
        # Row norms from 0.3x to 3x max_norm: directions random, lengths spread.
        direction = torch.rand(V, D) * 2 - 1
        length = torch.linspace(0.3, 3.0, V)[torch.randperm(V)] * max_norm
        table = direction / torch.linalg.vector_norm(direction, ord=p, dim=1, keepdim=True) * length[:, None]
        weight = table.clone().requires_grad_()
        named += [(pre + "config", torch.tensor([V, D, A, B, pad, runs], dtype=torch.int32)),
                  (pre + "params", torch.tensor([max_norm, p], dtype=torch.float32)),
                  (pre + "table", table)]
        loss = 0
        for r in range(runs):
            ids = torch.randint(0, V, (A, B))
            ids[0, 1] = ids[2, 3] = ids[1, 4]  # a repeated id for sure
            if pad >= 0:
                ids[1, 0] = ids[2, 2] = pad    # the padding row, looked up twice
            w = torch.rand(A, B, D) * 2 - 1
            out = F.embedding(ids, weight, padding_idx=None if pad < 0 else pad, max_norm=max_norm, norm_type=p)
            loss = loss + (out * w).sum()
            named += [(pre + f"ids.{r}", ids.int()), (pre + f"w.{r}", w), (pre + f"out.{r}", out)]
        loss.backward()
        named += [(pre + "table_after", weight.detach()), (pre + "grad", weight.grad)]
    write_safetensors(out_path, named)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
