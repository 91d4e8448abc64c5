"""Preview renders of the bases built by tools/model/bases.py (numpy + PIL only).

Orthographic, z-buffered, per-triangle flat Lambert shading (optionally modulated by the
per-vertex albedo, barycentric-interpolated). Writes PNG grids to build/bases-preview/:
  shapes.png        16 random shapes (alpha ~ N(0, 1)), frontal + profile per sample
  shape_modes.png   first 8 shape modes at -3 / +3 SD (frontal)
  expressions_*.png every blendshape at full activation (frontal + 3/4), plus combos
  residuals.png     residual expression modes at +3 SD
  albedo.png        16 random albedos and the melanin axis at -2.5 .. +2.5 SD

Usage: python3 tools/model/preview_bases.py [mediapipe_dir] [out_dir]
"""
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mp_assets  # noqa: E402
import bases  # noqa: E402

LIGHT = np.array([-0.35, 0.45, 0.82])
LIGHT /= np.linalg.norm(LIGHT)


def _rot_y(deg):
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def render(V, faces, albedo=None, size=256, yaw=0.0, span=210.0, center=(0.0, -5.0, 0.0), flip=None, lines=()):
    """Render mesh V (468, 3) mm orthographically; returns (size, size, 3) uint8.

    yaw: degrees, rotates the head about +y (positive turns the subject's left toward us).
    span: mm covered by the image width; center: model-frame point (x, y[, z]) at the image
    centre. albedo: (468, 3) linear RGB or None (grey 0.7). lines: [(vertex index list,
    rgb)] polylines drawn on top (to check lid / lip lines for crossing)."""
    R = _rot_y(yaw)
    P = V @ R.T
    c3 = np.zeros(3)
    c3[:len(center)] = center
    center = R @ c3
    s = size / span
    px = (P[:, 0] - center[0]) * s + size / 2
    py = size / 2 - (P[:, 1] - center[1]) * s
    zb = np.full((size, size), -np.inf)
    img = np.zeros((size, size, 3))
    img[:] = 0.08
    alb = np.full((len(V), 3), 0.7) if albedo is None else np.asarray(albedo)
    tri = P[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    fn /= np.linalg.norm(fn, axis=1, keepdims=True) + 1e-12
    if flip is None:   # orientation: the majority of triangles face +z in the frontal pose
        t0 = V[faces]
        f0 = np.cross(t0[:, 1] - t0[:, 0], t0[:, 2] - t0[:, 0])
        flip = (f0[:, 2] > 0).mean() < 0.5
    if flip:
        fn = -fn
    fn *= np.sign(fn[:, 2:3] + 1e-9)   # two-sided lighting (back faces seen through openings)
    shade = 0.15 + 0.85 * np.clip(fn @ LIGHT, 0, 1)
    for f, (a, b, c) in enumerate(faces):
        xs = np.array([px[a], px[b], px[c]])
        ys = np.array([py[a], py[b], py[c]])
        x0, x1 = int(max(np.floor(xs.min()), 0)), int(min(np.ceil(xs.max()), size - 1))
        y0, y1 = int(max(np.floor(ys.min()), 0)), int(min(np.ceil(ys.max()), size - 1))
        if x1 < x0 or y1 < y0:
            continue
        gx, gy = np.meshgrid(np.arange(x0, x1 + 1) + 0.5, np.arange(y0, y1 + 1) + 0.5)
        d = (ys[1] - ys[2]) * (xs[0] - xs[2]) + (xs[2] - xs[1]) * (ys[0] - ys[2])
        if abs(d) < 1e-12:
            continue
        l0 = ((ys[1] - ys[2]) * (gx - xs[2]) + (xs[2] - xs[1]) * (gy - ys[2])) / d
        l1 = ((ys[2] - ys[0]) * (gx - xs[2]) + (xs[0] - xs[2]) * (gy - ys[2])) / d
        l2 = 1 - l0 - l1
        inside = (l0 >= -1e-6) & (l1 >= -1e-6) & (l2 >= -1e-6)
        if not inside.any():
            continue
        z = l0 * P[a, 2] + l1 * P[b, 2] + l2 * P[c, 2]
        sub = zb[y0:y1 + 1, x0:x1 + 1]
        upd = inside & (z > sub)
        if not upd.any():
            continue
        sub[upd] = z[upd]
        col = (l0[..., None] * alb[a] + l1[..., None] * alb[b] + l2[..., None] * alb[c]) * shade[f]
        img[y0:y1 + 1, x0:x1 + 1][upd] = col[upd]
    srgb = np.where(img <= 0.0031308, 12.92 * img, 1.055 * np.clip(img, 0, None) ** (1 / 2.4) - 0.055)
    out = (np.clip(srgb, 0, 1) * 255).astype(np.uint8)
    if lines:
        im = Image.fromarray(out)
        dr = ImageDraw.Draw(im)
        for idx, rgb in lines:
            dr.line([(float(px[i]), float(py[i])) for i in idx], fill=rgb, width=1)
        out = np.asarray(im)
    return out


def grid(tiles, labels, cols, out):
    h, w = tiles[0].shape[:2]
    rows = (len(tiles) + cols - 1) // cols
    im = Image.new("RGB", (cols * w, rows * (h + 14)), (20, 20, 20))
    dr = ImageDraw.Draw(im)
    for k, (t, lab) in enumerate(zip(tiles, labels)):
        r, c = divmod(k, cols)
        im.paste(Image.fromarray(t), (c * w, r * (h + 14) + 14))
        dr.text((c * w + 3, r * (h + 14) + 1), lab, fill=(230, 230, 230))
    im.save(out)


def main():
    mp_dir = sys.argv[1] if len(sys.argv) > 1 else "build/mediapipe"
    out = sys.argv[2] if len(sys.argv) > 2 else "build/bases-preview"
    os.makedirs(out, exist_ok=True)
    canon = mp_assets.load_canonical(mp_dir)
    regions = mp_assets.load_regions(mp_dir)
    B = bases.build_bases(canon, regions)
    V0 = canon["vertices"]
    ctx = bases._Ctx(canon, regions)
    # the lead removes the mouth-opening triangles from T1; do the same for the previews
    mouth = set(bases.LIP_INNER_UP + bases.LIP_INNER_LOW)
    F = canon["faces"][[not all(int(v) in mouth for v in f) for f in canon["faces"]]]
    Es, Ee, Er = B["shape_basis"], B["expression_basis"], B["albedo_basis"]
    rng = np.random.default_rng(7)

    tiles, labs = [], []
    for k in range(16):
        V = V0 + (Es @ rng.standard_normal(Es.shape[1])).reshape(-1, 3)
        tiles += [render(V, F, size=200), render(V, F, size=200, yaw=-90)]
        labs += [f"shape {k}", "profile"]
    grid(tiles, labs, 8, os.path.join(out, "shapes.png"))

    tiles, labs = [], []
    for k in range(10):
        for s in (-3, 3):
            tiles.append(render(V0 + s * Es[:, k].reshape(-1, 3), F, size=180))
            labs.append(f"mode {k} {s:+d}sd")
    grid(tiles, labs, 8, os.path.join(out, "shape_modes.png"))

    names = B["expression_names"]
    nb = sum(not n.startswith("residual") for n in names)
    tiles, labs = [render(V0, F, size=200), render(V0, F, size=200, yaw=-35)], ["neutral", "neutral 3/4"]
    for k in range(nb):
        V = V0 + Ee[:, k].reshape(-1, 3)
        tiles += [render(V, F, size=200, span=170, center=(0, -10)),
                  render(V, F, size=200, yaw=-35, span=170, center=(0, -10))]
        labs += [names[k], "3/4"]
    jo, mc = names.index("jawOpen"), names.index("mouthClose")
    V = V0 + (Ee[:, jo] + Ee[:, mc]).reshape(-1, 3)
    tiles += [render(V, F, size=200, span=170, center=(0, -10)), render(V, F, size=200, yaw=-35, span=170, center=(0, -10))]
    labs += ["jawOpen+mouthClose", "3/4"]
    half = len(tiles) // 2 + (len(tiles) // 2) % 2
    grid(tiles[:half], labs[:half], 8, os.path.join(out, "expressions_1.png"))
    grid(tiles[half:], labs[half:], 8, os.path.join(out, "expressions_2.png"))

    # zoomed mouth / eye crops
    tiles, labs = [], []
    for nm in ["jawOpen", "mouthFunnel", "mouthPucker", "mouthRollLower", "mouthRollUpper", "mouthPress_L",
               "mouthUpperUp_L", "mouthLowerDown_L", "mouthSmile_L", "mouthStretch_L", "mouthShrugLower", "mouthClose"]:
        V = V0 + Ee[:, names.index(nm)].reshape(-1, 3)
        ln = [(bases.LIP_INNER_UP, (255, 60, 60)), (bases.LIP_INNER_LOW, (60, 120, 255))]
        tiles += [render(V, F, size=200, span=80, center=(0, -45, 50), lines=ln),
                  render(V, F, size=200, yaw=-80, span=80, center=(0, -45, 50), lines=ln)]
        labs += [nm, "side"]
    for nm in ["eyeBlink_L", "eyeWide_L", "eyeSquint_L", "cheekSquint_L", "browDown_L", "browInnerUp"]:
        V = V0 + Ee[:, names.index(nm)].reshape(-1, 3)
        ln = [(bases.EYE_L_UP, (255, 60, 60)), (bases.EYE_L_LOW, (60, 120, 255))]
        tiles += [render(V, F, size=200, span=60, center=(30, 32, 35), lines=ln),
                  render(V, F, size=200, yaw=-70, span=60, center=(30, 32, 35))]
        labs += [nm, "side"]
    grid(tiles, labs, 8, os.path.join(out, "expressions_zoom.png"))

    tiles, labs = [], []
    for k in range(nb, len(names)):
        tiles.append(render(V0 + 3 * Ee[:, k].reshape(-1, 3), F, size=180))
        labs.append(f"{names[k]} +3sd")
    grid(tiles, labs, 8, os.path.join(out, "residuals.png"))

    tiles, labs = [], []
    Am = B["albedo_mean"]
    for k in range(16):
        A = Am + (Er @ rng.standard_normal(Er.shape[1])).reshape(-1, 3)
        tiles.append(render(V0, F, albedo=A, size=200))
        labs.append(f"albedo {k}")
    for s in (-2.5, -1.25, 0, 1.25, 2.5):
        tiles.append(render(V0, F, albedo=Am + s * Er[:, 0].reshape(-1, 3), size=200))
        labs.append(f"melanin {s:+.2f}sd")
    for k in range(1, 8):
        tiles.append(render(V0, F, albedo=Am + 2.5 * Er[:, k].reshape(-1, 3), size=200))
        labs.append(f"{B['stats']['albedo']['semantic_columns'][k]} +2.5sd")
    for k in range(8, 12):
        tiles.append(render(V0, F, albedo=Am + 3 * Er[:, k].reshape(-1, 3), size=200))
        labs.append(f"gp col {k} +3sd")
    grid(tiles, labs, 8, os.path.join(out, "albedo.png"))
    print("wrote", out)


if __name__ == "__main__":
    main()
