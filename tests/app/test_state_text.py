"""AppState's text path, padding, input metadata and step range (Qt-free: runs under `make test-qtfree`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector.app.state import open_model
from inspector.core import engine
from tests.conftest import CORPUS

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def test_word_tokenizer_oov_and_padding() -> None:
    state = open_model(SAMPLES / "sentiment.h5")
    assert state.text_model is not None and "Tokenizer" in state.encoder.kind
    kinds = [k.kind for k in state.output_kinds]
    assert kinds == ["binary_probability"] and state.output_kinds[0].labels == ("negative", "positive")
    enc, x = state.encode("A great movie, zzzunknown!")
    assert enc.tokens[1:3] == ["great", "movie"] and enc.tokens[-1] == "<oov>:zzzunknown"
    oov = state.encoder.oov_id
    assert x.shape == (1, 4) and x[0, -1] == oov  # never rejected: the OOV id
    state.set_input(x)
    assert state.tokens == enc.tokens and not state.padding_mask().any()  # no silent <pad>
    with pytest.raises(ValueError, match="padding must be"):
        state.set_padding("left")
    state.set_padding("pre")
    enc, x = state.encode("great movie")
    assert x.shape == (1, 24) and enc.padding.sum() == 22 and enc.tokens[0] == "<pad>"
    state.set_input(x)
    assert state.padding_mask().sum() == 22
    enc, x = state.encode_ids([5, 6, 7])  # typed ids are padded like text
    assert x.tolist() == [[0] * 21 + [5, 6, 7]]
    state.set_padding("post")
    assert state.encode_ids([5])[1].tolist() == [[5] + [0] * 23]


def test_vocabulary_without_oov_rejects_and_clears() -> None:
    state = open_model(SAMPLES / "classic.h5")
    assert state.output_kinds[0].kind == "next_symbol"
    state.set_input(state.encode_text("hello"))
    assert state.stepper is not None
    failed: list[str] = []
    state.input_failed.connect(failed.append)
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        state.encode_text("hello\u2603")
    state.reject_input("'\u2603' is not in the model's vocabulary")
    assert state.stepper is None and state.tokens is None and failed


def test_csv_target_and_feature_names_reach_the_state(tmp_path: Path) -> None:
    from inspector.app.inputs import read_input_file

    gru = CORPUS / "k3.9.2_tekuv_gru.keras"
    if not gru.exists():
        pytest.skip("corpus file missing")
    state = open_model(gru)
    assert state.output_kinds[0].kind == "values" and not state.output_kinds[0].is_probability
    seen: list[object] = []
    state.feature_names_changed.connect(seen.append)
    csv = tmp_path / "s.csv"
    csv.write_text("day,load,target\n" + "\n".join(f"d{k},{k / 10},{k / 20}" for k in range(60)))
    data = read_input_file(csv)
    assert data.columns == ["load"] and data.target_name == "target" and data.notes  # 'day' left out
    state.set_input(data.arrays[0][None], target=data.target, feature_names=data.columns)
    assert state.feature_names == ["load"] and seen == [["load"]]
    assert state.target is not None and state.target.tolist() == pytest.approx([k / 20 for k in range(60)])
    state.set_input(data.arrays[0][None])  # a new input: its own (no) target, the names stay
    assert state.target is None and state.feature_names == ["load"]


def test_multi_input_steps_over_the_longest_input() -> None:
    path = CORPUS / "k2.2.4_hiv_functional_2x_embedding_lstm_full.hdf5"
    if not path.exists():
        pytest.skip("corpus file missing")
    state = open_model(path)
    rng = np.random.default_rng(0)
    xs = [rng.integers(1, 18, (1, 5)).astype(np.float32), rng.integers(1, 18, (1, 9)).astype(np.float32)]
    xs.append(rng.standard_normal((1, 2)).astype(np.float32))
    state.set_input(xs)
    assert state.n_steps == 9  # the longer input's steps are reachable
    state.set_step(8)
    assert state.step == 8
    seq = engine.sequence_inputs(state.stepper.net, state.stepper.inputs)
    for t in (2, 7):
        cut = [a[:, : t + 1] if s else a for a, s in zip(state.stepper.inputs, seq)]
        want = engine.predict(state.stepper.net, cut, state.stepper.semantics)[0]
        np.testing.assert_allclose(state.stepper.outputs_at(t)[0], want, atol=1e-6)
