#!/usr/bin/env python3
"""Writes tests/data/rnn_model/: PyTorch's LSTMModel / GRUModel (the course's
classifiers: a stacked nn.LSTM / nn.GRU with batch_first, its output at the
last time step, one nn.Linear) for `oclnn forward lstm|gru` to match
(tests/test_rnn_cli.c).

  <kind>_l<L>[_bi].safetensors  the model's state_dict (lstm.* or gru.*, fc.*),
                                 kind lstm/gru, L = 1..3 layers, _bi bidirectional
  input.safetensors             input [N, T, I] f32
  input_lengths.safetensors     the same input and lengths I64 [N] (padded at
                                 the end, as pack_padded_sequence takes them)
  expected.safetensors          for each model <case>: <case>.output [N, O]
                                 (fc of out[:, -1, :]), <case>.h_n, <case>.c_n
                                 (LSTM); and <case>.len.* for the run with
                                 lengths: a packed sequence, padded back to T with
                                 pad_packed_sequence(total_length=T), so that
                                 out[:, -1, :] is zero for a shorter sequence,
                                 exactly what the course's model does on a
                                 padded batch; h_n is each sequence's own end.
Weights and inputs are drawn as f32; PyTorch then runs in float64, so the
expected values are exact for those f32 values (stored rounded to f32).

    /work/venv-torch/bin/python tests/gen/rnn_model_fixtures.py
"""
import json
import os
import struct

import torch
import torch.nn as nn

N, T, I, H, O = 4, 7, 5, 6, 3
LENGTHS = [7, 3, 5, 1]


class Model(nn.Module):
    def __init__(self, kind, layers, bidirectional):
        super().__init__()
        cls = nn.LSTM if kind == "lstm" else nn.GRU
        rnn = cls(I, H, num_layers=layers, batch_first=True, bidirectional=bidirectional)
        setattr(self, kind, rnn)
        self.kind = kind
        self.fc = nn.Linear(H * (2 if bidirectional else 1), O)

    def forward(self, x, lengths=None):
        rnn = getattr(self, self.kind)
        if lengths is None:
            out, state = rnn(x)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, state = rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
        h, c = state if self.kind == "lstm" else (state, None)
        return self.fc(out[:, -1, :]), h, c


def save(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype == torch.float64:
            t = t.float()
        dtype = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "rnn_model")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(20261203)
    x = torch.rand(N, T, I) * 2 - 1
    lengths = torch.tensor(LENGTHS, dtype=torch.int64)
    save(os.path.join(out_dir, "input.safetensors"), {"input": x})
    save(os.path.join(out_dir, "input_lengths.safetensors"), {"input": x, "lengths": lengths})
    expected = {}
    for kind in ("lstm", "gru"):
        for layers in (1, 2, 3):
            for bi in (False, True):
                case = "%s_l%d%s" % (kind, layers, "_bi" if bi else "")
                m = Model(kind, layers, bi)
                # f32 weights as files hold them, then the exact (double) run
                save(os.path.join(out_dir, case + ".safetensors"), m.state_dict())
                m = m.double().eval()
                with torch.no_grad():
                    for suffix, lens in (("", None), (".len", lengths)):
                        y, h, c = m(x.double(), lens)
                        expected[case + suffix + ".output"] = y
                        expected[case + suffix + ".h_n"] = h
                        if c is not None:
                            expected[case + suffix + ".c_n"] = c
    save(os.path.join(out_dir, "expected.safetensors"), expected)


if __name__ == "__main__":
    main()
