"""Plain-numpy interpreter of the TFLite ops used by the MediaPipe face models.

Used ONLY to verify tools/onnx/tflite2onnx.py: it evaluates the TFLite graph directly in
TFLite's own NHWC layout and with TFLite's own padding/resize rules, written independently
of the ONNX mapping (no transposes, no ONNX pad lists). Computation is in float64 (the fp16
weights are exact in float64), so the reference is *more* precise than TFLite's/ORT's float32
kernels and differences measure the float32 rounding of the runtime plus conversion bugs.

Entry point: `run_reference(model, x) -> dict[output tensor name, float32 ndarray]`, where
`x` is the model input as NHWC float32 (e.g. 1x128x128x3) and outputs have TFLite's shapes.
"""
from __future__ import annotations

import numpy as np

from tflite_reader import Model, Operator


def same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite SAME padding along one axis: output = ceil(size/stride); the total padding
    needed to get there is split with the extra pixel at the END (bottom/right)."""
    out = -(-size // stride)
    eff_k = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + eff_k - size, 0)
    return total // 2, total - total // 2


def _pads_2d(opt: dict, h: int, w: int, kh: int, kw: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) for a TFLite 2D window op with options `opt`."""
    if opt['padding'] == 'VALID':
        return (0, 0), (0, 0)
    dh, dw = opt.get('dilation_h', 1), opt.get('dilation_w', 1)
    return same_pads(h, kh, opt['stride_h'], dh), same_pads(w, kw, opt['stride_w'], dw)


def _windows(x: np.ndarray, opt: dict, kh: int, kw: int, pad_value: float):
    """Yield (i, j, slab) for each kernel tap: slab[n, y, x, c] = padded input at output
    position (y, x) shifted by tap (i, j). x: NHWC."""
    n, h, w, c = x.shape
    (pt, pb), (pl, pr) = _pads_2d(opt, h, w, kh, kw)
    sh, sw = opt['stride_h'], opt['stride_w']
    dh, dw = opt.get('dilation_h', 1), opt.get('dilation_w', 1)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    oh = (h + pt + pb - ((kh - 1) * dh + 1)) // sh + 1
    ow = (w + pl + pr - ((kw - 1) * dw + 1)) // sw + 1
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            yield i, j, xp[:, y0:y0 + (oh - 1) * sh + 1:sh, x0:x0 + (ow - 1) * sw + 1:sw, :]


def _activation(x: np.ndarray, name: str) -> np.ndarray:
    if name == 'NONE':
        return x
    if name == 'RELU':
        return np.maximum(x, 0)
    if name == 'RELU6':
        return np.clip(x, 0, 6)
    if name == 'RELU_N1_TO_1':
        return np.clip(x, -1, 1)
    if name == 'TANH':
        return np.tanh(x)
    raise NotImplementedError(f'fused activation {name}')


def conv_2d(x, w, b, opt):
    """x NHWC, w [O, KH, KW, I] (TFLite), b [O] -> NHWC."""
    o, kh, kw, _ = w.shape
    acc = None
    for i, j, slab in _windows(x, opt, kh, kw, 0.0):
        t = slab @ w[:, i, j, :].T
        acc = t if acc is None else acc + t
    return _activation(acc + b, opt['activation'])


def depthwise_conv_2d(x, w, b, opt):
    """x NHWC with C channels, w [1, KH, KW, C*M], b [C*M]; output channel c*M+m uses input c."""
    _, kh, kw, cm = w.shape
    m = opt['depth_multiplier'] or cm // x.shape[3]
    if m > 1:
        x = np.repeat(x, m, axis=3)  # channel c -> channels c*M .. c*M+M-1
    acc = None
    for i, j, slab in _windows(x, opt, kh, kw, 0.0):
        t = slab * w[0, i, j, :]
        acc = t if acc is None else acc + t
    return _activation(acc + b, opt['activation'])


def max_pool_2d(x, opt):
    """Padded positions never win (TFLite ignores them), hence -inf padding."""
    acc = None
    for _, _, slab in _windows(x, opt, opt['filter_h'], opt['filter_w'], -np.inf):
        acc = slab if acc is None else np.maximum(acc, slab)
    return _activation(acc, opt['activation'])


def resize_bilinear(x, size, align_corners, half_pixel_centers):
    """TFLite RESIZE_BILINEAR (reference_ops::ResizeBilinear semantics): source coordinate
    s = (d + 0.5) * scale - 0.5 with half-pixel centres (else d * scale), scale = in/out
    (or (in-1)/(out-1) with align_corners); low = max(floor(s), 0), high = min(ceil(s), in-1),
    weight = s - floor(s)."""
    n, h, w, c = x.shape
    oh, ow = int(size[0]), int(size[1])

    def axis_weights(insz, outsz):
        scale = (insz - 1) / (outsz - 1) if align_corners and outsz > 1 else insz / outsz
        d = np.arange(outsz, dtype=np.float64)
        s = (d + 0.5) * scale - 0.5 if half_pixel_centers else d * scale
        fl = np.floor(s)
        lo = np.maximum(fl, 0).astype(np.int64)
        hi = np.minimum(np.ceil(s), insz - 1).astype(np.int64)
        return lo, hi, s - fl

    ylo, yhi, wy = axis_weights(h, oh)
    xlo, xhi, wx = axis_weights(w, ow)
    top = x[:, ylo][:, :, xlo] * (1 - wx)[None, None, :, None] + x[:, ylo][:, :, xhi] * wx[None, None, :, None]
    bot = x[:, yhi][:, :, xlo] * (1 - wx)[None, None, :, None] + x[:, yhi][:, :, xhi] * wx[None, None, :, None]
    return top * (1 - wy)[None, :, None, None] + bot * wy[None, :, None, None]


def _eval_op(op: Operator, args: list[np.ndarray]) -> np.ndarray:
    o = op.options
    if op.op == 'DEQUANTIZE':
        return args[0].astype(np.float64)
    if op.op == 'CONV_2D':
        return conv_2d(args[0], args[1], args[2], o)
    if op.op == 'DEPTHWISE_CONV_2D':
        return depthwise_conv_2d(args[0], args[1], args[2], o)
    if op.op == 'MAX_POOL_2D':
        return max_pool_2d(args[0], o)
    if op.op == 'ADD':
        return _activation(args[0] + args[1], o['activation'])
    if op.op == 'RELU':
        return np.maximum(args[0], 0)
    if op.op == 'PRELU':
        return np.where(args[0] >= 0, args[0], args[0] * args[1])
    if op.op == 'PAD':
        return np.pad(args[0], [tuple(int(v) for v in p) for p in args[1]])
    if op.op == 'RESHAPE':
        return args[0]  # reshaped to the output tensor's static shape by the caller
    if op.op == 'CONCATENATION':
        return _activation(np.concatenate(args, axis=o['axis']), o['activation'])
    if op.op == 'RESIZE_BILINEAR':
        return resize_bilinear(args[0], args[1], o['align_corners'], o['half_pixel_centers'])
    raise NotImplementedError(f'reference: op {op.op} not implemented')


def run_reference(model: Model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate subgraph 0 on NHWC input `x`; returns {TFLite output name: float32 array}."""
    g = model.subgraph
    if len(g.inputs) != 1:
        raise ValueError('reference: expected one model input')
    vals: dict[int, np.ndarray] = {}
    for i, t in enumerate(g.tensors):
        if t.data is not None:
            vals[i] = t.data.astype(np.float64) if t.dtype.kind == 'f' else t.data
    xin = g.tensors[g.inputs[0]]
    if tuple(x.shape) != xin.shape:
        raise ValueError(f'reference: input shape {x.shape} != {xin.shape}')
    vals[g.inputs[0]] = x.astype(np.float64)
    for op in g.operators:
        out = _eval_op(op, [vals[i] for i in op.inputs])
        shape = g.tensors[op.outputs[0]].shape
        if op.op == 'RESHAPE':
            out = out.reshape(shape)
        if tuple(out.shape) != shape:
            raise AssertionError(f'reference: {op.op} produced {out.shape}, TFLite says {shape}')
        vals[op.outputs[0]] = out
    return {g.tensors[i].name: vals[i].astype(np.float32) for i in g.outputs}
