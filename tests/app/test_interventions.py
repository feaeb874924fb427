"""Interventions: ablation against an independent numpy replay, input edits against Keras, the list's undo,
and the trace data export (.npz / .csv)."""

from __future__ import annotations

import csv
import inspect
from pathlib import Path

import numpy as np
import pytest

from inspector.app.interventions import (
    EditInput,
    InterventionError,
    InterventionList,
    apply_edits,
    describe,
    run_counterfactual,
)
from inspector.app.trace_export import CSV_COLUMNS, write_trace_csv, write_trace_npz
from inspector.core import engine
from inspector.io import load

# ------------------------------------------------------------------------------ independent replay

ENGINE_IV = "interventions" in inspect.signature(engine.trace).parameters
needs_engine_iv = pytest.mark.skipif(
    not ENGINE_IV, reason="engine.trace(interventions=) not merged from core yet"
)


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def replay(kind: str, W: np.ndarray, U: np.ndarray, b: np.ndarray, x: np.ndarray, unit: int, start: int):
    """Plain float64 loop over the LSTM / GRU (reset_after) equations, Keras gate order; after every
    step t >= start, h[unit] (and c[unit]) := 0.  Returns the hidden state of every step (B, T, u)."""
    B, T, _ = x.shape
    u = U.shape[0]
    h, c = np.zeros((B, u)), np.zeros((B, u))
    hs = []
    for t in range(T):
        if kind == "LSTM":
            z = x[:, t] @ W + h @ U + b
            i, f, g, o = (
                _sig(z[:, :u]),
                _sig(z[:, u : 2 * u]),
                np.tanh(z[:, 2 * u : 3 * u]),
                _sig(z[:, 3 * u :]),
            )
            c = f * c + i * g
            h = o * np.tanh(c)
        else:  # GRU reset_after=True, bias rows [input, recurrent]
            xw, hu = x[:, t] @ W + b[0], h @ U + b[1]
            zg = _sig(xw[:, :u] + hu[:, :u])
            r = _sig(xw[:, u : 2 * u] + hu[:, u : 2 * u])
            hh = np.tanh(xw[:, 2 * u :] + r * hu[:, 2 * u :])
            h = zg * h + (1 - zg) * hh
        if t >= start:
            h = h.copy()
            h[:, unit] = 0.0
            c = c.copy()
            c[:, unit] = 0.0
        hs.append(h)
    return np.stack(hs, axis=1)


@needs_engine_iv
@pytest.mark.parametrize(("case", "kind"), [("lstm_last", "LSTM"), ("gru_reset_after", "GRU")])
@pytest.mark.parametrize("start", [0, 3])
def test_ablation_matches_independent_replay(oracle, case: str, kind: str, start: int) -> None:
    interventions = pytest.importorskip("inspector.core.interventions")
    o = oracle["keras3"]
    ref = o.arrays(case)
    x = ref["in_0"]
    mf = load(o.path(case))
    net = mf.network
    rnn = next(lay for lay in net.layers if lay.kind == kind)
    dense = next(lay for lay in net.layers if lay.kind == "Dense")
    W, U, b = (np.asarray(rnn.weight(n).value, np.float64) for n in ("kernel", "recurrent_kernel", "bias"))
    hs = replay(kind, W, U, b, x.astype(np.float64), unit=2, start=start)
    ablate = interventions.Ablate(rnn.name, 2, start)
    tr = engine.trace(net, x, mf.semantics, interventions=(ablate,))
    np.testing.assert_allclose(tr.layers[rnn.name].h, hs, atol=1e-5)
    # downstream: the Dense head sees the ablated state (softmax for lstm_last, linear per step for GRU)
    z = (hs[:, -1] if kind == "LSTM" else hs) @ dense.weight("kernel").value + dense.weight("bias").value
    want = np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)
    np.testing.assert_allclose(tr.outputs[0], want if kind == "LSTM" else z, atol=1e-5)
    # and the ablation really changed something
    assert np.abs(tr.outputs[0] - ref["out_0"]).max() > 1e-4


@needs_engine_iv
def test_cli_ablate(oracle, tmp_path: Path, capsys) -> None:
    pytest.importorskip("inspector.core.interventions")
    from inspector.cli import main

    o = oracle["keras3"]
    ref = o.arrays("lstm_last")
    np.save(tmp_path / "X.npy", ref["in_0"])
    model = str(o.path("lstm_last"))
    mf = load(model)
    name = next(lay.name for lay in mf.network.layers if lay.kind == "LSTM")
    W, U, b = (
        np.asarray(mf.network.layer(name).weight(n).value, np.float64)
        for n in ("kernel", "recurrent_kernel", "bias")
    )
    hs = replay("LSTM", W, U, b, ref["in_0"].astype(np.float64), unit=1, start=2)
    args = ["trace", model, "--input", str(tmp_path / "X.npy"), "--output", str(tmp_path / "T.npz")]
    assert main([*args, "--ablate", f"{name}:1", "--from", "2"]) == 0
    with np.load(tmp_path / "T.npz") as z:
        np.testing.assert_allclose(z[f"{name}/h"], hs, atol=1e-5)
    assert main([*args, "--ablate", f"{name}:99"]) == 2
    assert "units 0..4" in capsys.readouterr().err
    assert main([*args, "--ablate", "nosuch:1"]) == 2


# ------------------------------------------------------------------------------ input edits


def test_edit_input_counterfactual_matches_keras_occlusion(oracle) -> None:
    """Setting step t of sample n to 0 is Keras' occluded run (recorded by the oracle)."""
    o = oracle["tf_keras"]
    ref = o.arrays("attr_lstm")
    mf = load(o.path("attr_lstm"))
    x = ref["in_0"]
    T = x.shape[1]
    t, n = 2, 1
    cf = run_counterfactual(mf.network, x, mf.semantics, [EditInput(step=t, value=0.0, sample=n)])
    assert cf.outputs_original.shape == (3, T, ref["out_0"].shape[1])
    np.testing.assert_allclose(cf.outputs_original[:, -1], ref["out_0"], atol=1e-5)
    np.testing.assert_allclose(cf.outputs_changed[n, -1], ref["out_0"][n] - ref["occlusion"][n, t], atol=1e-5)
    np.testing.assert_allclose(cf.difference[[0, 2]], 0.0, atol=1e-6)  # other samples untouched
    np.testing.assert_allclose(cf.difference[n, :t], 0.0, atol=1e-6)  # before the edit: no change
    div = cf.divergence["lstm"]
    assert div.shape == (3, T)
    assert np.all(div[n, :t] == 0) and div[n, t] > 1e-4


def test_apply_edits_checks_bounds() -> None:
    x = np.zeros((2, 4, 3), np.float32)
    out = apply_edits([x], [EditInput(1, [1.0, 2.0, 3.0], sample=0)])
    assert out[0][0, 1].tolist() == [1.0, 2.0, 3.0] and x.sum() == 0  # a copy
    with pytest.raises(InterventionError, match="step 9"):
        apply_edits([x], [EditInput(9, 0.0)])


def test_intervention_list_undo() -> None:
    seen = []
    ivs = InterventionList()
    ivs.changed.connect(seen.append)
    a, b = EditInput(1, 0.0), EditInput(2, 5)
    ivs.add(a)
    ivs.add(b)
    ivs.remove(0)
    assert ivs.items == (b,)
    ivs.undo()
    assert ivs.items == (a, b)
    ivs.clear()
    ivs.undo()
    ivs.undo()
    assert ivs.items == (a,) and len(seen) == 7
    assert describe(b) == "edit input 0 at step 2 -> 5"


# ------------------------------------------------------------------------------ trace data export


def test_trace_npz_and_csv(oracle, tmp_path: Path) -> None:
    o = oracle["tf_keras"]
    ref = o.arrays("lstm_backwards_nobias")
    mf = load(o.path("lstm_backwards_nobias"))
    tr = engine.trace(mf.network, ref["in_0"], mf.semantics)
    key = next(iter(tr.layers))
    npz = write_trace_npz(tr, tmp_path / "trace.npz")
    with np.load(npz, allow_pickle=False) as z:
        assert {f"{key}/h", f"{key}/c", f"{key}/gates/i", f"{key}/time_index", "output/0"} <= set(z.files)
        np.testing.assert_allclose(z["output/0"], ref["out_0"], atol=1e-5)  # Keras' own output
        assert z[f"{key}/time_index"].tolist() == list(range(ref["in_0"].shape[1]))[::-1]  # go_backwards
    path = write_trace_csv(tr, tmp_path / "trace.csv")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    traj = tr.layers[key]
    B, T, u = traj.h.shape
    n_lstm = B * T * u * 6  # h, c and four gates
    assert len(rows) - 1 == n_lstm + ref["out_0"].size
    # one h value, read back: sample 1, processing step 2 (input step T-3), unit 3
    hit = [r for r in rows[1:] if r[:6] == ["1", "2", str(T - 3), key, "h", "3"]]
    assert len(hit) == 1 and abs(float(hit[0][6]) - traj.h[1, 2, 3]) < 1e-7
    outs = [r for r in rows[1:] if r[3] == "output_0"]
    got = np.array([float(r[6]) for r in outs]).reshape(ref["out_0"].shape)
    np.testing.assert_allclose(got, ref["out_0"], atol=1e-5)


# ------------------------------------------------------------------------------ multi-input models


def test_counterfactual_on_inputs_of_different_lengths() -> None:
    """Two id sequences of different lengths and a plain vector (a real third-party file): every
    sequence input is cut after step t (the shorter one is whole once t passes its end), the vector
    never; the outputs per step equal predict on those cut inputs, written out here."""
    from tests.conftest import CORPUS

    path = CORPUS / "k2.2.4_hiv_functional_2x_embedding_lstm_full.hdf5"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    mf = load(str(path))
    net, sem = mf.network, mf.semantics
    rng = np.random.default_rng(0)
    xs = [rng.integers(1, 18, (1, 7)), rng.integers(1, 18, (1, 11)), rng.random((1, 2)).astype(np.float32)]
    t_edit = 3
    cf = run_counterfactual(net, xs, sem, [EditInput(step=t_edit, value=0, input_index=0)])
    np.testing.assert_array_equal(cf.steps, np.arange(11))
    assert cf.outputs_original.shape == (1, 11, 1)
    edited = [xs[0].copy(), xs[1], xs[2]]
    edited[0][0, t_edit] = 0
    for t in (0, 2, 6, 7, 10):
        cut = [xs[0][:, : t + 1], xs[1][:, : t + 1], xs[2]]
        want = engine.predict(net, cut, sem)[0]
        np.testing.assert_allclose(cf.outputs_original[:, t], want, atol=1e-6)
        want_cf = engine.predict(net, [edited[0][:, : t + 1], xs[1][:, : t + 1], xs[2]], sem)[0]
        np.testing.assert_allclose(cf.outputs_changed[:, t], want_cf, atol=1e-6)
    np.testing.assert_allclose(cf.outputs_original[:, -1], engine.predict(net, xs, sem)[0], atol=1e-6)
    np.testing.assert_allclose(cf.difference[0, :t_edit], 0.0, atol=1e-7)  # before the edit: no change
    assert np.abs(cf.difference[0, t_edit:]).max() > 1e-5
    assert cf.divergence["lstm_1"].shape == (1, 7) and cf.divergence["lstm_2"].shape == (1, 11)
    assert np.all(cf.divergence["lstm_2"] == 0) and cf.divergence["lstm_1"][0, t_edit] > 0
