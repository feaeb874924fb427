"""Parity: our reader + engine against real Keras (tf_keras 2.21, Keras 3.15.1). Truth is Keras, not us.

Every reference here was computed by Keras in a subprocess (tests/parity/generate.py): `model.predict`
outputs and Keras' own per-step h / c of every recurrent layer.  We load each saved file with
`inspector.io.load`, run `inspector.core.engine.predict` / `trace`, and require atol = rtol = 1e-5.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest


def _load_generator():
    """generate.py, imported by path (it imports no TensorFlow at module level); shared with conftest."""
    name = "inspector_parity_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("generate.py"))
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


gen = _load_generator()

pytestmark = pytest.mark.keras

ATOL = RTOL = 1e-5

GENERATED = [
    pytest.param(flavor, name, fmt, id=f"{flavor}-{name}-{fmt}")
    for flavor in gen.FLAVORS
    for name in gen.case_names(flavor)
    for fmt in gen.FORMATS[flavor]
]
CORPUS = [
    pytest.param(flavor, name, id=f"{flavor}-{name}")
    for flavor in gen.FLAVORS
    for name in gen.corpus_case_names(flavor)
]


# ---- helpers -------------------------------------------------------------------------------------


def _engine():
    from inspector.core import engine
    from inspector.io import load

    return load, engine


def _inputs(data, entry: dict[str, Any]) -> list[np.ndarray]:
    arrs = data.arrays(entry["inputs"])
    return [arrs[f"in_{i}"] for i in range(len(arrs))]


def _err(got: np.ndarray, want: np.ndarray) -> float:
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        return float("inf")
    return float(np.max(np.abs(got - want))) if want.size else 0.0


def _status(got: np.ndarray, want: np.ndarray, want64: np.ndarray | None = None) -> str:
    """'ok' within atol = rtol = 1e-5 of Keras; 'floor' where Keras' own float32 result is itself
    further than that from Keras run in float64 (long sequences, large cell states) and the engine is
    no further from the float64 result than twice Keras' own float32 error; else 'bad'."""
    got = np.asarray(got)
    if got.shape != want.shape:
        return "bad"
    if np.allclose(got, want, atol=ATOL, rtol=RTOL):
        return "ok"
    if want64 is None:
        return "bad"
    floor = float(np.max(np.abs(want - want64)))
    return "floor" if float(np.max(np.abs(got - want64))) <= 2.0 * floor + ATOL else "bad"


def _floor_note(got: np.ndarray, want: np.ndarray, want64: np.ndarray | None) -> str:
    if want64 is None or np.shape(got) != want.shape:
        return ""
    return (
        f" (vs Keras float64: engine {np.max(np.abs(np.asarray(got) - want64)):.3g},"
        f" Keras float32 {np.max(np.abs(want - want64)):.3g})"
    )


def _record(results, test_id: str, what: str, errs: dict[str, float], ok: bool, **extra) -> None:
    finite = [e for e in errs.values() if e is not None]
    results.append(
        {
            "id": test_id,
            "what": what,
            "ok": ok,
            "max_abs_err": max(finite) if finite else None,
            "errors": errs,
        }
        | extra
    )


def _load(data, entry: dict[str, Any], path: Path, config: Path | None):
    load, _ = _engine()
    mf = load(str(path), config=None if config is None else str(config))
    assert mf.network is not None, f"{path.name}: no network (problems: {mf.problems})"
    return mf


def _compare_outputs(
    got: list[np.ndarray], expected: dict[str, np.ndarray], n: int
) -> tuple[dict, list, list]:
    """(max abs error per output, failure messages, float32-noise-floor notes)."""
    errs, bad, floor = {}, [], []
    if len(got) != n:
        return {"n_outputs": float("inf")}, [f"engine returned {len(got)} outputs, Keras {n}"], []
    for k in range(n):
        want, want64 = expected[f"out_{k}"], expected.get(f"out64_{k}")
        errs[f"out_{k}"] = _err(got[k], want)
        msg = f"output {k}: shape {np.shape(got[k])} vs {want.shape}, max abs err {errs[f'out_{k}']:.3g}"
        st = _status(got[k], want, want64)
        if st != "ok":
            (bad if st == "bad" else floor).append(msg + _floor_note(got[k], want, want64))
    return errs, bad, floor


def _compare_traces(tr, entry: dict[str, Any], expected: dict[str, np.ndarray]) -> tuple[dict, list, list]:
    """Engine Trajectory h/c vs Keras' per-step h/c for every recurrent layer of the case."""
    errs: dict[str, float] = {}
    bad: list[str] = []
    floor: list[str] = []
    by_key: dict[str, list[dict[str, Any]]] = {}
    for t in entry["traces"]:
        by_key.setdefault(t["key"], []).append(t)
    for key, calls in by_key.items():
        if key not in tr.layers:
            bad.append(f"trace has no layer {key!r} (has {sorted(tr.layers)})")
            continue
        traj = tr.layers[key]
        # a layer called several times (shared): the contract keys by name, accept any of its calls
        best: tuple[float, list[str], list[str]] | None = None
        for t in calls:
            e, msgs, notes = 0.0, [], []
            for part in ("h", "c"):
                if t[part] is None:
                    continue
                want = expected[t[part]]
                want64 = expected.get(t[part][0] + "64" + t[part][1:])
                got = getattr(traj, part)
                if got is None:
                    msgs.append(f"{key}.{part} is None")
                    e = float("inf")
                    continue
                pe = _err(got, want)
                e = max(e, pe)
                st = _status(got, want, want64)
                if st != "ok":
                    msg = f"{key}.{part}: shape {np.shape(got)} vs {want.shape}, max abs err {pe:.3g}"
                    (msgs if st == "bad" else notes).append(msg + _floor_note(got, want, want64))
            if best is None or (len(msgs), e) < (len(best[1]), best[0]):
                best = (e, msgs, notes)
        assert best is not None
        errs[key] = best[0]
        bad += best[1]
        floor += best[2]
    return errs, bad, floor


# ---- generated models: every case x every format the flavor writes ------------------------------


def _generated(parity, flavor: str, name: str, fmt: str):
    data = parity[flavor]
    entry = data.case(name)
    if fmt in entry["save_errors"]:
        pytest.skip(f"Keras itself cannot save this model as {fmt}: {entry['save_errors'][fmt]}")
    f = entry["files"][fmt]
    path = data.root / f["file"]
    config = data.root / f["config"] if f["config"] else None
    return data, entry, path, config


@pytest.mark.parametrize(("flavor", "name", "fmt"), GENERATED)
def test_predict_matches_keras(parity, parity_results, flavor: str, name: str, fmt: str) -> None:
    data, entry, path, config = _generated(parity, flavor, name, fmt)
    _, engine = _engine()
    tid = f"{flavor}-{name}-{fmt}"
    try:
        mf = _load(data, entry, path, config)
        got = engine.predict(mf.network, _inputs(data, entry), mf.semantics)
    except Exception as e:
        _record(parity_results, tid, "predict", {}, False, exception=f"{type(e).__name__}: {e}")
        raise
    errs, bad, floor = _compare_outputs(list(got), data.arrays(entry["expected"]), entry["n_outputs"])
    _record(parity_results, tid, "predict", errs, not bad, note=entry["note"], floor=floor)
    assert not bad, f"{tid} ({entry['note'] or 'no note'}):\n  " + "\n  ".join(bad)


@pytest.mark.parametrize(("flavor", "name", "fmt"), GENERATED)
def test_trace_matches_keras(parity, parity_results, flavor: str, name: str, fmt: str) -> None:
    data, entry, path, config = _generated(parity, flavor, name, fmt)
    if not entry["traces"]:
        pytest.skip("no recurrent layer")
    _, engine = _engine()
    tid = f"{flavor}-{name}-{fmt}"
    try:
        mf = _load(data, entry, path, config)
        tr = engine.trace(mf.network, _inputs(data, entry), mf.semantics)
    except Exception as e:
        _record(parity_results, tid, "trace", {}, False, exception=f"{type(e).__name__}: {e}")
        raise
    expected = data.arrays(entry["expected"])
    errs, bad, floor = _compare_traces(tr, entry, expected)
    oerrs, obad, ofloor = _compare_outputs(list(tr.outputs), expected, entry["n_outputs"])
    errs |= {f"trace.{k}": v for k, v in oerrs.items()}
    bad += [f"Trace.outputs {m}" for m in obad]
    floor += [f"Trace.outputs {m}" for m in ofloor]
    _record(parity_results, tid, "trace", errs, not bad, note=entry["note"], floor=floor)
    assert not bad, f"{tid} ({entry['note'] or 'no note'}):\n  " + "\n  ".join(bad)


# ---- the third-party corpus ----------------------------------------------------------------------


@pytest.mark.parametrize(("flavor", "name"), CORPUS)
def test_corpus_matches_keras(parity, parity_results, corpus_dir: Path, flavor: str, name: str) -> None:
    data = parity[flavor]
    entry = data.case(name, corpus=True)
    path = corpus_dir / entry["file"]
    cfg = entry["config"]
    if cfg is None:
        config = None
    elif cfg.startswith("corpus:"):
        config = corpus_dir / cfg.split(":", 1)[1]
    else:
        config = data.root / cfg
    _, engine = _engine()
    tid = f"corpus-{flavor}-{name}"
    try:
        mf = _load(data, entry, path, config)
        inputs = _inputs(data, entry)
        got = engine.predict(mf.network, inputs, mf.semantics)
        tr = engine.trace(mf.network, inputs, mf.semantics) if entry["traces"] else None
    except Exception as e:
        _record(parity_results, tid, "corpus", {}, False, exception=f"{type(e).__name__}: {e}")
        raise
    expected = data.arrays(entry["expected"])
    errs, bad, floor = _compare_outputs(list(got), expected, entry["n_outputs"])
    if tr is not None:
        terrs, tbad, tfloor = _compare_traces(tr, entry, expected)
        errs |= {f"trace.{k}": v for k, v in terrs.items()}
        bad += tbad
        floor += tfloor
    _record(parity_results, tid, "corpus", errs, not bad, note=entry["note"], how=entry["how"], floor=floor)
    assert not bad, f"{tid} [{entry['file']}, reference via {entry['how']}]:\n  " + "\n  ".join(bad)


# ---- Stepper.outputs_at(t) vs Keras on the input cut after timestep t ----------------------------

STEPPER = [
    pytest.param(flavor, name, id=f"{flavor}-{name}")
    for flavor in gen.FLAVORS
    for name in gen.case_names(flavor)
]


@pytest.mark.parametrize(("flavor", "name"), STEPPER)
def test_stepper_outputs_match_keras(parity, parity_results, flavor: str, name: str) -> None:
    """`Stepper.outputs_at(t)` must equal Keras run on every sequence input cut to t+1 timesteps."""
    data = parity[flavor]
    entry = data.case(name)
    pre = entry.get("prefixes") or {}
    if not pre.get("steps"):
        pytest.skip(f"no Keras prefix oracle: {pre.get('skipped', 'Keras refused every cut')}")
    fmt = next(f for f, (_, weights_only) in gen.FORMATS[flavor].items() if not weights_only)
    _, entry, path, config = _generated(parity, flavor, name, fmt)
    from inspector.core.stepper import Stepper

    tid = f"{flavor}-{name}-stepper"
    try:
        mf = _load(data, entry, path, config)
        stepper = Stepper(mf.network, _inputs(data, entry), mf.semantics)
        got = {t: stepper.outputs_at(t) for t in pre["steps"]}
    except Exception as e:
        _record(parity_results, tid, "stepper", {}, False, exception=f"{type(e).__name__}: {e}")
        raise
    expected = data.arrays(entry["expected"])
    errs: dict[str, float] = {}
    bad: list[str] = []
    for t in pre["steps"]:
        want = {int(k.split("_")[2]): v for k, v in expected.items() if k.startswith(f"pre_{t}_")}
        e, msgs, _ = _compare_outputs(list(got[t]), {f"out_{k}": v for k, v in want.items()}, len(want))
        errs |= {f"t{t}.{k}": v for k, v in e.items()}
        bad += [f"t={t}: {m}" for m in msgs]
    _record(parity_results, tid, "stepper", errs, not bad, note=entry["note"])
    assert not bad, f"{tid} ({entry['note'] or 'no note'}):\n  " + "\n  ".join(bad)
