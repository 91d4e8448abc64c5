"""Writer for the `.mofa` face-model bundle (format version 1). The TypeScript reader is
sdk/model/load-face-model.ts; the byte layout is specified once, here and in models/README.md:

    offset  size  field
    0       4     magic "MOFA"
    4       4     u32 LE format version (1)
    8       4     u32 LE header byte length H (UTF-8 JSON, space-padded to a multiple of 16)
    12      4     u32 LE data byte length D
    16      H     header JSON
    16+H    D     data section: little-endian arrays, each starting at a 16-byte aligned offset

The header's "arrays" maps a name to {dtype, shape, offset, byteLength} (offset relative to
the data section); "sha256" is the hex SHA-256 of the data section. dtypes: f32, f16, u32, u8.
Output is deterministic: same inputs → same bytes (sorted JSON keys, no timestamps).
"""
import hashlib
import json
import struct

import numpy as np

MAGIC = b"MOFA"
FORMAT_VERSION = 1
_DTYPES = {"f32": "<f4", "f16": "<f2", "u32": "<u4", "u8": "u1"}


def _pad16(n):
    return (n + 15) & ~15


def write_bundle(path, header, arrays):
    """header: JSON-serialisable dict (without 'arrays'/'sha256'); arrays: list of
    (name, ndarray, dtype) in the order they are laid out."""
    blobs, table, off = [], {}, 0
    for name, arr, dtype in arrays:
        if dtype not in _DTYPES:
            raise ValueError(f"{name}: unsupported dtype {dtype}")
        a = np.ascontiguousarray(np.asarray(arr).astype(_DTYPES[dtype]))
        if dtype in ("f32", "f16") and not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: non-finite values")
        b = a.tobytes()
        table[name] = {"dtype": dtype, "shape": list(a.shape), "offset": off, "byteLength": len(b)}
        pad = _pad16(len(b)) - len(b)
        blobs.append(b + b"\0" * pad)
        off += len(b) + pad
    data = b"".join(blobs)
    h = dict(header)
    h["arrays"] = table
    h["sha256"] = hashlib.sha256(data).hexdigest()
    h["formatVersion"] = FORMAT_VERSION
    hj = json.dumps(h, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    hj += b" " * (_pad16(len(hj)) - len(hj))
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<III", FORMAT_VERSION, len(hj), len(data)))
        f.write(hj)
        f.write(data)
    return h["sha256"], 16 + len(hj) + len(data)


def read_bundle(path):
    """Python reader (for tests and tools): returns (header, dict name -> ndarray)."""
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] != MAGIC:
        raise ValueError("not a .mofa bundle")
    ver, hl, dl = struct.unpack("<III", buf[4:16])
    if ver != FORMAT_VERSION:
        raise ValueError(f"format version {ver} != {FORMAT_VERSION}")
    header = json.loads(buf[16:16 + hl].decode("utf-8"))
    data = buf[16 + hl:16 + hl + dl]
    if len(data) != dl or hashlib.sha256(data).hexdigest() != header["sha256"]:
        raise ValueError("bundle data truncated or corrupt")
    arrays = {}
    for name, e in header["arrays"].items():
        arrays[name] = np.frombuffer(data, dtype=_DTYPES[e["dtype"]], count=int(np.prod(e["shape"])) if e["shape"] else 1,
                                     offset=e["offset"]).reshape(e["shape"])
    return header, arrays
