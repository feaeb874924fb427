"""The GUI survives hostile files: open a good model, then bad files through the real Session and
MainWindow; the good model stays shown, a message names the bad file, nothing runs, no crash.

Files on which libhdf5 itself segfaults or hangs are opened in a separate GUI process (a crash
there must not take pytest down), which also checks that the event loop keeps running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from hostile import files  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

# refused files, safe to read in-process (the reader's own guards are what is tested here)
REFUSED = [
    "zero_byte_h5",
    "text_named_h5",
    "git_lfs_pointer",
    "truncated_tf_h5_0_6",
    "truncated_keras_0_3",
    "hdf5_not_keras",
    "zip_without_weights",
    "zip_bomb_weights",
    "zip_header_understates_size",
    "external_link_weight",
    "npz_weights_with_pickle",
    "dataset_declares_terabytes",
]

# damaged files: the architecture is refused, the weights that can be read are shown with the problem
DAMAGED = [
    "h5_malformed_json",
    "h5_deep_json",
    "non_utf8_layer_names",
    "config_2_31_units_keras",
    "h5_kernel_shape_disagrees",
]


def _open_good(qtbot, win, seeds) -> str:
    good = str(seeds["tf_h5_full"].path)
    with qtbot.waitSignal(win.session.file_loaded, timeout=20000):
        win.session.open(good)
    assert win.session.path == good
    return good


def test_bad_files_after_a_good_one(window, seeds, qtbot, tmp_path: Path) -> None:
    good = _open_good(qtbot, window, seeds)
    selection = window.session.selection
    n_rows = window.structure.item_model.rowCount()
    for name in REFUSED:
        path = files.CASE_BY_NAME[name].make(tmp_path / name)
        with qtbot.waitSignal(window.session.load_failed, timeout=20000) as sig:
            window.session.open(str(path))
        message = sig.args[0]
        assert "\n" not in message and path.name in message, message
        assert window.banner.isVisibleTo(window) and window.banner.level == "error"
        assert path.name in window.banner.text, window.banner.text
        # the good model is still the one shown, and the window still works
        assert window.session.path == good and window.session.model_file is not None
        assert window.session.selection == selection
        assert window.structure.item_model.rowCount() == n_rows
        window.banner.close_button.click()
    window.session.select_weight("gru/kernel")
    assert window.weights.matrix is not None and window.weights.matrix.path == "gru/kernel"
    assert not list(tmp_path.rglob("*.EXECUTED"))


@pytest.mark.parametrize("name", DAMAGED)
def test_damaged_files_show_their_weights_and_the_problem(window, seeds, qtbot, tmp_path: Path, name) -> None:
    _open_good(qtbot, window, seeds)
    path = files.CASE_BY_NAME[name].make(tmp_path / name)
    with qtbot.waitSignal(window.session.file_loaded, timeout=20000):
        window.session.open(str(path))
    mf = window.session.model_file
    assert mf.network is None and mf.damage and "\n" not in mf.damage
    assert any(lay.all_weights() for lay in mf.weight_layers)
    assert window.banner.isVisibleTo(window) and window.banner.level == "error"
    assert path.name in window.banner.text and mf.damage in window.banner.text


@pytest.mark.parametrize("name", ["lambda_keras2", "lambda_keras3", "custom_object_module_keras3"])
def test_unsafe_layers_are_shown_but_never_run(window, seeds, qtbot, tmp_path: Path, name: str) -> None:
    _open_good(qtbot, window, seeds)
    folder = tmp_path / "case"
    path = files.CASE_BY_NAME[name].make(folder)
    sys.path.insert(0, str(folder))  # the sentinel module is importable: it must not be imported
    try:
        with qtbot.waitSignal(window.session.file_loaded, timeout=20000):
            window.session.open(str(path))
        mf = window.session.model_file
        assert any(not lay.runnable for lay in mf.network.layers)
        with qtbot.waitSignal(window.session.input_failed, timeout=20000) as sig:
            window.session.set_input(np.zeros((1, files.T, files.D), np.float32))
        assert "not" in sig.args[0].lower(), sig.args[0]
        assert window.banner.isVisibleTo(window) and window.banner.level == "error"
    finally:
        sys.path.remove(str(folder))
    assert files.SENTINEL_MODULE not in sys.modules
    assert not list(tmp_path.rglob("*.EXECUTED")), "a payload from the file ran"


_GUI_SCRIPT = r"""
import json, os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
from inspector.ui.main_window import MainWindow
from inspector.ui.session import Session

good, bad, settings_dir, wait_s = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
app = QApplication([])
win = MainWindow(Session(), settings=QSettings())
win.show()
state = {"ticks": 0, "failed": None, "loaded": []}
timer = QTimer()
timer.timeout.connect(lambda: state.__setitem__("ticks", state["ticks"] + 1))
timer.start(50)
win.session.file_loaded.connect(lambda mf: state["loaded"].append(mf.path))
win.session.load_failed.connect(lambda m: state.__setitem__("failed", m))

def report():
    out = {"ticks": state["ticks"], "failed": state["failed"], "loaded": state["loaded"],
           "path": win.session.path, "banner": win.banner.text if win.banner.isVisible() else ""}
    print(json.dumps(out), flush=True)
    os._exit(0)  # do not wait for a worker that may still be stuck

def start_bad():
    state["ticks"] = 0
    win.session.open(bad)
    QTimer.singleShot(int(wait_s * 1000), report)

win.session.file_loaded.connect(lambda mf: QTimer.singleShot(0, start_bad) if mf.path == good else None)
win.session.open(good)
app.exec()
"""


@pytest.mark.parametrize("patch", files.LIBHDF5_KILLERS, ids=[p.name for p in files.LIBHDF5_KILLERS])
def test_gui_survives_libhdf5_killers(patch: files.BytePatch, seeds, tmp_path: Path) -> None:
    """A file on which libhdf5 segfaults / hangs holding the GIL: the window must stay alive and
    responsive (its load runs in `inspector.io.sandbox.load_isolated`) and keep the good model."""
    made = files.write_byte_patch(patch, tmp_path, seeds)
    if made is None:
        pytest.skip("seed byte layout differs on this h5py/libhdf5")
    bad, _ = made
    (tmp_path / "settings").mkdir()
    wait_s = 6.0
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    args = [
        sys.executable,
        "-c",
        _GUI_SCRIPT,
        str(seeds["tf_h5_full"].path),
        str(bad),
        str(tmp_path / "settings"),
        str(wait_s),
    ]
    try:
        cp = subprocess.run(args, capture_output=True, text=True, timeout=wait_s + 20, env=env, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(
            "GUI process hung (libhdf5 holds the GIL): the Session must load through "
            "inspector.io.sandbox.load_isolated"
        )
    lines = [ln for ln in cp.stdout.splitlines() if ln.startswith("{")]
    if cp.returncode < 0 or not lines:
        pytest.fail(
            f"GUI process died (exit {cp.returncode}): the Session must load through "
            "inspector.io.sandbox.load_isolated"
        )
    state = json.loads(lines[-1])
    if state["ticks"] < 10:
        pytest.fail(
            f"GUI event loop frozen during the load ({state['ticks']} ticks in {wait_s:g} s): "
            "the Session must load through inspector.io.sandbox.load_isolated"
        )
    assert state["path"] == str(seeds["tf_h5_full"].path), state
    if patch.effect == "crash":
        assert state["failed"] and bad.name in state["failed"], state
        assert bad.name in state["banner"], state
