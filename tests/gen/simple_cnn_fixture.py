#!/usr/bin/env python3
"""Writes tests/data/simple_cnn/forward.safetensors: SimpleCNN logits ("output")
and penultimate activations, fc1 after ReLU ("fc1_relu", the image embedding
of oclnn_simple_cnn_embed), computed by PyTorch (eval mode) for 3 input images, with weights given by a formula that
tests/test_nn.c reproduces (so the 13 MB of weights need not be committed):

    weight/bias element k of parameter number p (in state_dict order) =
        bound_p * sin(0.731 * k + 0.377 * p + 0.1)

with bound_p = 1/sqrt(fan_in) of that layer. Run with Debian's python3-torch:
    /usr/bin/python3 tests/gen/simple_cnn_fixture.py
"""
import json
import math
import os
import struct

import torch
import torch.nn as nn


class SimpleCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.25)
        self.fc1 = nn.Linear(3136, 1000)
        self.fc2 = nn.Linear(1000, 10)

    def embed(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = self.drop(x).flatten(1)
        return torch.relu(self.fc1(x))

    def forward(self, x):
        return self.fc2(self.embed(x))


FAN_IN = {"conv1": 25, "conv2": 800, "fc1": 3136, "fc2": 1000}


def formula(p, n, bound):
    k = torch.arange(n, dtype=torch.float64)
    return (bound * torch.sin(0.731 * k + 0.377 * p + 0.1)).to(torch.float32)


def save(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    model = SimpleCNN().eval()
    with torch.no_grad():
        for p, (name, t) in enumerate(model.state_dict().items()):
            bound = 1.0 / math.sqrt(FAN_IN[name.split(".")[0]])
            t.copy_(formula(p, t.numel(), bound).reshape(t.shape))
        g = torch.Generator().manual_seed(1234)
        x = torch.rand(3, 1, 28, 28, generator=g)
        y = model(x)
        e = model.embed(x)
    out = os.path.join(os.path.dirname(__file__), "..", "data", "simple_cnn", "forward.safetensors")
    save(out, {"input": x, "output": y, "fc1_relu": e})
    print("wrote", out, "logits[0] =", y[0].tolist())


if __name__ == "__main__":
    main()
