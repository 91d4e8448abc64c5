"""Statistical bases of the mofa-web open default face model on MediaPipe's 468-vertex mesh.

No face scans are available and BFM/FLAME may not be used, so every basis here is built
from the canonical mesh geometry plus published statistics (paper Sec. 4, eqs. (2)-(3):
V = A_s + E_s alpha + E_e delta,  R = A_r + E_r beta):

  shape_basis      E_s (1404, 80) mm, sigma-scaled (E_s^T E_s = diag(sigma^2)), alpha ~ N(0, 1).
                   A Gaussian-process morphable model (Luthi et al., TPAMI 2018): a sum of
                   multi-scale vector-valued Gaussian kernels (mirror-symmetric + a small
                   antisymmetric part) plus linear scale/proportion kernels, rigid motions
                   projected out, reduced by eigendecomposition (Karhunen-Loeve) to 80 modes.
                   Kernel amplitudes are calibrated against adult anthropometric norms
                   (shared/recipes/anthropometry.md, keys like [KEN]).
  expression_basis E_e (1404, 64) mm: 43 ARKit-named FACS-like blendshapes, each column the
                   displacement of the FULL activation (weight 1), plus 21 sigma-scaled
                   low-frequency lower-face residual modes.
  albedo_mean      A_r (468, 3) linear RGB in 0..1; albedo_basis E_r (1404, 80) sigma-scaled,
                   columns mutually orthogonal, physical axes (melanin, haemoglobin) first.

Row layout of every (1404, K) basis: row 3*i + axis (or channel) for vertex i.
Frame (mp_assets.load_canonical): millimetres, +x subject's left, +y up, +z toward the camera.
"_L" in blendshape names is the SUBJECT's left (+x).

Run `python3 tools/model/bases.py` for the calibration table; tools/model/preview_bases.py
renders previews; tools/model/test_bases.py checks the invariants.
"""
import os
import sys

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse
import scipy.sparse.csgraph
import scipy.sparse.linalg

N_SHAPE = 80
N_EXPR = 64
N_ALBEDO = 80
SEED = 20240607  # all random draws in this file derive from this seed

# --------------------------------------------------------------------------------------
# Landmarks on the MediaPipe 468 mesh (indices; left/right = subject's left (+x)/right (-x))
# --------------------------------------------------------------------------------------
LM = {
    "ex_r": 33, "en_r": 133, "en_l": 362, "ex_l": 263,   # exocanthion / endocanthion
    "prn": 1, "sn": 2, "n": 168, "gn": 152,              # pronasale, subnasale, nasion, gnathion/menton
    "ch_r": 61, "ch_l": 291,                             # cheilion (lip corners)
    "sto_u": 13, "sto_l": 14,                            # inner lip midpoints (stomion = their mean)
    # zygion: lateral-most cheek vertex over the zygomatic arch, ~25 mm in front of the
    # mesh's ear-level rim (234/454 lie at the tragus and measure head breadth, not zy-zy).
    "zy_r": 227, "zy_l": 447,
    # gonion: the face-oval vertex where the contour turns from the ramus into the jaw body.
    "go_r": 172, "go_l": 397,
    # alare: lateral-most vertex of each nasal wing.
    "al_r": 129, "al_l": 358,
}

# Lip contours (FACEMESH_LIPS, ordered). Outer ring = vermilion border, inner = lip line.
LIP_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]
LIP_INNER_UP = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LIP_INNER_LOW = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
LIP_OUTER_UP = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LIP_OUTER_LOW = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
MOUTH_CORNERS = [61, 291, 78, 308]
# Eye lid margins of the SUBJECT's left eye (FACEMESH_LEFT_EYE), inner corner 362 -> outer 263.
EYE_L_UP = [362, 398, 384, 385, 386, 387, 388, 466, 263]
EYE_L_LOW = [362, 382, 381, 380, 374, 373, 390, 249, 263]
BROW_L_INNER = [336, 296, 285, 295]
BROW_L_OUTER = [276, 283, 300, 293]

# --------------------------------------------------------------------------------------
# Anthropometric targets, adults, mm: (men mean, men SD, women mean, women SD, population
# term SD, source). Targets for the model are sex-pooled (50/50 mixture) coefficients of
# variation: var = (sM^2 + sF^2)/2 + ((mM - mF)/2)^2 + pop^2, CV = sqrt(var) / mean.
# The population term adds between-population spread where the sources report it
# (50/50 mixture of two groups -> SD (difference / 2)).
# --------------------------------------------------------------------------------------
ANTHRO = {
    # name: (i, j, mM, sM, mF, sF, pop, source)
    "zy-zy": ("zy_r", "zy_l", 133.8, 4.6, 130.1, 3.5, 0.0, "[KEN]"),
    "go-go": ("go_r", "go_l", 106.6, 5.9, 96.8, 2.9, 0.0, "[KEN]"),
    "ex-ex": ("ex_r", "ex_l", 98.2, 3.5, 94.4, 4.9, 0.0, "[KEN]"),
    # en-en: + population term (White 31.4 vs African 38.5 pooled means [ICD]) -> 7.1/2
    "en-en": ("en_r", "en_l", 32.2, 1.9, 32.1, 1.4, 3.55, "[KEN] + [ICD]"),
    "ex-en": ("ex_l", "en_l", 34.0, 3.4, 33.7, 1.5, 0.0, "[KEN]"),
    # al-al: + population term, Kenyan vs NAW 8.5 mm [KEN-abs] -> 8.5/2
    "al-al": ("al_r", "al_l", 43.2, 3.8, 40.7, 3.7, 4.25, "[KEN] + [KEN-abs]"),
    "ch-ch": ("ch_r", "ch_l", 55.9, 3.3, 52.0, 4.0, 0.0, "[KEN]"),
    # n-gn men: KEN's 101.8 is a typo (anthropometry.md); men = n-sn + sn-me = 127.4, SD as women
    "n-gn": ("n", "gn", 127.4, 5.4, 117.1, 5.4, 0.0, "[KEN] (men derived)"),
    "sn-me": ("sn", "gn", 76.4, 3.6, 69.5, 4.8, 0.0, "[KEN]"),
    # n-sn: + population term, NAW ~4 / ~3 mm longer [KEN-abs] -> 3.5/2
    "n-sn": ("n", "sn", 51.0, 1.9, 47.6, 3.1, 1.75, "[KEN] + [KEN-abs]"),
    "sn-sto": ("sn", "sto", 25.5, 1.3, 24.0, 2.5, 0.0, "[KEN]"),
    # nasal tip protrusion: the only depth measure; anthropometry.md marks it an unsourced
    # estimate (NAW, Farkas from memory) -- it keeps depth variation from being unconstrained
    "sn-prn": ("sn", "prn", 20.0, 2.0, 19.0, 2.0, 0.0, "unsourced estimate (NAW)"),
}
# Facial index n-gn / zy-zy * 100: SD ~6.5-7 index points within a population (Wai et al. 2015,
# Malay 88.8 +- 6.6, Chinese 85.7 +- 6.5, Indian 92.6 +- 7.2) -> CV ~ 6.8 / 89.
FACIAL_INDEX_CV = 6.8 / 89.0
# Mirrored-surface asymmetry: 0.67 (young women) - 0.97 mm (older men), anthropometry.md.
ASYMMETRY_TARGET_MM = 0.80


def anthropometric_targets():
    """-> dict name -> (pooled mean mm, pooled SD mm, CV) for the ANTHRO table."""
    out = {}
    for k, (_, _, mM, sM, mF, sF, pop, _) in ANTHRO.items():
        mean = 0.5 * (mM + mF)
        sd = np.sqrt(0.5 * (sM ** 2 + sF ** 2) + (0.5 * (mM - mF)) ** 2 + pop ** 2)
        out[k] = (mean, sd, sd / mean)
    return out


# --------------------------------------------------------------------------------------
# Mesh utilities
# --------------------------------------------------------------------------------------
def mirror_map(V):
    """(468,) index of each vertex's mirror image (x -> -x). The canonical mesh is exactly
    symmetric; raises if not (tolerance 1e-3 mm)."""
    Vm = V * np.array([-1.0, 1.0, 1.0])
    d2 = ((Vm[:, None, :] - V[None, :, :]) ** 2).sum(-1)
    j = d2.argmin(1)
    if np.sqrt(d2[np.arange(len(V)), j]).max() > 1e-3:
        raise ValueError("canonical mesh is not mirror-symmetric")
    return j


def opening_faces(faces, mir):
    """Boolean mask (F,) of triangles spanning the mouth opening or an eye opening (all three
    vertices on one opening's contour). The lead removes the mouth ones from T1; here both are
    cut from the surface graph so that fields do not leak between upper and lower lip/lid.
    mir: mirror_map (gives the right eye from the left one)."""
    eye_l = set(EYE_L_UP + EYE_L_LOW)
    eye_r = {int(mir[i]) for i in eye_l}
    mouth = set(LIP_INNER_UP + LIP_INNER_LOW)
    return np.array([any(all(int(v) in s for v in f) for s in (mouth, eye_l, eye_r)) for f in faces])


def surface_graph(V, faces, keep):
    """Sparse (468, 468) symmetric edge-length graph of the triangles `keep` (bool mask)."""
    F = faces[keep]
    e = np.concatenate([F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]])
    e = np.unique(np.sort(e, 1), axis=0)
    w = np.linalg.norm(V[e[:, 0]] - V[e[:, 1]], axis=1)
    n = len(V)
    G = scipy.sparse.coo_matrix((w, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    return G + G.T


def geodesic_distance(G, seeds):
    """(468,) graph-geodesic distance (mm, Dijkstra on mesh edges) to the nearest seed."""
    return scipy.sparse.csgraph.dijkstra(G, indices=list(seeds), min_only=True)


def wendland(d, r):
    """Compactly supported C2 falloff: 1 at d=0, 0 for d >= r. (Wendland psi_{3,1})."""
    t = np.clip(np.asarray(d, float) / r, 0.0, 1.0)
    return (1 - t) ** 4 * (4 * t + 1)


def vertex_normals(V, faces):
    """(468, 3) unit area-weighted vertex normals (outward = toward +z on the face)."""
    fn = np.cross(V[faces[:, 1]] - V[faces[:, 0]], V[faces[:, 2]] - V[faces[:, 0]])
    n = np.zeros_like(V)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    if n[LM["prn"], 2] < 0:   # orient outward
        n = -n
    return n


def vertex_areas(V, faces):
    """(468,) one third of the adjacent triangle areas (mm^2)."""
    a = 0.5 * np.linalg.norm(np.cross(V[faces[:, 1]] - V[faces[:, 0]], V[faces[:, 2]] - V[faces[:, 0]]), axis=1)
    out = np.zeros(len(V))
    for k in range(3):
        np.add.at(out, faces[:, k], a / 3)
    return out


def harmonic_fill(G, fixed_idx, fixed_val, zero_idx=(), smooth_iters=0):
    """Harmonic interpolation on the surface graph G (weights 1/edge length).

    fixed_idx (k,), fixed_val (k, c): Dirichlet values; zero_idx: vertices fixed to 0.
    Returns (468, c). Vertices not connected to any constraint get 0.
    smooth_iters > 0 applies that many Laplacian smoothing sweeps to free vertices of the
    result (removes the slope kink at the constraint boundary)."""
    n = G.shape[0]
    fixed_val = np.asarray(fixed_val, float).reshape(len(fixed_idx), -1)
    c = fixed_val.shape[1]
    vals = np.zeros((n, c))
    isfix = np.zeros(n, bool)
    zero_idx = [z for z in zero_idx if z not in set(fixed_idx)]
    vals[list(zero_idx)] = 0.0
    isfix[list(zero_idx)] = True
    vals[list(fixed_idx)] = fixed_val
    isfix[list(fixed_idx)] = True
    W = G.copy()
    W.data = 1.0 / W.data
    L = scipy.sparse.diags(np.asarray(W.sum(1)).ravel()) - W
    free = np.where(~isfix)[0]
    fix = np.where(isfix)[0]
    if len(free):
        A = L[free][:, free].tocsc() + 1e-9 * scipy.sparse.identity(len(free), format="csc")
        b = -L[free][:, fix] @ vals[fix]
        vals[free] = scipy.sparse.linalg.spsolve(A, b).reshape(len(free), c)
    if smooth_iters:
        deg = np.asarray(W.sum(1)).ravel()
        for _ in range(smooth_iters):
            avg = (W @ vals) / np.maximum(deg, 1e-12)[:, None]
            vals[free] = 0.5 * vals[free] + 0.5 * avg[free]
    return vals


def surface_vertex_at(V, x, y, radius=7.0):
    """Index of the front-most vertex (max z) within `radius` mm of (x, y) in the image plane."""
    d = np.hypot(V[:, 0] - x, V[:, 1] - y)
    cand = np.where(d < radius)[0]
    if len(cand) == 0:
        raise ValueError(f"no vertex near ({x}, {y})")
    return int(cand[np.argmax(V[cand, 2] - 0.5 * d[cand])])


def point_in_polygon(P, poly):
    """Even-odd rule in 2D; P (n, 2), poly (m, 2) -> bool (n,)."""
    inside = np.zeros(len(P), bool)
    m = len(poly)
    for k in range(m):
        a, b = poly[k], poly[(k + 1) % m]
        cond = (a[1] > P[:, 1]) != (b[1] > P[:, 1])
        xint = a[0] + (P[:, 1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1] + 1e-30)
        inside ^= cond & (P[:, 0] < xint)
    return inside


class _Ctx:
    """Geometry shared by the builders (canonical mesh, mirror map, cut surface graph,
    lip/eye region sets)."""

    def __init__(self, canon, regions):
        self.V = np.asarray(canon["vertices"], float)
        self.faces = np.asarray(canon["faces"], np.int64)
        self.n = len(self.V)
        self.mir = mirror_map(self.V)
        self.regions = regions
        self.cut = ~opening_faces(self.faces, self.mir)
        self.G = surface_graph(self.V, self.faces, self.cut)
        self.normals = vertex_normals(self.V, self.faces)
        self.areas = vertex_areas(self.V, self.faces)
        V = self.V
        # Lips: vertices inside the outer vermilion contour (x, y projection), split into
        # upper/lower by cut-surface geodesic distance to the inner lip lines.
        inside = point_in_polygon(V[:, :2], V[LIP_OUTER, :2]) & (V[:, 2] > 30)
        lips = set(np.where(inside)[0]) | set(LIP_OUTER) | set(LIP_INNER_UP) | set(LIP_INNER_LOW)
        lips = np.array(sorted(lips))
        du = geodesic_distance(self.G, [i for i in LIP_INNER_UP if i not in MOUTH_CORNERS])
        dl = geodesic_distance(self.G, [i for i in LIP_INNER_LOW if i not in MOUTH_CORNERS])
        self.lips = lips
        self.lip_up = np.array([i for i in lips if du[i] < dl[i] and i not in MOUTH_CORNERS])
        self.lip_low = np.array([i for i in lips if dl[i] < du[i] and i not in MOUTH_CORNERS])
        # vermilion depth parameter t in [0, 1]: 0 on the inner lip line, 1 on the border.
        do_u = geodesic_distance(self.G, LIP_OUTER_UP)
        do_l = geodesic_distance(self.G, LIP_OUTER_LOW)
        self.t_up = du / np.maximum(du + do_u, 1e-9)
        self.t_low = dl / np.maximum(dl + do_l, 1e-9)
        self.d_lips = geodesic_distance(self.G, lips)
        # lip vertices within 7 mm of a mouth corner: left free (harmonic) in the lip fields so
        # that upper and lower lip motions blend smoothly through the corner
        dc = geodesic_distance(self.G, MOUTH_CORNERS)
        self.near_corner = {int(i) for i in lips if dc[i] < 7.0 and i not in MOUTH_CORNERS}
        # Eyes (subject's left; right ones by mirroring)
        self.eye_l = sorted(set(EYE_L_UP + EYE_L_LOW))
        self.d_eye_l = geodesic_distance(self.G, self.eye_l)
        brow = regions["FACEMESH_LEFT_EYEBROW"]["vertices"]
        self.brow_l = np.asarray(brow)
        self.d_brow_l = geodesic_distance(self.G, self.brow_l)

    def mirror_field(self, D):
        """Mirror a (468, 3) displacement/vector field: D'[i] = S D[mir(i)], S = diag(-1, 1, 1)."""
        return D[self.mir] * np.array([-1.0, 1.0, 1.0])

    def side_left(self, x0=0.0, w=6.0):
        """(468,) smooth 0..1 weight of the subject's left side (+x): 0.5 at x = x0."""
        return 0.5 * (1 + np.tanh((self.V[:, 0] - x0) / w))


# --------------------------------------------------------------------------------------
# 1. Shape: Gaussian-process morphable model
# --------------------------------------------------------------------------------------
SHAPE_SCALES_MM = (100.0, 50.0, 25.0, 12.0)
AXES = "xyz"


def rigid_modes(V):
    """(1404, 6) orthonormal basis of infinitesimal rigid motions (3 translations, 3 rotations
    about the centroid). Pose (T, t in eq. (1)) owns these, so the shape prior excludes them."""
    c = V.mean(0)
    B = np.zeros((V.size, 6))
    for a in range(3):
        B[a::3, a] = 1.0
    X = V - c
    for a in range(3):
        w = np.zeros(3)
        w[a] = 1.0
        B[:, 3 + a] = np.cross(w, X).ravel()
    Q, _ = np.linalg.qr(B)
    return Q


def shape_kernel_components(ctx):
    """Kernel building blocks, each (1404, 1404), before amplitudes:

    'scale'          : (x_i - c)(x_j - c)^T            -> uniform scaling (size, PC1 [NIOSH])
    'prop_<a>'       : (x_ia - c_a)(x_ja - c_a) on axis a -> width / height / depth proportions
    'sym_<l>_<a>'    : [k_l(x_i, x_j) + s_a k_l(x_i, M x_j)] / 2 on axis a  (mirror-symmetric GP)
    'anti_<l>_<a>'   : [k_l(x_i, x_j) - s_a k_l(x_i, M x_j)] / 2 on axis a  (antisymmetric GP)
    with k_l(x, y) = exp(-|x - y|^2 / (2 l^2)), M = mirror x -> -x, s = (-1, 1, 1) the sign
    of each axis under mirroring: f(Mx) = S f(x) for the symmetric part (Luthi et al. 2018,
    Sec. 4 "symmetric kernels"). c = centroid."""
    V = ctx.V
    n = len(V)
    c = V.mean(0)
    X = V - c
    comps = {}
    comps["scale"] = np.outer(X.ravel(), X.ravel())
    for a in range(3):
        K = np.zeros((n, 3, n, 3))
        K[:, a, :, a] = np.outer(X[:, a], X[:, a])
        comps["prop_" + AXES[a]] = K.reshape(3 * n, 3 * n)
    Vm = V * np.array([-1.0, 1.0, 1.0])
    D2 = ((V[:, None] - V[None]) ** 2).sum(-1)
    D2m = ((V[:, None] - Vm[None]) ** 2).sum(-1)
    sgn = (-1.0, 1.0, 1.0)
    masks = regional_shape_masks(ctx)
    terms = [(l, None) for l in SHAPE_SCALES_MM] + [(l, r) for r, ls in REGIONAL_SCALES.items() for l in ls]
    for l, region in terms:
        k = np.exp(-D2 / (2 * l * l))
        km = np.exp(-D2m / (2 * l * l))
        if region is not None:       # non-stationary: amplitude modulated by a symmetric mask
            m = masks[region]
            k, km = m[:, None] * k * m[None], m[:, None] * km * m[None]
        tag = f"{int(l)}" if region is None else f"{region}{int(l)}"
        for a in range(3):
            for kind, s in (("sym", 1.0), ("anti", -1.0)):
                K = np.zeros((n, 3, n, 3))
                K[:, a, :, a] = 0.5 * (k + s * sgn[a] * km)
                comps[f"{kind}_{tag}_{AXES[a]}"] = K.reshape(3 * n, 3 * n)
    return comps


# Non-stationary additions: regions whose variability the anthropometric CVs show to be
# larger than a stationary kernel gives: the mandible (go-go CV 6.6 % vs zy-zy 3.4 %, the
# most sexually dimorphic width [KEN]) and the nose (al-al CV ~9 % within, 8-9 mm between
# populations [KEN-abs]).
REGIONAL_SCALES = {"jaw": (40.0,), "nose": (15.0,)}


def regional_shape_masks(ctx):
    """Soft, mirror-symmetric 0..1 masks (468,) for the regional kernels."""
    V = ctx.V
    y = V[:, 1]
    # jaw: lower lateral face (below the mouth corners, lateral of the chin), raised cosine
    ty = np.clip((y + 30.0) / -30.0, 0, 1)
    tx = np.clip((np.abs(V[:, 0]) - 15.0) / 30.0, 0, 1)
    jaw = (0.5 * (1 - np.cos(np.pi * ty))) * (0.5 * (1 - np.cos(np.pi * tx)))
    nose = wendland(np.linalg.norm(V - np.array([0.0, -12.0, 60.0]), axis=1), 28.0)
    return {"jaw": jaw, "nose": nose}


def distance_gradients(V):
    """Gradients (1404,) at the mean of each calibrated distance and of the facial index.
    Returns (names, G (m, 1404), values (m,))."""
    names, rows, vals = [], [], []
    pts = {k: V[i] for k, i in LM.items()}
    wts = {k: {i: 1.0} for k, i in LM.items()}
    pts["sto"] = 0.5 * (V[LM["sto_u"]] + V[LM["sto_l"]])
    wts["sto"] = {LM["sto_u"]: 0.5, LM["sto_l"]: 0.5}
    for name, (a, b, *_rest) in ANTHRO.items():
        d = pts[b] - pts[a]
        L = np.linalg.norm(d)
        g = np.zeros(V.size)
        for i, w in wts[b].items():
            g[3 * i:3 * i + 3] += w * d / L
        for i, w in wts[a].items():
            g[3 * i:3 * i + 3] -= w * d / L
        names.append(name)
        rows.append(g)
        vals.append(L)
    iz, ig = names.index("zy-zy"), names.index("n-gn")
    zy, ng = vals[iz], vals[ig]
    names.append("facial-index")
    rows.append(100.0 * (rows[ig] / zy - ng * rows[iz] / zy ** 2))
    vals.append(100.0 * ng / zy)
    return names, np.array(rows), np.array(vals)


def measure_distances(V):
    """Distances (mm) of ANTHRO + facial index on a (..., 468, 3) array of meshes."""
    V = np.asarray(V)
    out = {}
    pt = lambda k: (0.5 * (V[..., LM["sto_u"], :] + V[..., LM["sto_l"], :])) if k == "sto" else V[..., LM[k], :]
    for name, (a, b, *_r) in ANTHRO.items():
        out[name] = np.linalg.norm(pt(b) - pt(a), axis=-1)
    out["facial-index"] = 100.0 * out["n-gn"] / out["zy-zy"]
    return out


def kabsch_align(A, B, w):
    """Rigidly align A (n, 3) onto B (n, 3) with weights w; returns aligned A."""
    w = w / w.sum()
    ca, cb = (w[:, None] * A).sum(0), (w[:, None] * B).sum(0)
    H = ((A - ca) * w[:, None]).T @ (B - cb)
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    R = Vt.T @ np.diag([1, 1, d]) @ U.T
    return (A - ca) @ R.T + cb


def mirrored_asymmetry(ctx, V):
    """Mean area-weighted surface distance (mm) between a mesh V (468, 3) and its rigidly
    re-aligned mirror image, point-to-plane (normal component), the usual 3D asymmetry score."""
    Vm = (V * np.array([-1.0, 1.0, 1.0]))[ctx.mir]
    Vm = kabsch_align(Vm, V, ctx.areas)
    n = vertex_normals(V, ctx.faces)
    d = np.abs(((Vm - V) * n).sum(1))
    return float((d * ctx.areas).sum() / ctx.areas.sum())


# Prior amplitudes (SD, mm for Gaussian terms; relative for linear terms) that the
# calibration starts from and is weakly pulled toward (keeps every scale present).
SHAPE_PRIOR_SD = {"scale": 0.035, "prop": 0.025, "100": 3.0, "50": 2.0, "25": 1.2, "12": 0.6,
                  "jaw40": 1.5, "nose15": 1.0}


def _prior_theta(names):
    th = []
    for nm in names:
        if nm == "scale":
            th.append(SHAPE_PRIOR_SD["scale"] ** 2)
        elif nm.startswith("prop"):
            th.append(SHAPE_PRIOR_SD["prop"] ** 2)
        else:
            th.append(SHAPE_PRIOR_SD[nm.split("_")[1]] ** 2)
    return np.array(th)


# Correlations between distances (breadths r ~ 0.5-0.7, anthropometry.md, unsourced
# estimate; they make the overall size the leading mode, as in the NIOSH 3D PCA [Zhuang 2010]).
CORR_TARGETS = {("zy-zy", "go-go"): 0.6, ("zy-zy", "ex-ex"): 0.5, ("ex-ex", "ch-ch"): 0.3,
                ("n-gn", "sn-me"): 0.75, ("zy-zy", "n-gn"): 0.3}
CORR_WEIGHT = 3.0


def calibrate_shape_amplitudes(A, target_var, theta0, C=None, corr=None, reg=0.01):
    """Solve for non-negative kernel amplitudes theta (variances) such that the predicted
    distance variances A @ theta match target_var in log space and the predicted correlations
    match corr, with a weak log-prior toward theta0.
    A (m, c): A[d, c] = g_d^T K_c g_d (exact for the linearised distance);
    C (p, c): C[q, c] = g_a^T K_c g_b for the correlation pairs (a, b) = corr[q][:2]."""
    u0 = np.log(theta0)

    def res(u):
        th = np.exp(u)
        v = A @ th
        r = [np.log(v / target_var), np.sqrt(reg) * (u - u0)]
        if C is not None:
            cv = C @ th
            r.append(CORR_WEIGHT * np.array([cv[q] / np.sqrt(v[a] * v[b]) - rho for q, (a, b, rho) in enumerate(corr)]))
        return np.concatenate(r)

    sol = scipy.optimize.least_squares(res, u0, method="lm", max_nfev=4000)
    return np.exp(sol.x)


def build_shape_basis(ctx, stats):
    """E_s (1404, 80) sigma-scaled shape basis (paper eq. (2)); fills stats['shape']."""
    V = ctx.V
    comps = shape_kernel_components(ctx)
    Q = rigid_modes(V)
    P = np.eye(V.size) - Q @ Q.T
    names_d, Gd, mean_d = distance_gradients(V)
    H = Gd @ P                                  # project gradients (P symmetric idempotent)
    sym_names = [k for k in comps if not k.startswith("anti")]
    # asymmetry lives at the mid/small scales (Ferrario 1994: middle and lower face); the
    # 100 mm antisymmetric kernel is almost a rigid yaw/roll and is left out
    anti_names = [k for k in comps if k.startswith("anti") and not k.startswith("anti_100")]
    KH = {c: comps[c] @ H.T for c in sym_names}                      # (1404, m) each
    A = np.array([[H[d] @ KH[c][:, d] for c in sym_names] for d in range(len(H))])
    corr = [(names_d.index(a), names_d.index(b), rho) for (a, b), rho in CORR_TARGETS.items()]
    C = np.array([[H[a] @ KH[c][:, b] for c in sym_names] for a, b, _ in corr])
    tg = anthropometric_targets()
    cv_t = np.array([tg[k][2] if k in tg else FACIAL_INDEX_CV for k in names_d])
    target_var = (cv_t * mean_d) ** 2
    theta0 = _prior_theta(sym_names)
    # Outer loop: calibrate on the full kernel, then correct for the variance lost by the
    # rank-80 truncation (measured exactly on the truncated basis) and for the asymmetric
    # part's share of the 80 modes.
    vcorr = np.ones(len(names_d))
    r_anti = 0.04
    rng = np.random.default_rng(SEED)
    Z = rng.standard_normal((N_SHAPE, 400))
    n_iter = 6
    for it in range(n_iter):
        theta = calibrate_shape_amplitudes(A, target_var * vcorr, theta0, C, corr)
        K = sum(t * comps[c] for t, c in zip(theta, sym_names))
        th_by = dict(zip(sym_names, theta))
        K = K + r_anti * sum(th_by["sym_" + c[5:]] * comps[c] for c in anti_names)
        K = P @ K @ P
        K = 0.5 * (K + K.T)
        w, U = scipy.linalg.eigh(K, subset_by_index=[V.size - N_SHAPE, V.size - 1])
        w, U = w[::-1], U[:, ::-1]
        E = U * np.sqrt(np.maximum(w, 0))
        if it == n_iter - 1:
            break
        var_trunc = ((Gd @ E) ** 2).sum(1)
        vcorr = vcorr * target_var / var_trunc
        asym = np.mean([mirrored_asymmetry(ctx, V + (E @ Z[:, s]).reshape(-1, 3)) for s in range(80)])
        r_anti *= (ASYMMETRY_TARGET_MM / asym) ** 2
    # sign convention: make the largest-magnitude entry of each column positive (determinism)
    idx = np.abs(E).argmax(0)
    E = E * np.sign(E[idx, np.arange(E.shape[1])])
    stats["shape"] = {
        "theta_sd": {c: float(np.sqrt(t)) for c, t in zip(sym_names, theta)},
        "anti_ratio": float(np.sqrt(r_anti)),
        "kernel_variance_kept": float(w.sum() / np.trace(K)),
    }
    return E


def shape_statistics(ctx, E, n_samples=1000):
    """Calibration table on n_samples random faces: mean/SD/CV per distance vs targets,
    mirrored asymmetry, paired-landmark L/R differences."""
    rng = np.random.default_rng(SEED + 1)
    al = rng.standard_normal((n_samples, E.shape[1]))
    Vs = ctx.V[None] + (al @ E.T).reshape(n_samples, -1, 3)
    meas = measure_distances(Vs)
    mean0 = measure_distances(ctx.V)
    tg = anthropometric_targets()
    table = {}
    for k, v in meas.items():
        if k in tg:
            tmean, tsd, tcv = tg[k]
            src = ANTHRO[k][7]
        else:
            tmean, tsd, tcv, src = 88.8, 6.6, FACIAL_INDEX_CV, "Wai 2015 (Malay)"
        table[k] = {"mean_face": float(mean0[k]), "sample_mean": float(v.mean()), "sd": float(v.std()),
                    "cv": float(v.std() / v.mean()), "target_mean": float(tmean), "target_sd": float(tsd),
                    "target_cv": float(tcv), "source": src}
    asym = [mirrored_asymmetry(ctx, Vs[s]) for s in range(200)]
    # paired-landmark L/R difference: |d(ex_l, n) - d(ex_r, n)|, |d(ch_l, sn) - d(ch_r, sn)|,
    # |d(go_l, gn) - d(go_r, gn)|
    pairs = []
    for l, r, m in (("ex_l", "ex_r", "n"), ("ch_l", "ch_r", "sn"), ("go_l", "go_r", "gn"), ("zy_l", "zy_r", "n")):
        dl = np.linalg.norm(Vs[:, LM[l]] - Vs[:, LM[m]], axis=1)
        dr = np.linalg.norm(Vs[:, LM[r]] - Vs[:, LM[m]], axis=1)
        pairs.append(np.abs(dl - dr))
    pairs = np.concatenate(pairs)
    disp = np.linalg.norm((al @ E.T).reshape(n_samples, -1, 3), axis=2)
    corrs = {f"{a}~{b}": float(np.corrcoef(meas[a], meas[b])[0, 1]) for (a, b) in CORR_TARGETS}
    X = (ctx.V - ctx.V.mean(0)).ravel()
    pc_size = [float(abs(E[:, k] @ X) / (np.linalg.norm(E[:, k]) * np.linalg.norm(X))) for k in range(5)]
    return {
        "table": table,
        "asymmetry_mean_mm": float(np.mean(asym)),
        "asymmetry_sd_mm": float(np.std(asym)),
        "paired_lr_diff_mean_mm": float(pairs.mean()),
        "paired_lr_diff_p95_mm": float(np.percentile(pairs, 95)),
        "vertex_displacement_rms_mm": float(np.sqrt((disp ** 2).mean())),
        "vertex_displacement_p99_mm": float(np.percentile(disp, 99)),
        "sigma_first5": [float(s) for s in np.linalg.norm(E, axis=0)[:5]],
        "correlations": corrs,
        "correlation_targets": {f"{a}~{b}": r for (a, b), r in CORR_TARGETS.items()},
        "size_cosine_first5_modes": pc_size,
    }


# --------------------------------------------------------------------------------------
# 2. Expression blendshapes (ARKit names, FACS-like, full activation = weight 1)
# --------------------------------------------------------------------------------------
JAW_PIVOT = np.array([0.0, 5.0, -25.0])   # TMJ: ~level of the tragus, in front of the ear rim
JAW_OPEN_DEG = 20.0
# Condylar glide: in wide opening the condyle also slides forward and down the articular
# eminence (~10-15 mm), which turns the chin's path from "back" into "down and back".
JAW_GLIDE_MM = np.array([0.0, -6.0, 13.0])


def _rotate_x(P, pivot, ang):
    """Rotate points P (n, 3) about the x axis through pivot by per-point angles ang (rad);
    positive angles move points below/in front of the pivot down and back (jaw opening)."""
    d = P - pivot
    c, s = np.cos(ang), np.sin(ang)
    y = d[:, 1] * c - d[:, 2] * s
    z = d[:, 1] * s + d[:, 2] * c
    return np.stack([d[:, 0], y, z], 1) + pivot


def _rotate_y(P, pivot, ang):
    d = P - pivot
    c, s = np.cos(ang), np.sin(ang)
    x = d[:, 0] * c + d[:, 2] * s
    z = -d[:, 0] * s + d[:, 2] * c
    return np.stack([x, d[:, 1], z], 1) + pivot


def jaw_weight(ctx):
    """(468,) 0..1 share of each vertex in mandible motion: harmonic field, 1 on the lower
    lip, chin and jaw line (y < -62 mm), 0 on the upper lip and everything above the nose
    base (y > -22 mm); lip corners 0.4."""
    V = ctx.V
    one = sorted((set(ctx.lip_low) - ctx.near_corner) | set(np.where(V[:, 1] < -62)[0]))
    zero = sorted((set(ctx.lip_up) - ctx.near_corner) | set(np.where(V[:, 1] > -22)[0]))
    fixed = one + MOUTH_CORNERS
    vals = [1.0] * len(one) + [0.4] * len(MOUTH_CORNERS)
    return harmonic_fill(ctx.G, fixed, vals, zero, smooth_iters=3)[:, 0]


def lip_region_field(ctx, up_disp, low_disp, radius=16.0, corner_disp=None, smooth=4):
    """(468, 3) displacement prescribed on the upper lip (up_disp (468,3) read at lip_up
    vertices), lower lip, optionally the corners, decaying harmonically to 0 at `radius` mm
    (cut-surface geodesic) from the lips."""
    far = np.where(ctx.d_lips > radius)[0]
    lu = [i for i in ctx.lip_up if i not in ctx.near_corner]
    ll = [i for i in ctx.lip_low if i not in ctx.near_corner]
    fixed = lu + ll
    vals = [up_disp[i] for i in lu] + [low_disp[i] for i in ll]
    if corner_disp is not None:
        fixed += MOUTH_CORNERS
        vals += [corner_disp[i] for i in MOUTH_CORNERS]
    return harmonic_fill(ctx.G, fixed, np.array(vals), far, smooth_iters=smooth)


def bump(ctx, seeds, radius, vec):
    """(468, 3) displacement vec (3,) or (468,3) times a Wendland falloff of the cut-surface
    geodesic distance to the seed vertices."""
    w = wendland(geodesic_distance(ctx.G, seeds), radius)
    return w[:, None] * np.broadcast_to(vec, (ctx.n, 3))


def _lid_curve(V, idx):
    """Interpolator x -> point on a lid margin polyline (vertices idx sorted by x)."""
    P = V[idx]
    o = np.argsort(P[:, 0])
    P = P[o]
    return lambda x: np.stack([np.interp(x, P[:, 0], P[:, k]) for k in range(3)], -1)


def eye_field(ctx, up_disp, low_disp, radius_up=20.0, radius_low=9.0, extra_fixed=None):
    """(468, 3) left-eye displacement: prescribed on the lid margins (up_disp / low_disp are
    (9, 3) arrays along EYE_L_UP / EYE_L_LOW), harmonically decaying to 0 at radius_up mm
    above the eye and radius_low mm below it (cut-surface geodesic)."""
    V = ctx.V
    eyc = V[ctx.eye_l].mean(0)
    below = V[:, 1] < eyc[1] - 2
    far = np.where((ctx.d_eye_l > radius_up) | (below & (ctx.d_eye_l > radius_low)))[0]
    fixed = list(EYE_L_UP) + list(EYE_L_LOW[1:-1])
    vals = list(up_disp) + list(low_disp[1:-1])
    if extra_fixed:
        for i, v in extra_fixed.items():
            fixed.append(i)
            vals.append(v)
    return harmonic_fill(ctx.G, fixed, np.array(vals), far, smooth_iters=3)


def build_expression_blendshapes(ctx):
    """Ordered dict name -> (468, 3) displacement (mm) of the full activation."""
    V = ctx.V
    n = ctx.n
    Z = np.zeros((n, 3))
    bs = {}
    sideL = ctx.side_left()

    # ---- jaw (mandible rigid motion, weighted by the jaw field) ----
    wj = jaw_weight(ctx)
    bs["jawOpen"] = _rotate_x(V, JAW_PIVOT, np.deg2rad(JAW_OPEN_DEG) * wj) - V + wj[:, None] * JAW_GLIDE_MM
    bs["jawForward"] = wj[:, None] * np.array([0.0, 0.0, 6.0])
    # jawLeft: mandible slides 7 mm toward the subject's left with a 3 deg yaw
    jl = wj[:, None] * np.array([7.0, 0.0, 0.0]) + (_rotate_y(V, JAW_PIVOT, np.deg2rad(3.0) * wj) - V)
    bs["jawLeft"] = jl
    bs["jawRight"] = ctx.mirror_field(jl)

    # ---- mouthClose: lips seal against an open jaw (corrective for jawOpen). Lower lip
    # cancels 75 % of the jaw motion, upper lip comes down the remaining gap share. ----
    jo = bs["jawOpen"]
    # gap the jaw opens at the lip midline (mm, along y); upper lip covers 25 % of it
    opening = jo[LM["sto_u"], 1] - jo[LM["sto_l"], 1]
    up = np.tile([0.0, -0.25 * opening, 0.0], (n, 1))
    low = -0.75 * jo
    bs["mouthClose"] = lip_region_field(ctx, up, low, radius=14.0)

    # ---- whole-mouth shapes ----
    t_u, t_l = ctx.t_up, ctx.t_low
    # funnel: lips protrude and flare open into an O, corners move in
    up = np.stack([-0.12 * V[:, 0], 2.5 + 1.5 * t_u, 5.0 + 2.0 * t_u], 1)
    low = np.stack([-0.12 * V[:, 0], -2.5 - 1.5 * t_l, 5.0 + 2.0 * t_l], 1)
    cor = np.stack([-0.13 * V[:, 0], 0 * V[:, 0], 2.0 + 0 * V[:, 0]], 1)
    bs["mouthFunnel"] = lip_region_field(ctx, up, low, 18.0, cor)
    # pucker: lips push forward and gather toward the midline (mouth ~30 % narrower),
    # vermilion everts (borders move outward), lips touch
    ax = np.abs(V[:, 0])
    fwd = 8.0 * np.clip(1 - (ax / 26.0) ** 2, 0.2, 1)
    up = np.stack([-0.18 * V[:, 0], -1.0 + 1.5 * t_u, fwd + 1.5 * t_u], 1)
    low = np.stack([-0.18 * V[:, 0], 1.0 - 1.5 * t_l, fwd + 1.5 * t_l], 1)
    cor = np.stack([-0.18 * V[:, 0], 0 * V[:, 0], 1.6 + 0 * V[:, 0]], 1)
    bs["mouthPucker"] = lip_region_field(ctx, up, low, 22.0, cor)
    # mouthLeft: the closed mouth slides toward the subject's left
    sl = np.tile([7.0, 0.0, -1.0], (n, 1))
    ml = lip_region_field(ctx, sl, sl, 22.0, sl)
    bs["mouthLeft"] = ml
    bs["mouthRight"] = ctx.mirror_field(ml)

    # ---- corner pulls (left versions; right = mirror) ----
    def corner_pull(vec, radius, cheek=None):
        D = bump(ctx, [LM["ch_l"], 308], radius, np.asarray(vec, float))
        if cheek is not None:
            c_idx, c_rad, c_vec = cheek
            D = D + bump(ctx, [c_idx], c_rad, np.asarray(c_vec, float))
        return D

    cheek_l = surface_vertex_at(V, 40.0, -18.0)
    pairs = {}
    # smile (zygomaticus major): corner up, out and back; cheek bunches up and forward
    pairs["mouthSmile"] = corner_pull([6.0, 7.0, -3.0], 30.0, (cheek_l, 22.0, [1.0, 3.0, 2.5]))
    # frown (depressor anguli oris): corner down
    pairs["mouthFrown"] = corner_pull([1.0, -6.0, -1.0], 26.0)
    # dimple (buccinator): corner straight back and slightly out
    pairs["mouthDimple"] = corner_pull([2.5, 0.5, -4.5], 18.0)
    # stretch (risorius / platysma): corner out and down, lower lip drawn down laterally
    st = corner_pull([6.0, -3.0, -2.0], 28.0)
    st = st + lip_region_field(ctx, Z, np.tile([0.0, -2.0, 0.0], (n, 1)) * sideL[:, None], 14.0)
    pairs["mouthStretch"] = st
    # press (orbicularis): vermilion thins (borders move toward the lip line), lips meet
    up = np.stack([0 * V[:, 0], -1.5 - 2.0 * t_u, -1.0 * t_u], 1) * sideL[:, None]
    low = np.stack([0 * V[:, 0], 1.5 + 2.0 * t_l, -1.0 * t_l], 1) * sideL[:, None]
    pairs["mouthPress"] = lip_region_field(ctx, up, low, 12.0)
    # lower lip down (depressor labii inferioris), left half
    low = np.tile([0.0, -6.0, 0.5], (n, 1)) * ctx.side_left(4.0, 5.0)[:, None]
    pairs["mouthLowerDown"] = lip_region_field(ctx, Z, low, 16.0)
    # upper lip up (levator labii superioris), left half, with the nasolabial region
    up = np.tile([0.0, 5.5, 1.5], (n, 1)) * ctx.side_left(4.0, 5.0)[:, None]
    pairs["mouthUpperUp"] = lip_region_field(ctx, up, Z, 16.0)

    for nm, D in pairs.items():
        bs[nm + "_L"] = D
        bs[nm + "_R"] = ctx.mirror_field(D)

    # ---- lip rolls and shrugs (symmetric) ----
    # roll lower: vermilion rotates inward over the lip line (border moves up and back)
    low = np.stack([0 * V[:, 0], 1.0 + 3.0 * t_l, -1.5 - 5.0 * t_l], 1)
    bs["mouthRollLower"] = lip_region_field(ctx, Z, low, 12.0)
    up = np.stack([0 * V[:, 0], -1.0 - 3.0 * t_u, -1.5 - 5.0 * t_u], 1)
    bs["mouthRollUpper"] = lip_region_field(ctx, up, Z, 12.0)
    # shrug lower (mentalis): chin boss and lower lip push up and forward
    chin = surface_vertex_at(V, 0.0, -72.0)
    sh = lip_region_field(ctx, Z, np.tile([0.0, 2.5, 2.0], (n, 1)), 12.0)
    bs["mouthShrugLower"] = sh + bump(ctx, [chin], 26.0, np.array([0.0, 3.0, 3.0]))
    bs["mouthShrugUpper"] = lip_region_field(ctx, np.tile([0.0, 2.5, 2.0], (n, 1)), Z, 14.0)

    # ---- brows (left; right = mirror) ----
    brow_pairs = {}
    inner_l = BROW_L_INNER
    outer_l = BROW_L_OUTER

    def brow_field(disp_fn, radius=22.0):
        """Brow vertices get disp_fn(i); forehead/upper-lid decay to 0 at `radius` mm;
        the eye lid margins stay fixed."""
        far = np.where(ctx.d_brow_l > radius)[0]
        fixed = list(ctx.brow_l) + list(EYE_L_UP) + list(EYE_L_LOW)
        vals = [disp_fn(i) for i in ctx.brow_l] + [np.zeros(3)] * (len(EYE_L_UP) + len(EYE_L_LOW))
        return harmonic_fill(ctx.G, fixed, np.array(vals), far, smooth_iters=3)

    bx = V[ctx.brow_l, 0]
    bx0, bx1 = bx.min(), bx.max()
    innerness = lambda i: np.clip((bx1 - V[i, 0]) / (bx1 - bx0), 0, 1)   # 1 at the inner end
    # browDown (corrugator + depressors): brow lowers, inner part more and pulled medially
    brow_pairs["browDown"] = brow_field(lambda i: np.array([-2.5 * innerness(i), -4.0 - 2.0 * innerness(i), 0.5]))
    brow_pairs["browOuterUp"] = brow_field(lambda i: np.array([0.5, 6.0 * (1 - innerness(i)) ** 1.5, 0.0]), 26.0)
    for nm, D in brow_pairs.items():
        bs[nm + "_L"] = D
        bs[nm + "_R"] = ctx.mirror_field(D)
    biu = brow_field(lambda i: np.array([0.0, 6.0 * innerness(i) ** 1.5, 0.5]), 26.0)
    bs["browInnerUp"] = biu + ctx.mirror_field(biu)

    # ---- cheeks and nose ----
    pc = surface_vertex_at(V, 44.0, -32.0)
    puff = wendland(geodesic_distance(ctx.G, [pc]), 30.0)[:, None] * ctx.normals * 7.0
    bs["cheekPuff"] = puff + ctx.mirror_field(puff)
    cs = surface_vertex_at(V, 38.0, 8.0)   # malar fat pad below the left eye
    csq = bump(ctx, [cs], 20.0, np.array([0.0, 3.5, 2.0]))
    csq = csq + eye_field(ctx, np.zeros((9, 3)),
                          np.array([[0, 1.2 * np.sin(np.pi * k / 8), 0.2] for k in range(9)]))
    bs["cheekSquint_L"] = csq
    bs["cheekSquint_R"] = ctx.mirror_field(csq)
    ala = [LM["al_l"], 279, 331, 294, 278]
    ns = bump(ctx, ala, 16.0, np.array([0.5, 3.5, 0.5])) + bump(ctx, [surface_vertex_at(V, 12.0, 5.0)], 12.0,
                                                             np.array([0.0, 1.5, -0.5]))
    bs["noseSneer_L"] = ns
    bs["noseSneer_R"] = ctx.mirror_field(ns)

    # ---- eyes (left; right = mirror) ----
    up_curve = _lid_curve(V, EYE_L_UP)
    low_curve = _lid_curve(V, EYE_L_LOW)
    xs_u = V[EYE_L_UP, 0]
    xs_l = V[EYE_L_LOW, 0]
    # blink: lids meet on a line 15 % of the way up the fissure; the upper lid travels
    # ~85 % of the opening, the lower lid rises ~15 % (orbicularis oculi, palpebral part)
    meet_u = low_curve(xs_u) + 0.15 * (up_curve(xs_u) - low_curve(xs_u))
    meet_l = low_curve(xs_l) + 0.15 * (up_curve(xs_l) - low_curve(xs_l))
    meet_u[:, 2] += 0.8 * np.sin(np.pi * np.arange(9) / 8)   # lid bulges over the cornea
    meet_l[:, 2] += 0.8 * np.sin(np.pi * np.arange(9) / 8)
    d_up = meet_u - V[EYE_L_UP]
    d_low = meet_l - V[EYE_L_LOW]
    d_up[[0, -1]] = 0
    d_low[[0, -1]] = 0
    eye_pairs = {}
    eye_pairs["eyeBlink"] = eye_field(ctx, d_up, d_low)
    bell = np.sin(np.pi * np.arange(9) / 8)[:, None]
    eye_pairs["eyeWide"] = eye_field(ctx, bell * [0.0, 3.0, 0.6], bell * [0.0, -0.8, 0.0])
    eye_pairs["eyeSquint"] = eye_field(ctx, bell * [0.0, -1.2, 0.0], bell * [0.0, 2.2, 0.4],
                                       radius_low=16.0)
    for nm, D in eye_pairs.items():
        bs[nm + "_L"] = D
        bs[nm + "_R"] = ctx.mirror_field(D)
    return bs


EXPRESSION_ORDER = [
    "jawOpen", "jawForward", "jawLeft", "jawRight", "mouthClose", "mouthFunnel", "mouthPucker",
    "mouthLeft", "mouthRight", "mouthSmile_L", "mouthSmile_R", "mouthFrown_L", "mouthFrown_R",
    "mouthDimple_L", "mouthDimple_R", "mouthStretch_L", "mouthStretch_R", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPress_L", "mouthPress_R",
    "mouthLowerDown_L", "mouthLowerDown_R", "mouthUpperUp_L", "mouthUpperUp_R",
    "browDown_L", "browDown_R", "browInnerUp", "browOuterUp_L", "browOuterUp_R",
    "cheekPuff", "cheekSquint_L", "cheekSquint_R", "noseSneer_L", "noseSneer_R",
    "eyeBlink_L", "eyeBlink_R", "eyeSquint_L", "eyeSquint_R", "eyeWide_L", "eyeWide_R",
]
BLENDSHAPE_SIGMA = 0.35      # prior SD of a blendshape weight
MOUTH_CLOSE_SIGMA = 0.2      # corrective shape: only meaningful together with jawOpen
RESIDUAL_SIGMA = 1.0         # residual columns are already sigma-scaled
RESIDUAL_SCALES = ((22.0, 1.2), (12.0, 0.7))   # (length scale mm, amplitude SD mm)


def lower_face_weight(ctx):
    """(468,) smooth 0..1 mask of the lower face: 1 below the nose base (y < -25 mm),
    0 above the cheekbones (y > 0 mm), raised-cosine in between."""
    y = ctx.V[:, 1]
    t = np.clip((y + 25.0) / 25.0, 0, 1)
    return 0.5 * (1 + np.cos(np.pi * t))


def build_expression_residuals(ctx, B, n_modes):
    """(1404, n_modes) sigma-scaled low-frequency residual expression modes: a vector GP
    (RESIDUAL_SCALES) on the 3D positions, masked to the lower face, with rigid motions and
    the span of the blendshapes B (1404, k) projected out, top modes of its eigendecomposition."""
    V = ctx.V
    n = len(V)
    D2 = ((V[:, None] - V[None]) ** 2).sum(-1)
    k = sum(a * a * np.exp(-D2 / (2 * l * l)) for l, a in RESIDUAL_SCALES)
    m = lower_face_weight(ctx)
    k = (m[:, None] * k * m[None, :])
    # work on the rows of the masked region only, so the modes are exactly zero elsewhere and
    # orthogonality to rigid motions / blendshapes (restricted to those rows) holds globally
    rows = np.repeat(m > 0, 3)
    K = np.kron(k, np.eye(3))[np.ix_(rows, rows)]
    Qb, _ = np.linalg.qr(np.concatenate([rigid_modes(V), B], 1)[rows])
    P = np.eye(rows.sum()) - Qb @ Qb.T
    K = P @ K @ P
    K = 0.5 * (K + K.T)
    nr = K.shape[0]
    w, U = scipy.linalg.eigh(K, subset_by_index=[nr - n_modes, nr - 1])
    w, U = w[::-1], U[:, ::-1]
    E = np.zeros((3 * n, n_modes))
    E[rows] = U * np.sqrt(np.maximum(w, 0))
    idx = np.abs(E).argmax(0)
    return E * np.sign(E[idx, np.arange(n_modes)])


def build_expression_basis(ctx, stats):
    bs = build_expression_blendshapes(ctx)
    missing = set(EXPRESSION_ORDER) ^ set(bs)
    if missing:
        raise ValueError(f"blendshape set mismatch: {sorted(missing)}")
    B = np.stack([bs[k].ravel() for k in EXPRESSION_ORDER], 1)
    n_res = N_EXPR - B.shape[1]
    R = build_expression_residuals(ctx, B, n_res)
    E = np.concatenate([B, R], 1)
    names = EXPRESSION_ORDER + [f"residual_{k:02d}" for k in range(n_res)]
    sigma = np.array([MOUTH_CLOSE_SIGMA if k == "mouthClose" else BLENDSHAPE_SIGMA for k in EXPRESSION_ORDER]
                     + [RESIDUAL_SIGMA] * n_res)
    mx = np.linalg.norm(E.reshape(ctx.n, 3, -1), axis=1).max(0)
    stats["expression"] = {"max_displacement_mm": {nm: float(v) for nm, v in zip(names, mx)},
                           "n_blendshapes": len(EXPRESSION_ORDER), "n_residual": n_res}
    return E, names, sigma


# --------------------------------------------------------------------------------------
# 3. Albedo (diffuse reflectance, linear RGB)
# --------------------------------------------------------------------------------------
# Melanin: light and dark skin are two melanin densities on one Beer-Lambert curve
# rho = rho_base * exp(-m * eps_c); the melanin axis is the chord between them (the best
# linear stand-in for the exponential over the light..dark range). Spectral melanin
# absorption falls as lambda^-3.33 (Jacques, "Skin optics", OMLC News 1998), i.e. optical
# density 1 : 1.58 : 2.70 at 620/540/460 nm; broadband camera channels integrate over
# ~80 nm and flatten this (the least-absorbed wavelengths of each band dominate), so the
# end points below are set directly as approximate broadband diffuse albedos:
#   light (fair, Fitzpatrick I-II) ~ (0.62, 0.45, 0.35), dark (V-VI) ~ (0.19, 0.085, 0.055),
# i.e. dark/light = 0.31 / 0.19 / 0.16 -> effective optical-density ratio 1 : 1.43 : 1.57.
# Assumption (no measured table in shared/recipes); documented in models/README.md.
ALBEDO_LIGHT = np.array([0.62, 0.45, 0.35])
ALBEDO_DARK = np.array([0.19, 0.085, 0.055])
MELANIN_SPAN_SD = 2.5         # light / dark ends sit at -/+ 2.5 SD of the melanin axis
# Oxy-haemoglobin absorbs strongly in green (542/577 nm peaks) and blue (Soret tail),
# little in red: relative optical density R:G:B ~ 0.08 : 1 : 0.55 (Prahl's tabulated
# Hb02 spectrum, broadband-averaged; rounded). Erythema = more blood -> redder, lower green.
HB_EPS = np.array([0.08, 1.0, 0.55])
HB_SD = 0.08                  # SD of the haemoglobin optical-density coefficient


def albedo_region_masks(ctx):
    """Soft 0..1 masks (468,) used by the albedo model: lips, brows, beard, cheeks, lids."""
    V = ctx.V
    m = {}
    lip = np.zeros(ctx.n)
    lip[ctx.lips] = 1.0
    lip[LIP_OUTER] = 0.6
    m["lips"] = lip
    dbl = ctx.d_brow_l
    dbr = dbl[ctx.mir]
    m["brows"] = np.maximum(wendland(dbl, 9.0), wendland(dbr, 9.0))
    # beard: below the nose base and on the jaw/cheeks below the zygoma, not on the lips;
    # raised-cosine in y from y=-15 (0) to y=-32 (1); fades toward the ear (|x| > 62).
    y = V[:, 1]
    t = np.clip((y + 15.0) / -17.0, 0, 1)
    beard = 0.5 * (1 - np.cos(np.pi * t))
    beard *= np.clip((72.0 - np.abs(V[:, 0])) / 12.0, 0, 1)
    beard *= 1 - lip
    beard = np.clip(beard, 0, 1)
    m["beard"] = beard
    ck = surface_vertex_at(V, 42.0, -5.0)
    dck = geodesic_distance(ctx.G, [ck])
    m["cheeks"] = np.maximum(wendland(dck, 28.0), wendland(dck[ctx.mir], 28.0))
    lids = set(EYE_L_UP + EYE_L_LOW)
    lids |= {int(ctx.mir[i]) for i in lids}
    lidm = np.zeros(ctx.n)
    lidm[sorted(lids)] = 1.0
    m["lids"] = lidm
    nose = geodesic_distance(ctx.G, [LM["prn"]])
    m["nose"] = wendland(nose, 18.0)
    return m


def build_albedo(ctx, stats):
    """A_r (468, 3) and E_r (1404, 80) sigma-scaled, columns orthogonal (paper eq. (3))."""
    n = ctx.n
    masks = albedo_region_masks(ctx)
    # Beer-Lambert chord: light = base exp(-m_L eps), dark = base exp(-(m_L + delta) eps)
    dark = ALBEDO_DARK
    skin_mean = 0.5 * (ALBEDO_LIGHT + dark)
    melanin_dir = (dark - ALBEDO_LIGHT) / (2 * MELANIN_SPAN_SD)    # per +1 SD
    # Regional mean multipliers (relative to skin): lips redder & darker (vermilion
    # reflectance, e.g. G and B reduced by haemoglobin), brows slightly darker (mean over
    # sparse to dense brows), lid margins darker (lashes).
    mult = np.ones((n, 3))
    mult *= 1 - masks["lips"][:, None] * (1 - np.array([0.82, 0.55, 0.62]))
    mult *= 1 - masks["brows"][:, None] * (1 - np.array([0.72, 0.70, 0.70]))
    mult *= 1 - masks["lids"][:, None] * (1 - np.array([0.55, 0.52, 0.52]))
    mult *= 1 - masks["cheeks"][:, None] * (1 - np.array([1.0, 0.96, 0.97]))
    mean = skin_mean[None] * mult
    cols = []
    # 0 melanin: chord direction, scaled with the regional mean
    cols.append(mean / skin_mean * melanin_dir)
    # 1 haemoglobin (global erythema/pallor): d rho = -rho * HB_SD * eps (linearised)
    cols.append(-mean * HB_SD * HB_EPS)
    # 2 lips: redder/darker vs paler lips
    cols.append(-masks["lips"][:, None] * mean * np.array([0.08, 0.22, 0.16]))
    # 3 brows: hair density/colour (blond -> dark) only on brows
    cols.append(-masks["brows"][:, None] * mean * np.array([0.22, 0.24, 0.24]))
    # 4 beard shadow: darker, slightly bluish (hair under the skin scatters blue back)
    cols.append(-masks["beard"][:, None] * mean * np.array([0.12, 0.10, 0.05]))
    # 5 cheek redness (local haemoglobin). Amplitude 0.06: at 0.12 the negative side of
    # this symmetric Gaussian mode gave visibly green cheeks at 2 SD (contact sheet review).
    cols.append(-masks["cheeks"][:, None] * mean * 0.06 * HB_EPS)
    # 6 nose redness
    cols.append(-masks["nose"][:, None] * mean * 0.10 * HB_EPS)
    # 7 periorbital darkening (slightly bluish-purple)
    dper = np.minimum(ctx.d_eye_l, ctx.d_eye_l[ctx.mir])
    per = wendland(dper, 14.0) * (ctx.V[:, 1] < ctx.V[LM["en_l"], 1] + 2)
    cols.append(-per[:, None] * mean * np.array([0.10, 0.10, 0.06]))
    semantic = ["melanin", "haemoglobin", "lips", "brows", "beard", "cheek_redness", "nose_redness",
                "periorbital"]
    C = np.stack([c.ravel() for c in cols], 1)
    # GP fill: per-channel smooth variation. Colour covariance = mostly luminance-correlated
    # (0.94 correlation between channels; independent chroma noise reads as green/olive
    # casts) scaled by the mean; spatial Gaussian kernels (40 mm and 15 mm).
    V = ctx.V
    D2 = ((V[:, None] - V[None]) ** 2).sum(-1)
    k = 0.030 ** 2 * np.exp(-D2 / (2 * 40.0 ** 2)) + 0.018 ** 2 * np.exp(-D2 / (2 * 15.0 ** 2))
    ccol = 0.06 * np.eye(3) + 0.94 * np.ones((3, 3))
    s = mean / skin_mean            # regional relative scaling (468, 3)
    K = np.kron(k, ccol) * np.outer(s.ravel(), s.ravel()) * np.outer(np.tile(skin_mean, n), np.tile(skin_mean, n)) \
        / (skin_mean.mean() ** 2)
    # remove what the semantic columns already explain, then KL
    Qc, _ = np.linalg.qr(C)
    P = np.eye(3 * n) - Qc @ Qc.T
    K = P @ K @ P
    K = 0.5 * (K + K.T)
    n_gp = N_ALBEDO - C.shape[1]
    w, U = scipy.linalg.eigh(K, subset_by_index=[3 * n - n_gp, 3 * n - 1])
    w, U = w[::-1], U[:, ::-1]
    Egp = U * np.sqrt(np.maximum(w, 0))
    idx = np.abs(Egp).argmax(0)
    Egp = Egp * np.sign(Egp[idx, np.arange(n_gp)])
    # order-preserving Gram-Schmidt on the semantic columns so that E^T E is diagonal
    # (melanin stays exactly as defined; later columns lose their projection on earlier ones)
    Cs = C.copy()
    for j in range(Cs.shape[1]):
        for i in range(j):
            Cs[:, j] -= (Cs[:, i] @ Cs[:, j]) / (Cs[:, i] @ Cs[:, i]) * Cs[:, i]
    E = np.concatenate([Cs, Egp], 1)
    # albedo range check on random samples
    rng = np.random.default_rng(SEED + 2)
    beta = rng.standard_normal((1000, N_ALBEDO))
    A = mean.ravel()[None] + beta @ E.T
    lo, hi = np.percentile(A, [0.5, 99.5])
    frac = float(((A >= 0.02) & (A <= 0.9)).mean())
    mel = [float(v) for v in (mean.ravel()[None] + np.array([[-2.5], [2.5]]) * E[:, 0][None]).reshape(2, n, 3)[:, 0].ravel()]
    stats["albedo"] = {
        "skin_mean_rgb": [float(v) for v in skin_mean],
        "light_end_rgb_at_-2.5sd": [float(v) for v in ALBEDO_LIGHT],
        "dark_end_rgb_at_+2.5sd": [float(v) for v in dark],
        "melanin_sd_rgb": [float(v) for v in melanin_dir],
        "sample_p0.5": float(lo), "sample_p99.5": float(hi),
        "fraction_in_0.02_0.9": frac,
        "sample_min": float(A.min()), "sample_max": float(A.max()),
        "semantic_columns": semantic,
        "column_sigma_first10": [float(v) for v in np.linalg.norm(E, axis=0)[:10]],
        "melanin_vertex0_light_dark": mel,
    }
    return mean, E


# --------------------------------------------------------------------------------------
def build_bases(canon, regions):
    """Build all statistical bases of the default face model (see module doc).

    canon: mp_assets.load_canonical(...) (vertices (468,3) mm model frame, faces (898,3)).
    regions: mp_assets.load_regions(...).
    Returns dict of float64 arrays: shape_basis (1404,80), expression_basis (1404,64),
    expression_names (64 str), expression_sigma (64,), albedo_mean (468,3),
    albedo_basis (1404,80), and 'stats' (plain numbers)."""
    ctx = _Ctx(canon, regions)
    stats = {}
    Es = build_shape_basis(ctx, stats)
    stats["shape"].update(shape_statistics(ctx, Es))
    Ee, names, sig = build_expression_basis(ctx, stats)
    Am, Er = build_albedo(ctx, stats)
    return {
        "shape_basis": Es.astype(np.float64),
        "expression_basis": Ee.astype(np.float64),
        "expression_names": list(names),
        "expression_sigma": sig.astype(np.float64),
        "albedo_mean": Am.astype(np.float64),
        "albedo_basis": Er.astype(np.float64),
        "stats": stats,
    }


def format_calibration_table(stats):
    """Markdown table of the shape calibration."""
    t = stats["shape"]["table"]
    lines = ["| distance | mean face (mm) | sample SD (mm) | sample CV | target CV | target mean ± SD (pooled) | source |",
             "|---|---|---|---|---|---|---|"]
    for k, r in t.items():
        lines.append(f"| {k} | {r['mean_face']:.1f} | {r['sd']:.2f} | {100*r['cv']:.1f}% | {100*r['target_cv']:.1f}% "
                     f"| {r['target_mean']:.1f} ± {r['target_sd']:.1f} | {r['source']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import time
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mp_assets
    d = sys.argv[1] if len(sys.argv) > 1 else "build/mediapipe"
    t0 = time.time()
    out = build_bases(mp_assets.load_canonical(d), mp_assets.load_regions(d))
    print(f"built in {time.time() - t0:.1f} s")
    print(format_calibration_table(out["stats"]))
    st = {k: v for k, v in out["stats"].items()}
    st["shape"] = {k: v for k, v in st["shape"].items() if k != "table"}
    print(json.dumps(st, indent=1))
