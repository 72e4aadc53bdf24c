#!/usr/bin/env python3
"""Writes tests/data/transformer/encoder_fixture.safetensors: one
torch.nn.TransformerEncoderLayer per case, which tests/test_transformer.c
must match.

Case "kK." holds the layer's state_dict under "kK.layer." and:
  config  I32 [N, L, E, heads, F, norm_first, activation (0 relu, 1 gelu),
               batch_first]
  input   [N, L, E] or [L, N, E]; key_padding_mask I32 [N, L] (1 = padding)
  wy      loss weights: loss = sum(output * wy)
  output, grad.input, grad.<state_dict name> for every weight
Inputs and weights are drawn as f32; PyTorch then runs in float64 (eval
mode, dropout 0), so the fixtures are the exact result for those f32 values.

    /work/venv-torch/bin/python tests/gen/encoder_fixture.py [out_path]
"""
import json
import os
import struct
import sys

import torch

# (norm_first, activation, batch_first)
CASES = [(False, "gelu", True), (True, "relu", False)]
N, L, E, HEADS, F = 2, 5, 8, 2, 12
LENGTHS = [5, 3]


def write_safetensors(path, named):
    """Floats as F32, integers as I32, written by hand (8-byte header
    length, JSON header, raw little-endian data): no package but torch."""
    header, blobs, offset = {}, [], 0
    for name, t in named:
        t = t.detach().contiguous()
        if t.dtype in (torch.float32, torch.float64):
            dtype, fmt, t = "F32", "<%df", t.float()
        else:
            dtype, fmt, t = "I32", "<%di", t.int()
        flat = t.reshape(-1).tolist()
        data = struct.pack(fmt % len(flat), *flat)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for data in blobs:
            f.write(data)


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "data", "transformer", "encoder_fixture.safetensors")
    torch.manual_seed(20261202)
    tensors = []

    def add(name, t):
        tensors.append((name, t))

    for k, (norm_first, act, batch_first) in enumerate(CASES):
        p = "k%d." % k
        m = torch.nn.TransformerEncoderLayer(E, HEADS, F, dropout=0.0, activation=act, batch_first=batch_first,
                                             norm_first=norm_first)
        # Non-trivial norms and biases so that their gradients are tested.
        with torch.no_grad():
            for name, t in m.named_parameters():
                if name.endswith("bias") or name.startswith("norm"):
                    t.copy_(torch.rand(t.shape) * 0.4 + (0.8 if name.endswith("weight") else -0.2))
        m = m.double().eval()
        shape = (N, L, E) if batch_first else (L, N, E)
        x = (torch.rand(shape) * 2 - 1).float().double().requires_grad_()
        kpm = torch.tensor([[i >= n for i in range(L)] for n in LENGTHS])
        out = m(x, src_key_padding_mask=kpm)
        wy = (torch.rand(out.shape) * 2 - 1).float().double()
        (out * wy).sum().backward()
        add(p + "config", torch.tensor([N, L, E, HEADS, F, int(norm_first), int(act == "gelu"), int(batch_first)],
                                       dtype=torch.int32))
        add(p + "input", x)
        add(p + "key_padding_mask", kpm.int())
        add(p + "wy", wy)
        add(p + "output", out)
        add(p + "grad.input", x.grad)
        for name, t in m.named_parameters():
            add(p + "layer." + name, t)
            add(p + "grad.layer." + name, t.grad)

    write_safetensors(out_path, [(n, t) for n, t in tensors])


if __name__ == "__main__":
    main()
