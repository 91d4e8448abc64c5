"""Readers for the MediaPipe assets extracted by tools/model/extract-mediapipe.mjs.

load_canonical(dir) returns the canonical face mesh of MediaPipe's geometry pipeline
(geometry_pipeline_metadata_landmarks.binarypb) converted to the mofa-web model frame:

  model frame: millimetres; +x = subject's left, +y = up, +z = toward the camera
  (out of the face); origin = MediaPipe's canonical-mesh origin (documented in
  models/README.md with its position relative to anatomical landmarks).

MediaPipe stores centimetres with subject's right at x < 0, y up, z toward the viewer,
so the conversion is a pure scale by 10.
"""
import json
import os
import struct

import numpy as np

CM_TO_MM = 10.0


def _varint(buf, i):
    shift = 0
    out = 0
    while True:
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        if b < 0x80:
            return out, i
        shift += 7


def parse_protobuf(buf):
    """Minimal protobuf wire-format parser: returns list of (field, wiretype, value)."""
    i = 0
    out = []
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v = buf[i:i + n]
            i += n
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        out.append((field, wt, v))
    return out


def _packed_varints(b):
    vals, i = [], 0
    while i < len(b):
        v, i = _varint(b, i)
        vals.append(v)
    return vals


def load_canonical(mp_dir):
    """Canonical mesh: dict(vertices (468,3) mm, uv (468,2), faces (898,3) int,
    procrustes (list of (landmark_id, weight)))."""
    with open(os.path.join(mp_dir, "geometry_pipeline_metadata_landmarks.binarypb"), "rb") as f:
        top = parse_protobuf(f.read())
    mesh = None
    procrustes = []
    for field, wt, v in top:
        # GeometryPipelineMetadata: 1 = canonical_mesh (Mesh3d),
        # 2 = procrustes_landmark_basis (repeated WeightedLandmarkRef), 3 = input_source
        if field == 1 and wt == 2:
            mesh = parse_protobuf(v)
        elif field == 2 and wt == 2:
            d = {ff: (wt2, vv) for ff, wt2, vv in parse_protobuf(v)}
            lid = d[1][1] if 1 in d else 0
            w = struct.unpack("<f", d[2][1])[0] if 2 in d and d[2][0] == 5 else 0.0
            procrustes.append((lid, w))
    if mesh is None:
        raise ValueError("canonical_mesh not found in binarypb")
    vb, ib = [], []
    for field, wt, v in mesh:
        if field == 3:
            if wt == 2:
                vb.extend(struct.unpack(f"<{len(v)//4}f", v))
            else:
                vb.append(struct.unpack("<f", v)[0])
        elif field == 4:
            if wt == 2:
                ib.extend(_packed_varints(v))
            else:
                ib.append(v)
    vb = np.asarray(vb, dtype=np.float64).reshape(-1, 5)  # VERTEX_PT: x y z u v
    faces = np.asarray(ib, dtype=np.int64).reshape(-1, 3)
    return {
        "vertices": vb[:, :3] * CM_TO_MM,
        "uv": vb[:, 3:5].copy(),
        "faces": faces,
        "procrustes": procrustes,
    }


def load_regions(mp_dir):
    """FACEMESH_* edge lists -> dict name -> sorted unique vertex indices (and 'edges')."""
    with open(os.path.join(mp_dir, "regions.json")) as f:
        raw = json.load(f)
    return {k: {"edges": np.asarray(v, dtype=np.int64),
                "vertices": np.unique(np.asarray(v, dtype=np.int64).ravel())}
            for k, v in raw.items()}


if __name__ == "__main__":
    import sys
    c = load_canonical(sys.argv[1] if len(sys.argv) > 1 else "build/mediapipe")
    v = c["vertices"]
    print("vertices", v.shape, "faces", c["faces"].shape, "procrustes", len(c["procrustes"]))
    print("bbox min", v.min(0), "max", v.max(0))
    for name, i in [("r_outer_eye 33", 33), ("r_inner 133", 133), ("l_inner 362", 362), ("l_outer 263", 263),
                    ("nose tip 1", 1), ("subnasale 2", 2), ("chin 152", 152), ("nasion 168", 168)]:
        print(name, v[i])
    print("uv range", c["uv"].min(0), c["uv"].max(0))
