"""Convert a (float / fp16-weight) TFLite model, as parsed by tflite_reader, to ONNX.

Layout: TFLite activations are NHWC, ONNX Conv/MaxPool/Resize want NCHW. The converter keeps
every 4-D activation in NCHW ("NCHW" layout) and everything else in TFLite's own layout
("TFL" layout); a Transpose is inserted only where an op needs the other layout (the model
input, RESHAPE inputs, 4-D graph outputs). The ONNX model's input and outputs therefore have
exactly TFLite's shapes and element order (input NHWC float32).

Weights: DEQUANTIZE(fp16 constant) is folded. With weights='float16' the fp16 values are
stored as-is (re-laid-out: CONV [O,KH,KW,I] -> [O,I,KH,KW], DEPTHWISE [1,KH,KW,C*M] ->
[C*M,1,KH,KW], PRELU alpha [1,1,C] -> [C,1,1]) followed by a Cast to float32; with
weights='float32' they are widened offline. Either way the float32 weight values equal
TFLite's dequantized values exactly.

Padding: TFLite SAME = output ceil(in/stride), total padding split with the extra pixel at the
bottom/right; emitted as explicit ONNX pads [top, left, bottom, right].

Determinism: nodes are emitted in TFLite operator order, names derive from TFLite tensor
names and operator indices, no timestamps; the serialized bytes depend only on the input file
and the arguments.

Entry point: convert(model, ...) -> onnx.ModelProto.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tflite_reader import Model

OPSET = 17
IR_VERSION = 8  # ONNX 1.10+ / opset <= 17; read by onnxruntime-web 1.30
PRODUCER_NAME = 'mofa-web tools/onnx'
PRODUCER_VERSION = '1.0'

NHWC_TO_NCHW = [0, 3, 1, 2]
NCHW_TO_NHWC = [0, 2, 3, 1]


class ConversionError(Exception):
    """Raised for TFLite constructs the converter does not support."""


def tflite_same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """(before, after) padding of TFLite SAME along one axis (extra pixel after)."""
    out = (size + stride - 1) // stride
    need = (out - 1) * stride + (kernel - 1) * dilation + 1 - size
    need = max(need, 0)
    return need // 2, need - need // 2


class _Converter:
    def __init__(self, model: Model, input_name: str, output_names: dict[str, str], weights: str):
        if weights not in ('float16', 'float32'):
            raise ValueError(f'weights must be float16 or float32, got {weights}')
        self.g = model.subgraph
        self.weights = weights
        self.input_name = input_name
        self.output_names = output_names
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.init_names: set[str] = set()
        # tensor index -> (onnx value name, layout 'NCHW' | 'TFL')
        self.values: dict[int, tuple[str, str]] = {}
        # tensor index -> constant ndarray (TFLite layout; DEQUANTIZE folded, dtype kept)
        self.consts: dict[int, np.ndarray] = {
            i: t.data for i, t in enumerate(self.g.tensors) if t.data is not None}
        self.transposed: dict[tuple[str, str], str] = {}
        self.op_index = 0

    # ---- helpers -------------------------------------------------------------------------
    def _tname(self, idx: int) -> str:
        return self.g.tensors[idx].name

    def _node(self, op_type: str, inputs: list[str], outputs: list[str], tag: str = '', **attrs):
        name = f'op{self.op_index:03d}_{op_type}{tag}'
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=name, **attrs))

    def _add_init(self, name: str, arr: np.ndarray) -> str:
        if name not in self.init_names:
            self.init_names.add(name)
            self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def _int64(self, name: str, values) -> str:
        return self._add_init(name, np.asarray(values, dtype=np.int64))

    def _weight(self, name: str, arr: np.ndarray) -> str:
        """Float weight as a float32 ONNX value: fp16 initializer + Cast, or float32."""
        if arr.dtype == np.float16 and self.weights == 'float16':
            if name not in self.init_names:
                self._add_init(name + '_f16', arr)
                self.init_names.add(name)
                self.nodes.append(helper.make_node('Cast', [name + '_f16'], [name],
                                                   name=name + '_cast', to=TensorProto.FLOAT))
            return name
        return self._add_init(name, arr.astype(np.float32))

    def _const(self, idx: int, what: str) -> np.ndarray:
        if idx not in self.consts:
            raise ConversionError(f'{what} ({self._tname(idx)}) must be a constant')
        return self.consts[idx]

    def _as_nchw(self, idx: int) -> str:
        name, layout = self.values[idx]
        if layout == 'NCHW':
            return name
        if len(self.g.tensors[idx].shape) != 4:
            raise ConversionError(f'{self._tname(idx)} is not 4-D; cannot use as NCHW')
        key = (name, 'NCHW')
        if key not in self.transposed:
            self.transposed[key] = name + ':nchw'
            self._node('Transpose', [name], [name + ':nchw'], '_to_nchw', perm=NHWC_TO_NCHW)
        return self.transposed[key]

    def _as_tfl(self, idx: int) -> str:
        name, layout = self.values[idx]
        if layout == 'TFL':
            return name
        key = (name, 'TFL')
        if key not in self.transposed:
            self.transposed[key] = name + ':nhwc'
            self._node('Transpose', [name], [name + ':nhwc'], '_to_nhwc', perm=NCHW_TO_NHWC)
        return self.transposed[key]

    def _activation(self, x: str, act: str, out: str) -> None:
        """Emit the fused activation `act` from value x to value out (Identity-free)."""
        if act == 'RELU':
            self._node('Relu', [x], [out], '_act')
        elif act in ('RELU6', 'RELU_N1_TO_1'):
            lo, hi = (0.0, 6.0) if act == 'RELU6' else (-1.0, 1.0)
            self._node('Clip', [x, self._add_init(f'clip_lo_{lo:g}', np.float32(lo)),
                                self._add_init(f'clip_hi_{hi:g}', np.float32(hi))], [out], '_act')
        elif act == 'TANH':
            self._node('Tanh', [x], [out], '_act')
        else:
            raise ConversionError(f'fused activation {act} not supported')

    def _emit_with_act(self, op_type: str, inputs: list[str], out_idx: int, act: str, **attrs):
        out = self._tname(out_idx)
        if act == 'NONE':
            self._node(op_type, inputs, [out], **attrs)
        else:
            self._node(op_type, inputs, [out + ':pre_act'], **attrs)
            self._activation(out + ':pre_act', act, out)

    def _window_pads(self, opt: dict, in_idx: int, kh: int, kw: int) -> list[int]:
        """ONNX pads [top, left, bottom, right] for a TFLite 2-D window op."""
        if opt['padding'] == 'VALID':
            return [0, 0, 0, 0]
        _, h, w, _ = self.g.tensors[in_idx].shape
        t, b = tflite_same_pads(h, kh, opt['stride_h'], opt.get('dilation_h', 1))
        l, r = tflite_same_pads(w, kw, opt['stride_w'], opt.get('dilation_w', 1))
        return [t, l, b, r]

    # ---- ops -----------------------------------------------------------------------------
    def _conv(self, op, depthwise: bool):
        o = op.options
        x = self._as_nchw(op.inputs[0])
        wt = self._const(op.inputs[1], 'conv filter')
        wname = self._tname(op.inputs[1])
        cin = self.g.tensors[op.inputs[0]].shape[3]
        if depthwise:
            _, kh, kw, cm = wt.shape
            mult = o['depth_multiplier'] or cm // cin
            if cm != cin * mult:
                raise ConversionError(f'depthwise {wname}: {cm} != {cin}*{mult}')
            w = self._weight(wname + ':oihw', wt.transpose(3, 0, 1, 2))  # [C*M, 1, KH, KW]
            group = cin
        else:
            _, kh, kw, ci = wt.shape
            if ci != cin:
                raise ConversionError(f'conv {wname}: grouped convolution not supported')
            w = self._weight(wname + ':oihw', wt.transpose(0, 3, 1, 2))  # [O, I, KH, KW]
            group = 1
        inputs = [x, w]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            inputs.append(self._weight(self._tname(op.inputs[2]), self._const(op.inputs[2], 'bias')))
        self._emit_with_act('Conv', inputs, op.outputs[0], o['activation'],
                            kernel_shape=[kh, kw], strides=[o['stride_h'], o['stride_w']],
                            dilations=[o['dilation_h'], o['dilation_w']], group=group,
                            pads=self._window_pads(o, op.inputs[0], kh, kw))
        return 'NCHW'

    def _max_pool(self, op):
        o = op.options
        x = self._as_nchw(op.inputs[0])
        kh, kw = o['filter_h'], o['filter_w']
        self._emit_with_act('MaxPool', [x], op.outputs[0], o['activation'],
                            kernel_shape=[kh, kw], strides=[o['stride_h'], o['stride_w']],
                            pads=self._window_pads(o, op.inputs[0], kh, kw))
        return 'NCHW'

    def _binary(self, op, op_type: str):
        a, b = op.inputs[:2]
        if a in self.consts or b in self.consts:
            raise ConversionError(f'{op.op} with a constant operand not supported')
        la, lb = self.values[a][1], self.values[b][1]
        if la == lb:
            xa, xb, layout = self.values[a][0], self.values[b][0], la
        else:
            xa, xb, layout = self._as_nchw(a), self._as_nchw(b), 'NCHW'
        self._emit_with_act(op_type, [xa, xb], op.outputs[0], op.options['activation'])
        return layout

    def _prelu(self, op):
        alpha = self._const(op.inputs[1], 'PRELU alpha')
        name, layout = self.values[op.inputs[0]]
        if layout == 'NCHW':
            c = self.g.tensors[op.inputs[0]].shape[3]
            if alpha.size != c:
                raise ConversionError(f'PRELU alpha of size {alpha.size} for {c} channels')
            alpha = alpha.reshape(c, 1, 1)
        slope = self._weight(self._tname(op.inputs[1]) + (':c11' if layout == 'NCHW' else ''), alpha)
        self._node('PRelu', [name, slope], [self._tname(op.outputs[0])])
        return layout

    def _pad(self, op):
        p = np.asarray(self._const(op.inputs[1], 'PAD paddings'), dtype=np.int64)  # [rank, 2]
        name, layout = self.values[op.inputs[0]]
        if layout == 'NCHW':
            p = p[NHWC_TO_NCHW]
        pads = self._int64(f'{self._tname(op.inputs[1])}:pads_{layout.lower()}',
                           np.concatenate([p[:, 0], p[:, 1]]))
        self._node('Pad', [name, pads], [self._tname(op.outputs[0])], mode='constant')
        return layout

    def _reshape(self, op):
        x = self._as_tfl(op.inputs[0])
        shape = self._int64(self._tname(op.outputs[0]) + ':shape', self.g.tensors[op.outputs[0]].shape)
        self._node('Reshape', [x, shape], [self._tname(op.outputs[0])])
        return 'TFL'

    def _concat(self, op):
        axis = op.options['axis']
        rank = len(self.g.tensors[op.outputs[0]].shape)
        axis = axis + rank if axis < 0 else axis
        if all(self.values[i][1] == 'NCHW' for i in op.inputs):
            xs, layout, axis = [self.values[i][0] for i in op.inputs], 'NCHW', NHWC_TO_NCHW.index(axis)
        else:
            xs, layout = [self._as_tfl(i) for i in op.inputs], 'TFL'
        self._emit_with_act('Concat', xs, op.outputs[0], op.options['activation'], axis=axis)
        return layout

    def _resize_bilinear(self, op):
        o = op.options
        x = self._as_nchw(op.inputs[0])
        n, oh, ow, c = self.g.tensors[op.outputs[0]].shape
        size = [int(v) for v in self._const(op.inputs[1], 'RESIZE size')]
        if size != [oh, ow]:
            raise ConversionError(f'RESIZE size {size} != output shape {(oh, ow)}')
        if o['align_corners']:
            mode = 'align_corners'
        elif o['half_pixel_centers']:
            mode = 'half_pixel'
        else:
            mode = 'asymmetric'
        sizes = self._int64(self._tname(op.outputs[0]) + ':sizes', [n, c, oh, ow])
        self._node('Resize', [x, '', '', sizes], [self._tname(op.outputs[0])], mode='linear',
                   coordinate_transformation_mode=mode)
        return 'NCHW'

    def _dequantize(self, op):
        src = self._const(op.inputs[0], 'DEQUANTIZE input')
        if src.dtype != np.float16:
            raise ConversionError(f'DEQUANTIZE of {src.dtype} (only fp16) not supported')
        self.consts[op.outputs[0]] = src  # folded; kept fp16 until a consumer stores it
        return None

    # ---- driver --------------------------------------------------------------------------
    def run(self) -> onnx.GraphProto:
        g = self.g
        if len(g.inputs) != 1:
            raise ConversionError('expected exactly one model input')
        xin = g.tensors[g.inputs[0]]
        self.values[g.inputs[0]] = (self.input_name, 'TFL')
        handlers = {
            'CONV_2D': lambda op: self._conv(op, False),
            'DEPTHWISE_CONV_2D': lambda op: self._conv(op, True),
            'MAX_POOL_2D': self._max_pool,
            'ADD': lambda op: self._binary(op, 'Add'),
            'RELU': lambda op: self._unary(op, 'Relu'),
            'PRELU': self._prelu,
            'PAD': self._pad,
            'RESHAPE': self._reshape,
            'CONCATENATION': self._concat,
            'RESIZE_BILINEAR': self._resize_bilinear,
            'DEQUANTIZE': self._dequantize,
        }
        for k, op in enumerate(g.operators):
            self.op_index = k
            if op.op not in handlers:
                raise ConversionError(f'TFLite op {op.op} not supported')
            layout = handlers[op.op](op)
            if layout is not None:
                self.values[op.outputs[0]] = (self._tname(op.outputs[0]), layout)
        # Graph outputs in TFLite layout under their public names.
        self.op_index = len(g.operators)
        rename: dict[str, str] = {}
        outputs = []
        for k, idx in enumerate(g.outputs):
            tname = self._tname(idx)
            public = self.output_names.get(tname, tname)
            name, layout = self.values[idx]
            if layout == 'NCHW':
                self._node('Transpose', [name], [public], f'_output{k}', perm=NCHW_TO_NHWC)
            else:
                rename[name] = public
            outputs.append(helper.make_tensor_value_info(public, TensorProto.FLOAT, list(g.tensors[idx].shape)))
        for node in self.nodes:
            node.input[:] = [rename.get(v, v) for v in node.input]
            node.output[:] = [rename.get(v, v) for v in node.output]
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ConversionError('internal: duplicate ONNX node names')
        inputs = [helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, list(xin.shape))]
        return helper.make_graph(self.nodes, 'graph', inputs, outputs, initializer=self.inits)

    def _unary(self, op, op_type: str):
        name, layout = self.values[op.inputs[0]]
        self._node(op_type, [name], [self._tname(op.outputs[0])])
        return layout


def convert(model: Model, *, input_name: str = 'input', output_names: dict[str, str] | None = None,
            weights: str = 'float16', doc_string: str = '', metadata: dict[str, str] | None = None,
            graph_name: str = 'graph') -> onnx.ModelProto:
    """Convert a parsed TFLite model to an ONNX ModelProto (opset 17).

    input_name: ONNX name of the (single) NHWC float32 input.
    output_names: {TFLite output tensor name: ONNX output name}; unmapped names are kept.
    weights: 'float16' (fp16 initializers + Cast) or 'float32'.
    metadata: extra metadata_props (written in sorted key order).
    """
    graph = _Converter(model, input_name, output_names or {}, weights).run()
    graph.name = graph_name
    m = helper.make_model(graph, producer_name=PRODUCER_NAME, producer_version=PRODUCER_VERSION,
                          opset_imports=[helper.make_opsetid('', OPSET)], doc_string=doc_string)
    m.ir_version = IR_VERSION
    for k in sorted((metadata or {}).keys()):
        m.metadata_props.append(onnx.StringStringEntryProto(key=k, value=metadata[k]))
    onnx.checker.check_model(m)
    return m
