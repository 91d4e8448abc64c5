"""Builds the default open face-model bundle models/mofa-face-v1.mofa (`npm run build:model`).

Pipeline (every step deterministic; see models/README.md for the choices and sources):
  1. mp_assets.load_canonical  – MediaPipe canonical face mesh (468 vertices, mm, model frame)
  2. geometry.build_geometry   – T1 (subdivided, mouth opened), T2 (uniform remesh), L: T1→T2,
                                 one-ring adjacency, iBUG-68 subset, front-face mask, regions
  3. bases.build_bases         – shape (GP morphable model, anthropometry-calibrated), ARKit-named
                                 expression blendshapes, albedo (melanin/haemoglobin/regional/GP)
  4. bundle.write_bundle       – control-mesh bases + the linear subdivision operator S (T1 = S·base)

Usage: /usr/bin/python3 tools/model/build_model.py --mp build/mediapipe --out models
"""
import argparse
import json
import os
import sys

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mp_assets  # noqa: E402
import geometry  # noqa: E402
import bases as bases_mod  # noqa: E402
from bundle import write_bundle  # noqa: E402

MODEL_VERSION = "1.0.0"
BUNDLE_NAME = "mofa-face-v1.mofa"

FRAME = {
    "units": "millimetres",
    "axes": "+x subject's left, +y up, +z out of the face toward a frontal camera (right-handed)",
    "origin": "MediaPipe canonical face-mesh origin: on the mid-sagittal plane, ~52 mm behind the nasion",
    "winding": "triangles counter-clockwise seen from outside",
    "basisLayout": "row-major (3N, K); row 3*i+axis; columns scaled by their standard deviation",
    "albedo": "linear RGB 0..1",
}


def build(mp_dir, out_dir):
    canon = mp_assets.load_canonical(mp_dir)
    regions = mp_assets.load_regions(mp_dir)
    geo = geometry.build_geometry(canon, regions)
    bs = bases_mod.build_bases(canon, regions)

    nb = canon["vertices"].shape[0]
    S = sp.csr_matrix(geo["S"])
    S.sort_indices()
    n1 = S.shape[0]
    assert S.shape[1] == nb
    assert np.allclose(S @ canon["vertices"], geo["t1_vertices"], atol=1e-9), "geometry S does not reproduce T1"

    sigma = np.asarray(bs["expression_sigma"], dtype=np.float64)
    expr = np.asarray(bs["expression_basis"], dtype=np.float64) * sigma[None, :]
    names = list(bs["expression_names"])
    assert expr.shape == (3 * nb, len(names)) and len(names) == 64

    with open(os.path.join(mp_dir, "versions.json")) as f:
        versions = json.load(f)

    region_names = sorted(geo["regions"].keys())
    # Front face for the photometric loss (Sec. 6): every T1 vertex (the canonical mesh's
    # boundary is the face oval) except the eye openings, whose iris/sclera colours the skin
    # albedo model cannot explain.
    eyes = np.union1d(geo["regions"]["left_eye"], geo["regions"]["right_eye"])
    front_face = np.setdiff1d(np.asarray(geo["front_face"]), eyes)
    arrays = [
        ("base.meanShape", canon["vertices"], "f32"),
        ("base.albedoMean", bs["albedo_mean"], "f32"),
        ("base.shapeBasis", bs["shape_basis"], "f16"),
        ("base.expressionBasis", expr, "f16"),
        ("base.albedoBasis", bs["albedo_basis"], "f16"),
        ("expressionSigma", sigma, "f32"),
        ("t1.subdivision.offsets", S.indptr, "u32"),
        ("t1.subdivision.indices", S.indices, "u32"),
        ("t1.subdivision.weights", S.data, "f32"),
        ("t1.index", geo["t1_faces"], "u32"),
        ("t1.uv", geo["t1_uv"], "f32"),
        ("t1.adjacency.offsets", geo["t1_adjacency"][0], "u32"),
        ("t1.adjacency.neighbors", geo["t1_adjacency"][1], "u32"),
        ("t2.index", geo["t2_faces"], "u32"),
        ("t2.uv", geo["t2_uv"], "f32"),
        ("t2.adjacency.offsets", geo["t2_adjacency"][0], "u32"),
        ("t2.adjacency.neighbors", geo["t2_adjacency"][1], "u32"),
        ("t2.fromT1.index", geo["L_index"], "u32"),
        ("t2.fromT1.weight", geo["L_weight"], "f32"),
        ("landmarks.mediapipe468", np.arange(468), "u32"),
        ("landmarks.ibug68", geo["ibug68"], "u32"),
        ("frontFace", front_face, "u32"),
    ] + [(f"region.{r}", geo["regions"][r], "u32") for r in region_names]

    header = {
        "format": "mofa-face-model",
        "name": "mofa-open-face",
        "version": MODEL_VERSION,
        "frame": FRAME,
        "expressionNames": names,
        "regionNames": region_names,
        "counts": {"t1Vertices": int(n1), "t2Vertices": int(geo["t2_uv"].shape[0]), "baseVertices": int(nb),
                   "t1Triangles": int(geo["t1_faces"].shape[0]), "t2Triangles": int(geo["t2_faces"].shape[0])},
        "provenance": {
            "generator": "tools/model/build_model.py (mofa-web); regenerate with `npm run build:model`",
            "sources": {k: v for k, v in versions.items()},
            "licence": "Apache-2.0 (derived from MediaPipe face_mesh assets, Apache-2.0; see models/LICENSE-mediapipe.txt and models/NOTICE)",
            "shape": "Gaussian-process morphable model on the canonical mesh, calibrated to adult anthropometric norms",
            "expression": "procedural ARKit-named blendshapes + low-frequency residual modes",
            "albedo": "mean skin reflectance + melanin/haemoglobin axes + regional + GP modes",
            "geometryStats": _plain(geo["stats"]),
            "basesStats": _plain(bs["stats"]),
        },
    }
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, BUNDLE_NAME)
    digest, size = write_bundle(path, header, arrays)
    print(json.dumps({"bundle": path, "bytes": size, "sha256": digest, "t1Vertices": int(n1),
                      "t2Vertices": int(geo["t2_uv"].shape[0])}))
    return path


def _plain(v):
    """Make stats JSON-safe and deterministic (round floats to 6 significant digits)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(f"{float(v):.6g}")
    return v


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--mp", default="build/mediapipe")
    ap.add_argument("--out", default="models")
    a = ap.parse_args()
    build(a.mp, a.out)
