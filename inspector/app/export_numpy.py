"""App: export a model as a standalone numpy program (`model.py` + `weights.npz`), no Qt.

`build_program(model_file)` turns a `ModelFile` into the text of a short Python program and the
gate-split weights it reads; `export_numpy(model_file, folder)` writes both.  The program is the
fixed, readable code of `inspector.app.numpy_runtime` plus a generated `forward()` that calls it
layer by layer.  Nothing read from the model file becomes code: layer names, the model name and the
writer version appear only inside comments, through `ascii()` (which never yields a line break, so
a comment cannot be closed); activation names and merge modes are checked against fixed lists, and
numbers go through `int()` / `float()`.  weights.npz keys use sanitised layer names.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspector.core import recurrent
from inspector.core.activations import activation_name
from inspector.core.errors import UnsupportedLayerError
from inspector.core.layers import INFERENCE_IDENTITY
from inspector.core.network import RECURRENT_KINDS, Array, Layer, ModelFile, Network, Semantics, TensorRef

__all__ = ["EXPORTABLE_KINDS", "ExportError", "ExportResult", "build_program", "export_numpy"]

RUNTIME_PATH = Path(__file__).with_name("numpy_runtime.py")
MERGES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"})
_PLAIN = frozenset(
    {"Dense", "Activation", "Embedding", "Masking", "BatchNormalization", "LayerNormalization"}
)
EXPORTABLE_KINDS = (
    RECURRENT_KINDS | MERGES | _PLAIN | frozenset(INFERENCE_IDENTITY) | {"Bidirectional", "TimeDistributed"}
)
_RUNTIME_ACTIVATIONS = frozenset(
    {"linear", "sigmoid", "hard_sigmoid", "tanh", "relu", "relu6", "softmax", "elu", "selu", "softplus"}
    | {"softsign", "swish", "silu", "exponential", "gelu"}
)
_MERGE_MODES = ("concat", "sum", "ave", "mul")


class ExportError(UnsupportedLayerError):
    """The model cannot be written as a numpy program (one line naming the layers and why)."""


@dataclass(frozen=True)
class ExportResult:
    """What `export_numpy` wrote: the program, the weights, and the layer kinds it covers."""

    program: Path
    weights: Path
    n_arrays: int
    kinds: tuple[str, ...]


# A tensor in the generated code: (value variable, mask variable or None)
Tensor = tuple[str, str | None]


@dataclass
class _Writer:
    semantics: Semantics
    lines: list[str] = field(default_factory=list)
    weights: dict[str, Array] = field(default_factory=dict)
    prefixes: dict[int, str] = field(default_factory=dict)  # id(layer) -> weights.npz prefix
    kinds: set[str] = field(default_factory=set)
    n: int = 0

    def var(self, stem: str = "t") -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def comment(self, text: str) -> None:
        # ascii() of anything from the file: no line break can reach the source, only escapes
        self.lines.append("    # " + text.replace("\n", " ").replace("\r", " "))

    def prefix(self, lay: Layer) -> str:
        """A unique weights.npz prefix for a layer: its name with anything unusual replaced by '_'."""
        if id(lay) not in self.prefixes:
            base = re.sub(r"[^A-Za-z0-9_.-]", "_", lay.name)[:60].strip(".") or "layer"
            name, k = base, 1
            while name in self.prefixes.values():
                k += 1
                name = f"{base}_{k}"
            self.prefixes[id(lay)] = name
        return self.prefixes[id(lay)]


def _act(spec: Any, where: Layer) -> str:
    """A checked activation name: only names of the fixed runtime table ever reach the program."""
    try:
        name = activation_name(spec).lower()
    except UnsupportedLayerError:
        name = "?"
    if name not in _RUNTIME_ACTIVATIONS:
        raise ExportError(f"layer {where.name!r} ({where.kind}) uses an activation the exporter cannot write")
    return name


def _num(v: Any) -> str:
    f = float(v)
    return repr(f) if math.isfinite(f) else f"float({str(f)!r})"


def _axis(lay: Layer) -> int:
    """The layer's single int axis (checked to be the last one when the program runs)."""
    axis = lay.config.get("axis", -1)
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if len(axes) != 1 or not isinstance(axes[0], int) or isinstance(axes[0], bool):
        raise ExportError(f"layer {lay.name!r} ({lay.kind}): only the last axis is supported")
    return int(axes[0])


def _unsupported(layers: tuple[Layer, ...]) -> list[str]:
    out = []
    for lay in layers:
        kind = lay.kind
        ok = kind in EXPORTABLE_KINDS and lay.runnable and lay.network is None
        if kind == "Bidirectional":
            ok = ok and len(lay.children) == 2 and all(c.kind in RECURRENT_KINDS for c in lay.children)
        if kind == "TimeDistributed":
            inner = lay.children[0].kind if len(lay.children) == 1 else "?"
            ok = ok and (inner == "Dense" or inner in INFERENCE_IDENTITY)
        if not ok:
            out.append(f"{lay.name!r} ({kind})")
    return out


# ------------------------------------------------------------------------------------------ layers


def _store(w: _Writer, key: str, value: Array) -> str:
    w.weights[key] = np.ascontiguousarray(value, dtype=np.float32)
    return ascii(key)


def _recurrent_args(w: _Writer, lay: Layer, spec: recurrent.RecurrentSpec, prefix: str) -> str:
    """Store one recurrent layer's gate-split weights under `prefix`; return its rnn() keyword args."""
    for name, value in (
        ("kernel", spec.kernel),
        ("recurrent_kernel", spec.recurrent_kernel),
        ("bias", spec.bias),
        ("recurrent_bias", spec.recurrent_bias),
    ):
        if value is None:
            continue
        for g in spec.gates:
            _store(w, f"{prefix}/{name}/{g.key}", g.take(value))
    if spec.time_major:
        raise ExportError(f"layer {lay.name!r} ({lay.kind}): time_major=True is not supported")
    act, rec = _act(spec.activation, lay), _act(spec.recurrent_activation, lay)
    args = f"params(weights, {ascii(prefix)}), kind={ascii(spec.kind)}, units={int(spec.units)}, "
    args += f"act={ascii(act)}" + (f", rec={ascii(rec)}" if spec.kind != "SimpleRNN" else "")
    for flag in ("go_backwards", "return_sequences", "return_state", "zero_output_for_mask"):
        if getattr(spec, flag):
            args += f", {flag}=True"
    if spec.kind == "GRU":
        args += f", reset_after={bool(spec.reset_after)}"
    gates = {"LSTM": "gates i, f, o", "GRU": "gates z, r", "SimpleRNN": ""}[spec.kind]
    w.comment(
        f"{spec.kind}, {spec.units} units: "
        + (f"{gates} use {rec}, " if gates else "")
        + f"candidate and output use {act}"
    )
    return args


def _rnn(w: _Writer, lay: Layer, x: Tensor, init: list[Tensor]) -> list[Tensor]:
    if init:
        raise ExportError(f"layer {lay.name!r} ({lay.kind}): initial_state inputs are not supported")
    spec = recurrent.spec_from_layer(lay, w.semantics)
    args = _recurrent_args(w, lay, spec, w.prefix(lay))
    outs = [w.var() for _ in range(1 + (spec.n_states if spec.return_state else 0))]
    w.emit(f"{', '.join(outs)} = rnn({x[0]}, {x[1]}, {args})")
    mask = x[1] if spec.return_sequences else None
    return [(outs[0], mask)] + [(o, None) for o in outs[1:]]


def _bidirectional(w: _Writer, lay: Layer, x: Tensor, init: list[Tensor]) -> list[Tensor]:
    """Both halves as the engine runs them (inspector.core.engine._bidirectional)."""
    if init:
        raise ExportError(f"layer {lay.name!r} (Bidirectional): initial_state inputs are not supported")
    fwd = recurrent.spec_from_layer(lay.children[0], w.semantics)
    bwd = recurrent.spec_from_layer(lay.children[1], w.semantics)
    zero = fwd.return_sequences if w.semantics.bidirectional_zero_masked else None
    fwd = _replace(fwd, zero_output_for_mask=fwd.zero_output_for_mask if zero is None else zero)
    bwd = _replace(
        bwd,
        go_backwards=not fwd.go_backwards,
        zero_output_for_mask=bwd.zero_output_for_mask if zero is None else zero,
        return_sequences=fwd.return_sequences,
        return_state=fwd.return_state,
    )
    merge_mode = lay.config.get("merge_mode", "concat")
    if merge_mode not in _MERGE_MODES and merge_mode not in (None, "None"):
        raise ExportError(f"layer {lay.name!r} (Bidirectional): unknown merge_mode")
    mode = ascii(merge_mode) if merge_mode in _MERGE_MODES else "None"
    prefix = w.prefix(lay)
    w.comment(f"forward half ({fwd.kind}):")
    fargs = _recurrent_args(w, lay, fwd, prefix + "/forward")
    w.comment(f"backward half ({bwd.kind}), run last step first:")
    bargs = _recurrent_args(w, lay, bwd, prefix + "/backward")
    n_out = (1 if mode != "None" else 2) + (fwd.n_states + bwd.n_states if fwd.return_state else 0)
    outs = [w.var() for _ in range(n_out)]
    w.emit(f"{', '.join(outs)}{',' if n_out == 1 else ''} = bidirectional(")
    w.emit(f"    {x[0]}, {x[1]}, {mode},")
    w.emit(f"    forward=dict({fargs.replace('params(', 'p=params(', 1)}),")
    w.emit(f"    backward=dict({bargs.replace('params(', 'p=params(', 1)}),")
    w.emit(")")
    mask = x[1] if fwd.return_sequences else None
    n_merged = 1 if mode != "None" else 2
    return [(o, mask if k < n_merged else None) for k, o in enumerate(outs)]


def _replace(spec: recurrent.RecurrentSpec, **changes: Any) -> recurrent.RecurrentSpec:
    import dataclasses

    return dataclasses.replace(spec, **changes)


def _weight(lay: Layer, role: str, position: int) -> Array | None:
    for wt in lay.weights:
        if wt.name == role:
            return wt.value
    if role not in {wt.name for wt in lay.weights} and position < len(lay.weights):
        known = {"kernel", "bias", "embeddings", "gamma", "beta", "moving_mean", "moving_variance"}
        if not any(wt.name in known for wt in lay.weights):
            return lay.weights[position].value
    return None


def _plain(w: _Writer, lay: Layer, ins: list[Tensor]) -> list[Tensor]:
    """Dense, Activation, Embedding, Masking, normalisations, merges and inference identities."""
    kind, cfg = lay.kind, lay.config
    x = ins[0]
    if kind in INFERENCE_IDENTITY:
        w.comment("does nothing at inference time")
        return [x]
    if kind in MERGES:
        out = w.var()
        axis = f", axis={_axis(lay)}" if kind == "Concatenate" else ""
        w.emit(f"{out} = merge({ascii(kind)}, [{', '.join(t[0] for t in ins)}]{axis})")
        masks = [t[1] for t in ins]
        if all(m is None for m in masks):
            return [(out, None)]
        mvar = w.var("m")
        keras3 = w.semantics.hard_sigmoid == "keras3"
        w.emit(f"{mvar} = merge_masks([{', '.join(m or 'None' for m in masks)}], keras3={keras3})")
        return [(out, mvar)]
    out = w.var()
    p = w.prefix(lay)
    if kind in ("Dense", "TimeDistributed"):
        inner = lay.children[0] if kind == "TimeDistributed" else lay
        if inner.kind in INFERENCE_IDENTITY:
            return [x]
        kernel = _weight(inner, "kernel", 0)
        if kernel is None:
            raise ExportError(f"layer {lay.name!r} ({kind}) has no kernel")
        bias = _weight(inner, "bias", 1) if inner.config.get("use_bias", True) else None
        k = _store(w, f"{p}/kernel", kernel)
        b = _store(w, f"{p}/bias", bias) if bias is not None else None
        act = _act(inner.config.get("activation"), lay)
        w.emit(f"{out} = dense({x[0]}, weights[{k}], {f'weights[{b}]' if b else 'None'}, {ascii(act)})")
        return [(out, x[1])]
    if kind == "Activation":
        w.emit(f"{out} = activation({ascii(_act(cfg.get('activation'), lay))}, {x[0]})")
        return [(out, x[1])]
    if kind == "Embedding":
        table = _weight(lay, "embeddings", 0)
        if table is None:
            raise ExportError(f"layer {lay.name!r} (Embedding) has no embeddings")
        w.emit(f"{out} = embedding({x[0]}, weights[{_store(w, f'{p}/embeddings', table)}])")
        if not cfg.get("mask_zero", False):
            return [(out, None)]
        mvar = w.var("m")
        w.emit(f"{mvar} = np.asarray({x[0]}) != 0  # mask_zero: id 0 is padding, its steps are skipped")
        return [(out, mvar)]
    if kind == "Masking":
        mvar = w.var("m")
        w.emit(f"{out}, {mvar} = masking({x[0]}, {_num(cfg.get('mask_value', 0.0))})")
        return [(out, mvar)]
    # BatchNormalization / LayerNormalization over the last axis
    if kind == "LayerNormalization" and cfg.get("rms_scaling", False):
        raise ExportError(f"layer {lay.name!r} (LayerNormalization): rms_scaling is not supported")
    if kind == "BatchNormalization" and int(cfg.get("mode", 0) or 0) == 2:
        raise ExportError(f"layer {lay.name!r}: Keras 1 BatchNormalization mode=2")
    for role, flag in (("gamma", "scale"), ("beta", "center"), ("moving_mean", ""), ("moving_variance", "")):
        value = _weight(lay, role, 99)
        if value is not None and (not flag or cfg.get(flag, True)):
            _store(w, f"{p}/{role}", value)
    fn = "batch_norm" if kind == "BatchNormalization" else "layer_norm"
    eps = _num(cfg.get("epsilon", 1e-3))
    w.emit(f"{out} = {fn}({x[0]}, params(weights, {ascii(p)}), {eps}, axis={_axis(lay)})")
    return [(out, x[1])]


def _layer(w: _Writer, lay: Layer, ins: list[Tensor], init: list[Tensor]) -> list[Tensor]:
    w.kinds.add(lay.kind if lay.kind != "TimeDistributed" else f"TimeDistributed({lay.children[0].kind})")
    w.comment(f"layer {ascii(lay.name)} ({lay.kind})")
    if lay.kind in RECURRENT_KINDS:
        return _rnn(w, lay, ins[0], init)
    if lay.kind == "Bidirectional":
        return _bidirectional(w, lay, ins[0], init)
    if init:
        raise ExportError(f"layer {lay.name!r} ({lay.kind}) does not take initial states")
    if lay.kind == "InputLayer":
        return [ins[0]]
    return _plain(w, lay, ins)


# ------------------------------------------------------------------------------------------ networks


def _walk(w: _Writer, net: Network, inputs: list[Tensor]) -> list[Tensor]:
    if net.kind == "Sequential":
        vals = inputs
        for lay in net.layers:
            if len(vals) != 1:
                raise ExportError(f"layer before {lay.name!r} returns several tensors")
            vals = _layer(w, lay, vals, [])
        return vals
    by_name = {lay.name: lay for lay in net.layers}
    done: dict[tuple[str, int], list[Tensor]] = {
        (ref.layer, ref.node): [t] for ref, t in zip(net.inputs, inputs)
    }

    def get(ref: TensorRef, depth: int = 0) -> Tensor:
        key = (ref.layer, ref.node)
        if key not in done:
            if depth > 500:
                raise ExportError("the model graph is too deep to export")
            lay = by_name.get(ref.layer)
            if lay is None or not 0 <= ref.node < len(lay.calls):
                raise ExportError(f"the model refers to a missing layer call {ref.layer!r}")
            call = lay.calls[ref.node]
            ins = [get(r, depth + 1) for r in call.inputs]
            init = [get(r, depth + 1) for r in call.initial_state]
            done[key] = _layer(w, lay, ins, init)
        outs = done[key]
        if not 0 <= ref.index < len(outs):
            raise ExportError(f"tensor {ref.index} of layer {ref.layer!r} does not exist")
        return outs[ref.index]

    return [get(ref) for ref in net.outputs]


_HEADER = '''\
"""A Keras model as a standalone numpy program (written by Keras Weight Inspector).

Run it with:   python model.py X.npy [X2.npy ...] Y.npy
It reads weights.npz from its own folder and writes what Keras' model.predict(X) returns (one
Y_<k>.npy per output when the model has several).  It needs numpy only: no TensorFlow, no Keras.

How to read it:
* weights.npz holds every weight, named '<layer>/<weight>' and, for recurrent layers, split by gate:
  '<layer>/kernel/<gate>' (input weights W), '<layer>/recurrent_kernel/<gate>' (recurrent weights U),
  '<layer>/bias/<gate>' and, for a GRU with reset_after=True, '<layer>/recurrent_bias/<gate>'.
* LSTM gates are i (input gate), f (forget gate), c (candidate) and o (output gate), stored by Keras
  in that column order [i, f, c, o].  GRU gates are z (update gate), r (reset gate) and h (candidate),
  stored as [z, r, h].  The formulas are in lstm_cell(), gru_cell() and rnn() below.
* hard_sigmoid, where used, is {hard_sigmoid}.
* forward() at the end lists the layers of this model in the order they run.
"""
'''


def build_program(mf: ModelFile) -> tuple[str, dict[str, Array], tuple[str, ...]]:
    """The program text, its weights (npz key -> float32 array) and the layer kinds it uses.

    Raises
    ------
    ExportError : a layer or setting the exporter cannot write; the message names every such layer.
    """
    net = mf.network
    if net is None:
        raise ExportError(mf.damage or "weights-only file: the architecture is needed to export a program")
    bad = _unsupported(net.layers)
    if bad:
        raise ExportError(
            "cannot export layer(s) " + ", ".join(bad) + " as numpy (the exporter writes "
            "Embedding, Masking, LSTM, GRU, SimpleRNN, Bidirectional, TimeDistributed(Dense), Dense, "
            "Activation, normalisation, merge and dropout-like layers)"
        )
    w = _Writer(mf.semantics)
    n_in = 1 if net.kind == "Sequential" else len(net.inputs)
    for i in range(n_in):
        dtype = net.input_dtypes[i] if i < len(net.input_dtypes) else "float32"
        cast = "np.int64" if str(dtype).startswith(("int", "uint")) else "np.float32"
        conv = "x if x.dtype.kind in 'iu' else x.astype(np.int64)" if cast == "np.int64" else "x.astype(F32)"
        shape = net.input_shapes[i] if i < len(net.input_shapes) else ()
        w.comment(f"input {i}: shape {tuple(shape)} ('None' = any size), {ascii(str(dtype))}")
        w.emit(f"x = np.asarray(inputs[{i}])")
        w.emit(f"x{i} = {conv}")
    outs = _walk(w, net, [(f"x{i}", None) for i in range(n_in)])
    w.emit(f"return [np.asarray(y, dtype=F32) for y in ({', '.join(o[0] for o in outs)},)]")
    hs = (
        "Keras 3's clip(x / 6 + 0.5, 0, 1)"
        if mf.semantics.hard_sigmoid == "keras3"
        else "Keras 1/2 and tf.keras' clip(0.2 * x + 0.5, 0, 1)"
    )
    runtime = RUNTIME_PATH.read_text(encoding="utf-8")
    body = runtime[runtime.index("from __future__") :]
    settings = f'HARD_SIGMOID = "{"keras3" if mf.semantics.hard_sigmoid == "keras3" else "keras2"}"'
    body = re.sub(r"(?s)# --- settings.*?# --- end settings ---", settings, body)
    stub = body.index("def forward(")
    stub_end = body.index("\n\n\ndef main(")
    forward = (
        "def forward(weights: Any, inputs: list[Array]) -> list[Array]:\n"
        f"    # model {ascii(net.name)}, written by Keras {ascii(mf.keras_version or 'unknown')}\n"
        + "\n".join(w.lines)
    )
    body = body[:stub] + forward + body[stub_end:]
    text = _HEADER.format(hard_sigmoid=hs) + "\n" + body + '\n\nif __name__ == "__main__":\n'
    text += "    sys.exit(main(sys.argv))\n"
    compile(text, "model.py", "exec")  # a generator bug must never produce a broken program
    return text, w.weights, tuple(sorted(w.kinds))


def export_numpy(mf: ModelFile, folder: str | Path) -> ExportResult:
    """Write `folder/model.py` and `folder/weights.npz` (the folder is created if needed).

    Raises
    ------
    ExportError : the model cannot be exported (see `build_program`).
    OSError : the folder cannot be written.
    """
    text, weights, kinds = build_program(mf)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    program = out / "model.py"
    program.write_text(text, encoding="utf-8")
    np.savez(out / "weights.npz", **weights)  # type: ignore[arg-type]
    return ExportResult(program, out / "weights.npz", len(weights), kinds)
