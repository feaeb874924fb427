"""App: which input steps mattered -- occlusion, and the Murdoch & Szlam (2017) LSTM decomposition. No Qt.

* `occlusion()`: A[n, t, k] = y(x)[n, k] - y(x with step t of sample n set to 0)[n, k] for one model
  output (the last step of a sequence output, or a chosen step).  All occluded copies of a sample run
  in one batched predict.  What "set to 0" means for the model is said by `occlusion_counterfactual()`
  (for an Embedding with mask_zero=True, id 0 is the padding id: the step is skipped).
* `decompose()`: for an LSTM -> Dense head, the exact additive decomposition of the Dense
  pre-activation (logit) of Murdoch & Szlam, "Automatic rule extraction from long short term memory
  networks" (ICLR 2017): with h_T = o_T * tanh(c_T) and c_0 = 0,
  logit_k = b_k + sum_t W_k . (o_T * (tanh(c_t) - tanh(c_{t-1}))), so exp(logit_k) is the product of
  the per-step factors beta_{k,t} = exp(W_k . (o_T * (tanh(c_t) - tanh(c_{t-1})))) and exp(b_k).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector.core import activations, engine, recurrent
from inspector.core.errors import UnsupportedLayerError
from inspector.core.layers import INFERENCE_IDENTITY
from inspector.core.network import Array, Layer, Network, Semantics

__all__ = [
    "AttributionError",
    "Decomposition",
    "Occlusion",
    "decompose",
    "occlusion",
    "occlusion_counterfactual",
]

# occluded copies per predict call are limited to about this many input values
_BATCH_VALUES = 1 << 21


class AttributionError(UnsupportedLayerError):
    """An attribution method does not apply to this model (one line saying why)."""


@dataclass(frozen=True, eq=False)
class Occlusion:
    """Occlusion scores for one model output.

    Attributes
    ----------
    scores : (B, T, K) float32, y[n, k] minus the output with input step t of sample n occluded.
    output : (B, K) float32, the unoccluded output y.
    counterfactual : what an occluded step is, in words.
    """

    scores: Array
    output: Array
    counterfactual: str


def _seq_input(net: Network, xs: list[Array]) -> int:
    seq = engine.sequence_inputs(net, xs)
    if sum(seq) != 1:
        raise AttributionError(
            f"occlusion needs exactly one sequence input; model {net.name!r} has {sum(seq)}"
        )
    return seq.index(True)


def occlusion_counterfactual(net: Network, index: int = 0) -> str:
    """What replacing a step of model input `index` by zeros means for this model, in words."""
    if net.kind == "Sequential":
        lay = next((lay for lay in net.layers if lay.kind not in INFERENCE_IDENTITY), None)
    else:
        name = net.inputs[index].layer if index < len(net.inputs) else None
        readers = [
            lay for lay in net.layers for call in lay.calls if any(r.layer == name for r in call.inputs)
        ]
        lay = readers[0] if len(readers) == 1 else None
    if lay is not None and lay.kind == "Embedding":
        if lay.config.get("mask_zero", False):
            return "token id 0, the padding id (mask_zero=True): the occluded step is masked and skipped"
        return "token id 0: the occluded step reads row 0 of the embedding table"
    if lay is not None and lay.kind == "Masking" and float(lay.config.get("mask_value", 0.0)) == 0.0:
        return "all-zero features, which the Masking layer masks: the occluded step is skipped"
    return "all-zero features at the occluded step"


def _pick_output(y: Array, step: int | None) -> Array:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 3:  # a sequence output: the chosen step (default the last)
        y = y[:, -1 if step is None else step]
    if y.ndim != 2:
        raise AttributionError(f"occlusion works on (batch, outputs) outputs, got shape {y.shape}")
    return y


def _predict(net: Network, xs: list[Array], sem: Semantics, interventions: Sequence[Any]) -> list[Array]:
    return engine.predict(net, xs, sem, interventions=tuple(interventions))


def occlusion(
    net: Network,
    inputs: Array | Sequence[Array],
    semantics: Semantics,
    *,
    output: int = 0,
    step: int | None = None,
    interventions: Sequence[Any] = (),
) -> Occlusion:
    """Occlusion scores of every input step for model output `output`.

    Parameters
    ----------
    net, semantics : the model (`ModelFile.network`, `ModelFile.semantics`).
    inputs : the model inputs (batch first); exactly one of them runs over time, (B, T, ...) or (B, T)
        ids.  The other inputs are kept as they are.
    output : which model output (default the first).
    step : for an output with a time axis (B, T', K): which of its steps (default the last).
    interventions : core interventions applied to every run (see `inspector.core.interventions`).

    Returns
    -------
    Occlusion with scores (B, T, K) float32.
    """
    xs = engine.prepare_inputs(net, inputs)
    i = _seq_input(net, xs)
    x = xs[i]
    B, T = x.shape[:2]
    y = _pick_output(_predict(net, xs, semantics, interventions)[output], step)
    scores = np.empty((B, T, y.shape[1]), np.float32)
    per_sample = max(1, _BATCH_VALUES // max(1, x[0].size * T))
    for n0 in range(0, B, per_sample):
        rows = range(n0, min(B, n0 + per_sample))
        copies = [np.repeat(a[list(rows)], T, axis=0) for a in xs]
        occ = copies[i]
        for j in range(len(rows)):
            occ[j * T + np.arange(T), np.arange(T)] = 0  # copy t of sample n: step t set to 0
        y_occ = _pick_output(_predict(net, copies, semantics, interventions)[output], step)
        scores[n0 : n0 + len(rows)] = y[n0 : n0 + len(rows), None, :] - y_occ.reshape(len(rows), T, -1)
    return Occlusion(scores, y, occlusion_counterfactual(net, i))


# ------------------------------------------------------------------------------------------ Murdoch & Szlam


@dataclass(frozen=True, eq=False)
class Decomposition:
    """Additive decomposition of a Dense head's pre-activation over the steps of the LSTM before it.

    Attributes
    ----------
    contributions : (B, T, K) float64, by input step t: W_k . (o_T * (tanh(c_t) - tanh(c_{t-1}))).
    bias : (B, K) float64, the Dense bias (plus W_k . (o_T * act(0)) for a cell activation with
        act(0) != 0).
    logits : (B, K) float64, contributions.sum(axis=1) + bias (the Dense pre-activation).
    lstm, head : layer names.
    """

    contributions: Array
    bias: Array
    logits: Array
    lstm: str
    head: str

    @property
    def factors(self) -> Array:
        """Murdoch & Szlam's multiplicative beta: prod_t factors[:, t] * exp(bias) == exp(logits)."""
        return np.exp(self.contributions)


def _back_chain(net: Network) -> list[Layer]:
    """The layers from the first model output backwards, following each layer's first input."""
    if net.kind == "Sequential":
        return [lay for lay in reversed(net.layers) if lay.kind != "InputLayer"]
    by_name = {lay.name: lay for lay in net.layers}
    chain: list[Layer] = []
    ref = net.outputs[0] if net.outputs else None
    while ref is not None and ref.layer in by_name and len(chain) < 1000:
        lay = by_name[ref.layer]
        if lay.kind == "InputLayer":
            break
        chain.append(lay)
        ins = lay.calls[ref.node].inputs if ref.node < len(lay.calls) else ()
        ref = ins[0] if len(ins) == 1 else None
    return chain


def _find_head(net: Network) -> tuple[Layer, Layer]:
    chain = [lay for lay in _back_chain(net) if lay.kind not in INFERENCE_IDENTITY]
    if chain and chain[0].kind == "Activation":
        chain = chain[1:]
    if len(chain) < 2 or chain[0].kind != "Dense" or chain[1].kind != "LSTM":
        raise AttributionError(
            "the decomposition applies to models whose (first) output is a Dense layer fed by an LSTM"
        )
    head, lstm = chain[0], chain[1]
    cfg = lstm.config
    if cfg.get("return_sequences") or cfg.get("return_state"):
        raise AttributionError(f"LSTM {lstm.name!r} must return its last output only")
    return head, lstm


def decompose(net: Network, inputs: Array | Sequence[Array], semantics: Semantics) -> Decomposition:
    """Murdoch & Szlam's additive decomposition of the Dense logits over the LSTM's input steps.

    Parameters
    ----------
    net, semantics : a model whose first output is Dense(LSTM(...)) (dropout-like layers and a
        trailing Activation allowed in between).
    inputs : the model inputs, batch first.

    Returns
    -------
    Decomposition; contributions are indexed by input step (go_backwards is mapped back).

    Raises
    ------
    AttributionError : the model does not end in LSTM -> Dense.
    """
    head, lstm = _find_head(net)
    tr = engine.trace(net, inputs, semantics)
    traj = tr.layers.get(lstm.name)
    if traj is None or traj.c is None:
        raise AttributionError(f"LSTM {lstm.name!r} is not traced at the top level of the model")
    spec = recurrent.spec_from_layer(lstm, semantics)
    act = activations.get(spec.activation, semantics, where=lstm.name)
    W = np.asarray(head.weight("kernel").value, dtype=np.float64)  # (u, K)
    b = np.zeros(W.shape[1])
    if head.config.get("use_bias", True) and any(w.name == "bias" for w in head.weights):
        b = np.asarray(head.weight("bias").value, dtype=np.float64)
    c = np.asarray(traj.c, dtype=np.float64)  # (B, S, u), carried through masked steps
    o_all = np.asarray(traj.gates["o"], dtype=np.float64)
    B, S, u = c.shape
    # o_T: the output gate of the last step that updated the state (masked steps keep h and c)
    valid = np.asarray(traj.mask, dtype=bool)
    last = np.where(valid.any(axis=1), S - 1 - np.argmax(valid[:, ::-1], axis=1), -1)
    o = np.where((last >= 0)[:, None], o_all[np.arange(B), np.maximum(last, 0)], 0.0)
    a = act(c)
    a0 = act(np.zeros((B, 1, u)))
    diffs = np.diff(np.concatenate([a0, a], axis=1), axis=1)  # act(c_s) - act(c_{s-1})
    contrib_proc = np.einsum("bsu,bu,uk->bsk", diffs, o, W)
    contributions = np.zeros_like(contrib_proc)
    contributions[:, np.asarray(traj.time_index)] = contrib_proc
    bias = b[None, :] + (o * a0[:, 0]) @ W
    return Decomposition(contributions, bias, contributions.sum(axis=1) + bias, lstm.name, head.name)
