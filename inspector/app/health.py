"""App layer: is this model healthy?  Findings from the weights alone and, optionally, from data (no Qt).

`check(model_file, inputs=None)` returns `Finding`s, each with a severity ('error', 'warning', 'info'),
a stable `code`, the layer (display path: 'lstm', 'bidi/forward'), the gate key and units where they
apply and a one-line message.  Codes:

* ``nan-weights`` (error): a weight holds NaN or Inf.
* ``dead-unit`` (warning): a recurrent unit whose output nothing reads: its row of the recurrent kernel
  and its rows in the kernel of every layer that consumes the layer's output are all |w| <= `zero_tol`.
* ``saturated-gate`` (data): a sigmoid gate of a unit is below `saturation_low` or above
  `saturation_high` on at least `saturation_share` of the positions.  'warning' when that cuts the
  unit off (an LSTM input gate shut: the cell is never written; an output gate shut: h stays ~0),
  'info' otherwise (see `SATURATION`): e.g. a right-saturated LSTM forget gate is an integrator
  (Karpathy et al. 2015), an output gate always open is how many healthy units work.
* ``constant-unit`` (warning, data): std of the unit's h over the data below `constant_std`.
* ``forget-bias`` (info): forget-gate bias and the memory timescale it implies, 1 / (1 - sigmoid(b_f)).
* ``spectral-norm`` (info): largest singular value of the recurrent kernel per gate block; for
  SimpleRNN compared with 1/gamma (Pascanu et al. 2013: below it gradients vanish for sure, above it
  they can explode).
* ``hard-sigmoid-exact`` (info, data): hard_sigmoid gates sitting exactly at 0 or 1 (no gradient).

Long sequences are run in chunks of `Thresholds.chunk_steps` steps carrying the states, when the engine
supports `initial_states` (only the running statistics are kept, never the whole trajectory).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from inspector.app.keyframes import ArraySource, not_chunkable, run_chunks
from inspector.core import engine
from inspector.core.network import RECURRENT_KINDS, Array, Layer, ModelFile, Network, Semantics
from inspector.core.recurrent import Trajectory, spec_from_layer

SEVERITIES = ("error", "warning", "info")
PASS_THROUGH = frozenset(
    {
        "Dropout",
        "SpatialDropout1D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "ActivityRegularization",
    }
)
SIGMOID_GATES = {"LSTM": ("i", "f", "o"), "GRU": ("z", "r"), "SimpleRNN": ()}
# (kind, gate, 'low'|'high') -> (severity, what it means); pairs not listed are 'info' without a note
SATURATION: dict[tuple[str, str, str], tuple[str, str]] = {
    ("LSTM", "i", "low"): ("warning", "the cell is never written"),
    ("LSTM", "o", "low"): ("warning", "the cell is never shown: h stays near 0"),
    ("LSTM", "f", "high"): ("info", "integrators: they keep their cell state"),
    ("LSTM", "f", "low"): ("info", "the cell forgets at every step"),
    ("LSTM", "i", "high"): ("info", "the cell is written at every step"),
    ("LSTM", "o", "high"): ("info", "the cell is always shown"),
    ("GRU", "z", "high"): ("info", "integrators: they keep their state"),
    ("GRU", "z", "low"): ("info", "the state is replaced at every step"),
}
GATE_TITLES = {
    "i": "input gate",
    "f": "forget gate",
    "o": "output gate",
    "z": "update gate",
    "r": "reset gate",
}
# |f'| bound per SimpleRNN activation (gamma in Pascanu et al. 2013); 1/gamma is the singular-value bound
ACTIVATION_GAMMA = {"tanh": 1.0, "relu": 1.0, "linear": 1.0, "sigmoid": 0.25, "hard_sigmoid": 0.2}


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of the health check, in one place (all settable).

    Attributes
    ----------
    zero_tol : |w| at or below this counts as zero (dead-unit).
    saturation_low, saturation_high : a sigmoid gate value below / above these is saturated.
    saturation_share : share of the positions (B*T, masked steps excluded) that must be saturated.
    constant_std : a unit whose h has a smaller standard deviation over the data is constant.
    hard_exact_share : share of positions at exactly 0 or 1 for a hard_sigmoid gate to be reported.
    chunk_steps : steps per chunk when a long sequence is run in pieces.
    """

    zero_tol: float = 1e-8
    saturation_low: float = 0.1
    saturation_high: float = 0.9
    saturation_share: float = 0.99
    constant_std: float = 1e-4
    hard_exact_share: float = 0.5
    chunk_steps: int = 2000


@dataclass(frozen=True)
class Finding:
    """One health finding.

    Attributes
    ----------
    severity : 'error' | 'warning' | 'info'.
    code : stable id ('nan-weights', 'dead-unit', ...; see the module docstring).
    layer : display path of the layer ('lstm', 'bidi/forward'), '' for the whole model.
    gate : gate key ('i', 'f', 'c', 'o', 'z', 'r', 'h') or None.
    units : unit indices (within the gate block) concerned, () when it does not apply.
    message : one line a person understands.
    weight : display path of the weight to show ('lstm/recurrent_kernel'), or None.
    """

    severity: str
    code: str
    layer: str
    gate: str | None
    units: tuple[int, ...]
    message: str
    weight: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON form of `check --json` (weight included)."""
        return {
            "severity": self.severity,
            "code": self.code,
            "layer": self.layer,
            "gate": self.gate,
            "units": list(self.units) if self.units else None,
            "message": self.message,
            "weight": self.weight,
        }


def worst(findings: Sequence[Finding]) -> str | None:
    """The most severe severity among `findings` (None when empty)."""
    ranks = [SEVERITIES.index(f.severity) for f in findings]
    return SEVERITIES[min(ranks)] if ranks else None


def _units_text(units: Sequence[int], most: int = 8) -> str:
    shown = ", ".join(str(u) for u in units[:most])
    more = f" and {len(units) - most} more" if len(units) > most else ""
    return f"unit{'s' if len(units) > 1 else ''} {shown}{more}"


# ------------------------------------------------------------------------------ recurrent layers


@dataclass(frozen=True)
class RecurrentSite:
    """A recurrent layer found in a network: `key` is its engine trace key ('lstm', 'bidi/forward'),
    `top` the top-level layer holding it, `side` 0/1 for Bidirectional halves (None otherwise)."""

    key: str
    layer: Layer
    top: Layer
    side: int | None = None


def recurrent_sites(layers: Sequence[Layer], prefix: str = "") -> list[RecurrentSite]:
    """Every LSTM/GRU/SimpleRNN under `layers` (Bidirectional halves and nested models included)."""
    out: list[RecurrentSite] = []
    for lay in layers:
        name = f"{prefix}{lay.name}"
        if lay.kind in RECURRENT_KINDS:
            out.append(RecurrentSite(name, lay, lay))
        elif lay.kind == "Bidirectional" and len(lay.children) == 2:
            for side, sub in enumerate(("forward", "backward")):
                if lay.children[side].kind in RECURRENT_KINDS:
                    out.append(RecurrentSite(f"{name}/{sub}", lay.children[side], lay, side))
        elif lay.network is not None:
            out += recurrent_sites(lay.network.layers, prefix=f"{name}/")
    return out


# ------------------------------------------------------------------------------ weight findings


def _nan_findings(layers: Sequence[Layer]) -> list[Finding]:
    out: list[Finding] = []
    for lay in layers:
        for path, w in lay.all_weights():
            bad = ~np.isfinite(w.value)
            if not bad.any():
                continue
            owner = path.rsplit("/", 1)[0]
            n_nan, n_inf = int(np.isnan(w.value).sum()), int(np.isinf(w.value).sum())
            what = " and ".join(s for s in (f"{n_nan} NaN" * bool(n_nan), f"{n_inf} Inf" * bool(n_inf)) if s)
            cols = bad.reshape(-1, bad.shape[-1]).any(axis=0) if bad.ndim else np.array([True])
            blocks: list[tuple[str | None, str, Array]] = [
                (g.key, g.title, cols[g.start : g.stop]) for g in w.gates
            ]
            blocks = blocks or [(None, "", cols)]
            for key, title, block in blocks:
                units = tuple(int(u) for u in np.flatnonzero(block))
                if units:
                    where = f"{title} of " if key else ""
                    out.append(
                        Finding("error", "nan-weights", owner, key, units,
                                f"{path} holds {what} values: {where}{_units_text(units)}", path)
                    )  # fmt: skip
    return out


def _consumers(net: Network, name: str) -> list[Layer] | None:
    """The weighted layers that read layer `name`'s output in `net` (pass-through layers followed).
    None when it cannot be told (a model output, a merge, an initial state, an unknown layer)."""
    if net.kind == "Sequential":
        idx = [lay.name for lay in net.layers].index(name)
        for nxt in net.layers[idx + 1 :]:
            if nxt.kind in PASS_THROUGH:
                continue
            return [nxt]
        return None
    if any(ref.layer == name for ref in net.outputs):
        return None
    found: list[Layer] = []
    for lay in net.layers:
        for call in lay.calls:
            if any(ref.layer == name for ref in call.initial_state):
                return None
            if any(ref.layer == name for ref in call.inputs):
                if lay.kind in PASS_THROUGH:
                    more = _consumers(net, lay.name)
                    if more is None:
                        return None
                    found += more
                else:
                    found.append(lay)
    return found or None


def _input_kernels(lay: Layer) -> list[Array] | None:
    """The (in, out) kernels through which `lay` reads its input features, or None (unknown kind)."""
    if lay.kind == "TimeDistributed" and lay.children:
        return _input_kernels(lay.children[0])
    if lay.kind == "Bidirectional" and len(lay.children) == 2:
        halves = [_input_kernels(c) for c in lay.children]
        return None if any(h is None for h in halves) else [k for h in halves for k in h or []]
    if lay.kind in RECURRENT_KINDS or lay.kind == "Dense":
        ks = [w.value for w in lay.weights if w.name == "kernel" and w.value.ndim == 2]
        return ks or None
    return None


def _dead_findings(net: Network, tol: float) -> list[Finding]:
    out: list[Finding] = []
    for site in recurrent_sites(net.layers):
        if "/" in site.key and site.side is None:
            continue  # inside a nested model: its readers are not traced through the outer graph
        rec = [w for w in site.layer.weights if w.name == "recurrent_kernel"]
        consumers = _consumers(net, site.top.name)
        if not rec or consumers is None:
            continue
        u = rec[0].value.shape[0]
        quiet = (np.abs(rec[0].value) <= tol).all(axis=1)  # NaN compares False: never quiet
        offset, width = 0, u
        if site.side is not None and site.top.config.get("merge_mode", "concat") == "concat":
            offset, width = site.side * u, 2 * u
        for c in consumers:
            kernels = _input_kernels(c)
            if kernels is None or any(k.shape[0] != width for k in kernels):
                quiet[:] = False
                break
            for k in kernels:
                quiet &= (np.abs(k[offset : offset + u]) <= tol).all(axis=1)
        units = tuple(int(j) for j in np.flatnonzero(quiet))
        if units:
            readers = ", ".join(c.name for c in consumers)
            out.append(
                Finding("warning", "dead-unit", site.key, None, units,
                        f"{_units_text(units)} of {site.key}: nothing reads the output (recurrent kernel row "
                        f"and the rows in {readers} are all zero)", f"{site.key}/recurrent_kernel")
            )  # fmt: skip
    return out


def _forget_and_spectral(site: RecurrentSite, semantics: Semantics) -> list[Finding]:
    try:
        spec = spec_from_layer(site.layer, semantics)
    except Exception:  # noqa: BLE001 - a layer the engine cannot read gets no weight diagnostics
        return []
    out: list[Finding] = []
    key = site.key
    if spec.kind == "LSTM" and np.isfinite(spec.bias).all():
        bf = spec.bias[spec.gates[1].start : spec.gates[1].stop].astype(np.float64)
        tau = 1.0 / (1.0 - 1.0 / (1.0 + np.exp(-np.clip(bf, -30, 30))))
        out.append(
            Finding("info", "forget-bias", key, "f", (),
                    f"{key}: forget-gate bias median {np.median(bf):.2f} "
                    f"(range {bf.min():.2f}..{bf.max():.2f}), "
                    f"implied memory timescale 1/(1-\u03c3(b_f)) median {np.median(tau):.1f} steps "
                    f"(max {tau.max():.3g})", f"{key}/bias")
        )  # fmt: skip
    U = spec.recurrent_kernel
    if not np.isfinite(U).all():
        return out
    norms = [(g.key, float(np.linalg.norm(g.take(U).astype(np.float64), ord=2))) for g in spec.gates]
    if spec.kind == "SimpleRNN":
        act = str(spec.activation)
        gamma = ACTIVATION_GAMMA.get(act)
        s = norms[0][1]
        if gamma is None:
            verdict = f"no known bound |f'| for activation {act!r}"
        elif s < 1.0 / gamma:
            verdict = f"< 1/\u03b3 = {1 / gamma:g} ({act}): long-term gradients vanish (Pascanu et al. 2013)"
        else:
            verdict = f">= 1/\u03b3 = {1 / gamma:g} ({act}): gradients can explode (Pascanu et al. 2013)"
        text = f"{key}: largest singular value of the recurrent kernel {s:.3f} {verdict}"
    else:
        text = f"{key}: recurrent kernel spectral norm per gate " + ", ".join(
            f"{k} {v:.2f}" for k, v in norms
        )
    out.append(Finding("info", "spectral-norm", key, None, (), text, f"{key}/recurrent_kernel"))
    return out


def weight_findings(mf: ModelFile, thresholds: Thresholds | None = None) -> list[Finding]:
    """Findings that need no data: nan-weights, dead-unit, forget-bias, spectral-norm."""
    th = thresholds or Thresholds()
    layers = mf.network.layers if mf.network is not None else mf.weight_layers
    out = _nan_findings(layers)
    if mf.network is not None:
        out += _dead_findings(mf.network, th.zero_tol)
    for site in recurrent_sites(layers):
        out += _forget_and_spectral(site, mf.semantics)
    return out


# ------------------------------------------------------------------------------ data findings


@dataclass
class _Acc:
    """Running statistics of one recurrent layer over the data (per unit, float64 sums)."""

    kind: str
    rec_act: str
    n: Array | None = None  # (u,) valid positions
    low: dict[str, Array] = field(default_factory=dict)
    high: dict[str, Array] = field(default_factory=dict)
    exact: dict[str, Array] = field(default_factory=dict)
    bad: Array | None = None  # (u,) valid positions where h is NaN/Inf
    shift: Array | None = None  # mean h of the first chunk: sums are taken of h - shift (no cancellation)
    s1: Array | None = None
    s2: Array | None = None

    def add(self, traj: Trajectory, th: Thresholds) -> None:
        m = traj.mask[..., None]
        h = traj.h.astype(np.float64)
        ok = m & np.isfinite(h)  # (B, T, u); NaN/Inf h (from NaN weights) is counted, not averaged
        if self.n is None:
            first = np.where(ok, h, 0.0).sum(axis=(0, 1)) / np.maximum(ok.sum(axis=(0, 1)), 1)
            self.n, self.bad, self.shift = np.zeros(traj.units), np.zeros(traj.units), first
            self.s1, self.s2 = np.zeros(traj.units), np.zeros(traj.units)
        assert self.s1 is not None and self.s2 is not None and self.bad is not None and self.shift is not None
        self.n += ok.sum(axis=(0, 1))
        self.bad += (m & ~ok).sum(axis=(0, 1))
        d = np.where(ok, h - self.shift, 0.0)
        self.s1 += d.sum(axis=(0, 1))
        self.s2 += (d * d).sum(axis=(0, 1))
        for g in SIGMOID_GATES[self.kind] if self.rec_act in ("sigmoid", "hard_sigmoid") else ():
            v = traj.gates[g]
            for table, hit in (
                (self.low, v < th.saturation_low),
                (self.high, v > th.saturation_high),
                (self.exact, (v == 0.0) | (v == 1.0)),
            ):
                table[g] = table.get(g, 0) + (hit & m).sum(axis=(0, 1))

    def std(self) -> Array:
        assert self.n is not None and self.s1 is not None and self.s2 is not None
        n = np.maximum(self.n, 1)
        mean = self.s1 / n
        std: Array = np.sqrt(np.maximum(self.s2 / n - mean * mean, 0.0))
        return std


def _chunkable(net: Network, xs: list[Array], chunk: int) -> bool:
    if len(xs) != 1 or not engine.sequence_inputs(net, xs)[0] or xs[0].shape[1] <= chunk:
        return False
    if net.input_shapes and len(net.input_shapes[0]) > 1 and net.input_shapes[0][1] is not None:
        return False
    if not_chunkable(net) is not None:
        return False  # Bidirectional / go_backwards layers need the whole sequence
    sites = recurrent_sites(net.layers)
    if any("/" in s.key for s in sites):
        return False  # a recurrent layer inside a nested model: its trace name is not a state key here
    return all(bool(s.layer.config.get("return_sequences")) for s in sites[:-1])


def traces(
    net: Network, inputs: Array | Sequence[Array], semantics: Semantics, chunk: int
) -> Iterator[engine.Trace]:
    """`engine.trace` of `inputs` in pieces of `chunk` steps, so memory stays bounded on long data.

    Exact (the states carried from piece to piece) when the engine takes `initial_states`; otherwise a
    long sequence is cut into windows of `chunk` steps, each starting from zero states like a fresh
    `model.predict`, and run a few windows at a time.
    """
    xs = engine.prepare_inputs(net, inputs)
    if _chunkable(net, xs, chunk):
        for _, tr in run_chunks(net, semantics, ArraySource(xs[0]), every=chunk):
            yield tr
        return
    fixed = bool(net.input_shapes) and len(net.input_shapes[0]) > 1 and net.input_shapes[0][1] is not None
    if len(xs) != 1 or fixed or not engine.sequence_inputs(net, xs)[0] or xs[0].shape[1] <= chunk:
        yield engine.trace(net, xs, semantics)
        return
    x = xs[0]
    n_full = x.shape[1] // chunk
    windows = np.concatenate(np.split(x[:, : n_full * chunk], n_full, axis=1), axis=0)  # (n*B, chunk, ...)
    per_run = max(1, 16 // x.shape[0])
    for s in range(0, len(windows), per_run):
        yield engine.trace(net, [windows[s : s + per_run]], semantics)
    if x.shape[1] > n_full * chunk:
        yield engine.trace(net, [x[:, n_full * chunk :]], semantics)


def _data_stats(mf: ModelFile, inputs: Array | Sequence[Array], th: Thresholds) -> dict[str, _Acc]:
    assert mf.network is not None
    acts: dict[str, tuple[str, str]] = {}
    for site in recurrent_sites(mf.network.layers):
        try:
            spec = spec_from_layer(site.layer, mf.semantics)
            acts[site.key] = (spec.kind, str(spec.recurrent_activation))
        except Exception:  # noqa: BLE001 - the engine will raise its own clear error when it runs
            continue
    accs: dict[str, _Acc] = {}
    with np.errstate(all="ignore"):
        for tr in traces(mf.network, inputs, mf.semantics, th.chunk_steps):
            for key, traj in tr.layers.items():
                base = key.split("@", 1)[0]
                kind, rec_act = acts.get(base, (traj.kind, "sigmoid"))
                accs.setdefault(key, _Acc(kind, rec_act)).add(traj, th)
    return accs


def data_findings(
    mf: ModelFile, inputs: Array | Sequence[Array], thresholds: Thresholds | None = None
) -> list[Finding]:
    """Findings that need data: saturated-gate, constant-unit, hard-sigmoid-exact.

    Parameters
    ----------
    mf : a model file with a runnable network.
    inputs : model input(s), batch axis first (e.g. (B, T, d) float32 or (B, T) int ids).
    """
    th = thresholds or Thresholds()
    out: list[Finding] = []
    for key, acc in _data_stats(mf, inputs, th).items():
        if acc.n is None or acc.bad is None:
            continue
        n = np.maximum(acc.n + acc.bad, 1)  # every unmasked position (gates are counted there)
        total = int(n.max())
        for g in acc.low:
            for direction, counts in (("low", acc.low[g]), ("high", acc.high[g])):
                units = tuple(int(j) for j in np.flatnonzero(counts / n >= th.saturation_share))
                if not units:
                    continue
                severity, meaning = SATURATION.get((acc.kind, g, direction), ("info", ""))
                state = (f"open (> {th.saturation_high:g})" if direction == "high"
                         else f"shut (< {th.saturation_low:g})")  # fmt: skip
                extra = f": {meaning}" if meaning else ""
                out.append(
                    Finding(severity, "saturated-gate", key, g, units,
                            f"{key}: {GATE_TITLES[g]} of {_units_text(units)} is {state} on "
                            f">= {th.saturation_share:.0%} of {total:,} positions{extra}",
                            f"{key}/recurrent_kernel")
                )  # fmt: skip
            if acc.rec_act == "hard_sigmoid":
                units = tuple(int(j) for j in np.flatnonzero(acc.exact[g] / n >= th.hard_exact_share))
                if units:
                    out.append(
                        Finding("info", "hard-sigmoid-exact", key, g, units,
                                f"{key}: hard_sigmoid {GATE_TITLES[g]} of {_units_text(units)} sits "
                                f"exactly at 0 or 1 on >= {th.hard_exact_share:.0%} of positions",
                                f"{key}/recurrent_kernel")
                    )  # fmt: skip
        std = acc.std()
        units = tuple(int(j) for j in np.flatnonzero((std < th.constant_std) & (acc.bad == 0)))
        if units and total > 1:
            out.append(
                Finding("warning", "constant-unit", key, None, units,
                        f"{key}: h of {_units_text(units)} is constant over the data "
                        f"(std < {th.constant_std:g} on {total:,} positions)", f"{key}/recurrent_kernel")
            )  # fmt: skip
    return out


def check(
    mf: ModelFile, inputs: Array | Sequence[Array] | None = None, thresholds: Thresholds | None = None
) -> list[Finding]:
    """Every health finding for `mf`, most severe first (weights always; data findings with `inputs`).

    Raises
    ------
    ValueError : `inputs` given for a file without a runnable architecture.
    InputShapeError, UnsupportedLayerError : from the engine, when the inputs do not fit the model.
    """
    out = weight_findings(mf, thresholds)
    if inputs is not None:
        if mf.network is None:
            raise ValueError(mf.damage or "weights-only file: data findings need the architecture (--config)")
        out += data_findings(mf, inputs, thresholds)
    return sorted(out, key=lambda f: SEVERITIES.index(f.severity))


# ------------------------------------------------------------------------------ text as data


def text_input(mf: ModelFile, text: str) -> Array:
    """Text -> the model input, (1, T) ids or (1, T, V) one-hot float32, by the encoder found beside
    the model (`inspector.app.text.text_input`: sidecar vocabulary or tokenizer).

    Raises
    ------
    ValueError : no text encoding, a symbol outside the vocabulary, or a model whose own preprocessing
        layers take the text (health checks run the file's network as stored).
    """
    from inspector.app.text import text_input as encode_text

    net, _, x = encode_text(mf, text)
    if net is not mf.network:
        raise ValueError("the model reads text through its own preprocessing layers: give --input ids")
    return x
