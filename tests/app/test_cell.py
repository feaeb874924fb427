"""The cell explanation: every term checked against a numpy replay written here and against tf_keras.

Models come from tests/app/cell_oracle.py (tf_keras, run once in a subprocess, cached under
tests/.generated/cell/<hash of the oracle>/).  The reference below is written from the Keras
formulas, with its own activations, from the weights exactly as Keras' get_weights() returned them.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from inspector import io
from inspector.app.cell import CellExplanation, describe, explain, recurrent_layer
from inspector.core import engine

HERE = Path(__file__).resolve().parent
ORACLE = HERE / "cell_oracle.py"
CASES = ("lstm", "lstm_hard", "gru_after", "gru_before", "rnn")


@pytest.fixture(scope="module")
def oracle_dir(keras_oracle: ModuleType, generated_dir: Path) -> Path:
    runs = keras_oracle.run(
        "cell", ORACLE, generated_dir, ("tf_keras",), args=keras_oracle.out_only, done="done"
    )
    return runs["tf_keras"].folder()


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def hard_sigmoid_tf_keras(v):
    return np.clip(0.2 * v + 0.5, 0.0, 1.0)


def reference(name: str, ref: dict) -> list[dict]:
    """Per step t, the gates' W·x, U·h, b, pre-activations, values and the states (float64)."""
    W, U, b = (ref[k].astype(np.float64) for k in ("kernel", "recurrent_kernel", "bias"))
    x = ref["x"].astype(np.float64)
    rec = hard_sigmoid_tf_keras if name in ("lstm_hard", "gru_before") else sigmoid
    B, T, _ = x.shape
    u = U.shape[0]
    h = np.zeros((B, u))
    c = np.zeros((B, u))
    steps = []
    for t in range(T):
        xt = x[:, t]
        st: dict = {"h_prev": h.copy(), "c_prev": c.copy()}
        if name.startswith("lstm"):
            keys = "ifco"
            for k, key in enumerate(keys):
                cols = slice(k * u, (k + 1) * u)
                wx, uh, bb = xt @ W[:, cols], h @ U[:, cols], b[cols]
                pre = wx + uh + bb
                st[key] = {
                    "wx": wx,
                    "uh": uh,
                    "b": bb,
                    "pre": pre,
                    "value": np.tanh(pre) if key == "c" else rec(pre),
                }
            st["forget_term"] = st["f"]["value"] * c
            st["input_term"] = st["i"]["value"] * st["c"]["value"]
            c = st["forget_term"] + st["input_term"]
            h = st["o"]["value"] * np.tanh(c)
        elif name.startswith("gru"):
            after = name == "gru_after"
            b_in, b_rec = (b[0], b[1]) if after else (b, np.zeros_like(b))
            parts = {}
            for k, key in enumerate("zr"):
                cols = slice(k * u, (k + 1) * u)
                wx, uh = xt @ W[:, cols], h @ U[:, cols]
                pre = wx + uh + b_in[cols] + b_rec[cols]
                parts[key] = {"wx": wx, "uh": uh, "b": b_in[cols], "pre": pre, "value": rec(pre)}
            cols = slice(2 * u, 3 * u)
            r = parts["r"]["value"]
            wx = xt @ W[:, cols]
            if after:
                uh = h @ U[:, cols]
                pre = wx + b_in[cols] + r * (uh + b_rec[cols])
            else:
                uh = (r * h) @ U[:, cols]
                pre = wx + uh + b_in[cols]
            parts["h"] = {"wx": wx, "uh": uh, "b": b_in[cols], "pre": pre, "value": np.tanh(pre)}
            st.update(parts)
            z = parts["z"]["value"]
            st["keep_term"] = z * h
            st["new_term"] = (1 - z) * parts["h"]["value"]
            h = st["keep_term"] + st["new_term"]
        else:
            wx, uh = xt @ W, h @ U
            pre = wx + uh + b
            st["h"] = {"wx": wx, "uh": uh, "b": b, "pre": pre, "value": np.tanh(pre)}
            h = np.tanh(pre)
        st["h_out"], st["c_out"] = h.copy(), c.copy()
        steps.append(st)
    return steps


def _explanations(oracle_dir: Path, name: str):
    mf = io.load(str(oracle_dir / f"{name}.h5"))
    ref = dict(np.load(oracle_dir / f"{name}.npz"))
    tr = engine.trace(mf.network, ref["x"], mf.semantics)
    traj = tr.layers[name]
    B, T, _ = ref["x"].shape
    out = {
        (n, t, unit): explain(mf.network, mf.semantics, traj, unit, t, sample=n)
        for n in range(B)
        for t in range(T)
        for unit in range(traj.units)
    }
    return out, ref, reference(name, ref)


@pytest.mark.parametrize("name", CASES)
def test_terms_match_an_independent_replay_and_keras(oracle_dir: Path, name: str) -> None:
    expl, ref, steps = _explanations(oracle_dir, name)
    worst_keras = 0.0
    for (n, t, unit), e in expl.items():
        st = steps[t]
        assert e.time == t and e.unit == unit and not e.masked
        for g in e.gates:
            r = st[g.key]
            # the terms sum to the pre-activation, and the activation of it is the recorded gate
            assert sum(v for _, v in g.terms) == pytest.approx(g.pre, abs=1e-5)
            assert g.wx == pytest.approx(r["wx"][n, unit], abs=2e-5)
            assert g.uh == pytest.approx(r["uh"][n, unit], abs=2e-5)
            assert g.bias == pytest.approx(r["b"][unit], abs=1e-7)
            assert g.pre == pytest.approx(r["pre"][n, unit], abs=2e-5)
            assert g.value == pytest.approx(r["value"][n, unit], abs=2e-6)
        assert e.h_prev == pytest.approx(st["h_prev"][n, unit], abs=2e-6)
        assert e.h == pytest.approx(st["h_out"][n, unit], abs=2e-6)
        worst_keras = max(worst_keras, abs(e.h - ref["h"][n, t, unit]))
        if e.kind == "LSTM":
            assert e.c_prev == pytest.approx(st["c_prev"][n, unit], abs=2e-6)
            assert e.forget_term == pytest.approx(st["forget_term"][n, unit], abs=2e-6)
            assert e.input_term == pytest.approx(st["input_term"][n, unit], abs=2e-6)
            # the update's terms reproduce c_t, and o·tanh(c) is h, as Keras computed them
            assert e.forget_term + e.input_term == pytest.approx(ref["c"][n, t, unit], abs=1e-5)
            assert e.gate("o").value * e.tanh_c == pytest.approx(ref["h"][n, t, unit], abs=1e-5)
            worst_keras = max(worst_keras, abs(e.c - ref["c"][n, t, unit]))
        elif e.kind == "GRU":
            assert e.keep_term + e.new_term == pytest.approx(ref["h"][n, t, unit], abs=1e-5)
            assert e.reset_after is (name == "gru_after")
    assert worst_keras < 1e-5


def test_hard_sigmoid_is_named_with_the_writers_formula(oracle_dir: Path) -> None:
    expl, _, _ = _explanations(oracle_dir, "gru_before")
    e = expl[(0, 2, 1)]
    assert e.recurrent_activation.name == "hard_sigmoid"
    assert "0.2" in e.gate("z").activation.formula and "tf.keras" in e.gate("z").activation.formula
    assert e.gate("h").activation.name == "tanh"
    assert any("hard_sigmoid" in note for note in e.notes)
    assert "U\u00b7(r\u2299h\u208b\u2081)" in [lab for lab, _ in e.gate("h").terms]
    plain, _, _ = _explanations(oracle_dir, "lstm")
    assert not any("hard_sigmoid" in note for note in plain[(0, 0, 0)].notes)


def test_text_form_and_explanations(oracle_dir: Path) -> None:
    expl, _, _ = _explanations(oracle_dir, "lstm")
    e: CellExplanation = expl[(1, 3, 2)]
    lines = describe(e)
    assert lines[0].startswith("lstm (LSTM), unit 2, step 3")
    assert any(line.startswith("c = f\u00b7c\u208b\u2081 + i\u00b7c\u0303") for line in lines)
    assert all(g.explanation.endswith(".") and len(g.explanation) < 140 for g in e.gates)
    assert e.gate("f").title == "forget gate"
    assert "First step" in " ".join(expl[(0, 0, 0)].notes)


def test_bad_arguments_and_layer_lookup(oracle_dir: Path) -> None:
    mf = io.load(str(oracle_dir / "gru_after.h5"))
    ref = np.load(oracle_dir / "gru_after.npz")
    traj = engine.trace(mf.network, ref["x"], mf.semantics).layers["gru_after"]
    assert recurrent_layer(mf.network, "gru_after").kind == "GRU"
    with pytest.raises(KeyError):
        recurrent_layer(mf.network, "nope")
    for kwargs in ({"unit": 4, "t": 0}, {"unit": 0, "t": 6}, {"unit": 0, "t": 0, "sample": 2}):
        with pytest.raises(IndexError):
            explain(mf.network, mf.semantics, traj, **kwargs)


def test_masked_steps_carry_the_state() -> None:
    """A zero-masked step: the explanation says so, and h₋₁ is the carried state, not the recorded 0."""
    from inspector.core.network import Layer, Network, Semantics, Weight, gate_slices

    rng = np.random.default_rng(0)
    u, d = 2, 3
    ws = (
        Weight("kernel", rng.normal(0, 0.5, (d, 4 * u)).astype(np.float32), gates=gate_slices("LSTM", u)),
        Weight(
            "recurrent_kernel",
            rng.normal(0, 0.5, (u, 4 * u)).astype(np.float32),
            gates=gate_slices("LSTM", u),
        ),
        Weight("bias", rng.normal(0, 0.5, (4 * u,)).astype(np.float32), gates=gate_slices("LSTM", u)),
    )
    cfg = {"units": u, "return_sequences": True, "zero_output_for_mask": True}
    net = Network("m", "Sequential", (Layer("lstm", "LSTM", cfg, ws),), input_shapes=((None, 4, d),))
    from inspector.core import recurrent

    spec = recurrent.spec_from_layer(net.layers[0], Semantics())
    x = rng.normal(0, 1, (1, 4, d)).astype(np.float32)
    mask = np.array([[True, False, True, True]])
    traj = recurrent.run(spec, x, mask, Semantics(), name="lstm").trajectory
    masked = explain(net, Semantics(), traj, 1, 1)
    assert masked.masked and "masked" in masked.notes[0]
    assert masked.h == pytest.approx(float(traj.h[0, 0, 1]))
    after = explain(net, Semantics(), traj, 1, 2)
    assert traj.h[0, 1, 1] == 0.0 and after.h_prev == pytest.approx(float(traj.h[0, 0, 1]))
    assert after.c_prev == pytest.approx(float(traj.c[0, 0, 1]))
