#!/usr/bin/env python3
"""Writes the tiny IDX fixtures under tests/data/idx/ used by tests/test_idx.c.

Python 3 standard library only. Output is byte-for-byte reproducible (gzip
mtime is fixed at 0), so rerunning it leaves the committed files unchanged.

    python3 tests/gen/make_idx_fixtures.py [OUTDIR]   # default tests/data/idx
    python3 tests/gen/make_idx_fixtures.py --golden   # print the expected shuffles

--golden prints the batcher's shuffle orders computed here independently of
the C code (same Philox-4x32-10 + Fisher-Yates scheme as documented in
src/io/dataset.c); test_idx.c hard-codes them.
"""
import gzip
import os
import struct
import sys

# The valid 3x2x2 image file: 3 samples of 2x2 pixels, with 0 and 255 in it
# so the [0,1] scaling can be checked exactly.
IMAGES = bytes([0, 255, 51, 102,
                1, 2, 3, 4,
                200, 201, 202, 203])
LABELS = bytes([7, 0, 9])
# The test split of the mnist-ok directory: 2 samples of 2x2.
T10K_IMAGES = bytes([10, 20, 30, 40, 250, 251, 252, 253])
T10K_LABELS = bytes([3, 5])


def idx(type_code, dims, data):
    """Header 00 00 type ndim, big-endian uint32 dims, then the data."""
    return bytes([0, 0, type_code, len(dims)]) + struct.pack(">%dI" % len(dims), *dims) + data


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def fixtures():
    images = idx(0x08, [3, 2, 2], IMAGES)
    labels = idx(0x08, [3], LABELS)
    t10k_images = idx(0x08, [2, 2, 2], T10K_IMAGES)
    t10k_labels = idx(0x08, [2], T10K_LABELS)
    images_gz = gz(images)

    # Deflate data starts right after gzip's 10-byte header (no file name is
    # stored). Setting BTYPE (bits 1-2 of the first byte) to 11, a reserved
    # block type, makes zlib fail with "invalid block type".
    bad_block = bytearray(images_gz)
    bad_block[10] |= 0x06
    # The gzip trailer is CRC32 then length, 4 bytes each: flip the CRC.
    bad_crc = bytearray(images_gz)
    bad_crc[-8] ^= 0xFF

    files = {
        "images-3x2x2-idx3-ubyte": images,
        "images-3x2x2-idx3-ubyte.gz": images_gz,
        "labels-3-idx1-ubyte": labels,
        # Header says 3x2x2 = 12 data bytes; only 10 follow.
        "truncated-idx3-ubyte": images[:-2],
        # A valid gzip stream cut short: zlib reports "unexpected end of file".
        "truncated-stream-idx3-ubyte.gz": images_gz[: len(images_gz) // 2],
        # First two magic bytes must be 0.
        "bad-magic-idx3-ubyte": b"\x01\x02" + images[2:],
        # ndim 5 is outside 1..4.
        "bad-ndim-idx-ubyte": bytes([0, 0, 0x08, 5]) + struct.pack(">5I", 1, 1, 1, 1, 1) + b"\x00",
        "zero-dim-idx1-ubyte": idx(0x08, [0], b""),
        # Product 2^32 * 2^32 * ... overflows 64 bits.
        "huge-dims-idx4-ubyte": idx(0x08, [0xFFFFFFFF] * 4, b""),
        # 2^31-1 declared, 4 present: must end as "truncated", not a 2 GB malloc.
        "big-declared-idx1-ubyte": idx(0x08, [0x7FFFFFFF], b"\x01\x02\x03\x04"),
        # Valid IDX but float data: unsupported, not malformed.
        "float-idx1-ubyte": idx(0x0D, [2], struct.pack(">2f", 0.5, 1.5)),
        "trailing-idx1-ubyte": labels + b"\x00\x01",
        "header-only-idx1-ubyte": labels[:6],
        "corrupt-block-idx3-ubyte.gz": bytes(bad_block),
        "corrupt-crc-idx3-ubyte.gz": bytes(bad_crc),
        # 4 labels for the 3 images.
        "labels-count-mismatch-idx1-ubyte": idx(0x08, [4], bytes([1, 2, 3, 4])),

        # Dataset directories (file names as in the MNIST distribution).
        # mnist-ok mixes .gz and plain files to exercise both name lookups.
        "mnist-ok/train-images-idx3-ubyte.gz": images_gz,
        "mnist-ok/train-labels-idx1-ubyte": labels,
        "mnist-ok/t10k-images-idx3-ubyte": t10k_images,
        "mnist-ok/t10k-labels-idx1-ubyte.gz": gz(t10k_labels),
        # Train split: 3 images, 4 labels. Test split: labels file missing.
        "mnist-bad/train-images-idx3-ubyte": images,
        "mnist-bad/train-labels-idx1-ubyte": idx(0x08, [4], bytes([1, 2, 3, 4])),
        "mnist-bad/t10k-images-idx3-ubyte": t10k_images,
        # Train split: label 10 is out of range. Test split: labels are 1-D
        # but the images file is not 3-D.
        "mnist-badlabel/train-images-idx3-ubyte": images,
        "mnist-badlabel/train-labels-idx1-ubyte": idx(0x08, [3], bytes([1, 10, 2])),
        "mnist-badlabel/t10k-images-idx3-ubyte": idx(0x08, [2, 4], T10K_IMAGES),
        "mnist-badlabel/t10k-labels-idx1-ubyte": t10k_labels,
    }
    return files


# ---- Independent model of the batcher's shuffle ------------------------------

M32 = 0xFFFFFFFF


def philox4x32_10(ctr, key):
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, p0 & M32
        k0 = (k0 + 0x9E3779B9) & M32
        k1 = (k1 + 0xBB67AE85) & M32
    return c0, c1, c2, c3


def shuffle_order(n, seed, epoch):
    perm = list(range(n))
    for step in range(n - 1):
        i = n - 1 - step
        out = philox4x32_10((step & M32, step >> 32, epoch & M32, epoch >> 32),
                            (seed & M32, seed >> 32))
        j = (out[0] | out[1] << 32) % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def main():
    if sys.argv[1:] == ["--golden"]:
        # Known-answer check of the Philox model (Random123's kat_vectors).
        assert philox4x32_10((0, 0, 0, 0), (0, 0)) == (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)
        for epoch in (0, 1):
            print("seed 42, n 10, epoch %d: %s" % (epoch, shuffle_order(10, 42, epoch)))
        return
    root = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "data", "idx")
    for name, data in fixtures().items():
        path = os.path.join(out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    print("wrote %d files under %s" % (len(fixtures()), os.path.normpath(out)))


if __name__ == "__main__":
    main()
