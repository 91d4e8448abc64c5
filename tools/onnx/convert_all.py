#!/usr/bin/python3
"""Convert the three MediaPipe face models (TFLite) to ONNX and write verification data.

Usage: /usr/bin/python3 tools/onnx/convert_all.py --mp build/mediapipe --out models
         [--check build/onnx-check] [--weights float16|float32] [--image demo/assets/astronaut.png]

Writes
  <out>/face_detector_short.onnx   input [1,128,128,3] NHWC RGB in [-1,1]
                                    regressors [1,896,16], classificators [1,896,1]
  <out>/face_detector_full.onnx    input [1,192,192,3] NHWC RGB in [-1,1]
                                    regressors [1,2304,16], classificators [1,2304,1]
  <out>/face_landmarker.onnx       input [1,192,192,3] NHWC RGB in [0,1]
                                    landmarks [1,1,1,1404], face_flag [1,1,1,1]
  <check>/manifest.json + *.bin    inputs (random, astronaut image) and numpy-reference
                                    outputs (float32 little-endian) for tools/onnx/check-onnx.mjs
and prints each model's op list, size and SHA-256, plus semantic sanity checks of the
reference outputs on the real image (face found where it is; landmarks inside the crop).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import Counter

import numpy as np
import onnx

sys.dont_write_bytecode = True  # keep tools/onnx free of __pycache__ (not git-ignored)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tflite_reader import read_model  # noqa: E402
from tflite2onnx import convert  # noqa: E402
from reference import run_reference  # noqa: E402

LICENCE = ('Original model: Google LLC / MediaPipe, Apache License 2.0 '
           '(http://www.apache.org/licenses/LICENSE-2.0), distributed in the npm packages '
           '@mediapipe/face_mesh and @mediapipe/face_detection. Converted to ONNX (weights and '
           'graph unchanged up to layout) by mofa-web tools/onnx; the converted file is a '
           'derivative work under the same licence.')

# Astronaut face crop for the landmarker check, in 512x512 image pixels (x0, y0, side):
# the face spans roughly x 160..280, y 60..200; a square ~1.5x the face, as MediaPipe crops.
FACE_CROP = (115, 25, 210)

MODELS = [
    dict(key='face_detector_short', src='face_detection_short_range.tflite', size=128,
         range=(-1.0, 1.0), outputs={'regressors': 'regressors', 'classificators': 'classificators'},
         io='input: float32 [1,128,128,3] NHWC RGB scaled to [-1,1] (whole image, padded square). '
            'regressors: [1,896,16] per anchor dx,dy,w,h then 6 keypoints (x,y), in input pixels '
            'relative to the anchor centre; anchors = 16x16 grid x2 then 8x8 grid x6, centres '
            '(i+0.5)/grid. classificators: [1,896,1] face logits (sigmoid -> score).',
         anchors=[(16, 2), (8, 6)]),
    dict(key='face_detector_full', src='face_detection_full_range.tflite', size=192,
         range=(-1.0, 1.0),
         outputs={'reshaped_regressor_face_4': 'regressors', 'reshaped_classifier_face_4': 'classificators'},
         io='input: float32 [1,192,192,3] NHWC RGB scaled to [-1,1]. regressors: [1,2304,16] '
            '(TFLite name reshaped_regressor_face_4) as for the short-range model, in 192-px '
            'units; anchors = 48x48 grid x1. classificators: [1,2304,1] face logits '
            '(TFLite name reshaped_classifier_face_4).',
         anchors=[(48, 1)]),
    dict(key='face_landmarker', src='face_landmark.tflite', size=192, range=(0.0, 1.0),
         outputs={'conv2d_21': 'landmarks', 'conv2d_31': 'face_flag'},
         io='input: float32 [1,192,192,3] NHWC RGB in [0,1], a square face crop. landmarks: '
            '[1,1,1,1404] = 468 x (x, y, z) in crop pixels (z: relative depth, same scale) '
            '(TFLite name conv2d_21). face_flag: [1,1,1,1] face-presence logit (TFLite name '
            'conv2d_31).',
         anchors=None),
]


def sha256_file(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def image_input(path: str, box: tuple[int, int, int] | None, size: int, lo: float, hi: float) -> np.ndarray:
    """[1,size,size,3] float32 NHWC: the (cropped) image resized bilinearly, RGB mapped
    from [0,255] to [lo,hi]."""
    from PIL import Image
    im = Image.open(path).convert('RGB')
    if box is not None:
        x0, y0, s = box
        im = im.crop((x0, y0, x0 + s, y0 + s))
    im = im.resize((size, size), Image.BILINEAR)
    a = np.asarray(im, dtype=np.float32) / 255.0
    return (lo + (hi - lo) * a)[None].astype(np.float32)


def random_input(seed: int, size: int, lo: float, hi: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(lo, hi, size=(1, size, size, 3)).astype(np.float32)


def best_detection(reg: np.ndarray, cls: np.ndarray, anchors, size: int) -> dict:
    """Highest-scoring anchor: score, box (cx, cy, w, h) and eye keypoints in input pixels."""
    centres = []
    for grid, per in anchors:
        for y in range(grid):
            for x in range(grid):
                centres += [((x + 0.5) / grid * size, (y + 0.5) / grid * size)] * per
    centres = np.asarray(centres)
    i = int(np.argmax(cls[0, :, 0]))
    r = reg[0, i]
    ax, ay = centres[i]
    return dict(anchor=i, score=float(1 / (1 + np.exp(-cls[0, i, 0]))),
                box=[ax + r[0], ay + r[1], r[2], r[3]],
                eyes=[[ax + r[4], ay + r[5]], [ax + r[6], ay + r[7]]])


def write_bin(path: str, arr: np.ndarray) -> None:
    with open(path, 'wb') as f:
        f.write(np.ascontiguousarray(arr, dtype='<f4').tobytes())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--mp', default='build/mediapipe', help='folder with the extracted .tflite files')
    ap.add_argument('--out', default='models', help='output folder for the .onnx files')
    ap.add_argument('--check', default='build/onnx-check', help='output folder for verification data')
    ap.add_argument('--weights', default='float16', choices=['float16', 'float32'])
    ap.add_argument('--image', default='demo/assets/astronaut.png')
    ap.add_argument('--no-reference', action='store_true', help='skip the numpy reference runs')
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.check, exist_ok=True)
    versions = {}
    vpath = os.path.join(args.mp, 'versions.json')  # written by tools/model/extract-mediapipe.mjs
    if os.path.exists(vpath):
        with open(vpath) as f:
            versions = json.load(f)
    manifest = []
    for spec in MODELS:
        src = os.path.join(args.mp, spec['src'])
        model = read_model(src)
        src_sha = sha256_file(src)
        ops = dict(sorted(Counter(o.op for o in model.subgraph.operators).items()))
        origin = versions.get('files', {}).get(spec['src'], {}).get('from', '')
        pkg = origin.split('/')[0] + '/' + origin.split('/')[1] if origin.startswith('@') else ''
        if pkg in versions:
            origin = origin.replace(pkg, f'{pkg}@{versions[pkg]}', 1)
        doc = (f"{spec['key']}: converted from MediaPipe {spec['src']}"
               f"{' (' + origin + ')' if origin else ''} (SHA-256 {src_sha}, "
               f"TFLite description '{model.description}') with weights stored as "
               f"{args.weights}. {spec['io']} {LICENCE}")
        onnx_model = convert(model, input_name='input', output_names=spec['outputs'],
                             weights=args.weights, doc_string=doc, graph_name=spec['key'],
                             metadata={'source_file': spec['src'], 'source_sha256': src_sha,
                                       'license': 'Apache-2.0 (MediaPipe, Google LLC)',
                                       'tflite_outputs': json.dumps(spec['outputs'], sort_keys=True)})
        dst = os.path.join(args.out, spec['key'] + '.onnx')
        data = onnx_model.SerializeToString()
        with open(dst, 'wb') as f:
            f.write(data)
        print(f"{dst}: {len(data):,} bytes  sha256 {hashlib.sha256(data).hexdigest()}")
        print(f"  source {spec['src']} ({os.path.getsize(src):,} bytes, sha256 {src_sha})")
        print(f"  TFLite ops: {ops}")
        onnx_ops = dict(sorted(Counter(n.op_type for n in onnx_model.graph.node).items()))
        print(f"  ONNX ops:   {onnx_ops}")
        print(f"  outputs: " + ', '.join(
            f"{o.name} {[d.dim_value for d in o.type.tensor_type.shape.dim]}" for o in onnx_model.graph.output))
        if args.no_reference:
            continue

        lo, hi = spec['range']
        cases = [('random', random_input(1234, spec['size'], lo, hi)),
                 ('astronaut', image_input(args.image, FACE_CROP if spec['anchors'] is None else None,
                                           spec['size'], lo, hi))]
        for case, x in cases:
            ref = run_reference(model, x)
            ref = {spec['outputs'].get(k, k): v for k, v in ref.items()}
            base = f"{spec['key']}.{case}"
            write_bin(os.path.join(args.check, base + '.input.bin'), x)
            entry = dict(model=os.path.relpath(dst, args.check).replace(os.sep, '/'), name=spec['key'],
                         case=case, input=dict(name='input', file=base + '.input.bin', shape=list(x.shape)),
                         outputs=[])
            for name, v in ref.items():
                write_bin(os.path.join(args.check, f'{base}.{name}.bin'), v)
                entry['outputs'].append(dict(name=name, file=f'{base}.{name}.bin', shape=list(v.shape)))
            manifest.append(entry)
            if case != 'astronaut':
                continue
            if spec['anchors'] is not None:
                d = best_detection(ref['regressors'], ref['classificators'], spec['anchors'], spec['size'])
                k = 512 / spec['size']
                print(f"  reference on astronaut: best anchor {d['anchor']} score {d['score']:.3f}, box centre "
                      f"({d['box'][0] * k:.0f}, {d['box'][1] * k:.0f}) size {d['box'][2] * k:.0f}x{d['box'][3] * k:.0f} "
                      f"px of 512; eyes ({d['eyes'][0][0] * k:.0f},{d['eyes'][0][1] * k:.0f}) "
                      f"({d['eyes'][1][0] * k:.0f},{d['eyes'][1][1] * k:.0f})")
            else:
                pts = ref['landmarks'].reshape(468, 3)
                inside = np.all((pts[:, :2] >= 0) & (pts[:, :2] <= spec['size']))
                x0, y0, s = FACE_CROP
                k = s / spec['size']
                print(f"  reference on astronaut crop: face_flag logit {ref['face_flag'].item():.2f}; "
                      f"landmarks x {pts[:, 0].min():.1f}..{pts[:, 0].max():.1f}, y {pts[:, 1].min():.1f}.."
                      f"{pts[:, 1].max():.1f} of {spec['size']} (all inside: {bool(inside)}); in the 512 image "
                      f"x {x0 + pts[:, 0].min() * k:.0f}..{x0 + pts[:, 0].max() * k:.0f}, "
                      f"y {y0 + pts[:, 1].min() * k:.0f}..{y0 + pts[:, 1].max() * k:.0f}")
    if not args.no_reference:
        with open(os.path.join(args.check, 'manifest.json'), 'w') as f:
            json.dump(dict(note='numpy reference (tools/onnx/reference.py) inputs/outputs, float32 LE',
                           tolerance=1e-3, cases=manifest), f, indent=1, sort_keys=True)
            f.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
