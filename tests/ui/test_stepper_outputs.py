"""The Stepper on every kind of output (issue 15.1/15.2/15.4, issue 14): a word-level sentiment model stepped
word by word with P(positive) over the words, a regression GRU fed from a CSV with a header and a target
column, a model whose output is an LSTM's state, and the classic next-symbol sample (Generate)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector.core import engine
from inspector.ui.session import Session
from inspector.ui.stepper_panel import StepperPanel
from tests.conftest import CORPUS
from tests.ui.conftest import write_sequential

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def _panel(qtbot, path: Path) -> tuple[Session, StepperPanel]:
    session = Session(sync=True)
    panel = StepperPanel(session)
    qtbot.addWidget(panel)
    panel.resize(1024, 700)
    panel.show()
    session.open(str(path))
    return session, panel


def _cut_outputs(session: Session, t: int) -> np.ndarray:
    """Independent check: the model run on the input cut after step t."""
    st = session.stepper
    return engine.predict(st.net, [x[:, : t + 1] for x in st.inputs], st.semantics)[0][0].ravel()


def test_sentiment_stepped_word_by_word(qtbot) -> None:
    session, panel = _panel(qtbot, SAMPLES / "sentiment.h5")
    panel.input_panel.set_text("This movie was GREAT fun, xyzzy!")
    tokens = session.tokens
    assert tokens is not None and len(tokens) == session.n_steps  # one step per word, no <pad> smear
    assert "great" in tokens and any(t.startswith("<oov>:") for t in tokens)  # unknown word -> OOV id
    assert not any(session.padding_mask())
    out = panel.output
    assert out.kind is not None and out.kind.kind == "binary_probability"
    assert out.kind.labels == ("negative", "positive") and "P(positive)" in out.header.text()
    assert not out.generate_row.isVisibleTo(panel)  # not a next-word model: no Generate
    assert "what comes next" not in out.next_label.text()
    # P(positive) over the words: the curve holds the output of every cut
    curve = panel.over_time.curves[0]
    xs, ys = curve.getData()
    assert list(xs) == list(range(session.n_steps))
    for t in range(session.n_steps):
        assert ys[t] == pytest.approx(float(_cut_outputs(session, t)[0]), abs=1e-6)
    ticks = panel.over_time.plot.getPlotItem().getAxis("bottom")._tickLevels
    assert ticks and any("great" in str(label) for _pos, label in ticks[0])
    # stepping word by word: the label names the word
    session.set_step(tokens.index("great"))
    assert "great" in panel.step_label.text()
    # padding on request: pre-padding to the model's 24 steps, padded steps shown as padding
    session.set_padding("pre")
    assert session.n_steps == 24 and session.padding_mask()[:10].all()
    assert session.tokens[0] == "<pad>"


def test_regression_gru_from_csv_with_target(qtbot, tmp_path: Path) -> None:
    gru = CORPUS / "k3.9.2_tekuv_gru.keras"
    if not gru.exists():
        pytest.skip("corpus file missing")
    session, panel = _panel(qtbot, gru)
    names: list[object] = []
    session.feature_names_changed.connect(names.append)
    t = np.arange(60, dtype=np.float32)
    load, target = np.sin(t / 6), np.cos(t / 6)
    csv = tmp_path / "load.csv"
    csv.write_text("load,target\n" + "\n".join(f"{a:.6f},{b:.6f}" for a, b in zip(load, target)))
    assert panel.input_panel.load_file(str(csv))
    assert session.feature_names == ["load"] and names == [["load"]]
    assert session.target is not None and session.target.shape == (60,)
    out = panel.output
    assert out.kind is not None and out.kind.kind == "values" and not out.kind.is_probability
    assert "probab" not in out.header.text() and "top" not in out.topk_label.text()
    assert "probability" not in panel.output.plot.getAxis("bottom").labelText
    view = panel.over_time
    assert view.target_curve is not None
    np.testing.assert_allclose(view.target_curve.getData()[1], target, atol=1e-6)
    xs, ys = view.curves[0].getData()
    for k in (0, 30, 59):
        assert ys[k] == pytest.approx(float(_cut_outputs(session, int(xs[k]))[0]), abs=1e-5)
    assert view.plot.getPlotItem().getAxis("left").labelText == "value"


def test_lstm_state_output_is_signed_values(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "state.h5"
    write_sequential(path, [{"kind": "LSTM", "name": "enc", "units": 5}], (8, 3), seed=4)
    session, panel = _panel(qtbot, path)
    assert session.stepper is not None  # a random example
    out = panel.output
    assert out.kind is not None and out.kind.kind == "values" and out.kind.activation == "state"
    assert out.labels() == [f"unit {k}" for k in range(5)]
    assert "classes" not in out.header.text() and "top" not in out.topk_label.text()
    lo, hi = out.plot.getViewBox().viewRange()[0]
    assert lo < 0 < hi  # a signed axis
    assert not out.generate_row.isVisibleTo(panel)


def test_classic_next_symbol_and_generate(qtbot) -> None:
    session, panel = _panel(qtbot, SAMPLES / "classic.h5")
    out = panel.output
    assert out.kind is not None and out.kind.kind == "next_symbol"
    assert out.generate_row.isVisibleTo(panel) and out.generate_button.isEnabled()
    before = panel.input_panel.text()
    out.reseed(3)
    token = out.generate_once()
    assert token is not None and panel.input_panel.text() == before + token


def test_rejected_input_clears_views_with_a_banner(qtbot) -> None:
    session, panel = _panel(qtbot, SAMPLES / "classic.h5")
    assert session.stepper is not None
    panel.input_panel.set_text("abc\u2603")  # a symbol outside a vocabulary without OOV id
    assert session.stepper is None
    assert panel.stale_label.isVisibleTo(panel) and "previous run is not shown" in panel.stale_label.text()
    assert panel.output.probabilities().size == 0 and panel.over_time.kind is None
    panel.input_panel.set_text("abc")
    assert session.stepper is not None and not panel.stale_label.isVisibleTo(panel)
