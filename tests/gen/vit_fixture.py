#!/usr/bin/env python3
"""Writes tests/data/transformer/vit_fixture.safetensors: the ViT of
src/nn/vit.c (oclnn_vit) written in PyTorch, which tests/test_transformer.c
must match: its state_dict (oclnn's names), "input" [2, 1, 28, 28],
"wy" [2, 10], "logits" and, for loss = sum(logits * wy), "grad.<name>" for
every parameter. Width 16, 2 heads, 2 layers, MLP 32; float64 on f32 values.

    /work/venv-torch/bin/python tests/gen/vit_fixture.py [out_path]
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from encoder_fixture import write_safetensors  # noqa: E402


class ViT(nn.Module):
    def __init__(self, width, layers, heads, mlp):
        super().__init__()
        self.patch_embed = nn.Linear(49, width)
        self.cls_token = nn.Parameter(torch.rand(1, 1, width) - 0.5)
        self.pos_embed = nn.Parameter(torch.rand(1, 17, width) - 0.5)
        layer = nn.TransformerEncoderLayer(width, heads, mlp, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        n = x.shape[0]
        # 7x7 patches, row-major over the 4x4 grid, pixels row-major
        p = x.reshape(n, 4, 7, 4, 7).permute(0, 1, 3, 2, 4).reshape(n, 16, 49)
        t = torch.cat([self.cls_token.expand(n, -1, -1), self.patch_embed(p)], 1) + self.pos_embed
        return self.head(self.norm(self.encoder(t)[:, 0]))


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "data", "transformer", "vit_fixture.safetensors")
    torch.manual_seed(20261203)
    m = ViT(16, 2, 2, 32)
    with torch.no_grad():
        for name, t in m.named_parameters():
            if name.endswith("bias") or "norm" in name:
                t.copy_(torch.rand(t.shape) * 0.4 + (0.8 if name.endswith("weight") else -0.2))
    m = m.double()
    x = torch.rand(2, 1, 28, 28).double()
    logits = m(x)
    wy = (torch.rand(2, 10) * 2 - 1).double()
    (logits * wy).sum().backward()
    tensors = [("input", x), ("wy", wy), ("logits", logits)]
    for name, t in m.named_parameters():
        tensors += [(name, t), ("grad." + name, t.grad)]
    write_safetensors(out_path, tensors)


if __name__ == "__main__":
    main()
