"""The GUI shows one weight of a file before the whole file is read, and never keeps a preview the
full read then refused.

Runs the real MainWindow with a real (non-sync) Session, so the file goes through the reader child
(`inspector.io.sandbox`) exactly as in the app.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hostile import files

REPO = Path(__file__).resolve().parents[2]
CLASSIC = REPO / "resources" / "samples" / "classic.h5"


def _wait_loaded(qtbot, session, what: str) -> None:
    qtbot.waitUntil(lambda: session.loading_path is None, timeout=30000)


def _open_classic(window, qtbot):
    """The window shown with the classic sample read; returns the session."""
    if not CLASSIC.exists():
        pytest.skip("sample absent")
    session = window.session
    window.show()
    session.open(str(CLASSIC))
    _wait_loaded(qtbot, session, "classic")
    return session


def test_preview_is_shown_first_then_the_whole_file(window, qtbot) -> None:
    if not CLASSIC.exists():
        pytest.skip("sample absent")
    session = window.session
    panel = window.weights  # built now, so its slots run before the ones below
    events: list[tuple[str, object]] = []
    shown: list[np.ndarray] = []
    session.preview_loaded.connect(lambda f, w, mf, v: events.append(("preview", w)))
    session.preview_loaded.connect(lambda *a: shown.append(np.array(panel.heatmap.matrix.value)))
    session.file_loaded.connect(lambda mf: events.append(("file", mf.path)))
    window.show()
    session.open(str(CLASSIC))
    _wait_loaded(qtbot, session, "classic")
    assert [e[0] for e in events] == ["preview", "file"], events
    assert events[0][1] == "lstm/kernel"
    # what the preview put on screen is exactly the kernel of the whole file
    _, kernel = session.find_weight("lstm/kernel")
    np.testing.assert_array_equal(shown[0], kernel.value)
    assert window.weights.heatmap.matrix.path == "lstm/kernel" == session.selection
    assert "Reading the rest" not in window.weights.readout.text()


def test_reload_previews_the_selected_weight(window, qtbot) -> None:
    session = _open_classic(window, qtbot)
    session.select_weight("next_char/kernel")
    previews: list[str] = []
    session.preview_loaded.connect(lambda f, w, mf, v: previews.append(w))
    session.reload()
    _wait_loaded(qtbot, session, "reload")
    assert previews == ["next_char/kernel"]
    assert window.weights.heatmap.matrix.path == "next_char/kernel"


def test_preview_of_a_file_that_then_fails_is_taken_back(window, qtbot, tmp_path: Path) -> None:
    """A .keras whose weights member has a bad CRC: the preview (which skips the CRC) can be shown,
    but the full read refuses the file, and the weight of the file still open comes back."""
    session = _open_classic(window, qtbot)
    before = window.weights.heatmap.matrix
    bad = files.zip_bad_crc(tmp_path)
    previews: list[str] = []
    failures: list[str] = []
    session.preview_loaded.connect(lambda f, w, mf, v: previews.append(w))
    session.load_failed.connect(failures.append)
    session.open(str(bad))
    _wait_loaded(qtbot, session, "bad crc")
    assert failures and "CRC" in failures[0], failures
    assert previews, "the preview should have been shown before the CRC check failed"
    assert session.path == str(CLASSIC)
    now = window.weights.heatmap.matrix
    assert now.path == before.path
    np.testing.assert_array_equal(now.value, before.value)
    assert "Reading the rest" not in window.weights.readout.text()


def test_the_preview_lays_the_page_out_as_the_whole_file_will(window, qtbot) -> None:
    """The preview gives heatmap and statistics their room at once (the whole file then arrives without
    a new layout), a bias gets a short heatmap, and a reload keeps the splitter where the user put it."""
    session = _open_classic(window, qtbot)
    panel = window.weights
    at_preview: list[list[int]] = []
    session.preview_loaded.connect(lambda *a: at_preview.append(panel.splitter.sizes()))
    session.select_weight("lstm/bias")
    bias_top = panel.splitter.sizes()[0]
    session.select_weight("lstm/kernel")
    kernel_sizes = panel.splitter.sizes()
    assert bias_top < kernel_sizes[0]
    session.open(str(CLASSIC))  # the same file again, as a drop does
    _wait_loaded(qtbot, session, "re-open")
    assert at_preview and at_preview[0] == panel.splitter.sizes() == kernel_sizes
    total = sum(kernel_sizes)
    panel.splitter.setSizes([total // 3, total - total // 3])  # the user drags the splitter
    dragged = panel.splitter.sizes()
    session.reload()
    _wait_loaded(qtbot, session, "reload")
    assert len(at_preview) == 2 and at_preview[1] == dragged == panel.splitter.sizes()


def test_an_input_given_as_the_file_arrives_is_kept(window, qtbot) -> None:
    """The first input of a new file (the sample's starter text) runs after the file is painted; an
    input given in between (a script, a drop) is not replaced by it."""
    if not CLASSIC.exists():
        pytest.skip("sample absent")
    session = window.session
    window.show()
    given: list[np.ndarray] = []

    def give(mf) -> None:
        width = mf.network.input_shapes[0][-1]  # one-hot characters
        given.append(np.eye(width, dtype=np.float32)[[3, 1, 4, 1, 5]][None])
        session.set_input(given[0])

    session.file_loaded.connect(give)
    runs: list[int] = []
    session.input_changed.connect(lambda st: runs.append(st.n_steps if st is not None else 0))
    session.open(str(CLASSIC))
    _wait_loaded(qtbot, session, "classic")
    qtbot.waitUntil(lambda: session.stepper is not None and not session.busy, timeout=30000)
    qtbot.wait(50)  # the deferred first input has had its turn
    assert session.n_steps == 5 and [r for r in runs if r] == [5], runs  # run once, not run again
    np.testing.assert_array_equal(session.stepper.inputs[0], given[0])
