"""Invariant checks for tools/model/bases.py. Run: /usr/bin/python3 tools/model/test_bases.py
(from the repository root; needs build/mediapipe from tools/model/extract-mediapipe.mjs)."""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mp_assets  # noqa: E402
import bases  # noqa: E402

MP = sys.argv[1] if len(sys.argv) > 1 else "build/mediapipe"
canon = mp_assets.load_canonical(MP)
regions = mp_assets.load_regions(MP)
V0 = canon["vertices"]
t0 = time.time()
B = bases.build_bases(canon, regions)
build_s = time.time() - t0
ctx = bases._Ctx(canon, regions)
S = np.array([-1.0, 1.0, 1.0])


def col(name):
    return B["expression_basis"][:, B["expression_names"].index(name)].reshape(-1, 3)


def mirror(D):
    return D[ctx.mir] * S


def test_runtime_and_types():
    assert build_s < 60, build_s
    for k, shp in [("shape_basis", (1404, 80)), ("expression_basis", (1404, 64)), ("albedo_basis", (1404, 80)),
                   ("albedo_mean", (468, 3)), ("expression_sigma", (64,))]:
        assert B[k].shape == shp, (k, B[k].shape)
        assert B[k].dtype == np.float64, k
        assert np.isfinite(B[k]).all(), k
    assert len(B["expression_names"]) == 64 and len(set(B["expression_names"])) == 64


def test_shape_orthogonal_sigma_scaled():
    E = B["shape_basis"]
    G = E.T @ E
    off = G - np.diag(np.diag(G))
    assert np.abs(off).max() < 1e-8 * np.diag(G).max()
    sig = np.sqrt(np.diag(G))
    assert (np.diff(sig) <= 1e-9).all(), "sigmas must be descending"
    # rigid motions are the pose's job: the shape basis must not contain them
    Q = bases.rigid_modes(V0)
    assert np.abs(Q.T @ E).max() < 1e-8 * sig.max()


def test_shape_calibration():
    st = B["stats"]["shape"]
    for k, r in st["table"].items():
        rel = r["cv"] / r["target_cv"]
        assert 0.7 < rel < 1.35, (k, r["cv"], r["target_cv"])
    # jaw width varies (relatively) more than face width [KEN]
    assert st["table"]["go-go"]["cv"] > 1.4 * st["table"]["zy-zy"]["cv"]
    assert 0.6 < st["asymmetry_mean_mm"] < 1.0, st["asymmetry_mean_mm"]
    # first mode is mainly overall size (NIOSH PCA)
    assert st["size_cosine_first5_modes"][0] > 0.6
    # plausible faces: 99 % of vertex displacements below 2 cm
    assert st["vertex_displacement_p99_mm"] < 20


def test_shape_samples_do_not_fold():
    rng = np.random.default_rng(3)
    F = canon["faces"]
    n0 = np.cross(V0[F[:, 1]] - V0[F[:, 0]], V0[F[:, 2]] - V0[F[:, 0]])
    for _ in range(50):
        V = V0 + (B["shape_basis"] @ rng.standard_normal(80)).reshape(-1, 3)
        n1 = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
        cos = (n0 * n1).sum(1) / (np.linalg.norm(n0, axis=1) * np.linalg.norm(n1, axis=1))
        assert cos.min() > 0.3, cos.min()


def test_expression_names_and_sigma():
    names = B["expression_names"]
    for nm in ["jawOpen", "mouthClose", "mouthSmile_L", "mouthSmile_R", "eyeBlink_L", "eyeBlink_R",
               "browInnerUp", "cheekPuff", "noseSneer_L", "mouthPucker", "mouthFunnel", "jawLeft"]:
        assert nm in names, nm
    assert names[-1].startswith("residual_")
    sig = B["expression_sigma"]
    assert (sig > 0).all() and sig[names.index("jawOpen")] == bases.BLENDSHAPE_SIGMA


def test_expression_symmetry():
    names = B["expression_names"]
    for nm in names:
        if nm.endswith("_L"):
            assert np.allclose(col(nm[:-2] + "_R"), mirror(col(nm)), atol=1e-9), nm
    for nm in ["jawOpen", "jawForward", "mouthClose", "mouthFunnel", "mouthPucker", "mouthRollLower",
               "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "browInnerUp", "cheekPuff"]:
        assert np.allclose(col(nm), mirror(col(nm)), atol=1e-6), nm
    assert np.allclose(col("jawRight"), mirror(col("jawLeft")))
    assert np.allclose(col("mouthRight"), mirror(col("mouthLeft")))


def test_expression_directions():
    LM = bases.LM
    assert col("mouthSmile_L")[LM["ch_l"], 0] > 3 and col("mouthSmile_L")[LM["ch_l"], 1] > 3
    assert abs(col("mouthSmile_L")[LM["ch_r"]]).max() < 0.5       # left means subject's left
    assert col("mouthFrown_L")[LM["ch_l"], 1] < -3
    assert col("jawLeft")[LM["gn"], 0] > 4
    assert col("mouthLeft")[LM["sto_u"], 0] > 4
    assert col("eyeBlink_L")[386, 1] < -3 and abs(col("eyeBlink_L")[159]).max() < 1e-9
    assert col("browInnerUp")[336, 1] > 3 and col("browDown_L")[334, 1] < -3
    assert col("mouthPucker")[0, 2] > 5 and col("cheekPuff")[surf(44, -32), 0] > 3
    jo = col("jawOpen")
    assert jo[LM["gn"], 1] < -18 and jo[LM["gn"], 2] > -30 and abs(jo[LM["n"]]).max() < 1e-9   # chin drops, upper face still
    gap = (V0[13, 1] + jo[13, 1]) - (V0[14, 1] + jo[14, 1])
    assert 25 < gap < 45, gap


def surf(x, y):
    return bases.surface_vertex_at(V0, x, y)


UP_IN = [191, 80, 81, 82, 13, 312, 311, 310, 415]
LOW_IN = [95, 88, 178, 87, 14, 317, 402, 318, 324]


def test_no_lip_or_lid_crossing():
    """Full activation of every blendshape (except the jawOpen corrective mouthClose) keeps
    the upper inner lip above the lower one and the upper lid above the lower lid."""
    up_l = bases.EYE_L_UP[1:-1]
    low_l = bases.EYE_L_LOW[1:-1]
    names = B["expression_names"]
    combos = {nm: col(nm) for nm in names if nm != "mouthClose"}
    combos["jawOpen+mouthClose"] = col("jawOpen") + col("mouthClose")
    for nm, D in combos.items():
        V = V0 + D
        dy = V[UP_IN, 1] - V[LOW_IN, 1]
        assert dy.min() > -0.5, (nm, dy.min())
        for side in (lambda i: i, lambda i: int(ctx.mir[i])):
            # compare lids at matching x by interpolation along the lower lid
            xu = V[[side(i) for i in up_l], 0]
            yl = np.interp(xu, *zip(*sorted(zip(V[[side(i) for i in low_l], 0], V[[side(i) for i in low_l], 1]))))
            assert (V[[side(i) for i in up_l], 1] - yl).min() > -0.3, nm
    # blink really closes the eye: max lid gap < 1 mm (was ~7 mm)
    V = V0 + col("eyeBlink_L")
    assert abs(V[386, 1] - V[374, 1]) < 1.0


def test_expression_smooth():
    """No spikes: displacement differences across an edge stay below 1.25 x the edge length
    (except across the cut mouth/eye openings, which are not edges of the cut graph)."""
    G = ctx.G.tocoo()
    for nm in B["expression_names"]:
        if nm in ("jawOpen", "mouthClose"):
            lim = 3.0     # 20 deg jaw rotation: ~35 mm lower-lip travel blends through the corners
        else:
            lim = 1.25
        D = col(nm)
        strain = np.linalg.norm(D[G.row] - D[G.col], axis=1) / G.data
        assert strain.max() < lim, (nm, strain.max())


def test_residual_modes():
    names = B["expression_names"]
    k0 = names.index("residual_00")
    R = B["expression_basis"][:, k0:]
    Bs = B["expression_basis"][:, :k0]
    Qb, _ = np.linalg.qr(Bs)
    assert np.abs(Qb.T @ R).max() < 1e-8 * np.abs(R).max()
    G = R.T @ R
    assert np.abs(G - np.diag(np.diag(G))).max() < 1e-8 * G.max()
    upper = V0[:, 1] > 10
    assert np.abs(R.reshape(468, 3, -1)[upper]).max() < 1e-6   # lower face only


def test_albedo():
    A, E = B["albedo_mean"], B["albedo_basis"]
    assert (A > 0.02).all() and (A < 0.9).all()
    G = E.T @ E
    assert np.abs(G - np.diag(np.diag(G))).max() < 1e-9 * G.max()
    st = B["stats"]["albedo"]
    assert st["fraction_in_0.02_0.9"] >= 0.99, st
    mel = E[:, 0].reshape(-1, 3)
    skin = np.array(st["skin_mean_rgb"])
    assert (mel < 0).all(), "melanin darkens every channel"
    rel = -mel.mean(0) / skin
    assert rel[2] > rel[1] > rel[0], "melanin absorbs relatively more in blue/green"
    lips = ctx.lips
    assert (A[lips, 0] / A[lips, 1]).mean() > 1.15 * skin[0] / skin[1], "lips redder than skin"
    hb = E[:, 1].reshape(-1, 3).mean(0)
    assert hb[1] < hb[0], "haemoglobin lowers green more than red"
    light = A + -2.5 * mel
    dark = A + 2.5 * mel
    assert light[:, 0].mean() > 0.5 and dark[:, 0].mean() < 0.25


def test_deterministic():
    B2 = bases.build_bases(canon, regions)
    for k in ["shape_basis", "expression_basis", "albedo_basis", "albedo_mean"]:
        assert np.array_equal(B[k], B2[k]), k


if __name__ == "__main__":
    fails = 0
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            try:
                fn()
                print("ok  ", name)
            except AssertionError as e:
                fails += 1
                print("FAIL", name, e)
    print(f"build {build_s:.1f} s")
    sys.exit(1 if fails else 0)
