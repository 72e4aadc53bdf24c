#!/usr/bin/env python3
"""Writes tests/data/rnn/rnn_fixtures.safetensors: torch.nn.LSTM and
torch.nn.GRU results that tests/test_rnn.c must match.

Each case "kK." is a 2-layer bidirectional torch.nn.LSTM or GRU (input 3,
hidden 4, batch 3, 5 steps) with its state_dict under "kK.lstm." or
"kK.gru." (so the test builds the layer with that prefix and loads the
weights by name), and:
  config   I32 [is_gru, N, T, I, H, layers, bidirectional, batch_first,
                has_lengths, has_h0]
  input, h0, c0 (LSTM), lengths (when used; a packed sequence in PyTorch)
  wy, wh, wc      loss weights: L = sum(output*wy) + sum(h_n*wh) + sum(c_n*wc)
  output, h_n, c_n
  grad.input, grad.h0, grad.c0, grad.<state_dict name> for every weight
Inputs and weights are drawn as f32; PyTorch then runs in float64, so the
fixtures are the exact result for those f32 values (stored rounded to f32).

Run with a PyTorch (no other packages needed):
    /work/venv-torch/bin/python tests/gen/rnn_fixtures.py [out_path]
The safetensors file is written by hand (8-byte header length, JSON header,
raw little-endian data).
"""
import json
import os
import struct
import sys

import torch

# (kind, batch_first, lengths, h0)
CASES = [
    ("lstm", True, [5, 2, 4], True),
    ("gru", False, [3, 5, 1], True),
]
N, T, I, H, L = 3, 5, 3, 4, 2


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "data", "rnn", "rnn_fixtures.safetensors")
    torch.manual_seed(20261202)
    tensors = []  # (name, dtype, shape, bytes)

    def add(name, t):
        t = t.detach().contiguous()
        if t.dtype in (torch.float32, torch.float64):
            dtype, fmt, t = "F32", "<%df", t.float()
        else:
            dtype, fmt = "I32", "<%di"
        flat = t.reshape(-1).tolist()
        tensors.append((name, dtype, list(t.shape), struct.pack(fmt % len(flat), *flat)))

    for k, (kind, batch_first, lengths, with_h0) in enumerate(CASES):
        p = "k%d." % k
        cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
        m = cls(I, H, num_layers=L, bidirectional=True, batch_first=batch_first)
        m = m.double()
        shape = (N, T, I) if batch_first else (T, N, I)
        x = (torch.rand(shape) * 2 - 1).double().requires_grad_()
        h0 = (torch.rand(2 * L, N, H) * 2 - 1).double().requires_grad_()
        c0 = (torch.rand(2 * L, N, H) * 2 - 1).double().requires_grad_()
        if kind == "lstm":
            state = (h0, c0) if with_h0 else None
        else:
            state = h0 if with_h0 else None
        if lengths is not None:
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first,
                                                             enforce_sorted=False)
            out, hs = m(packed, state)
            out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=T)
        else:
            out, hs = m(x, state)
        h_n, c_n = hs if kind == "lstm" else (hs, None)
        wy = (torch.rand(out.shape) * 2 - 1).double()
        wh = (torch.rand(h_n.shape) * 2 - 1).double()
        loss = (out * wy).sum() + (h_n * wh).sum()
        wc = None
        if c_n is not None:
            wc = (torch.rand(c_n.shape) * 2 - 1).double()
            loss = loss + (c_n * wc).sum()
        loss.backward()
        cfg = [kind == "gru", N, T, I, H, L, 1, batch_first, lengths is not None, with_h0]
        add(p + "config", torch.tensor([int(v) for v in cfg], dtype=torch.int32))
        add(p + "input", x)
        if with_h0:
            add(p + "h0", h0)
            add(p + "grad.h0", h0.grad)
            if kind == "lstm":
                add(p + "c0", c0)
                add(p + "grad.c0", c0.grad)
        if lengths is not None:
            add(p + "lengths", torch.tensor(lengths, dtype=torch.int32))
        add(p + "wy", wy)
        add(p + "wh", wh)
        add(p + "output", out)
        add(p + "h_n", h_n)
        if c_n is not None:
            add(p + "wc", wc)
            add(p + "c_n", c_n)
        add(p + "grad.input", x.grad)
        for name, w in m.named_parameters():
            add(p + kind + "." + name, w)
            add(p + "grad." + kind + "." + name, w.grad)

    header, offset = {}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    header["__metadata__"] = {"generator": "tests/gen/rnn_fixtures.py", "torch": torch.__version__}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for _, _, _, data in tensors:
            f.write(data)
    os.replace(tmp, out_path)
    print("wrote %s (%d bytes)" % (out_path, 8 + len(blob) + offset))


if __name__ == "__main__":
    main()
