"""What each model output is, and how it evolves over the sequence (no Qt).

`describe_outputs(network)` decides from the model itself what an output means:

* softmax                      -> 'class_probabilities' (labels from labels.json / a stored label
  decoding, else 'class k'); when the model predicts its own next input symbol (output size equals
  the input's symbol count and the input is token ids or one-hot symbols) -> 'next_symbol', the only
  kind that gets "what comes next" and Generate;
* sigmoid with one unit        -> 'binary_probability': P(positive) with two labels;
* several sigmoid units        -> 'independent_probabilities' (each unit its own yes/no);
* anything else (linear, tanh, relu, a recurrent layer's state ...) -> 'values', signed.

`output_over_time(...)` gives the output "if the sequence ended here" at every step (one pass with
`core.prefix.prefix_outputs` for causal models, else one run per cut), with an optional target series.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector.core import engine, prefix
from inspector.core.activations import activation_name
from inspector.core.errors import UnsupportedLayerError
from inspector.core.network import RECURRENT_KINDS, Array, Layer, Network, Semantics

STEP_BUDGET = 100_000  # input steps run at most for one output-over-time series (the GUI's worker)
KINDS = ("class_probabilities", "binary_probability", "independent_probabilities", "values", "next_symbol")
_PASS_THROUGH = frozenset(
    {"Dropout", "Identity", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization"}
)
_PROBABILITY_KINDS = frozenset(
    {"class_probabilities", "binary_probability", "independent_probabilities", "next_symbol"}
)


@dataclass(frozen=True)
class OutputKind:
    """What one model output is.

    Attributes
    ----------
    name : the output's name (its layer's name).
    kind : one of `KINDS`.
    labels : one display label per output unit ('class k' / symbols / two labels for a binary
        output: [negative, positive]).
    axis_label : how to label the value axis ('probability', 'P(positive)', 'value').
    units : size of the output's last axis (None when unknown).
    activation : the final activation ('softmax', 'sigmoid', 'linear', ...; 'state' for a
        recurrent layer's output).
    per_step : the output has a time axis (return_sequences / TimeDistributed).
    """

    name: str
    kind: str
    labels: tuple[str, ...]
    axis_label: str
    units: int | None = None
    activation: str = "linear"
    per_step: bool = False

    @property
    def is_probability(self) -> bool:
        """Values in [0, 1] (probability axes); False for signed values."""
        return self.kind in _PROBABILITY_KINDS

    @property
    def summary(self) -> str:
        """One line for `info` / tooltips."""
        n = f"{self.units} " if self.units is not None else ""
        if self.kind == "binary_probability":
            what = f"{self.axis_label} (sigmoid): {self.labels[-1]!r} vs {self.labels[0]!r}"
        elif self.kind == "class_probabilities":
            what = f"probabilities of {n}classes (softmax)"
        elif self.kind == "next_symbol":
            what = f"next-symbol probabilities over {n}symbols (softmax): what comes next"
        elif self.kind == "independent_probabilities":
            what = f"{n}independent probabilities (sigmoid per unit)"
        else:
            what = f"{n}value{'' if self.units == 1 else 's'} ({self.activation}), signed"
        return f"{self.name}: {what}{' per step' if self.per_step else ''}"


def _producer(net: Network, name: str) -> Layer | None:
    try:
        return net.layer(name)
    except KeyError:
        return None


def _previous(net: Network, lay: Layer) -> Layer | None:
    if net.kind == "Sequential":
        idx = [x.name for x in net.layers].index(lay.name)
        return net.layers[idx - 1] if idx > 0 else None
    if lay.calls and lay.calls[0].inputs:
        return _producer(net, lay.calls[0].inputs[0].layer)
    return None


def _final(net: Network, lay: Layer | None, depth: int = 0) -> tuple[str, int | None, bool, str]:
    """(activation, units, per_step, layer name) of the layer that produced an output, looking
    through dropout-like layers, Activation layers and wrappers."""
    act: str | None = None
    per_step = False
    name = lay.name if lay is not None else "output"
    while lay is not None and depth < 200:
        depth += 1
        kind = lay.kind
        cfg = lay.config
        if kind in _PASS_THROUGH:
            lay = _previous(net, lay)
            continue
        if kind in ("Activation", "Softmax"):
            act = act or ("softmax" if kind == "Softmax" else activation_name(cfg.get("activation")).lower())
            lay = _previous(net, lay)
            continue
        if kind == "TimeDistributed" and lay.children:
            a, u, _, _ = _final(net, lay.children[0], depth)
            return act or a, u, True, name
        if kind in RECURRENT_KINDS or (kind == "Bidirectional" and lay.children):
            inner = lay.children[0] if kind == "Bidirectional" else lay
            units = inner.config.get("units")
            if (
                kind == "Bidirectional"
                and isinstance(units, int)
                and lay.config.get("merge_mode") == "concat"
            ):
                units *= 2
            seq = bool(inner.config.get("return_sequences", False))
            return act or "state", units if isinstance(units, int) else None, seq, name
        if kind in ("Sequential", "Functional") and lay.network is not None:
            sub = lay.network
            last = sub.layers[-1] if sub.kind == "Sequential" else _producer(sub, sub.outputs[0].layer)
            a, u, s, _ = _final(sub, last, depth)
            return act or a, u, s, name
        units = cfg.get("units") if kind == "Dense" else None
        if kind == "Dense":
            try:
                a = activation_name(cfg.get("activation")).lower()
            except UnsupportedLayerError:
                a = "custom"
            return act or a, units if isinstance(units, int) else None, per_step, name
        return act or "linear", None, per_step, name
    return act or "linear", None, per_step, name


def _input_symbols(net: Network) -> int | None:
    """How many symbols model input 0 is over: an Embedding's input_dim, or V of a one-hot (None, T, V)
    input; None for other inputs."""
    if not net.input_shapes:
        return None
    shape = net.input_shapes[0]
    consumers = engine.first_consumers(net, 0) if engine.n_inputs(net) else []
    for c in consumers:
        if c.kind == "Embedding" and isinstance(c.config.get("input_dim"), int):
            return int(c.config["input_dim"])
    if len(shape) == 3 and isinstance(shape[2], int):
        return shape[2]
    return None


def _probe(net: Network, semantics: Semantics) -> list[tuple[int, ...]] | None:
    """Output shapes from one run on zeros (one step for sequence inputs); None when it cannot run."""
    try:
        seq = engine.sequence_inputs(net)
        xs = []
        for i in range(engine.n_inputs(net)):
            shape = net.input_shapes[i] if i < len(net.input_shapes) else ()
            dims = [1] + [1 if d is None or (k == 0 and seq[i]) else int(d) for k, d in enumerate(shape[1:])]
            if int(np.prod(dims)) > 10**7:
                return None
            xs.append(np.zeros(dims, dtype=np.float32))
        outs = engine.predict(net, xs if len(xs) > 1 else xs[0], semantics)
        return [tuple(int(d) for d in o.shape) for o in outs]
    except Exception:  # noqa: BLE001 - a best-effort probe; the config answer stands
        return None


def _output_layers(net: Network) -> list[Layer | None]:
    if net.kind == "Sequential":
        return [net.layers[-1] if net.layers else None]
    return [_producer(net, r.layer) for r in net.outputs]


def describe_outputs(
    network: Network,
    *,
    labels: Mapping[str, Sequence[str]] | None = None,
    symbols: Sequence[str] | None = None,
    semantics: Semantics | None = None,
) -> list[OutputKind]:
    """What each model output is (see the module docstring).

    Parameters
    ----------
    network : the model (with its lookup layer stripped or not: the output side is the same).
    labels : class names per output layer name, '' for the first / only output (`io.labels.find_labels`).
    symbols : the input encoder's id -> display string table (`text.token_table`), when the model
        reads text; an output over exactly these symbols is 'next_symbol'.
    semantics : used to run a one-step probe for output sizes the config does not tell.
    """
    labels = labels or {}
    outs = _output_layers(network)
    probed = _probe(network, semantics or Semantics())
    n_in = _input_symbols(network)
    result = []
    for i, lay in enumerate(outs):
        act, units, per_step, name = _final(network, lay)
        shape = probed[i] if probed is not None and i < len(probed) else None
        if shape is not None:
            units, per_step = shape[-1] if len(shape) >= 2 else 1, len(shape) >= 3
        given = labels.get(name) or (labels.get("") if i == 0 else None)
        result.append(_kind(name, act, units, per_step, list(given) if given else None, symbols, n_in))
    return result


def _kind(
    name: str,
    act: str,
    units: int | None,
    per_step: bool,
    given: list[str] | None,
    symbols: Sequence[str] | None,
    n_in: int | None,
) -> OutputKind:
    n = units or 0
    if given is not None and len(given) != n and not (n == 1 and len(given) == 2):
        given = None  # labels for another output size: not these
    if act == "softmax":
        if n > 2 and given is None and n_in == n:
            labs = (
                list(symbols)
                if symbols is not None and len(symbols) == n
                else [f"symbol {k}" for k in range(n)]
            )
            return OutputKind(name, "next_symbol", tuple(labs), "probability", units, act, per_step)
        labs = given or [f"class {k}" for k in range(n)]
        return OutputKind(name, "class_probabilities", tuple(labs), "probability", units, act, per_step)
    if act == "sigmoid" and n == 1:
        labs = given if given is not None and len(given) == 2 else ["negative", "positive"]
        return OutputKind(name, "binary_probability", tuple(labs), f"P({labs[1]})", units, act, per_step)
    if act == "sigmoid" and n > 1:
        labs = given or [f"class {k}" for k in range(n)]
        return OutputKind(name, "independent_probabilities", tuple(labs), "probability", units, act, per_step)
    labs = given or ([f"unit {k}" for k in range(n)] if act == "state" else [f"output {k}" for k in range(n)])
    return OutputKind(name, "values", tuple(labs), "value", units, act, per_step)


# --------------------------------------------------------------------------------- over time


@dataclass(frozen=True)
class OutputSeries:
    """Model output "if the sequence ended here", for batch item 0.

    Attributes
    ----------
    steps : (K,) int64, the steps t that were evaluated (all steps unless the sequence was too long
        for one run per cut).
    values : (K, units) float32: output `output` of the model on inputs[:, :t+1].  For a per-step
        output, its last step.
    target : (K,) or (K, units) float32 target at those steps, or None.
    one_pass : True when computed in one pass (`core.prefix.prefix_outputs`), False when re-run per cut.
    """

    steps: Array
    values: Array
    target: Array | None
    one_pass: bool


def _last(y: Array) -> Array:
    """(B, ...) output -> its last time step for a per-step output ((1, T, n) -> (n,)), batch item 0."""
    y = np.asarray(y, dtype=np.float32)[0]
    if y.ndim >= 2:
        y = y[-1]
    return y.reshape(-1)


def output_over_time(
    net: Network,
    inputs: Array | Sequence[Array],
    semantics: Semantics,
    *,
    output: int = 0,
    target: Array | None = None,
    max_runs: int = 256,
    outputs_at: Callable[[int], list[Array]] | None = None,
) -> OutputSeries:
    """The output at every step "if the sequence ended here" (for every cut of the sequence inputs).

    Parameters
    ----------
    inputs : as `engine.predict` (batch item 0 is used).
    target : optional (T,) or (T, units) series aligned with the input steps (a CSV target column).
    max_runs : for non-causal models (Bidirectional, go_backwards ...), the number of cuts run at most
        (evenly spaced, the last step always included).
    outputs_at : the GUI passes `Stepper.outputs_at` (cached, one pass for causal models) so nothing is
        computed twice; then every step is read when T <= max_runs, else `max_runs` spaced steps.

    Raises
    ------
    InputShapeError, UnsupportedLayerError : as `engine.predict`.
    """
    xs = engine.prepare_inputs(net, inputs)
    seq = engine.sequence_inputs(net, xs)
    T = max((x.shape[1] for x, s in zip(xs, seq) if s), default=1)
    pre = prefix.prefix_outputs(net, xs, semantics, seq) if any(seq) and outputs_at is None else None
    if outputs_at is not None:
        steps = np.unique(np.linspace(0, T - 1, num=min(T, max_runs)).round().astype(np.int64))
        values = np.stack([_last(outputs_at(int(t))[output]) for t in steps])
    elif pre is not None:
        steps = np.arange(T, dtype=np.int64)
        values = np.stack([_last(pre.at(int(t))[output]) for t in steps])
    else:
        steps = np.unique(np.linspace(0, T - 1, num=min(T, max_runs)).round().astype(np.int64))
        rows = []
        for t in steps:
            cut = [x[:, : t + 1] if s else x for x, s in zip(xs, seq)]
            rows.append(_last(engine.predict(net, cut if len(cut) > 1 else cut[0], semantics)[output]))
        values = np.stack(rows)
    tgt = None
    if target is not None:
        tarr = np.asarray(target, dtype=np.float32)
        if tarr.shape[0] != T:
            raise ValueError(f"the target has {tarr.shape[0]} steps but the input has {T}")
        tgt = tarr[steps]
    return OutputSeries(steps, values.astype(np.float32), tgt, pre is not None)


def stepper_output_series(stepper: Any, output: int = 0, target: Array | None = None) -> OutputSeries:
    """`output_over_time` of a `Stepper`'s input, reading its cached `outputs_at` (nothing computed twice).

    A `target` whose length is not the input's is left out (the series is still drawn).  Long inputs are
    read at fewer steps (about `STEP_BUDGET` input steps of work in all: a non-causal model re-runs per cut).
    """
    args = (stepper.net, stepper.inputs, stepper.semantics)
    runs = int(np.clip(STEP_BUDGET // max(int(stepper.n_steps), 1), 24, 256))
    try:
        return output_over_time(
            *args, output=output, target=target, outputs_at=stepper.outputs_at, max_runs=runs
        )
    except ValueError:
        if target is None:
            raise
        return output_over_time(*args, output=output, outputs_at=stepper.outputs_at, max_runs=runs)


def output_info(
    network: Network,
    *,
    labels: Mapping[str, Sequence[str]] | None = None,
    symbols: Sequence[str] | None = None,
    semantics: Semantics | None = None,
) -> list[dict[str, object]]:
    """JSON-able description of every output (for `info --json`): name, kind, units, per_step,
    axis_label, summary and the first 50 labels."""
    return [
        {
            "name": k.name,
            "kind": k.kind,
            "units": k.units,
            "per_step": k.per_step,
            "axis_label": k.axis_label,
            "summary": k.summary,
            "labels": list(k.labels[:50]),
        }
        for k in describe_outputs(network, labels=labels, symbols=symbols, semantics=semantics)
    ]
