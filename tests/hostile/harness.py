"""Open one file the way the app does (reader, then engine) and classify what happened.

Used in-process by the tests and the fuzzer (with a SIGALRM timeout guard), and from a fresh
subprocess under an address-space limit by `probe.py` for files that could hang or blow memory.

Outcomes
--------
refused : `inspector.io.load` raised ModelFileError (the only acceptable failure of a load).
loaded : a ModelFile came back; `engine` then says what running it did:
    'ok' | 'clean-error' (UnsupportedLayerError / InputShapeError / ModelFileError) |
    'no-network' (weights only) | 'no-input-shape' | 'skipped' (input too large to synthesise) |
    'bug' (any other exception).
bug : load raised something other than ModelFileError (a traceback the user would see).
timeout : the guard fired.
"""

from __future__ import annotations

import resource
import signal
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MAX_SYNTH_DIM = 64  # inputs are synthesised only when every known dimension is this small


class GuardTimeout(BaseException):  # noqa: N818 - BaseException: a reader's `except Exception` cannot swallow it
    """The per-case time limit fired."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise GuardTimeout in the main thread after `seconds` (wall clock); 0 disables the guard."""
    if not seconds:
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise GuardTimeout(f"no answer after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def maxrss_mb() -> float:
    """Peak resident memory of this process so far, MiB.

    Linux: VmHWM of /proc/self/status, the peak of this address space only.  ru_maxrss is not used
    there because it survives exec: a probe started from a pytest process that holds TensorFlow
    (1+ GB, after the Keras oracle tests) would report the parent's memory as its own.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Result:
    path: str
    outcome: str
    seconds: float
    message: str = ""
    error_type: str = ""
    traceback: str = ""
    engine: str = ""
    engine_message: str = ""
    engine_traceback: str = ""
    unflagged_nonfinite: list[str] = field(default_factory=list)
    not_runnable: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    has_network: bool = False
    n_weights: int = 0
    damage: str = ""  # ModelFile.damage: read only in part (architecture unusable, weights shown)
    maxrss_growth_mb: float = 0.0
    preview: str = ""  # "" fine; otherwise what is wrong with the preview of this file
    mf: Any = None

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("mf")
        return d

    @property
    def ok(self) -> bool:
        """No bug: a clean refusal, or a load whose engine run is ok / clean / not applicable."""
        return not self.preview and (
            self.outcome == "refused"
            or (self.outcome == "loaded" and self.engine != "bug" and not self.unflagged_nonfinite)
        )

    def describe(self) -> str:
        s = f"{self.path}: {self.outcome} in {self.seconds:.2f}s"
        if self.outcome != "loaded":
            s += f" [{self.error_type}] {self.message}"
        else:
            s += f"; engine {self.engine} {self.engine_message}"
        if self.unflagged_nonfinite:
            s += f"; non-finite weights not flagged: {self.unflagged_nonfinite}"
        if self.preview:
            s += f"; preview: {self.preview}"
        if self.traceback or self.engine_traceback:
            s += "\n" + (self.traceback or self.engine_traceback)
        return s


def check_preview(path: str | Path, config: str | Path | None, mf: Any) -> str:
    """'' when `read_preview` (what the GUI paints first) behaves: no exception, and on a file that
    loads, a weight exactly equal to the full read's.  Otherwise what went wrong."""
    import numpy as np

    from inspector.core.network import find_weight
    from inspector.io.preview import read_preview

    try:
        got = read_preview(str(path), str(config) if config is not None else None)
    except GuardTimeout:
        raise
    except BaseException as exc:  # noqa: BLE001
        return f"raised {type(exc).__name__}: {str(exc)[:200]}\n{traceback.format_exc()}"
    if got is None or mf is None:
        return ""
    weight, pm, _ = got
    full, prev = find_weight(mf, weight), find_weight(pm, weight)
    if full is None or prev is None:
        return f"previewed weight {weight!r} is not in the file"
    a, b = np.asarray(full[1].value), np.asarray(prev[1].value)
    if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
        return f"previewed {weight!r} differs from the full read"
    return ""


def all_layers(mf: Any) -> list[Any]:
    """Every Layer of a ModelFile: network layers (recursively) and weight_layers."""
    out: list[Any] = []

    def walk(layer: Any) -> None:
        out.append(layer)
        for ch in layer.children:
            walk(ch)
        if layer.network is not None:
            for sub in layer.network.layers:
                walk(sub)

    if mf.network is not None:
        for lay in mf.network.layers:
            walk(lay)
    for lay in mf.weight_layers:
        walk(lay)
    return out


def problem_text(mf: Any) -> str:
    """Every problem note of a ModelFile (file level and per layer), one per line."""
    notes = list(mf.problems)
    for lay in all_layers(mf):
        notes += [f"{lay.name}: {p}" for p in lay.problems]
    return "\n".join(notes)


def nonfinite_flagged(mf: Any) -> list[str]:
    """Paths of weights holding NaN/Inf that nothing flags.

    A weight counts as flagged when `inspector.core.stats` reports it, or when a problem note of the
    file or layer mentions NaN/Inf.  Empty while `inspector.core.stats` does not exist yet.
    """
    bad = []
    for lay in mf.weight_layers or ():
        for path, w in lay.all_weights():
            if w.value.size and not np.isfinite(w.value).all():
                bad.append((lay, path, w))
    if not bad:
        return []
    try:
        from inspector.core import stats  # type: ignore[attr-defined]
    except ImportError:
        return []  # nothing to check against until the core's stats module exists
    notes = problem_text(mf).lower()
    unflagged = []
    for _lay, path, w in bad:
        if _stats_flags(stats, w.value):
            continue
        if any(k in notes for k in ("nan", "inf", "non-finite", "not finite")):
            continue
        unflagged.append(path)
    return unflagged


def _stats_flags(stats: Any, value: np.ndarray) -> bool:
    """Ask inspector.core.stats whether `value` is flagged as non-finite (API probed defensively)."""
    for fn_name in ("summary", "describe", "weight_stats", "summarize", "stats"):
        fn = getattr(stats, fn_name, None)
        if callable(fn):
            try:
                s = fn(value)
            except Exception:  # noqa: BLE001 - unknown API shape: try the next spelling
                continue
            for attr in ("n_nonfinite", "nonfinite", "n_nan", "has_nonfinite", "n_inf"):
                v = s.get(attr) if isinstance(s, dict) else getattr(s, attr, None)
                if v:
                    return True
    return False


def synth_inputs(net: Any, rng: np.random.Generator | None = None) -> list[np.ndarray] | None:
    """Random inputs that fit `net.input_shapes` (batch 2, unknown time 5); None if too large."""
    rng = rng or np.random.default_rng(0)
    xs = []
    dtypes = list(net.input_dtypes) + ["float32"] * len(net.input_shapes)
    for shape, dt in zip(net.input_shapes, dtypes):
        dims = []
        for k, s in enumerate(shape):
            if s is None:
                s = 2 if k == 0 else 5
            if not isinstance(s, (int, np.integer)) or s < 0 or s > MAX_SYNTH_DIM:
                return None
            dims.append(int(s))
        if str(dt).startswith(("int", "uint")):
            xs.append(rng.integers(0, 3, dims).astype(np.int32))
        else:
            xs.append(rng.normal(0, 1, dims).astype(np.float32))
    return xs


def run_engine(mf: Any, *, trace: bool = False) -> tuple[str, str, str]:
    """Run predict (and optionally trace) on synthetic inputs: (engine outcome, message, traceback)."""
    from inspector.core import engine
    from inspector.core.errors import InputShapeError, UnsupportedLayerError
    from inspector.io.errors import ModelFileError

    if mf.network is None:
        return "no-network", "", ""
    if not mf.network.input_shapes:
        return "no-input-shape", "", ""
    xs = synth_inputs(mf.network)
    if xs is None:
        return "skipped", f"input shapes {mf.network.input_shapes} too large to synthesise", ""
    try:
        outs = engine.predict(mf.network, xs if len(xs) > 1 else xs[0], mf.semantics)
        if not isinstance(outs, list) or not all(isinstance(o, np.ndarray) for o in outs):
            return "bug", f"predict returned {type(outs).__name__}, not a list of arrays", ""
        if trace:
            engine.trace(mf.network, xs if len(xs) > 1 else xs[0], mf.semantics)
    except (UnsupportedLayerError, InputShapeError, ModelFileError) as exc:
        return "clean-error", f"{type(exc).__name__}: {exc}", ""
    except GuardTimeout:
        raise
    except MemoryError as exc:
        return "bug", f"MemoryError: {exc}", traceback.format_exc()
    except Exception as exc:  # noqa: BLE001 - classify, do not crash the harness
        return "bug", f"{type(exc).__name__}: {exc}", traceback.format_exc()
    return "ok", "", ""


def open_file(
    path: str | Path,
    config: str | Path | None = None,
    *,
    engine: bool = True,
    trace: bool = False,
    timeout: float = 5.0,
    keep: bool = False,
) -> Result:
    """Load `path` like the app does and classify the outcome (see module docstring)."""
    from inspector.io import load
    from inspector.io.errors import ModelFileError

    rss0 = maxrss_mb()
    t0 = time.perf_counter()
    res = Result(str(path), "bug", 0.0)
    try:
        with time_limit(timeout):
            try:
                mf = load(str(path), config=str(config) if config is not None else None)
            except ModelFileError as exc:
                res.outcome, res.message, res.error_type = "refused", str(exc), "ModelFileError"
            except GuardTimeout:
                raise
            except BaseException as exc:  # noqa: BLE001 - RecursionError, MemoryError, KeyboardInterrupt...
                res.outcome, res.message, res.error_type = "bug", str(exc)[:500], type(exc).__name__
                res.traceback = traceback.format_exc()
            else:
                res.outcome = "loaded"
                res.has_network = mf.network is not None
                res.damage = mf.damage or ""
                res.problems = problem_text(mf).splitlines()
                res.not_runnable = [lay.name for lay in all_layers(mf) if not lay.runnable]
                res.n_weights = sum(len(lay.all_weights()) for lay in mf.weight_layers)
                res.unflagged_nonfinite = nonfinite_flagged(mf)
                if engine:
                    res.engine, res.engine_message, res.engine_traceback = run_engine(mf, trace=trace)
                if keep:
                    res.mf = mf
            res.preview = check_preview(path, config, mf if res.outcome == "loaded" else None)
    except GuardTimeout as exc:
        res.outcome, res.message, res.error_type = "timeout", str(exc), "GuardTimeout"
        res.traceback = traceback.format_exc()
    res.seconds = time.perf_counter() - t0
    res.maxrss_growth_mb = maxrss_mb() - rss0
    return res
