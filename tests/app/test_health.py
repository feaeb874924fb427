"""Health findings on models with planted faults written by real Keras (tf_keras), a healthy twin, the
bundled samples and the CLI `check` verb."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from inspector import cli
from inspector.app import health
from inspector.core.network import LSTM_GATES
from inspector.io import load

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "resources" / "samples"


@pytest.fixture(scope="session")
def models(health_models: Path) -> Path:
    return health_models


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(4, 60, 5)).astype(np.float32)


def _problems(findings: list[health.Finding]) -> list[health.Finding]:
    return [f for f in findings if f.severity in ("error", "warning")]


@pytest.mark.parametrize("name", ["healthy.h5", "healthy.keras"])
def test_healthy_twin_has_no_error_or_warning(models: Path, data: np.ndarray, name: str) -> None:
    findings = health.check(load(models / name), data)
    assert _problems(findings) == []
    codes = {f.code for f in findings}
    assert {"forget-bias", "spectral-norm"} <= codes


def test_nan_weight_names_gate_and_unit(models: Path, data: np.ndarray) -> None:
    findings = health.check(load(models / "nan.h5"), data)
    errors = [f for f in findings if f.severity == "error"]
    assert [(f.code, f.layer, f.gate, f.units, f.weight) for f in errors] == [
        ("nan-weights", "rnn", "f", (3,), "rnn/recurrent_kernel")
    ]
    assert findings[0] is errors[0]  # most severe first
    # the NaN hidden state is not reported as 'constant'
    assert not [f for f in findings if f.code == "constant-unit"]


def test_unit_nothing_reads_is_dead(models: Path) -> None:
    findings = health.check(load(models / "dead.h5"))
    dead = [f for f in findings if f.code == "dead-unit"]
    assert [(f.severity, f.layer, f.units) for f in dead] == [("warning", "rnn", (5,))]
    # the healthy twin: same weights but unit 5 read -> nothing
    assert not [f for f in health.check(load(models / "healthy.h5")) if f.code == "dead-unit"]


def test_dead_unit_through_dropout_into_a_recurrent_consumer(models: Path) -> None:
    dead = [f for f in health.check(load(models / "stacked_dead.h5")) if f.code == "dead-unit"]
    assert [(f.layer, f.units) for f in dead] == [("lstm_a", (1,))]


def test_dead_unit_in_the_backward_half_of_a_bidirectional(models: Path) -> None:
    dead = [f for f in health.check(load(models / "bidi_dead.h5")) if f.code == "dead-unit"]
    assert [(f.layer, f.units) for f in dead] == [("bi/backward", (2,))]


def test_dead_unit_needs_zero_rows_everywhere(models: Path) -> None:
    mf = load(models / "dead.h5")
    th = health.Thresholds(zero_tol=-1.0)  # nothing is ever "zero"
    assert not [f for f in health.weight_findings(mf, th) if f.code == "dead-unit"]


def test_input_gate_biased_shut_is_saturated_with_data_only(models: Path, data: np.ndarray) -> None:
    mf = load(models / "shut.h5")
    assert not [f for f in health.check(mf) if f.code == "saturated-gate"]  # no data, no finding
    findings = health.check(mf, data)
    sat = [f for f in findings if f.code == "saturated-gate" and f.severity == "warning"]
    assert [(f.layer, f.gate, f.units) for f in sat] == [("rnn", "i", (2,))]
    const = [f for f in findings if f.code == "constant-unit"]
    assert [(f.severity, f.units) for f in const] == [("warning", (2,))]


def test_saturation_share_against_a_direct_computation(models: Path, data: np.ndarray) -> None:
    """The share of positions with i < 0.1, computed here from the Keras weights with a plain loop."""
    w = np.load(models / "weights.npz")
    k, rk, b = (w[f"shut.h5/{i}"].astype(np.float64) for i in range(3))
    u = rk.shape[0]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    low = np.zeros(u)
    for seq in data:
        h, c = np.zeros(u), np.zeros(u)
        for x in seq:
            z = x @ k + h @ rk + b
            i, f, g, o = sig(z[:u]), sig(z[u : 2 * u]), np.tanh(z[2 * u : 3 * u]), sig(z[3 * u :])
            c = f * c + i * g
            h = o * np.tanh(c)
            low += i < 0.1
    share = low / data.shape[0] / data.shape[1]
    expected = tuple(int(j) for j in np.flatnonzero(share >= 0.5))
    th = health.Thresholds(saturation_share=0.5)
    got = [f for f in health.data_findings(load(models / "shut.h5"), data, th)
           if f.code == "saturated-gate" and f.gate == "i" and "shut" in f.message]  # fmt: skip
    assert expected and got and got[0].units == expected


def test_forget_bias_timescale_matches_keras_bias(models: Path) -> None:
    w = np.load(models / "weights.npz")
    bf = w["healthy.h5/2"][8:16].astype(np.float64)  # Keras gate order i, f, c, o
    tau = 1 / (1 - 1 / (1 + np.exp(-bf)))
    (f,) = [f for f in health.weight_findings(load(models / "healthy.h5")) if f.code == "forget-bias"]
    assert f"median {np.median(tau):.1f} steps" in f.message
    assert f.gate == "f" and LSTM_GATES[1][0] == "f"


def test_spectral_norm_per_gate_matches_svd(models: Path) -> None:
    rk = np.load(models / "weights.npz")["healthy.h5/1"].astype(np.float64)
    (f,) = [f for f in health.weight_findings(load(models / "healthy.h5")) if f.code == "spectral-norm"]
    for k, key in enumerate("ifco"):
        s = np.linalg.svd(rk[:, 8 * k : 8 * (k + 1)], compute_uv=False)[0]
        assert f"{key} {s:.2f}" in f.message


@pytest.mark.parametrize("name", ["classic.h5", "classic.keras"])
def test_bundled_classic_sample_is_healthy_on_its_text(name: str) -> None:
    mf = load(SAMPLES / name)
    text = (SAMPLES / "shakespeare.txt").read_text(encoding="utf8")[:6000]
    x = health.text_input(load(SAMPLES / "classic.h5"), text)
    assert _problems(health.check(mf, x)) == []


@pytest.mark.parametrize("name", ["explainer.h5", "explainer.keras"])
def test_bundled_explainer_sample_is_healthy_on_its_language(name: str) -> None:
    sys.path.insert(0, str(SAMPLES))
    try:
        import train_explainer
    finally:
        sys.path.remove(str(SAMPLES))
    text, _ = train_explainer.generate(4000, np.random.default_rng(0))
    mf = load(SAMPLES / name)
    findings = health.check(mf, health.text_input(mf, text))
    assert _problems(findings) == []


def test_long_data_is_streamed_in_windows(models: Path) -> None:
    mf = load(models / "shut.h5")
    x = np.random.default_rng(2).normal(size=(1, 250, 5)).astype(np.float32)
    pieces = list(health.traces(mf.network, x, mf.semantics, chunk=100))  # type: ignore[arg-type]
    assert sum(p.layers["rnn"].n_steps * p.layers["rnn"].batch_size for p in pieces) == 250
    th = health.Thresholds(chunk_steps=100)
    assert [f.units for f in health.data_findings(mf, x, th) if f.code == "constant-unit"] == [(2,)]


def test_text_input_rejects_unknown_symbols() -> None:
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        health.text_input(load(SAMPLES / "explainer.keras"), "abc xyz")


# ------------------------------------------------------------------------------------------ CLI


def test_cli_check_json_and_fail_on(models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(1).normal(size=(2, 30, 5)).astype(np.float32))
    assert cli.main(["check", str(models / "shut.h5"), "--input", str(x), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"severity", "code", "layer", "gate", "units", "message"} <= set(out["findings"][0])
    assert any(f["code"] == "saturated-gate" and f["units"] == [2] for f in out["findings"])
    assert cli.main(["check", str(models / "shut.h5"), "--input", str(x), "--fail-on", "warning"]) == 1
    assert cli.main(["check", str(models / "shut.h5"), "--input", str(x), "--fail-on", "error"]) == 0
    assert cli.main(["check", str(models / "nan.h5"), "--fail-on", "error"]) == 1
    assert cli.main(["check", str(models / "healthy.h5"), "--fail-on", "warning"]) == 0
    capsys.readouterr()


def test_cli_check_text_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    txt = tmp_path / "t.txt"
    txt.write_text("a(b(c)a)(b).((a))c.", encoding="utf8")
    assert (
        cli.main(["check", str(SAMPLES / "explainer.keras"), "--text", str(txt), "--fail-on", "warning"]) == 0
    )
    capsys.readouterr()
    txt.write_text("zzz!", encoding="utf8")
    assert cli.main(["check", str(SAMPLES / "explainer.keras"), "--text", str(txt)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not in the model's vocabulary" in err[0]
    assert cli.main(["check", str(tmp_path / "missing.h5")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_corpus_files_have_no_errors_or_warnings(corpus_dir: Path) -> None:
    """Every readable file of the shared corpus: weight findings only, none of them a problem."""
    from inspector.io.errors import ModelFileError

    checked = 0
    for p in sorted(corpus_dir.iterdir()):
        if p.suffix in (".md", ".json"):
            continue
        arch = p.with_name(p.name.replace(".h5", ".arch.json"))
        try:
            mf = load(p, config=arch if arch.exists() and arch != p else None)
        except ModelFileError:
            continue
        assert _problems(health.check(mf)) == [], p.name
        checked += 1
    assert checked >= 25


def test_hard_sigmoid_gate_pinned_at_one(models: Path, data: np.ndarray) -> None:
    findings = health.check(load(models / "hard.h5"), data)
    exact = [(f.severity, f.gate, f.units) for f in findings if f.code == "hard-sigmoid-exact"]
    assert ("info", "f", (1,)) in exact
    # pinned at exactly 1 on every position: also a right-saturated forget gate, an integrator (info)
    sat = [(f.severity, f.gate, f.units) for f in findings if f.code == "saturated-gate"]
    assert ("info", "f", (1,)) in sat
    assert not [f for f in findings if f.severity != "info"]
