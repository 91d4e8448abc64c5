"""Checks that the committed face-model bundle is what the committed generator produces.

Rebuilds models/mofa-face-v1.mofa into a temporary folder and compares: identical SHA-256 →
pass ("bit-for-bit"). Otherwise every array must agree within the stated tolerance (a BLAS or
numpy build other than Debian 12's may round differently): |Δ| ≤ 1e-3 · max|a| + 1e-6 for
float arrays (i.e. ≤ 1 f16 ulp-level differences of the bases), exact for integer arrays.
Exit code 0 on pass, 1 on fail. Usage: /usr/bin/python3 tools/model/check_regen.py [--mp build/mediapipe]
"""
import argparse
import hashlib
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build_model import build, BUNDLE_NAME  # noqa: E402
from bundle import read_bundle  # noqa: E402

REL_TOL = 1e-3
ABS_TOL = 1e-6


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mp", default="build/mediapipe")
    ap.add_argument("--committed", default=os.path.join("models", BUNDLE_NAME))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = build(a.mp, tmp)
        if sha(fresh) == sha(a.committed):
            print(f"bit-for-bit: {a.committed} == regenerated ({sha(fresh)})")
            return 0
        h1, x1 = read_bundle(a.committed)
        h2, x2 = read_bundle(fresh)
        bad = []
        if sorted(x1) != sorted(x2):
            bad.append(f"array sets differ: {sorted(set(x1) ^ set(x2))}")
        for k in sorted(set(x1) & set(x2)):
            u, v = x1[k], x2[k]
            if u.shape != v.shape:
                bad.append(f"{k}: shape {u.shape} vs {v.shape}")
            elif u.dtype.kind == "f":
                d = float(np.abs(u.astype(np.float64) - v.astype(np.float64)).max(initial=0))
                tol = REL_TOL * float(np.abs(u.astype(np.float64)).max(initial=0)) + ABS_TOL
                if d > tol:
                    bad.append(f"{k}: max |diff| {d:.3g} > {tol:.3g}")
            elif not np.array_equal(u, v):
                bad.append(f"{k}: integer arrays differ")
        if bad:
            print("regenerated bundle differs beyond tolerance:\n  " + "\n  ".join(bad))
            return 1
        print(f"within tolerance (rel {REL_TOL}): {a.committed} vs regenerated (bytes differ)")
        return 0


if __name__ == "__main__":
    sys.exit(main())
