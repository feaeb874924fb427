"""What has each recurrent unit learnt?  Per-unit statistics over a whole corpus, streamed.

The corpus (a text encoded like the Stepper encodes it, or a numeric batch) is run through the
model, chunk by chunk, and every recurrent layer's values are folded into per-unit accumulators;
the (steps x units x gates) tensor is never held.  What is collected, per unit:

* gate saturation (Karpathy et al. 2015, §4.2): the fraction of positions where each sigmoid gate
  is left-saturated (< 0.1) and right-saturated (> 0.9);
* mean and standard deviation of the unit's value (`c` for LSTM by default, else `h`);
* the K positions of largest and of smallest value;
* hypotheses: the Pearson correlation between the value and a 0/1 mask over the positions (e.g.
  the characters a regular expression matches), from running sums;
* a bitset of "value > threshold" per position and unit, for LSTMVis' match (Strobelt et al. 2018).

Text runs as one continuous sequence (state carried across chunks, exactly like stepping through
it) or, with `window=N`, as independent windows of N steps run as a batch; Bidirectional and
go_backwards models need windows.  Positions are indices into the text, or n*T + t for a batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspector.app.inputs import check_inputs, read_input_file
from inspector.app.keyframes import (
    DEFAULT_EVERY,
    ArraySource,
    IdSource,
    IsCancelled,
    Keyframes,
    Progress,
    RunCancelledError,
    ids_to_input,
    one_hot_width,
    run_chunks,
)
from inspector.app.text import TextEncoder, VocabularyEncoder
from inspector.core import engine
from inspector.core.network import Array, Network, Semantics
from inspector.core.recurrent import Trajectory
from inspector.io.sidecar import find_vocabulary, read_vocabulary

__all__ = [
    "ArrayCorpus",
    "LayerStats",
    "RunCancelledError",
    "TextCorpus",
    "UnitsResult",
    "analyse",
    "regex_mask",
]

SATURATION_LOW = 0.1
SATURATION_HIGH = 0.9
SIGMOID_GATES = {"LSTM": ("i", "f", "o"), "GRU": ("z", "r"), "SimpleRNN": ()}
BATCH_STEPS = 8192  # windows / batch rows run together: about this many steps per trace call
CONTEXT_BEFORE, CONTEXT_AFTER = 30, 10


# ------------------------------------------------------------------------------------------ corpus


@dataclass(frozen=True, eq=False)
class TextCorpus:
    """A text as ids (T,), one display token per step; `joiner` glues tokens back into text."""

    ids: Array
    tokens: list[str]
    width: int | None  # one-hot width, or None when the model reads ids

    @classmethod
    def from_text(cls, net: Network, text: str, encoder: TextEncoder) -> TextCorpus:
        enc = encoder.encode(text)
        ids = np.asarray(enc.ids, dtype=np.int64).reshape(-1)
        if ids.size == 0:
            raise ValueError("the text is empty")
        return cls(ids, list(enc.tokens), one_hot_width(net, encoder.vocab_size or int(ids.max()) + 1))

    @property
    def joiner(self) -> str:
        return "" if all(len(t) <= 1 for t in self.tokens[:1000]) else " "

    @property
    def n_positions(self) -> int:
        return int(self.ids.shape[0])

    def text(self) -> str:
        return self.joiner.join(self.tokens)

    def context(self, pos: int, before: int = CONTEXT_BEFORE, after: int = CONTEXT_AFTER) -> tuple[str, int]:
        """The text around position `pos` and the index in it where the token at `pos` starts."""
        lo = max(0, pos - before)
        head = self.joiner.join(self.tokens[lo:pos])
        sep = self.joiner if head else ""
        tail = self.joiner.join(self.tokens[pos : pos + 1 + after])
        return head + sep + tail, len(head) + len(sep)


@dataclass(frozen=True, eq=False)
class ArrayCorpus:
    """A numeric batch (N, T, ...) in the model's input layout; position = n*T + t."""

    x: Array

    @property
    def n_positions(self) -> int:
        return int(self.x.shape[0] * self.x.shape[1])

    def context(self, pos: int) -> tuple[str, int]:
        n, t = divmod(pos, int(self.x.shape[1]))
        return f"sequence {n}, step {t}", 0


Corpus = TextCorpus | ArrayCorpus


def regex_mask(corpus: TextCorpus, pattern: str) -> Array:
    """(positions,) bool: True on every token covered by a match of `pattern` in the corpus text.

    Raises ValueError on a bad regular expression.
    """
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
    joiner = corpus.joiner
    # character offset where each token starts
    lengths = np.fromiter((len(t) for t in corpus.tokens), dtype=np.int64, count=len(corpus.tokens))
    starts = np.concatenate([[0], np.cumsum(lengths + len(joiner))[:-1]])
    text = corpus.text()
    cover = np.zeros(len(text) + 1, dtype=np.int64)
    for m in rx.finditer(text):
        if m.end() > m.start():
            cover[m.start()] += 1
            cover[m.end()] -= 1
    covered = np.cumsum(cover)[:-1] > 0
    return covered[starts] if len(text) else np.zeros(0, dtype=bool)


# ------------------------------------------------------------------------------------------ statistics


@dataclass
class LayerStats:
    """Streaming per-unit accumulators of one recurrent layer (trace name `layer`)."""

    layer: str
    kind: str
    units: int
    value: str
    top_k: int
    n_positions: int
    threshold: float
    n_masks: int = 0
    count: int = 0
    sums: Array = field(init=False)
    sumsq: Array = field(init=False)
    left: dict[str, Array] = field(init=False)
    right: dict[str, Array] = field(init=False)
    top_v: Array = field(init=False)
    top_p: Array = field(init=False)
    bot_v: Array = field(init=False)
    bot_p: Array = field(init=False)
    mask_n: Array = field(init=False)  # per hypothesis: sum of the mask
    mask_ss: Array = field(init=False)  # per hypothesis: sum of mask**2 (= mask_n for 0/1)
    mask_xs: Array = field(init=False)  # per hypothesis: (units,) sum of value * mask
    bits: Array = field(init=False)  # (positions, ceil(units / 8)) uint8, value > threshold

    def __post_init__(self) -> None:
        u, k = self.units, self.top_k
        self.sums = np.zeros(u)
        self.sumsq = np.zeros(u)
        gates = SIGMOID_GATES.get(self.kind, ())
        self.left = {g: np.zeros(u, dtype=np.int64) for g in gates}
        self.right = {g: np.zeros(u, dtype=np.int64) for g in gates}
        self.top_v = np.full((k, u), -np.inf, dtype=np.float32)
        self.top_p = np.full((k, u), -1, dtype=np.int64)
        self.bot_v = np.full((k, u), np.inf, dtype=np.float32)
        self.bot_p = np.full((k, u), -1, dtype=np.int64)
        self.mask_n = np.zeros(self.n_masks)
        self.mask_ss = np.zeros(self.n_masks)
        self.mask_xs = np.zeros((self.n_masks, u))
        self.bits = np.zeros((self.n_positions, (u + 7) // 8), dtype=np.uint8)

    def update(self, values: Array, gates: dict[str, Array], pos: Array, masks: Sequence[Array]) -> None:
        """Fold in `values` (n, u) float32 at positions `pos` (n,), `gates` g -> (n, u)."""
        if pos.size == 0:
            return
        v64 = values.astype(np.float64)
        self.count += int(pos.size)
        self.sums += v64.sum(axis=0)
        self.sumsq += np.einsum("ij,ij->j", v64, v64)
        for g in self.left:
            a = gates[g]
            self.left[g] += np.count_nonzero(a < SATURATION_LOW, axis=0)
            self.right[g] += np.count_nonzero(a > SATURATION_HIGH, axis=0)
        self.top_v, self.top_p = _merge_top(self.top_v, self.top_p, values, pos, largest=True)
        self.bot_v, self.bot_p = _merge_top(self.bot_v, self.bot_p, values, pos, largest=False)
        for j, m in enumerate(masks):
            mj = m[pos]
            self.mask_n[j] += mj.sum()
            self.mask_ss[j] += mj @ mj
            self.mask_xs[j] += mj @ v64
        self.bits[pos] = np.packbits(values > self.threshold, axis=1)

    # ---- results

    @property
    def mean(self) -> Array:
        return self.sums / max(self.count, 1)

    @property
    def std(self) -> Array:
        return np.asarray(np.sqrt(np.maximum(self.sumsq / max(self.count, 1) - self.mean**2, 0.0)))

    def saturation(self) -> dict[str, dict[str, Array]]:
        n = max(self.count, 1)
        return {g: {"left": self.left[g] / n, "right": self.right[g] / n} for g in self.left}

    def top(self, largest: bool = True) -> list[list[tuple[int, float]]]:
        """Per unit, [(position, value)] best first (largest or smallest value; ties: earlier position)."""
        vals, poss = (self.top_v, self.top_p) if largest else (self.bot_v, self.bot_p)
        out = []
        for j in range(self.units):
            keep = poss[:, j] >= 0
            v, p = vals[keep, j], poss[keep, j]
            order = np.lexsort((p, -v if largest else v))
            out.append([(int(p[i]), float(v[i])) for i in order])
        return out

    def correlation(self, j: int = 0) -> Array:
        """(units,) Pearson r between each unit's value and hypothesis j (0 where undefined)."""
        n = float(self.count)
        sm = self.mask_n[j]
        cov = n * self.mask_xs[j] - self.sums * sm
        var_x = n * self.sumsq - self.sums**2
        var_m = n * self.mask_ss[j] - sm**2
        with np.errstate(all="ignore"):
            r = cov / np.sqrt(var_x * var_m)
        return np.where(np.isfinite(r), np.clip(r, -1.0, 1.0), 0.0)

    def ranking(self, j: int = 0) -> list[tuple[int, float]]:
        """[(unit, r)] by |r| descending (sign kept)."""
        r = self.correlation(j)
        order = np.lexsort((np.arange(self.units), -np.abs(r)))
        return [(int(u), float(r[u])) for u in order]

    def match(self, start: int, stop: int, limit: int = 50) -> tuple[list[int], list[tuple[int, int]]]:
        """LSTMVis' match: the units on (value > threshold) at every position of [start, stop), and the
        other runs of positions where all of them are on, longest first: ([unit], [(start, stop)])."""
        sel = np.bitwise_and.reduce(self.bits[start:stop], axis=0)
        units = [int(u) for u in np.flatnonzero(np.unpackbits(sel)[: self.units])]
        if not units:
            return [], []
        hits = np.zeros(self.n_positions + 2, dtype=np.int8)
        for lo in range(0, self.n_positions, 1 << 16):
            block = self.bits[lo : lo + (1 << 16)]
            hits[lo + 1 : lo + 1 + len(block)] = np.all((block & sel) == sel, axis=1)
        edges = np.flatnonzero(np.diff(hits))
        runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if not (a < stop and b > start)]
        runs.sort(key=lambda r: (-(r[1] - r[0]), r[0]))
        return units, runs[:limit]


def _merge_top(vals: Array, poss: Array, new: Array, pos: Array, *, largest: bool) -> tuple[Array, Array]:
    """Keep the k largest (or smallest) of the kept (k, u) entries and the new (n, u) values."""
    k = vals.shape[0]
    key = -new if largest else new
    if new.shape[0] > k:
        idx = np.argpartition(key, k - 1, axis=0)[:k]
        nv, npos = np.take_along_axis(new, idx, axis=0), pos[idx]
    else:
        nv, npos = new, np.broadcast_to(pos[:, None], new.shape)
    allv = np.concatenate([vals, nv])
    allp = np.concatenate([poss, npos])
    idx = np.argpartition(-allv if largest else allv, k - 1, axis=0)[:k]
    return np.take_along_axis(allv, idx, axis=0), np.take_along_axis(allp, idx, axis=0)


# ------------------------------------------------------------------------------------------ running


@dataclass
class UnitsResult:
    """Everything one run collected: per-layer statistics plus what is needed to revisit the corpus."""

    corpus: Corpus
    layers: dict[str, LayerStats]
    mode: str  # 'continuous' or 'windows of N' or 'batch'
    hypotheses: list[str] = field(default_factory=list)
    keyframes: Keyframes | None = None
    window: int | None = None

    def layer(self, name: str | None = None) -> LayerStats:
        """The statistics of layer `name` (trace name or unique suffix); the first layer when None."""
        if name is None:
            return next(iter(self.layers.values()))
        if name in self.layers:
            return self.layers[name]
        hits = [k for k in self.layers if k.split("/")[0] == name or k.endswith("/" + name)]
        if len(hits) == 1:
            return self.layers[hits[0]]
        raise ValueError(f"no recurrent layer {name!r} (layers: {', '.join(self.layers)})")

    def values(self, net: Network, semantics: Semantics, name: str, start: int, stop: int) -> Array:
        """(stop - start, units) float32: layer `name`'s analysed value at positions [start, stop), recomputed
        exactly (from the key frame before `start`, or by re-running the windows / rows that hold them)."""
        st = self.layer(name)
        start, stop = max(0, start), min(self.corpus.n_positions, stop)
        if stop <= start:
            return np.zeros((0, st.units), np.float32)
        if self.keyframes is not None:
            src = _source(self.corpus)
            traj = self.keyframes.window(net, semantics, src, start, stop).layers[st.layer]
            return np.asarray(_value_of(traj, st.value)[0], dtype=np.float32)
        T = self.window or int(self.corpus.x.shape[1])  # type: ignore[union-attr]
        r0, r1 = start // T, (stop - 1) // T + 1
        if isinstance(self.corpus, TextCorpus):
            ids = self.corpus.ids
            rows = [ids_to_input(ids[None, r * T : (r + 1) * T], self.corpus.width) for r in range(r0, r1)]
        else:
            rows = [self.corpus.x[r : r + 1] for r in range(r0, r1)]
        out = []
        for x in rows:
            traj = engine.trace(net, x, semantics).layers[st.layer]
            out.append(_in_time_order(_value_of(traj, st.value), traj)[0])
        allv = np.concatenate(out)
        return np.asarray(allv[start - r0 * T : stop - r0 * T], dtype=np.float32)

    def report(self, name: str | None = None) -> dict[str, Any]:
        """The REPORT.json contract of `keras-inspector units` for one layer."""
        st = self.layer(name)
        sat = st.saturation()

        def entries(pairs: list[tuple[int, float]]) -> list[dict[str, Any]]:
            out = []
            for p, v in pairs:
                ctx, offset = self.corpus.context(p)
                out.append({"position": p, "value": v, "context": ctx, "offset": offset})
            return out

        rep: dict[str, Any] = {
            "layer": st.layer,
            "kind": st.kind,
            "units": st.units,
            "steps": st.count,
            "value": st.value,
            "mode": self.mode,
            "saturation": {g: {s: [float(x) for x in a] for s, a in d.items()} for g, d in sat.items()},
            "mean": [float(x) for x in st.mean],
            "std": [float(x) for x in st.std],
            "top": [entries(t) for t in st.top(True)],
            "bottom": [entries(t) for t in st.top(False)],
        }
        if self.hypotheses:
            rep["hypothesis"] = {
                "regex": self.hypotheses[0],
                "positions": int(st.mask_n[0]),
                "ranking": [{"unit": u, "r": r} for u, r in st.ranking(0)],
            }
        return rep


def _value_of(traj: Trajectory, value: str) -> Array:
    return traj.c if value == "c" and traj.c is not None else traj.h


def _in_time_order(a: Array, traj: Trajectory) -> Array:
    """(B, T, ...) in processing order -> input time order."""
    ti = np.asarray(traj.time_index)
    if ti.size and (ti[0] != 0 or ti[-1] != ti.size - 1):
        inv = np.empty_like(ti)
        inv[ti] = np.arange(ti.size)
        return a[:, inv]
    return a


def _fold(
    stats: dict[str, LayerStats],
    tr: Any,
    base: Array,
    masks: Sequence[Array],
    make: Callable[[str, Trajectory], LayerStats],
) -> None:
    """Fold one trace (B rows, T steps, row b starting at position base[b]) into the accumulators."""
    for key, traj in tr.layers.items():
        st = stats.get(key)
        if st is None:
            st = stats[key] = make(key, traj)
        B, T = traj.h.shape[:2]
        pos = (base[:, None] + np.arange(T)[None, :]).reshape(-1)
        src = _value_of(traj, st.value)
        vals = _in_time_order(src, traj).reshape(B * T, -1)
        gates = {g: _in_time_order(traj.gates[g], traj).reshape(B * T, -1) for g in st.left}
        valid = _in_time_order(np.asarray(traj.mask)[..., None], traj).reshape(-1)
        if not valid.all():
            pos, vals = pos[valid], vals[valid]
            gates = {g: a[valid] for g, a in gates.items()}
        st.update(np.asarray(vals, dtype=np.float32), gates, pos, masks)


def _windows(corpus: Corpus, window: int | None) -> Iterator[tuple[Array, Array]]:
    """(base positions (B,), model input) batches of independent rows."""
    if isinstance(corpus, ArrayCorpus):
        rows, T = corpus.x.shape[:2]
        step = max(1, BATCH_STEPS // max(T, 1))
        for r0 in range(0, rows, step):
            r1 = min(rows, r0 + step)
            yield np.arange(r0, r1) * T, corpus.x[r0:r1]
        return
    assert window is not None
    ids = corpus.ids
    n_full = ids.size // window
    step = max(1, BATCH_STEPS // window)
    for r0 in range(0, n_full, step):
        r1 = min(n_full, r0 + step)
        yield (
            np.arange(r0, r1) * window,
            ids_to_input(ids[r0 * window : r1 * window].reshape(-1, window), corpus.width),
        )
    if ids.size > n_full * window:
        yield np.array([n_full * window]), ids_to_input(ids[None, n_full * window :], corpus.width)


def analyse(
    net: Network,
    semantics: Semantics,
    corpus: Corpus,
    *,
    value: str | None = None,
    top: int = 10,
    window: int | None = None,
    hypotheses: Sequence[tuple[str, Array]] = (),
    threshold: float = 0.3,
    every: int = DEFAULT_EVERY,
    progress: Progress | None = None,
    cancelled: IsCancelled | None = None,
) -> UnitsResult:
    """Run the corpus through the model and collect per-unit statistics of every recurrent layer.

    Parameters
    ----------
    corpus : a TextCorpus (run as one continuous sequence unless `window`) or an ArrayCorpus (N, T, ...)
        (its rows run as a batch; a single row (1, T, ...) runs continuously unless `window`).
    value : 'c' or 'h'; default 'c' for LSTM layers, 'h' for the others ('c' is only for LSTM).
    top : K, how many largest / smallest positions to keep per unit.
    window : run the text in independent windows of this many steps (needed for Bidirectional).
    hypotheses : (name, (positions,) mask) pairs, a 0/1 mask (or any numeric column, e.g. a depth);
        each unit's Pearson r with each is collected.
    threshold : "on" threshold of the match bitset.
    every : chunk length (and key-frame interval) of a continuous run.
    progress : progress(done, total) in positions, called after each chunk.
    cancelled : checked before each chunk; when it returns True the run raises RunCancelledError.

    Returns
    -------
    UnitsResult; `keyframes` is filled for a continuous run (revisit any window exactly).

    Raises
    ------
    ValueError / InputShapeError / UnsupportedLayerError : the corpus or model cannot be run so.
    RunCancelledError : cancelled.
    """
    if top < 1:
        raise ValueError(f"--top must be at least 1, got {top}")
    if window is not None and window < 1:
        raise ValueError(f"--window must be at least 1, got {window}")
    if value not in (None, "c", "h"):
        raise ValueError(f"value must be 'c' or 'h', got {value!r}")
    n_pos = corpus.n_positions
    masks = [np.asarray(m, dtype=np.float64).reshape(-1) for _, m in hypotheses]
    for (name, _), m in zip(hypotheses, masks):
        if m.size != n_pos:
            raise ValueError(f"hypothesis {name!r} marks {m.size} positions, the corpus has {n_pos}")

    def make(key: str, traj: Trajectory) -> LayerStats:
        v = value or ("c" if traj.kind == "LSTM" else "h")
        if v == "c" and traj.kind != "LSTM":
            raise ValueError(f"layer {key!r} is a {traj.kind}: it has no cell state c (use --value h)")
        return LayerStats(key, traj.kind, traj.units, v, top, n_pos, threshold, n_masks=len(masks))

    stats: dict[str, LayerStats] = {}
    single = isinstance(corpus, TextCorpus) or corpus.x.shape[0] == 1
    keyframes = None
    if window is None and single:
        mode = "continuous"
        source = _source(corpus)
        keyframes = Keyframes(every, n_pos)
        for start, tr in run_chunks(
            net, semantics, source, every=every, keyframes=keyframes, progress=progress, cancelled=cancelled
        ):
            _fold(stats, tr, np.array([start]), masks, make)
    else:
        if isinstance(corpus, TextCorpus) and window is None:
            raise ValueError("a text needs either a continuous run or a window")
        if isinstance(corpus, ArrayCorpus) and window is not None:
            raise ValueError("--window applies to text; a numeric batch runs row by row")
        mode = "batch" if isinstance(corpus, ArrayCorpus) else f"windows of {window}"
        done = 0
        for base, x in _windows(corpus, window):
            if cancelled is not None and cancelled():
                raise RunCancelledError("cancelled")
            tr = engine.trace(net, x, semantics)
            _fold(stats, tr, base, masks, make)
            done += int(x.shape[0] * x.shape[1])
            if progress is not None:
                progress(done, n_pos)
    if not stats:
        raise ValueError("the model has no recurrent layer to analyse")
    return UnitsResult(corpus, stats, mode, [name for name, _ in hypotheses], keyframes, window)


def _source(corpus: Corpus) -> IdSource | ArraySource:
    return IdSource(corpus.ids, corpus.width) if isinstance(corpus, TextCorpus) else ArraySource(corpus.x)


# ------------------------------------------------------------------------------------------ files


def find_text_encoder(model_path: str, vocab_path: str | None = None) -> TextEncoder | None:
    """A character/word vocabulary encoder for this model: `vocab_path`, else the `<stem>.vocab.json`
    sidecar (None when there is none).  Models with a tokenizer or preprocessing layers: use
    `inspector.app.text.find_text_model`.

    Raises
    ------
    ValueError : '<file>: <reason>' for an unreadable vocabulary.
    """
    vocab = read_vocabulary(vocab_path) if vocab_path is not None else find_vocabulary(model_path)
    return VocabularyEncoder(vocab) if vocab else None


def read_corpus_array(net: Network, path: str) -> Array:
    """A numeric batch (N, T, ...) for `net` from an input file (`inspector.app.inputs.read_input_file`:
    .npy, the first array of an .npz, a .csv as one sequence); the batch axis is added when missing.

    Never unpickles.  Raises ValueError('<path>: <reason>').
    """
    data = read_input_file(path)
    try:
        (x,) = check_inputs(net, data.arrays[:1], free_time=True)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return x
