"""AppState without Qt: events only on change, stale results dropped, inputs, the notebook API."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from inspector.app import open_model, read_input_file
from inspector.app.inputs import InputFileError, check_inputs, random_inputs
from inspector.app.loading import sibling_architecture
from inspector.app.state import AppState


class DeferredRunner:
    """Keeps jobs until `run_all`, so a test can deliver results out of order."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., Any], tuple[Any, ...], Callable[[Any], None]]] = []

    def submit(self, fn, *args, on_done, on_error, on_progress=None) -> None:  # noqa: ANN001
        self.jobs.append((fn, args, on_done))

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        return not self.jobs

    def run(self, k: int) -> None:
        fn, args, done = self.jobs.pop(k)
        done(fn(*args))


def test_qt_is_not_imported(lstm_file: Path) -> None:
    """In a fresh interpreter (this one may hold Qt from other tests): the app layer never loads it."""
    code = (
        "import sys; from inspector.app import open_model; "
        f"s = open_model({str(lstm_file)!r}); s.set_input(s.encode_text('ab(c)')); s.set_step(2); "
        "print(sorted(m for m in ('PySide6', 'pyqtgraph') if m in sys.modules))"
    )
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_events_fire_only_on_change(lstm_file: Path) -> None:
    state = AppState()
    got: list[tuple[str, Any]] = []
    for name in ("file_loaded", "step_changed", "unit_changed", "selection_changed", "input_changed"):
        getattr(state, name).connect(lambda *a, n=name: got.append((n, a)))
    state.open(lstm_file)
    assert [n for n, _ in got] == ["selection_changed", "file_loaded"]
    assert state.selection == "lstm/kernel"
    got.clear()
    state.set_input(state.encode_text("abc."))
    state.set_step(2)
    state.set_step(2)
    state.set_step(99)  # clipped to the last step
    state.select_unit("lstm", 1)
    state.select_unit("lstm", 1)
    state.select_weight("lstm/kernel")  # unchanged
    assert got == [
        ("input_changed", (state.stepper,)),
        ("step_changed", (2,)),
        ("step_changed", (3,)),
        ("unit_changed", ("lstm", 1)),
    ]


def test_stale_load_is_dropped(models: SimpleNamespace, tmp_path: Path) -> None:
    a = models.write(tmp_path / "a.h5")
    b = models.write(tmp_path / "b.h5", "GRU")
    runner = DeferredRunner()
    state = AppState(runner)
    busy: list[bool] = []
    state.busy_changed.connect(busy.append)
    state.open(a)
    state.open(b)
    runner.run(1)  # the newer request answers first
    runner.run(0)  # the older one arrives late: ignored
    assert state.path == str(b) and state.network is not None
    assert [lay.kind for lay in state.network.layers] == ["GRU", "Dense"]
    assert busy == [True, False]


def test_engine_failure_clears_the_views(lstm_file: Path) -> None:
    state = open_model(lstm_file)
    state.set_input(state.encode_text("abc"))
    failed: list[str] = []
    state.input_failed.connect(failed.append)
    state.set_input(np.zeros((1, 4, 3), np.float32))  # 3 features, the model wants 7
    assert failed and "\n" not in failed[0]
    assert state.stepper is None  # nothing stale stays on screen


def test_predict_matches_a_hand_written_lstm(models: SimpleNamespace, lstm_file: Path) -> None:
    import h5py

    with h5py.File(lstm_file) as f:
        g = f["model_weights/lstm/lstm"]
        W, U, b = (g[k][()] for k in ("kernel:0", "recurrent_kernel:0", "bias:0"))
        d = f["model_weights/dense/dense"]
        Wd, bd = d["kernel:0"][()], d["bias:0"][()]
    state = open_model(lstm_file)
    x = state.encode_text("a(b)c.")[0]
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h = c = np.zeros(models.UNITS)
    for row in x:
        z = row @ W + h @ U + b
        i, f, g_, o = (z[k * models.UNITS : (k + 1) * models.UNITS] for k in range(4))
        c = sig(f) * c + sig(i) * np.tanh(g_)
        h = sig(o) * np.tanh(c)
    logits = h @ Wd + bd
    want = np.exp(logits) / np.exp(logits).sum()
    (y,) = state.predict(x)  # no batch axis: added
    np.testing.assert_allclose(y[0], want, rtol=1e-5, atol=1e-6)
    assert [w.path for w in state.weights()][:2] == ["lstm/kernel", "lstm/recurrent_kernel"]
    assert [g[0] for g in state.weights()[0].gates] == ["i", "f", "c", "o"]
    tr = state.trace(x)
    np.testing.assert_allclose(tr.layers["lstm"].h[0, -1], h, rtol=1e-5, atol=1e-6)


def test_weights_only_file_finds_its_sibling_architecture(models: SimpleNamespace, tmp_path: Path) -> None:
    path = models.write(tmp_path / "w.weights.h5", weights_only=True)
    assert sibling_architecture(str(path)) == str(tmp_path / "w.arch.json")
    state = open_model(path)
    assert state.network is not None and state.config_path == str(tmp_path / "w.arch.json")
    # reopened later without naming it: the architecture chosen for it is remembered
    (tmp_path / "w.arch.json").rename(tmp_path / "elsewhere.json")
    state.open(path, tmp_path / "elsewhere.json")
    state.open(path)
    assert state.network is not None


def test_read_input_file_formats(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "x.npy", x)
    assert np.array_equal(read_input_file(tmp_path / "x.npy").arrays[0], x)
    np.savez(tmp_path / "xy.npz", x=x, y=np.ones(4))
    data = read_input_file(tmp_path / "xy.npz")
    assert len(data.arrays) == 1 and data.target is not None and data.target.shape == (4,)
    np.savez(tmp_path / "two.npz", a=x, b=x)
    assert len(read_input_file(tmp_path / "two.npz").arrays) == 2
    (tmp_path / "x.csv").write_text("when,a,b,c,target\nmon,1,2,3,0.5\ntue,4,5,6,0.25\n")
    data = read_input_file(tmp_path / "x.csv")
    assert data.columns == ["a", "b", "c"] and data.arrays[0].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert data.target is not None and data.target.tolist() == [0.5, 0.25]
    np.save(tmp_path / "evil.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputFileError, match="evil.npy") as e:
        read_input_file(tmp_path / "evil.npy")
    assert "allow_pickle" not in str(e.value)
    (tmp_path / "junk.csv").write_text("x,y\nfoo,bar\n")
    with pytest.raises(InputFileError) as e:
        read_input_file(tmp_path / "junk.csv")
    assert "junk.csv" in str(e.value) and "pickle" not in str(e.value)


def test_check_inputs_adds_the_batch_axis(models: SimpleNamespace, lstm_file: Path) -> None:
    net = open_model(lstm_file).network
    assert net is not None
    (x,) = check_inputs(net, [np.zeros((5, len(models.VOCAB)))])
    assert x.shape == (1, 5, len(models.VOCAB)) and x.dtype == np.float32
    with pytest.raises(ValueError, match="axis 2 must be 7, not 2"):
        check_inputs(net, [np.zeros((5, 2))])


def test_wide_numeric_model_gets_no_one_hot_example(models: SimpleNamespace, tmp_path: Path) -> None:
    onehot = open_model(models.write(tmp_path / "a.h5")).network  # softmax over its own input width
    (tmp_path / "b").mkdir()
    numeric = open_model(models.write(tmp_path / "b" / "b.h5", features=24))
    assert onehot is not None and numeric.network is not None
    arrays, kinds = random_inputs(numeric.network, None, 0, 10)
    assert kinds == ["standard normal values"] and arrays[0].shape == (10, 24)
    arrays, kinds = random_inputs(onehot, None, 0, 10)
    assert kinds[0].startswith("one-hot") and np.all(arrays[0].sum(axis=1) == 1)


def test_encoder_and_vocabulary(models: SimpleNamespace, lstm_file: Path) -> None:
    state = open_model(lstm_file)
    assert state.vocabulary == models.VOCAB
    x = state.encode_text("A(b)")  # upper case folds to the lower-case vocabulary
    assert x.shape == (1, 4, len(models.VOCAB)) and [int(i) for i in x[0].argmax(1)] == [0, 4, 1, 5]
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        state.encode_text("a#")


def test_example_text_spells_with_the_vocabulary() -> None:
    from inspector.app.text import example_text

    assert example_text(list("abc().")) == "a(b(c)a)."  # brackets: a depth unit shows something
    assert example_text(list("abcdefghijklmnopqrstuvwxyz .")).startswith("the quick brown fox")
