"""What the views show, decided without Qt: how a weight is drawn, a layer's output shape, token glyphs.

The widgets in `inspector.ui` only render these answers:

* `describe_weight` -> `WeightMatrix`: a weight as a 2-D matrix with its gate column blocks, row and
  column labels and axis titles (vocabulary tokens on the axes of a text model's first and last
  layer);
* `infer_output_shapes` / `layer_output_shape`: Keras output shapes from the layer configs (the
  structure tree's "Shape" column), `format_dims` writes one;
* `visible`: the one rule that makes a vocabulary token printable on an axis or in a label;
* `layer_notes` / `blocking_problems`: which of a layer's problems stop it running (a problem) and
  which are only information (a note, such as a CuDNN layer read as its plain equivalent).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspector.core.network import RECURRENT_KINDS, GateSlice, Layer, Network, Weight
from inspector.io.labels import stored_label_decoding

Shape = tuple[int | None, ...]

# Glyphs for characters that would otherwise be invisible in axis labels and text.
_VISIBLE = {" ": "\u2423", "\n": "\u23ce", "\t": "\u21e5", "\r": "\u240d", "": "\u2205"}


def visible(token: str) -> str:
    """A printable form of a vocabulary token ('␣' for space, '⏎' newline, '⇥' tab, '∅' empty)."""
    if token in _VISIBLE:
        return _VISIBLE[token]
    if token.isprintable() and " " not in token:
        return token  # the usual case (a vocabulary of 20,000 words is relabelled in a few ms)
    return "".join(_VISIBLE.get(ch, ch) if not ch.isprintable() or ch == " " else ch for ch in token)


@dataclass(frozen=True)
class WeightMatrix:
    """What a weight heatmap shows.

    Attributes
    ----------
    path : weight display path ('lstm/kernel', 'bidi/forward/recurrent_kernel').
    layer_name, weight_name : for the hover readout.
    value : (rows, cols) float32, C-contiguous (1-D weights become one row; >2-D are folded to rows).
    gates : column blocks (empty: one panel over all columns).
    row_labels / col_labels : per-row / per-column labels (None: numbered).
    row_title / col_title : axis titles.
    trace_key : the recurrent layer this weight belongs to ('' when it is not recurrent).
    rows_are_units : rows index the same layer's hidden units (recurrent kernel) -> row highlight.
    """

    path: str
    layer_name: str
    weight_name: str
    value: np.ndarray
    gates: tuple[GateSlice, ...] = ()
    row_labels: tuple[str, ...] | None = None
    col_labels: tuple[str, ...] | None = None
    row_title: str = "row"
    col_title: str = "unit"
    trace_key: str = ""
    rows_are_units: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def panels(self) -> tuple[tuple[str, int, int], ...]:
        """(title, start, stop) column blocks, one per gate panel."""
        if not self.gates:
            return ((self.weight_name, 0, self.value.shape[1]),)
        return tuple((f"{g.label} \u2013 {g.title}", g.start, g.stop) for g in self.gates)


def _first_weighted_layer(net: Network | None) -> str | None:
    if net is None:
        return None
    for lay in net.layers:
        if lay.kind == "InputLayer":
            continue
        return lay.name if lay.all_weights() else None
    return None


def _last_weighted_layer(net: Network | None) -> str | None:
    if net is None:
        return None
    for lay in reversed(net.layers):
        if lay.all_weights():
            return lay.name
    return None


def _owner_kind(layer: Layer, path: str) -> tuple[str, Layer]:
    """The layer kind that owns `path` inside `layer` (wrappers resolved) and that sub-layer."""
    parts = path.split("/")[1:-1]  # between the top layer and the weight name
    cur = layer
    for part in parts:
        if cur.kind == "Bidirectional" and len(cur.children) == 2 and part in ("forward", "backward"):
            cur = cur.children[0 if part == "forward" else 1]
        elif cur.network is not None:
            try:
                cur = cur.network.layer(part)
            except KeyError:
                break
        elif cur.children:
            cur = cur.children[0]
    # TimeDistributed(inner): the weight lives on the inner layer
    while cur.kind == "TimeDistributed" and cur.children:
        cur = cur.children[0]
    return cur.kind, cur


def _feature_labels(names: Sequence[str] | None, first: bool, n_rows: int) -> tuple[str, ...] | None:
    """The input features' names as row labels of the first layer's kernel (n_rows of them), else None."""
    if not first or not names or len(names) != n_rows:
        return None
    return tuple(str(n) for n in names)


def describe_weight(
    layer: Layer,
    path: str,
    weight: Weight,
    network: Network | None = None,
    vocabulary: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
) -> WeightMatrix:
    """Decide how `weight` (display path `path` under top-level `layer`) is drawn.

    `vocabulary` labels the input rows of the first layer (and the output columns of the last) with
    symbols; `feature_names` (a CSV header, one name per input feature) labels the first layer's
    input rows when no vocabulary does.
    """
    value = np.asarray(weight.value, dtype=np.float32)
    kind, owner = _owner_kind(layer, path)
    name = weight.name
    row_labels: tuple[str, ...] | None = None
    col_labels: tuple[str, ...] | None = None
    row_title, col_title = "row", "column"
    rows_are_units = False
    row_vocab = False
    if value.ndim == 0:
        value = value.reshape(1, 1)
    elif value.ndim == 1:
        value = value.reshape(1, -1)
        row_labels = (name,)
        row_title = ""
    elif value.ndim > 2:
        value = value.reshape(-1, value.shape[-1])
        row_title = "flattened " + " \u00d7 ".join(str(s) for s in weight.shape[:-1])
    vocab = tuple(vocabulary) if vocabulary else None
    recurrent = kind in RECURRENT_KINDS and bool(weight.gates)
    first = _first_weighted_layer(network) == layer.name
    last = _last_weighted_layer(network) == layer.name
    if recurrent:
        col_title = "unit"
        if name == "kernel":
            if first and vocab and len(vocab) == value.shape[0]:
                row_labels = tuple(visible(t) for t in vocab)
                row_title = "input symbol"
                row_vocab = True
            else:
                row_title = "input feature"
                row_labels = _feature_labels(feature_names, first, value.shape[0])
        elif name == "recurrent_kernel":
            row_title = "hidden unit h\u209c\u208b\u2081"
            rows_are_units = True
        elif name == "bias" and value.shape[0] == 2:
            row_labels = ("input", "recurrent")
            row_title = "bias"
        elif name == "bias":
            row_labels = ("bias",)
    elif kind == "Embedding" or name == "embeddings":
        row_title, col_title = "token id", "embedding dim"
        if vocab and len(vocab) == value.shape[0]:
            row_labels = tuple(visible(t) for t in vocab)
            row_title = "token"
            row_vocab = True
    elif kind in ("Dense", "TimeDistributed") or name in ("kernel", "bias"):
        row_title = row_title if value.shape[0] == 1 else ("input feature" if first else "input unit")
        col_title = "output unit"
        if name == "kernel" and first and vocab and len(vocab) == value.shape[0]:
            row_labels = tuple(visible(t) for t in vocab)
            row_title = "input symbol"
            row_vocab = True
        elif name == "kernel" and row_labels is None:
            row_labels = _feature_labels(feature_names, first, value.shape[0])
        if last and vocab and len(vocab) == value.shape[1]:
            col_labels = tuple(visible(t) for t in vocab)
            col_title = "output symbol"
    trace_key = path.rsplit("/", 1)[0] if recurrent else ""
    return WeightMatrix(
        path=path,
        layer_name=path.rsplit("/", 1)[0],
        weight_name=name,
        value=np.ascontiguousarray(value),
        gates=weight.gates if recurrent or weight.gates else (),
        row_labels=row_labels,
        col_labels=col_labels,
        row_title=row_title,
        col_title=col_title,
        trace_key=trace_key,
        rows_are_units=rows_are_units,
        extra={
            "owner_kind": owner.kind,
            "shape": weight.shape,
            "source": weight.source,
            "row_vocab": row_vocab,
        },
    )


# -------------------------------------------------------------------------------------- output shapes
_SAME_SHAPE = frozenset(
    {
        "Dropout",
        "SpatialDropout1D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "Activation",
        "Masking",
        "BatchNormalization",
        "LayerNormalization",
        "ReLU",
        "LeakyReLU",
        "PReLU",
        "ELU",
        "ThresholdedReLU",
        "Softmax",
        "ActivityRegularization",
    }
)


def _dim(d: int | None) -> str:
    return "?" if d is None else str(d)


def format_dims(shape: Shape | list[Shape] | None) -> str:
    """(None, 40, 57) -> '(·, 40, 57)'; several outputs are joined with ' + '; None -> ''."""
    if shape is None:
        return ""
    if isinstance(shape, list):
        return " + ".join(format_dims(s) for s in shape)
    inner = ", ".join("\u00b7" if k == 0 and d is None else _dim(d) for k, d in enumerate(shape))
    return f"({inner})"


def _conv_len(n: int | None, k: int, stride: int, dil: int, padding: str) -> int | None:
    if n is None:
        return None
    if padding in ("same", "causal"):
        return math.ceil(n / stride)
    return (n - (k - 1) * dil - 1) // stride + 1


def _first_int(v: Any, default: int = 1) -> int:
    if isinstance(v, list | tuple):
        return int(v[0]) if v else default
    return int(v) if v is not None else default


def layer_output_shape(layer: Layer, shapes: Sequence[Shape]) -> Shape | list[Shape | None] | None:
    """Static output shape of `layer` for input shapes `shapes` (batch axis first), None if unknown."""
    if not shapes or shapes[0] is None:
        return None
    s = tuple(shapes[0])
    cfg: Mapping[str, Any] = layer.config
    kind = layer.kind
    if kind in RECURRENT_KINDS:
        u = cfg.get("units")
        out: Shape = (s[0], s[1], u) if cfg.get("return_sequences") else (s[0], u)
        if cfg.get("return_state"):
            n_states = 2 if kind == "LSTM" else 1
            outs: list[Shape | None] = [out, *[(s[0], u)] * n_states]
            return outs
        return out
    if kind == "Bidirectional" and layer.children:
        inner = layer_output_shape(layer.children[0], shapes)
        if isinstance(inner, list):
            inner = inner[0]
        if inner is None:
            return None
        mode = cfg.get("merge_mode", "concat")
        if mode == "concat":
            last = inner[-1]
            return (*inner[:-1], None if last is None else 2 * last)
        if mode is None:
            return [inner, inner]
        return inner
    if kind == "TimeDistributed" and layer.children and len(s) >= 3:
        inner = layer_output_shape(layer.children[0], [(s[0], *s[2:])])
        if inner is None or isinstance(inner, list):
            return None
        return (s[0], s[1], *inner[1:])
    if kind == "Dense":
        return (*s[:-1], cfg.get("units"))
    if kind == "Embedding":
        return (*s, cfg.get("output_dim"))
    if kind in _SAME_SHAPE:
        return s
    if kind == "Flatten":
        rest = s[1:]
        known = [d for d in rest if d is not None]
        return (s[0], math.prod(known) if len(known) == len(rest) else None)
    if kind == "RepeatVector":
        return (s[0], cfg.get("n"), *s[1:])
    if kind == "Reshape":
        return (s[0], *tuple(cfg.get("target_shape", ())))
    if kind == "Permute":
        dims = cfg.get("dims", ())
        return (s[0], *(s[d] for d in dims))
    if kind == "Conv1D" and len(s) == 3:
        k = _first_int(cfg.get("kernel_size"))
        length = _conv_len(
            s[1],
            k,
            _first_int(cfg.get("strides")),
            _first_int(cfg.get("dilation_rate")),
            str(cfg.get("padding", "valid")),
        )
        return (s[0], length, cfg.get("filters"))
    if kind in ("MaxPooling1D", "AveragePooling1D") and len(s) == 3:
        pool = _first_int(cfg.get("pool_size"), 2)
        strides = _first_int(cfg.get("strides"), pool) if cfg.get("strides") is not None else pool
        return (s[0], _conv_len(s[1], pool, strides, 1, str(cfg.get("padding", "valid"))), s[2])
    if kind in (
        "GlobalMaxPooling1D",
        "GlobalAveragePooling1D",
        "GlobalMaxPooling2D",
        "GlobalAveragePooling2D",
    ):
        return (s[0], s[-1])
    if kind in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        return s
    if kind == "Concatenate":
        axis = cfg.get("axis", -1)
        try:
            dims = [sh[axis] for sh in shapes]
        except (IndexError, TypeError):
            return None
        total = None if any(d is None for d in dims) else sum(dims)
        out_l = list(s)
        out_l[axis] = total
        return tuple(out_l)
    if kind in ("Sequential", "Functional") and layer.network is not None:
        inner_shapes = infer_output_shapes(layer.network, [s])
        outs = _network_outputs(layer.network, inner_shapes)
        return outs[0] if len(outs) == 1 else (outs or None)
    return None


def _network_outputs(net: Network, shapes: Mapping[str, Any]) -> list[Shape | None]:
    if net.kind == "Sequential":
        last = net.layers[-1].name if net.layers else None
        v = shapes.get(last) if last else None
        return [v] if v is not None and not isinstance(v, list) else (v or [])
    outs = []
    for ref in net.outputs:
        v = shapes.get(ref.layer)
        if isinstance(v, list):
            v = v[ref.index] if ref.index < len(v) else None
        outs.append(v)
    return outs


def infer_output_shapes(net: Network, input_shapes: Sequence[Shape] | None = None) -> dict[str, Any]:
    """Layer name -> static output shape (None when unknown), from the network's input shapes."""
    given = list(input_shapes if input_shapes is not None else net.input_shapes)
    out: dict[str, Any] = {}
    if net.kind == "Sequential":
        cur: Shape | None = tuple(given[0]) if given else None
        for lay in net.layers:
            if lay.kind == "InputLayer":
                out[lay.name] = cur
                continue
            try:
                shp = layer_output_shape(lay, [cur]) if cur is not None else None
            except (TypeError, ValueError, KeyError, IndexError):
                shp = None
            out[lay.name] = shp
            cur = shp if not isinstance(shp, list) else shp[0]
        return out
    # Functional: InputLayers take the model's input shapes in order, then follow each layer's first call.
    inputs = {ref.layer: k for k, ref in enumerate(net.inputs)}
    for lay in net.layers:
        if lay.kind == "InputLayer":
            k = inputs.get(lay.name)
            out[lay.name] = tuple(given[k]) if k is not None and k < len(given) else None
            continue
        if not lay.calls:
            out[lay.name] = None
            continue
        ins: list[Shape] = []
        for ref in lay.calls[0].inputs:
            v = out.get(ref.layer)
            if isinstance(v, list):
                v = v[ref.index] if ref.index < len(v) else None
            if v is None:
                break  # an input of unknown shape: so is the output
            ins.append(v)
        try:
            out[lay.name] = (
                layer_output_shape(lay, ins) if ins and len(ins) == len(lay.calls[0].inputs) else None
            )
        except (TypeError, ValueError, KeyError, IndexError):
            out[lay.name] = None
    return out


# ------------------------------------------------------------------------------------------ problems
def layer_notes(layer: Layer, has_network: bool = True) -> tuple[str, list[str]]:
    """('problem' | 'note' | '', texts): a layer's problems and whether they stop it running.

    A layer the engine cannot run is a problem (⚠); anything else it reports (a CuDNN layer read as
    its plain equivalent, an ignored setting) is a note (ℹ), the same wherever it is shown.  In a
    weights-only file (`has_network` False) nothing runs yet, which is no problem of a layer.
    """
    texts = list(layer.problems)
    blocking = has_network and not layer.runnable
    if blocking and not texts:
        texts.append("the engine cannot run this layer")
    if not texts:
        return "", []
    return ("problem" if blocking else "note"), texts


def blocking_problems(network: Network | None) -> set[str]:
    """The problem texts of every layer (nested ones included) the engine cannot run."""
    found: set[str] = set()
    stack = list(network.layers) if network is not None else []
    while stack:
        lay = stack.pop()
        stack.extend(lay.children)
        if lay.network is not None:
            stack.extend(lay.network.layers)
        if not lay.runnable:
            found.update(lay.problems)
    return found


MARKS = {"problem": "\u26a0", "note": "\u2139"}


def stored_class_names(path: str) -> str:
    """'*, A, C, G, T' when the file stores its class names (a ``*_label_decoding``), else ''."""
    try:
        names = stored_label_decoding(path)
    except (OSError, ValueError):
        return ""
    return ", ".join(visible(str(n)) for n in names) if names else ""
