#!/usr/bin/env python3
"""Writes tests/data/conv/conv_fixtures.safetensors: PyTorch conv2d results
that tests/test_conv.c must match.

For each config "cK." the file holds input, weight, bias (when used),
loss_weight (w), output = act(conv2d(input)), and the gradients of
L = sum(output * w) with respect to input, weight and bias. cK.config is an
I32 tensor [stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w,
groups, relu, has_bias].

Run with Debian's python3-torch or any torch (no other packages; the last
config was added with torch 2.15 from /work/venv-torch, the others are
unchanged by it):
    python3 tests/gen/conv_fixtures.py [out_path]
The safetensors file is written by hand (8-byte header length, JSON header,
raw little-endian data) so the safetensors package is not needed.
"""
import json
import os
import struct
import sys

import torch

# Same geometry as entries of the grid in tests/test_conv.c (batch aside),
# so the test reuses the kernels compiled for the grid.
CONFIGS = [
    # grid[1]: stride 2, groups 2
    dict(n=2, cin=4, h=9, w=7, cout=6, kh=3, kw=3, stride=(2, 2), pad=(1, 1), dil=(1, 1), groups=2, relu=0, bias=1),
    # grid[3]: 5x5, stride 2, fused relu
    dict(n=2, cin=2, h=11, w=9, cout=3, kh=5, kw=5, stride=(2, 2), pad=(2, 2), dil=(1, 1), groups=1, relu=1, bias=1),
    # grid[4]: non-square kernel, stride, padding and dilation
    dict(n=2, cin=4, h=7, w=9, cout=8, kh=3, kw=5, stride=(1, 2), pad=(0, 2), dil=(2, 1), groups=1, relu=0, bias=0),
    # grid[6]: 1x1 pointwise (no im2col), groups 2, fused relu
    dict(n=2, cin=4, h=5, w=5, cout=4, kh=1, kw=1, stride=(1, 1), pad=(0, 0), dil=(1, 1), groups=2, relu=1, bias=1),
    # 3x3 stride 1 (OCLNN_CONV_WINOGRAD's shape; tests/test_conv.c's wino_grid[0]), fused relu
    dict(n=2, cin=5, h=9, w=7, cout=7, kh=3, kw=3, stride=(1, 1), pad=(1, 1), dil=(1, 1), groups=1, relu=1, bias=1),
]


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "data", "conv", "conv_fixtures.safetensors")
    torch.manual_seed(20261127)
    tensors = []  # (name, dtype, shape, bytes)

    def add(name, t):
        t = t.detach().contiguous()
        if t.dtype == torch.float32:
            dtype, fmt = "F32", "<%df"
        else:
            dtype, fmt = "I32", "<%di"
        flat = t.reshape(-1).tolist()
        tensors.append((name, dtype, list(t.shape), struct.pack(fmt % len(flat), *flat)))

    for k, c in enumerate(CONFIGS):
        p = "c%d." % k
        x = (torch.rand(c["n"], c["cin"], c["h"], c["w"]) * 2 - 1).requires_grad_()
        w = (torch.rand(c["cout"], c["cin"] // c["groups"], c["kh"], c["kw"]) * 2 - 1).requires_grad_()
        b = (torch.rand(c["cout"]) * 2 - 1).requires_grad_() if c["bias"] else None
        y = torch.nn.functional.conv2d(x, w, b, stride=c["stride"], padding=c["pad"], dilation=c["dil"],
                                       groups=c["groups"])
        if c["relu"]:
            y = torch.relu(y)
        lw = torch.rand(y.shape) * 2 - 1
        (y * lw).sum().backward()
        cfg = list(c["stride"]) + list(c["pad"]) + list(c["dil"]) + [c["groups"], c["relu"], c["bias"]]
        add(p + "config", torch.tensor(cfg, dtype=torch.int32))
        add(p + "input", x)
        add(p + "weight", w)
        if b is not None:
            add(p + "bias", b)
            add(p + "grad_bias", b.grad)
        add(p + "loss_weight", lw)
        add(p + "output", y)
        add(p + "grad_input", x.grad)
        add(p + "grad_weight", w.grad)

    header, offset = {}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    header["__metadata__"] = {"generator": "tests/gen/conv_fixtures.py", "torch": torch.__version__}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
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
