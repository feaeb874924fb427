"""Headless snapshot: renders real files offscreen; bad input gives one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QImage

from inspector.cli import main
from inspector.io.errors import ModelFileError
from inspector.ui import snapshot


@pytest.fixture(autouse=True)
def _wait_for_threads(qapp):
    yield
    QThreadPool.globalInstance().waitForDone()


def _png(path) -> QImage:
    img = QImage(str(path))
    assert not img.isNull()
    return img


def test_weights_snapshot(ui_models, tmp_path):
    out = tmp_path / "weights.png"
    snapshot.render_snapshot(str(ui_models["char_lstm"]), select="lstm/recurrent_kernel", output=str(out))
    img = _png(out)
    assert (img.width(), img.height()) == (1280, 800)


def test_text_snapshot_with_step(ui_models, tmp_path):
    pytest.importorskip("inspector.ui.stepper_panel")
    out = tmp_path / "step.png"
    snapshot.render_snapshot(
        str(ui_models["char_lstm"]), text="hello world.", step=4, output=str(out), size=(1024, 700)
    )
    img = _png(out)
    assert (img.width(), img.height()) == (1024, 700)


def test_npy_input_snapshot(ui_models, tmp_path):
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)  # no batch axis: added
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "gru.png"
    argv = ["snapshot", str(ui_models["gru"]), "--input", str(tmp_path / "x.npy"), "--output", str(out)]
    assert main(argv) == 0
    _png(out)


def test_errors_are_one_line(ui_models, tmp_path):
    out = str(tmp_path / "x.png")
    with pytest.raises(ValueError, match="not in the model's vocabulary") as e1:
        snapshot.render_snapshot(str(ui_models["char_lstm"]), text="\u00e9\u00e9", output=out)
    with pytest.raises(ValueError, match="no such weight"):
        snapshot.render_snapshot(str(ui_models["char_lstm"]), select="lstm/nope", output=out)
    with pytest.raises(ValueError, match="outside 0..2"):  # "abc": 3 steps, no silent padding to 12
        snapshot.render_snapshot(str(ui_models["char_lstm"]), text="abc", step=40, output=out)
    np.save(tmp_path / "bad.npy", np.zeros((1, 12, 3), np.float32))
    with pytest.raises(ValueError) as e2:
        snapshot.render_snapshot(
            str(ui_models["char_lstm"]), input_file=str(tmp_path / "bad.npy"), output=out
        )
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError) as e3:
        snapshot.render_snapshot(str(junk), output=out)
    assert "junk.h5" in str(e3.value)
    for e in (e1, e2, e3):
        assert "\n" not in str(e.value)
    assert not (tmp_path / "x.png").exists()
