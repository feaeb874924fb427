"""The GUI on damaged files (issue 5, inconsistent content): the weights that could be read are
shown - gate-sliced, with the values that were written - the problem stays on screen in an error
banner naming the file, and nothing runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from hostile import files  # noqa: E402

# (case, a weight that must still be shown, its seed layer and index in model_a_weights())
SHOWN = [
    ("h5_weight_is_string", "lstm/kernel", "lstm", 0),  # the Dense bias is a string: Dense skipped
    ("h5_malformed_json", "dense/kernel", "dense", 0),  # no architecture at all
    ("non_utf8_weight_names", "gru/recurrent_kernel", "gru", 1),  # Dense names undecodable
    ("keras_shape_disagrees", "lstm/recurrent_kernel", "lstm", 1),  # .keras: GRU shapes wrong
]


def _open(qtbot, win, path: Path) -> None:
    with qtbot.waitSignal(win.session.file_loaded, timeout=20000):
        win.session.open(str(path))


@pytest.mark.parametrize("name,weight,layer,index", SHOWN, ids=[s[0] for s in SHOWN])
def test_damaged_file_weights_and_banner(window, seeds, qtbot, tmp_path: Path, name, weight, layer, index):
    _open(qtbot, window, seeds["tf_h5_full"].path)  # a good model first: the damaged one replaces it
    path = files.CASE_BY_NAME[name].make(tmp_path / name)
    _open(qtbot, window, path)
    mf = window.session.model_file
    assert window.session.path == str(path)
    assert mf.network is None and mf.damage and "\n" not in mf.damage

    # the problem is on screen, naming the file
    assert window.banner.isVisibleTo(window) and window.banner.level == "error"
    assert path.name in window.banner.text and mf.damage in window.banner.text

    # the readable weights are listed and shown, with the values that were written, gate-sliced
    window.session.select_weight(weight)
    matrix = window.weights.heatmap.matrix
    assert matrix is not None and matrix.path == weight
    np.testing.assert_array_equal(matrix.value, files.model_a_weights()[layer][index])
    assert [g.key for g in matrix.gates] == (
        ["i", "f", "c", "o"] if layer == "lstm" else ["z", "r", "h"] if layer == "gru" else []
    )
    assert window.structure.item_model.rowCount() > 0


def test_damaged_file_never_runs_and_keeps_its_banner(window, qtbot, tmp_path: Path) -> None:
    path = files.CASE_BY_NAME["h5_kernel_shape_disagrees"].make(tmp_path / "case")
    _open(qtbot, window, path)
    damage = window.session.model_file.damage
    with qtbot.waitSignal(window.session.input_failed, timeout=20000) as sig:
        window.session.set_input(np.zeros((1, files.T, files.D), np.float32))
    assert sig.args[0] == damage  # the reason, not "weights only"
    assert window.session.stepper is None
    # dismissing the error does not replace it with the weights-only notice (the file is not weights-only)
    window.banner.close_button.click()
    assert not (window.banner.isVisibleTo(window) and "holds weights only" in window.banner.text)


def test_good_file_after_a_damaged_one_clears_the_banner(window, seeds, qtbot, tmp_path: Path) -> None:
    _open(qtbot, window, files.CASE_BY_NAME["non_utf8_model_config"].make(tmp_path / "case"))
    assert window.banner.isVisibleTo(window) and window.banner.level == "error"
    _open(qtbot, window, seeds["tf_h5_full"].path)
    assert window.session.model_file.damage is None and window.session.network is not None
    assert not (window.banner.isVisibleTo(window) and window.banner.level == "error")
