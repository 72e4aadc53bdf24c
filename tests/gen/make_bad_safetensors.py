#!/usr/bin/env python3
"""Writes the small safetensors fixtures read by tests/test_safetensors.c.

    python3 tests/gen/make_bad_safetensors.py

good.safetensors holds known values (checked exactly by the test). Its header
is serialised the way oclnn_safetensors_save() serialises it (compact JSON,
metadata first, space padding to a multiple of 8), so the test can also check
that re-saving it reproduces the file byte for byte. misaligned.safetensors
holds the same tensors behind an unpadded header, so that no tensor is
aligned in the file and the reader must copy instead of pointing into its
mapping. halfs.safetensors holds F16 and BF16 values (zeros, subnormals,
extremes, infinities, NaNs with payloads), each beside an I32 tensor of the
f32 bit patterns they must convert to. bert_prefixed.safetensors is laid out
like a Hugging Face BertForMaskedLM checkpoint ("bert." names, an I64
position_ids, F16/BF16 tensors) for the lookup tests.

Every bad_*.safetensors breaks exactly one rule (or, for bad_f64 and
bad_bool, uses a dtype oclnn cannot read); the table in the test names the
status and a word the error message must contain. Plain python3 only
(struct + json): no torch, no numpy.
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


def misaligned():
    """good()'s tensors and metadata, but the header is padded to 8k + 3 bytes,
    so the blob (and every tensor in it) starts 3 bytes past an 8-byte boundary."""
    data = good()
    hlen = struct.unpack("<Q", data[:8])[0]
    text = data[8:8 + hlen].rstrip(b" ")
    text += b" " * ((3 - len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + hlen:]


def f16_bits_expected(h):
    """The f32 bit pattern binary16 h converts to: finite values through
    Python's own half-precision codec, specials spelled out (sign kept, NaN
    payload shifted into the top of the f32 mantissa, as PyTorch does)."""
    if h & 0x7C00 == 0x7C00:
        return ((h & 0x8000) << 16) | 0x7F800000 | ((h & 0x3FF) << 13)
    value = struct.unpack("<e", struct.pack("<H", h))[0]
    return struct.unpack("<I", struct.pack("<f", value))[0]


# Keep in sync with test_half_fixture in tests/test_safetensors.c.
F16_VALUES = [
    0x0000, 0x8000,          # +0, -0
    0x3C00, 0xC100, 0x3555,  # 1, -2.5, 0.33325195
    0x7BFF, 0xFBFF,          # +-65504, the largest finite
    0x0400,                  # 2^-14, the smallest normal
    0x0001, 0x8001, 0x0200,  # +-2^-24 (smallest subnormal), 2^-15
    0x03FF,                  # the largest subnormal
    0x7C00, 0xFC00,          # +-inf
    0x7E00, 0xFE00,          # quiet NaN, negative quiet NaN
    0x7C01, 0x7FFF,          # signalling NaN (payload 1), all-ones payload
]
BF16_VALUES = [
    0x0000, 0x8000,          # +0, -0
    0x3F80, 0xC020, 0x3EAB,  # 1, -2.5, 0.333984375
    0x7F7F, 0x0080,          # the largest finite, 2^-126 (smallest normal)
    0x0001, 0x8001, 0x007F,  # +-2^-133 (smallest subnormal), the largest subnormal
    0x7F80, 0xFF80,          # +-inf
    0x7FC0, 0x7F81, 0xFFFF,  # quiet NaN, signalling NaN, negative all-ones NaN
]


def halfs():
    f16_bits = [f16_bits_expected(h) for h in F16_VALUES]
    bf16_bits = [b << 16 for b in BF16_VALUES]
    n, m = len(F16_VALUES), len(BF16_VALUES)
    tensors = [
        ("f16_bits", "I32", [n], struct.pack(f"<{n}I", *f16_bits)),
        ("bf16_bits", "I32", [m], struct.pack(f"<{m}I", *bf16_bits)),
        ("f16", "F16", [n], struct.pack(f"<{n}H", *F16_VALUES)),
        ("bf16", "BF16", [m], struct.pack(f"<{m}H", *BF16_VALUES)),
        ("f16_matrix", "F16", [2, 2], struct.pack("<4e", 0.5, -1.0, 2048.0, -0.125)),
        ("f16_empty", "F16", [0], b""),
    ]
    return layout(tensors, {"format": "pt"})


def bert_prefixed():
    # Keep in sync with the lookup tests in tests/test_safetensors.c.
    word = [0.25 * i - 1.0 for i in range(12)]
    tensors = [
        ("bert.embeddings.word_embeddings.weight", "F32", [4, 3], struct.pack("<12f", *word)),
        ("bert.embeddings.position_ids", "I64", [1, 5], struct.pack("<5q", 0, 1, 2, 3, 4)),
        ("bert.pooler.dense.bias", "BF16", [3], struct.pack("<3H", 0x3F80, 0xBF00, 0x4040)),  # 1, -0.5, 3
        ("cls.predictions.bias", "F16", [4], struct.pack("<4e", 0.5, 1.5, -2.0, 1024.0)),
    ]
    return layout(tensors, {"format": "pt"})


def layout(tensors, metadata):
    """A file of tensors back to back in the given order."""
    header = {"__metadata__": metadata}
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
        "bad_f64": st_bytes({"a": entry("F64", [1], 0, 8)}, f8),
        "bad_bool": st_bytes({"a": entry("BOOL", [4], 0, 4)}, f4),
        "bad_f16_size": st_bytes({"a": entry("F16", [3], 0, 8)}, f8),
        "bad_f4_bits": st_bytes({"a": entry("F4", [3], 0, 2)}, b"\x00" * 2),
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
    files = {"good": good(), "misaligned": misaligned(), "halfs": halfs(), "bert_prefixed": bert_prefixed(),
             **bad()}
    for name, data in files.items():
        assert len(data) < 1024, name
        with open(os.path.join(OUT, name + ".safetensors"), "wb") as f:
            f.write(data)
    print(f"wrote {len(files)} fixtures to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
