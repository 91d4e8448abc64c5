"""PNG previews of the T1/T2 geometry (tools/model/geometry.py) for visual inspection.

Usage: /usr/bin/python3 tools/model/preview_geometry.py [mp_dir] [out_dir]
Writes t1_uv.png, t2_uv.png (wireframes in MediaPipe UV, v down), t1_front.png,
t2_front.png (orthographic view from +z, Lambert-shaded, painter's algorithm; triangles
with a 3-D angle < 20 deg in red), *_mouth_right.png (zoom on the subject's-right mouth
corner), regions.png (named regions and the iBUG-68 points on T1)."""
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import geometry as G  # noqa: E402
import mp_assets  # noqa: E402


def wireframe_uv(uv, faces, size, path, bad=None):
    img = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(img)
    p = uv * (size - 1)
    for t, (a, b, c) in enumerate(faces.tolist()):
        col = (220, 0, 0) if bad is not None and bad[t] else (0, 0, 0)
        d.polygon([tuple(p[a]), tuple(p[b]), tuple(p[c])], outline=col)
    img.save(path)


def shaded_front(vertices, faces, size, path, box=None, bad=None, wire=True, colors=None):
    """Orthographic view from +z of the region box = (xmin, xmax, ymin, ymax) mm."""
    v = vertices
    if box is None:
        box = (v[:, 0].min() - 2, v[:, 0].max() + 2, v[:, 1].min() - 2, v[:, 1].max() + 2)
    x0, x1, y0, y1 = box
    s = size / max(x1 - x0, y1 - y0)
    px = np.stack([(v[:, 0] - x0) * s, (y1 - v[:, 1]) * s], axis=1)
    n = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    light = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])
    shade = n @ light
    order = np.argsort(v[faces].mean(axis=1)[:, 2], kind="stable")
    img = Image.new("RGB", (int((x1 - x0) * s), int((y1 - y0) * s)), (40, 40, 60))
    d = ImageDraw.Draw(img)
    for t in order.tolist():
        a, b, c = faces[t]
        if n[t, 2] <= 0:
            col = (60, 60, 200)  # seen from behind
        else:
            g = int(60 + 180 * max(shade[t], 0.0))
            col = (g, g, g)
        if colors is not None and colors[t] is not None:
            col = tuple(int(ci * (0.5 + 0.5 * max(shade[t], 0))) for ci in colors[t])
        if bad is not None and bad[t]:
            col = (255, 0, 0)
        d.polygon([tuple(px[a]), tuple(px[b]), tuple(px[c])], fill=col,
                  outline=(0, 0, 0) if wire else None)
    img.save(path)


def main():
    mp_dir = sys.argv[1] if len(sys.argv) > 1 else "build/mediapipe"
    out = sys.argv[2] if len(sys.argv) > 2 else "build/geometry-preview"
    os.makedirs(out, exist_ok=True)
    canon = mp_assets.load_canonical(mp_dir)
    g = G.build_geometry(canon, mp_assets.load_regions(mp_dir))
    v1, f1 = g["t1_vertices"], g["t1_faces"]
    v2, f2 = G.t2_vertices_of(g), g["t2_faces"]
    bad1 = G.triangle_angles_deg(v1, f1).min(1) < 20
    bad2 = G.triangle_angles_deg(v2, f2).min(1) < 20
    wireframe_uv(g["t1_uv"], f1, 2400, os.path.join(out, "t1_uv.png"))
    wireframe_uv(g["t2_uv"], f2, 3000, os.path.join(out, "t2_uv.png"), bad2)
    shaded_front(v1, f1, 1600, os.path.join(out, "t1_front.png"), bad=bad1)
    shaded_front(v2, f2, 2000, os.path.join(out, "t2_front.png"), bad=bad2)
    shaded_front(v2, f2, 2000, os.path.join(out, "t2_front_nowire.png"), wire=False)
    for name, box in (("mouth_right", (-32, -12, -52, -32)), ("eye_right", (-50, -10, 10, 40)),
                      ("nose", (-22, 22, -28, 16))):
        shaded_front(v1, f1, 900, os.path.join(out, f"t1_{name}.png"), box=box, bad=bad1)
        shaded_front(v2, f2, 900, os.path.join(out, f"t2_{name}.png"), box=box, bad=bad2)
    # regions on T1: colour each triangle by the region all its vertices belong to
    palette = {"lips": (230, 80, 80), "left_eye": (80, 160, 230), "right_eye": (80, 160, 230),
               "left_brow": (150, 100, 50), "right_brow": (150, 100, 50), "nose": (90, 200, 90)}
    colors = [None] * len(f1)
    for name, col in palette.items():
        m = np.zeros(len(v1), dtype=bool)
        m[g["regions"][name]] = True
        for t in np.where(m[f1].all(axis=1))[0].tolist():
            colors[t] = col
    path = os.path.join(out, "regions.png")
    shaded_front(v1, f1, 1600, path, colors=colors, wire=False)
    img = Image.open(path)
    d = ImageDraw.Draw(img)
    x0, y1 = v1[:, 0].min() - 2, v1[:, 1].max() + 2
    s = 1600 / max(v1[:, 0].ptp() + 4, v1[:, 1].ptp() + 4)
    for k, i in enumerate(g["ibug68"].tolist()):
        x, y = (v1[i, 0] - x0) * s, (y1 - v1[i, 1]) * s
        d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=(255, 255, 0))
        d.text((x + 5, y - 5), str(k), fill=(255, 255, 0))
    img.save(path)
    print("wrote", out)


if __name__ == "__main__":
    main()
