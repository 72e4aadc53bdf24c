#!/usr/bin/env python3
"""Writes the small safetensors fixtures read by tests/test_safetensors.c.

    python3 tests/gen/make_bad_safetensors.py

good.safetensors holds known values (checked exactly by the test). Its header
is serialised the way oclnn_safetensors_save() serialises it (compact JSON,
metadata first, space padding to a multiple of 8), so the test can also check
that re-saving it reproduces the file byte for byte. Every bad_*.safetensors
breaks exactly one rule; the table in the test names the status and a word the
error message must contain. Plain python3 only (struct + json): no torch.
"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "safetensors")


def padded(text):
    """Header bytes padded with spaces to a multiple of 8, like the reference writer."""
    b = text.encode("utf-8")
    return b + b" " * (-len(b) % 8)


def st_bytes(header, blob=b"", length=None):
    """A whole file: u64 length, header, blob. header is a dict (dumped compactly)
    or a str (used verbatim, for headers that are not valid JSON); length
    overrides the stored header length."""
    text = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    h = padded(text)
    return struct.pack("<Q", len(h) if length is None else length) + h + blob


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def good():
    # Keep these values in sync with test_good_fixture in tests/test_safetensors.c.
    tensors = [
        ("weight", "F32", [2, 3], struct.pack("<6f", 0.5, -1.25, 2.0, 3.75, -0.0, 1e-3)),
        ("index", "I32", [4], struct.pack("<4i", -1, 0, 7, 2147483647)),
        ("count", "I64", [2], struct.pack("<2q", -9007199254740993, 1 << 40)),
        ("scale", "F32", [], struct.pack("<f", 3.5)),
        ("empty", "F32", [0, 4], b""),
    ]
    header = {"__metadata__": {"format": "pt", "source": "make_bad_safetensors.py"}}
    blob = b""
    for name, dtype, shape, data in tensors:
        header[name] = entry(dtype, shape, len(blob), len(blob) + len(data))
        blob += data
    return st_bytes(header, blob)


def bad():
    f4 = b"\x00" * 4
    f8 = b"\x00" * 8
    return {
        "bad_too_short": b"\x10\x00\x00",
        "bad_header_len": struct.pack("<Q", 1000) + padded("{}"),
        "bad_header_huge": struct.pack("<Q", 200_000_000) + padded("{}"),
        "bad_header_zero": struct.pack("<Q", 0) + f8,
        "bad_json": st_bytes('{"a":{"dtype":"F32",'),
        "bad_trailing": st_bytes('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} xyz', f4),
        "bad_not_object": st_bytes("[1,2,3]"),
        "bad_entry_not_object": st_bytes({"a": 5}),
        "bad_missing_dtype": st_bytes({"a": {"shape": [1], "data_offsets": [0, 4]}}, f4),
        "bad_unknown_dtype": st_bytes({"a": entry("Q7", [1], 0, 4)}, f4),
        "bad_f16": st_bytes({"a": entry("F16", [2], 0, 4)}, f4),
        "bad_bf16": st_bytes({"a": entry("BF16", [2], 0, 4)}, f4),
        "bad_shape_negative": st_bytes({"a": entry("F32", [2, -1], 0, 8)}, f8),
        "bad_shape_fraction": st_bytes({"a": entry("F32", [2.5], 0, 8)}, f8),
        "bad_shape_not_array": st_bytes({"a": {"dtype": "F32", "shape": "2x1", "data_offsets": [0, 8]}}, f8),
        "bad_shape_overflow": st_bytes({"a": entry("I64", [1 << 40, 1 << 40], 0, 8)}, f8),
        "bad_ndim": st_bytes({"a": entry("F32", [1] * 9, 0, 4)}, f4),
        "bad_offsets_count": st_bytes({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}, f4),
        "bad_offsets_reversed": st_bytes({"a": entry("F32", [1], 8, 4)}, f8),
        "bad_offsets_past_end": st_bytes({"a": entry("F32", [4], 0, 16)}, f8),
        "bad_truncated": st_bytes({"a": entry("F32", [6], 0, 24)}, b"\x00" * 10),
        "bad_overlap": st_bytes({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}, b"\x00" * 12),
        "bad_size_mismatch": st_bytes({"a": entry("F32", [3], 0, 8)}, f8),
        "bad_duplicate": st_bytes('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                  '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f8),
        "bad_empty_name": st_bytes({"": entry("F32", [1], 0, 4)}, f4),
        "bad_metadata": st_bytes({"__metadata__": {"k": 1}, "a": entry("F32", [1], 0, 4)}, f4),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {"good": good(), **bad()}
    for name, data in files.items():
        assert len(data) < 1024, name
        with open(os.path.join(OUT, name + ".safetensors"), "wb") as f:
            f.write(data)
    print(f"wrote {len(files)} fixtures to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
