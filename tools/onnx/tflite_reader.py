"""Minimal reader for TFLite flatbuffer models (schema v3), written for the MediaPipe face
models: it decodes only the tables and fields the converter needs.

A FlatBuffer table is addressed by an absolute byte offset `pos`; at `pos` sits an int32
*soffset* pointing back (pos - soffset) to the table's *vtable*: uint16 vtable size, uint16
table size, then one uint16 field offset per field id (0 = field absent, use the default).
Offsets to sub-tables, vectors and strings are uint32 relative to the field's own position.

Public entry point: `read_model(path) -> Model` with
  Model.subgraph: SubGraph (only subgraph 0 is used; MediaPipe models have one)
  SubGraph.tensors[i]: Tensor(name, shape tuple, dtype numpy dtype, data ndarray|None)
  SubGraph.operators: list of Operator(op name, inputs, outputs, options dict)
  SubGraph.inputs / outputs: tensor indices.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

# TFLite BuiltinOperator codes (schema.fbs) for the ops we may meet; unknown codes are kept
# as "BUILTIN_<n>" so that the op list can still be printed.
BUILTIN_OPS = {
    0: 'ADD', 1: 'AVERAGE_POOL_2D', 2: 'CONCATENATION', 3: 'CONV_2D', 4: 'DEPTHWISE_CONV_2D',
    5: 'DEPTH_TO_SPACE', 6: 'DEQUANTIZE', 9: 'FULLY_CONNECTED', 14: 'LOGISTIC',
    17: 'MAX_POOL_2D', 18: 'MUL', 19: 'RELU', 21: 'RELU6', 22: 'RESHAPE',
    23: 'RESIZE_BILINEAR', 25: 'SOFTMAX', 28: 'TANH', 32: 'CUSTOM', 34: 'PAD', 39: 'TRANSPOSE',
    40: 'MEAN', 41: 'SUB', 42: 'DIV', 43: 'SQUEEZE', 45: 'STRIDED_SLICE', 53: 'CAST',
    54: 'PRELU', 55: 'MAXIMUM', 57: 'MINIMUM', 60: 'PADV2', 97: 'RESIZE_NEAREST_NEIGHBOR',
    98: 'LEAKY_RELU', 99: 'SQUARED_DIFFERENCE', 102: 'HARD_SWISH',
}

# TFLite TensorType -> numpy dtype.
TENSOR_TYPES = {
    0: np.dtype('<f4'), 1: np.dtype('<f2'), 2: np.dtype('<i4'), 3: np.dtype('u1'),
    4: np.dtype('<i8'), 6: np.dtype('?'), 7: np.dtype('<i2'), 9: np.dtype('i1'),
}

# ActivationFunctionType.
ACTIVATIONS = {0: 'NONE', 1: 'RELU', 2: 'RELU_N1_TO_1', 3: 'RELU6', 4: 'TANH', 5: 'SIGN_BIT'}
PADDINGS = {0: 'SAME', 1: 'VALID'}


class FlatTable:
    """View of one FlatBuffer table inside `buf` at absolute offset `pos`."""

    def __init__(self, buf: bytes, pos: int):
        self.buf = buf
        self.pos = pos
        vt = pos - struct.unpack_from('<i', buf, pos)[0]
        self.vt = vt
        self.vt_size = struct.unpack_from('<H', buf, vt)[0]

    def _field_pos(self, fid: int) -> int | None:
        """Absolute position of field `fid`, or None when absent."""
        o = 4 + 2 * fid
        if o >= self.vt_size:
            return None
        rel = struct.unpack_from('<H', self.buf, self.vt + o)[0]
        return self.pos + rel if rel else None

    def scalar(self, fid: int, fmt: str, default):
        p = self._field_pos(fid)
        return default if p is None else struct.unpack_from('<' + fmt, self.buf, p)[0]

    def _indirect(self, p: int) -> int:
        return p + struct.unpack_from('<I', self.buf, p)[0]

    def table(self, fid: int) -> 'FlatTable | None':
        p = self._field_pos(fid)
        return None if p is None else FlatTable(self.buf, self._indirect(p))

    def _vector(self, fid: int) -> tuple[int, int] | None:
        """(start, length) of the vector in field `fid`, or None."""
        p = self._field_pos(fid)
        if p is None:
            return None
        v = self._indirect(p)
        return v + 4, struct.unpack_from('<I', self.buf, v)[0]

    def string(self, fid: int) -> str | None:
        v = self._vector(fid)
        return None if v is None else self.buf[v[0]:v[0] + v[1]].decode('utf-8')

    def scalar_vector(self, fid: int, dtype: str) -> np.ndarray | None:
        v = self._vector(fid)
        if v is None:
            return None
        return np.frombuffer(self.buf, dtype=np.dtype(dtype), count=v[1], offset=v[0]).copy()

    def table_vector(self, fid: int) -> list['FlatTable']:
        v = self._vector(fid)
        if v is None:
            return []
        return [FlatTable(self.buf, self._indirect(v[0] + 4 * i)) for i in range(v[1])]


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    data: np.ndarray | None  # constant payload reshaped to `shape`, or None for activations


@dataclass
class Operator:
    op: str
    inputs: list[int]
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class SubGraph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


@dataclass
class Model:
    version: int
    description: str
    subgraph: SubGraph


def _read_options(op: str, t: FlatTable | None) -> dict:
    """Decode the builtin options table of `op` into a dict (defaults per schema.fbs)."""
    if op in ('CONV_2D',):
        return dict(padding=PADDINGS[t.scalar(0, 'b', 0)], stride_w=t.scalar(1, 'i', 0),
                    stride_h=t.scalar(2, 'i', 0), activation=ACTIVATIONS[t.scalar(3, 'b', 0)],
                    dilation_w=t.scalar(4, 'i', 1), dilation_h=t.scalar(5, 'i', 1))
    if op == 'DEPTHWISE_CONV_2D':
        return dict(padding=PADDINGS[t.scalar(0, 'b', 0)], stride_w=t.scalar(1, 'i', 0),
                    stride_h=t.scalar(2, 'i', 0), depth_multiplier=t.scalar(3, 'i', 0),
                    activation=ACTIVATIONS[t.scalar(4, 'b', 0)],
                    dilation_w=t.scalar(5, 'i', 1), dilation_h=t.scalar(6, 'i', 1))
    if op in ('MAX_POOL_2D', 'AVERAGE_POOL_2D'):
        return dict(padding=PADDINGS[t.scalar(0, 'b', 0)], stride_w=t.scalar(1, 'i', 0),
                    stride_h=t.scalar(2, 'i', 0), filter_w=t.scalar(3, 'i', 0),
                    filter_h=t.scalar(4, 'i', 0), activation=ACTIVATIONS[t.scalar(5, 'b', 0)])
    if op in ('ADD', 'SUB', 'MUL', 'DIV'):
        return dict(activation=ACTIVATIONS[t.scalar(0, 'b', 0)] if t else 'NONE')
    if op == 'CONCATENATION':
        return dict(axis=t.scalar(0, 'i', 0), activation=ACTIVATIONS[t.scalar(1, 'b', 0)])
    if op == 'RESHAPE':
        ns = t.scalar_vector(0, '<i4') if t else None
        return dict(new_shape=None if ns is None else [int(x) for x in ns])
    if op == 'RESIZE_BILINEAR':
        return dict(align_corners=bool(t.scalar(2, 'B', 0)) if t else False,
                    half_pixel_centers=bool(t.scalar(3, 'B', 0)) if t else False)
    return {}


def read_model(path: str) -> Model:
    """Parse a .tflite file. Raises ValueError for files that are not TFLite v3 models."""
    with open(path, 'rb') as f:
        buf = f.read()
    if buf[4:8] != b'TFL3':
        raise ValueError(f'{path}: not a TFLite flatbuffer (file identifier {buf[4:8]!r})')
    root = FlatTable(buf, struct.unpack_from('<I', buf, 0)[0])
    version = root.scalar(0, 'I', 0)
    opcodes = []
    for oc in root.table_vector(1):
        code = max(oc.scalar(0, 'b', 0), oc.scalar(3, 'i', 0))  # deprecated byte vs int32 code
        opcodes.append(BUILTIN_OPS.get(code, f'BUILTIN_{code}') if code != 32
                       else 'CUSTOM:' + (oc.string(1) or ''))
    subgraphs = root.table_vector(2)
    if len(subgraphs) != 1:
        raise ValueError(f'{path}: expected 1 subgraph, found {len(subgraphs)}')
    buffers = []
    for b in root.table_vector(4):
        data = b.scalar_vector(0, 'u1')
        if data is None and b.scalar(1, 'Q', 0) > 1:  # external data after the flatbuffer
            off, size = b.scalar(1, 'Q', 0), b.scalar(2, 'Q', 0)
            data = np.frombuffer(buf, dtype='u1', count=size, offset=off).copy()
        buffers.append(data)
    sg = subgraphs[0]
    tensors = []
    for t in sg.table_vector(0):
        shape = tuple(int(x) for x in (t.scalar_vector(0, '<i4') if t.scalar_vector(0, '<i4') is not None else []))
        ttype = t.scalar(1, 'b', 0)
        if ttype not in TENSOR_TYPES:
            raise ValueError(f'{path}: unsupported tensor type {ttype}')
        dtype = TENSOR_TYPES[ttype]
        if t.table(4) is not None and t.table(4).scalar_vector(1, '<f4') is not None:
            raise ValueError(f'{path}: quantized tensor {t.string(3)} not supported')
        raw = buffers[t.scalar(2, 'I', 0)]
        data = None
        if raw is not None and raw.size:
            data = np.frombuffer(raw.tobytes(), dtype=dtype).reshape(shape)
        tensors.append(Tensor(t.string(3) or '', shape, dtype, data))
    ops = []
    for o in sg.table_vector(3):
        name = opcodes[o.scalar(0, 'I', 0)]
        ops.append(Operator(name, [int(i) for i in o.scalar_vector(1, '<i4')],
                            [int(i) for i in o.scalar_vector(2, '<i4')],
                            _read_options(name, o.table(4))))
    return Model(version, root.string(3) or '',
                 SubGraph(tensors, ops, [int(i) for i in sg.scalar_vector(1, '<i4')],
                          [int(i) for i in sg.scalar_vector(2, '<i4')]))


if __name__ == '__main__':
    import sys
    from collections import Counter
    for p in sys.argv[1:]:
        m = read_model(p)
        g = m.subgraph
        print(p, 'version', m.version, repr(m.description))
        print('  ops:', dict(sorted(Counter(o.op for o in g.operators).items())))
        for i in g.inputs:
            print('  input ', g.tensors[i].name, g.tensors[i].shape, g.tensors[i].dtype)
        for i in g.outputs:
            print('  output', g.tensors[i].name, g.tensors[i].shape, g.tensors[i].dtype)
