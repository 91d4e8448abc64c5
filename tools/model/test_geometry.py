"""Tests for tools/model/geometry.py. Run: /usr/bin/python3 tools/model/test_geometry.py
(from the repository root; needs build/mediapipe from tools/model/extract-mediapipe.mjs)."""
import hashlib
import os
import sys
import time

import numpy as np
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import geometry as G  # noqa: E402
import mp_assets  # noqa: E402

MP_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "build", "mediapipe")
KEYS = {"t1_vertices", "S", "t1_faces", "t1_uv", "t2_faces", "t2_uv", "L_index", "L_weight", "ibug68",
        "front_face", "regions", "t1_adjacency", "t2_adjacency", "stats", "removed_mouth_triangles"}


def test_one_ring_csr_small():
    # two triangles sharing edge (1,2), plus an isolated vertex 4
    off, nbr = G.one_ring_csr(5, np.array([[0, 1, 2], [2, 1, 3]]))
    rings = [nbr[off[i]:off[i + 1]].tolist() for i in range(5)]
    assert rings == [[1, 2], [0, 2, 3], [0, 1, 3], [1, 2], []], rings
    assert off.dtype == np.int64 and nbr.dtype == np.int64


def test_butterfly_linear_precision():
    # a planar, irregular patch stays planar; stencils are affine (rows sum to 1)
    rng = np.random.default_rng(0)
    n = 7
    xy = np.stack(np.meshgrid(np.arange(n), np.arange(n)), -1).reshape(-1, 2).astype(float)
    xy += 0.2 * rng.standard_normal(xy.shape)
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = i * n + j, i * n + j + 1, (i + 1) * n + j, (i + 1) * n + j + 1
            faces += [[a, b, d], [a, d, c]] if (i + j) % 2 else [[a, b, c], [b, d, c]]
    faces = np.array(faces)
    V = np.column_stack([xy, 0.3 * xy[:, 0] - 0.7 * xy[:, 1] + 2.0])
    P, f2, _ = G.subdivide_butterfly(len(V), faces)
    W = P @ V
    assert np.allclose(np.asarray(P.sum(axis=1)).ravel(), 1.0)
    assert np.allclose(W[:, 2], 0.3 * W[:, 0] - 0.7 * W[:, 1] + 2.0)
    assert np.array_equal(W[: len(V)], V)
    G.check_oriented_manifold(f2, len(W))
    # a linear function on a curved set of points is reproduced too (affine invariance)
    V2 = np.column_stack([xy, np.sin(xy[:, 0]) + xy[:, 1] ** 2])
    lin = V2 @ np.array([1.0, -2.0, 0.5])
    assert np.allclose((P @ V2) @ np.array([1.0, -2.0, 0.5]), P @ lin)


def check_bundle(g, canon, regions):
    V0, uv0 = canon["vertices"], canon["uv"]
    st = g["stats"]
    assert set(g) == KEYS, set(g) ^ KEYS
    v1, f1, S = g["t1_vertices"], g["t1_faces"], g["S"]
    N1 = len(v1)
    # --- T1 and S
    assert sp.isspmatrix_csr(S) and S.shape == (N1, 468) and S.dtype == np.float64
    assert 5000 <= N1 <= 10000, N1
    assert np.array_equal(S[:468].toarray(), np.eye(468))
    assert np.array_equal(v1[:468], V0), "landmark vertices moved"
    assert np.array_equal(v1, S @ V0) and np.array_equal(g["t1_uv"], S @ uv0)
    assert np.allclose(np.asarray(S.sum(axis=1)).ravel(), 1.0)
    for k in ("t1_faces", "t2_faces", "L_index", "ibug68", "front_face"):
        assert g[k].dtype == np.int64, k
    G.check_oriented_manifold(f1, N1)
    n1 = np.cross(v1[f1[:, 1]] - v1[f1[:, 0]], v1[f1[:, 2]] - v1[f1[:, 0]])
    assert np.mean(n1[:, 2] > 0) > 0.97, "T1 not CCW seen from +z"
    # --- mouth hole: 18 removed triangles, all on the inner lip ring; eyes stay closed
    inner = {78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415}
    rm = g["removed_mouth_triangles"]
    assert len(rm) == 18 and all(set(t) <= inner for t in rm.tolist())
    loops = G.boundary_loops(f1)
    assert len(loops) == 2
    hole = g["regions"]["mouth_hole_boundary"]
    assert inner <= set(hole.tolist()) and len(hole) == 80
    assert set(hole.tolist()) == set(next(l for l in loops if 13 in l.tolist()).tolist())
    for eye in ("left_eye", "right_eye"):
        assert not set(g["regions"][eye].tolist()) & set(np.concatenate(loops).tolist()), "eye is open"
    on_hole = np.zeros(N1, dtype=bool)
    on_hole[hole] = True
    assert not np.any(on_hole[f1].all(axis=1)), "a T1 triangle spans the mouth opening"
    t1f = {tuple(sorted(t)) for t in f1.tolist()}
    # --- T2 and L
    Li, Lw, f2 = g["L_index"], g["L_weight"], g["t2_faces"]
    N2 = len(Li)
    assert 20000 <= N2 <= 30000, N2
    assert Lw.shape == (N2, 3) and np.all(Lw >= 0) and np.allclose(Lw.sum(axis=1), 1.0)
    assert {tuple(sorted(r)) for r in Li.tolist()} <= t1f, "L rows are not T1 triangles"
    v2 = G.t2_vertices_of(g)
    assert np.allclose(g["t2_uv"], np.einsum("mk,mkd->md", Lw, g["t1_uv"][Li]))
    G.check_oriented_manifold(f2, N2)
    assert len(G.boundary_loops(f2)) == 2
    ang = G.triangle_angles_deg(v2, f2)
    assert ang.min() >= 20.0, ang.min()
    assert abs(st["T2_min_angle_deg"] - ang.min()) < 1e-9
    e2 = G.edge_lengths(v2, f2)
    assert e2.std() / e2.mean() < 0.25
    a1, a2 = G.triangle_areas(v1, f1).sum(), G.triangle_areas(v2, f2).sum()
    assert abs(a2 / a1 - 1.0) < 0.01, (a1, a2)
    # T2 orientation matches T1: normal of each T2 triangle vs the T1 triangle under its centroid
    n2 = np.cross(v2[f2[:, 1]] - v2[f2[:, 0]], v2[f2[:, 2]] - v2[f2[:, 0]])
    n1u = n1 / np.linalg.norm(n1, axis=1, keepdims=True)
    face_of = {tuple(sorted(t)): i for i, t in enumerate(f1.tolist())}
    under = np.array([face_of[tuple(sorted(r))] for r in Li[f2[:, 0]].tolist()])
    agree = np.einsum("ij,ij->i", n2, n1u[under]) > 0
    assert agree.mean() > 0.995, agree.mean()
    # --- iBUG 68
    ib = g["ibug68"]
    assert ib.shape == (68,) and len(set(ib.tolist())) == 68 and ib.max() < 468
    assert ib[48] == 61 and ib[54] == 291 and ib[60] == 78 and ib[64] == 308
    assert ib[36] == 33 and ib[39] == 133 and ib[42] == 362 and ib[45] == 263
    mirror = G.mirror_map(V0)
    assert np.array_equal(mirror[ib], ib[G.IBUG_MIRROR]), "iBUG-68 choice is not mirror symmetric"
    x, y = V0[ib, 0], V0[ib, 1]
    assert x[0] < 0 < x[16] and ib[8] == np.argmin(V0[:, 1]), "jaw order / chin"
    assert np.all(np.diff(x[0:9]) > 0) and np.all(x[17:22] < 0) and np.all(x[36:42] < 0)
    assert np.all(np.abs(x[27:31]) < 1e-9) and np.all(np.diff(y[27:31]) < 0)
    assert y[51] > y[62] > y[66] > y[57] and y[33] > y[51]
    # --- front face and regions
    ff = g["front_face"]
    assert np.array_equal(ff, np.arange(N1)), "all of T1 is inside the face oval"
    R = g["regions"]
    for name in ("lips", "lips_inner", "left_eye", "right_eye", "left_brow", "right_brow", "face_oval",
                 "nose", "mouth_hole_boundary"):
        assert name in R and len(R[name]) > 0 and R[name].dtype == np.int64 and R[name].max() < N1, name
    off, nbr = g["t1_adjacency"]
    for name in ("mouth_hole_boundary", "face_oval_contour", "lips_outer_contour"):
        loop = R[name]
        for a, b in zip(loop.tolist(), np.roll(loop, -1).tolist()):
            assert b in nbr[off[a]:off[a + 1]], (name, a, b)
    assert {61, 291, 0, 17, 13, 14}.issubset(set(R["lips"].tolist()))
    assert {263, 362, 386, 374}.issubset(set(R["left_eye"].tolist())) and np.all(v1[R["left_eye"], 0] > 0)
    assert {33, 133, 159, 145}.issubset(set(R["right_eye"].tolist())) and np.all(v1[R["right_eye"], 0] < 0)
    assert np.all(v1[R["left_brow"], 0] > 0) and np.all(v1[R["right_brow"], 0] < 0)
    assert {1, 4, 5, 195}.issubset(set(R["nose"].tolist()))
    assert not {61, 291, 33, 263, 152}.intersection(R["nose"].tolist())
    assert np.all(np.abs(v1[R["nose"], 0]) < 25)
    # --- adjacency CSR against a direct construction
    for (o, nb), f, n in ((g["t1_adjacency"], f1, N1), (g["t2_adjacency"], f2, N2)):
        assert len(o) == n + 1 and o[0] == 0 and o[-1] == len(nb)
        e = G.unique_edges(f)
        assert len(nb) == 2 * len(e)
        for i in (0, n // 3, n - 1):
            ring = nb[o[i]:o[i + 1]]
            expect = np.unique(np.concatenate([e[e[:, 0] == i, 1], e[e[:, 1] == i, 0]]))
            assert np.array_equal(ring, expect)
    # stats are plain numbers
    assert all(isinstance(v, (int, float)) for v in st.values())
    assert st["N1"] == N1 and st["N2"] == N2 and st["F2"] == len(f2) and st["removed_mouth_triangles"] == 18


def digest(g):
    h = hashlib.sha256()
    for k in sorted(g):
        v = g[k]
        if k == "S":
            for a in (v.indptr, v.indices, v.data):
                h.update(np.ascontiguousarray(a).tobytes())
        elif k == "regions":
            for name in sorted(v):
                h.update(name.encode() + v[name].tobytes())
        elif k in ("t1_adjacency", "t2_adjacency"):
            h.update(v[0].tobytes() + v[1].tobytes())
        elif k == "stats":
            h.update(repr(sorted(v.items())).encode())
        else:
            h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


def main():
    test_one_ring_csr_small()
    test_butterfly_linear_precision()
    canon = mp_assets.load_canonical(MP_DIR)
    regions = mp_assets.load_regions(MP_DIR)
    t0 = time.time()
    g = G.build_geometry(canon, regions)
    dt = time.time() - t0
    check_bundle(g, canon, regions)
    g2 = G.build_geometry(canon, regions)
    assert digest(g) == digest(g2), "build_geometry is not deterministic"
    assert dt < 60, dt
    print(f"ok (build {dt:.1f} s, digest {digest(g)[:16]})")


if __name__ == "__main__":
    main()
