"""GUI measurements, each in a fresh process (offscreen Qt, no TensorFlow).

    python -m bench.gui_side steps MODEL OUT.json [--text FILE | --input X.npy] [--repeats N]
    python -m bench.gui_side open MODEL OUT.json
    python -m bench.gui_side h5read MODEL OUT.json      (reference: plain h5py, no Qt imported)

`steps`: the main window (1280x800, Stepper tab, a unit selected so every per-step view is live)
steps through the whole input with `Session.set_step`; each step's wall time covers the engine
lookup, every view's update, `processEvents()` and a synchronous `repaint()` of the whole window.

`open`: from `Session.open(path)` to the first paint of a weight heatmap (pyqtgraph ImageItem inside
the Weights panel, detected by wrapping `ImageItem.paint`) -- that can be the preview of one weight,
painted while the rest of the file is still being read -- and to `file_loaded` (the whole file);
the longest gap of a 10 ms heartbeat QTimer from the open until 300 ms after both, and the process'
peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

SETTLE_S = 0.3
TIMEOUT_S = 300.0


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _children_rss_mb() -> float:
    """Current RSS of this process' live child processes (the pre-started file reader)."""
    total = 0.0
    for task in Path("/proc/self/task").glob("*/children"):
        for pid in task.read_text().split():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024.0
            except OSError:
                pass
    return total


def _window(out: str):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from inspector.ui.main_window import MainWindow
    from inspector.ui.session import Session

    app = QApplication.instance() or QApplication(sys.argv[:1])
    # private settings next to the output (never the user's recent-files list)
    ini = Path(out).with_name("bench-settings.ini")
    ini.unlink(missing_ok=True)
    settings = QSettings(str(ini), QSettings.Format.IniFormat)
    session = Session()
    win = MainWindow(session, settings=settings)
    win.resize(1280, 800)
    win.show()
    return app, session, win


def _wait(app, cond, what: str, timeout: float = TIMEOUT_S) -> None:
    from PySide6.QtCore import QThreadPool

    end = time.perf_counter() + timeout
    while not cond():
        QThreadPool.globalInstance().waitForDone(5)
        app.processEvents()
        if time.perf_counter() > end:
            raise TimeoutError(f"timed out waiting for {what}")


def steps(model: str, out: str, text_file: str | None, input_npy: str | None, repeats: int) -> None:
    import numpy as np

    app, session, win = _window(out)
    win.tabs.setCurrentIndex(1)  # Stepper
    session.open(model)
    _wait(app, lambda: session.model_file is not None and not session.busy, "the model")
    if text_file:
        text = Path(text_file).read_text(encoding="utf-8")
        win.stepper.input_panel.set_text(text)
        n = len(text)
    else:
        x = np.load(input_npy)
        session.set_input(x)
        n = x.shape[1]
    _wait(app, lambda: session.stepper is not None and session.n_steps == n and not session.busy, "the trace")
    layers = list(session.stepper.trace.layers)
    if layers:
        session.select_unit(layers[-1], 0)
    session.set_step(0)
    for _ in range(3):
        app.processEvents()
        win.repaint()
    times: list[float] = []
    perf = time.perf_counter
    for _ in range(repeats):
        session.set_step(0)
        app.processEvents()
        win.repaint()
        for t in range(1, n):
            t0 = perf()
            session.set_step(t)
            app.processEvents()
            win.repaint()
            times.append(perf() - t0)
    shot = os.environ.get("BENCH_SCREENSHOT")
    if shot:
        win.grab().save(shot)
    Path(out).write_text(
        json.dumps({"step_s": times, "n_steps": n, "layers": layers, "rss_mb": _status_mb("VmHWM")})
    )
    sys.stdout.flush()
    os._exit(0)  # skip teardown: nothing left to measure


def open_file(model: str, out: str) -> None:
    import pyqtgraph as pg
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    app, session, win = _window(out)
    win.tabs.setCurrentIndex(0)  # Weights
    for _ in range(5):
        app.processEvents()
        win.repaint()
    rss_before = _status_mb("VmRSS")
    state: dict = {"t0": None, "first": None, "full": None, "full_painted": None, "ticks": []}
    original = pg.ImageItem.paint

    def paint(item, *args, **kwargs):
        original(item, *args, **kwargs)
        if state["t0"] is not None and item.image is not None:
            view = item.getViewWidget()
            if view is not None and win.weights.isAncestorOf(view):
                now = time.perf_counter()
                if state["first"] is None:
                    state["first"] = now
                if state["full"] is not None and state["full_painted"] is None:
                    state["full_painted"] = now

    pg.ImageItem.paint = paint
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: state["ticks"].append(time.perf_counter()))
    loop = QEventLoop()
    checker = QTimer()
    checker.setInterval(5)
    failed: list[str] = []
    session.load_failed.connect(failed.append)
    # the whole file shown (structure, every weight, default input run) -- not only the first heatmap,
    # which may come from a preview: the heartbeat is watched until SETTLE_S after both
    session.file_loaded.connect(lambda _mf: state.__setitem__("full", time.perf_counter()))

    def check() -> None:
        now = time.perf_counter()
        done = state["first"] is not None and state["full"] is not None
        last = max(state["first"] or 0.0, state["full"] or 0.0)
        if failed or now - state["t0"] > TIMEOUT_S or (done and now > last + SETTLE_S):
            loop.quit()

    checker.timeout.connect(check)
    heartbeat.start()
    checker.start()
    state["t0"] = time.perf_counter()
    session.open(model)
    loop.exec()
    t_end = time.perf_counter()
    heartbeat.stop()
    if failed or state["first"] is None:
        raise RuntimeError(f"no weight heatmap was painted: {failed}")
    ticks = [state["t0"], *[t for t in state["ticks"] if t > state["t0"]], t_end]
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    import resource

    # The file is read in a child process (inspector.io.sandbox); the app's memory is the GUI's plus
    # the reader's.  The reader's peak comes while the GUI is still at its pre-open size (the arrays
    # reach the GUI as a shared mapping after the reader exits), so the app's peak is estimated as
    # max(GUI before + reader peak, GUI peak) + readers still alive (the pre-started next one).
    reader_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    gui_peak = _status_mb("VmHWM")
    alive = _children_rss_mb()
    Path(out).write_text(
        json.dumps(
            {
                "rss_app_peak_mb": max(rss_before + reader_peak, gui_peak) + alive,
                "rss_reader_peak_mb": reader_peak,
                "rss_children_alive_mb": alive,
                "open_s": state["first"] - state["t0"],
                "full_s": state["full"] - state["t0"],
                "max_gap_ms": 1000 * max(gaps),
                "rss_peak_mb": _status_mb("VmHWM"),
                "rss_before_mb": rss_before,
                "rss_end_mb": _status_mb("VmRSS"),
                "selection": session.selection,
            }
        )
    )
    os._exit(0)


def h5read(model: str, out: str) -> None:
    """Reference: open the file with plain h5py and read every dataset into memory."""
    t0 = time.perf_counter()
    import h5py

    t_imp = time.perf_counter() - t0
    arrays = []
    t0 = time.perf_counter()
    if model.endswith(".keras"):
        import io
        import zipfile

        with zipfile.ZipFile(model) as z:
            f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
    else:
        f = h5py.File(model, "r")
    with f:

        def visit(_name, obj):
            if isinstance(obj, h5py.Dataset):
                arrays.append(obj[()])

        f.visititems(visit)
    dt = time.perf_counter() - t0
    nbytes = sum(getattr(a, "nbytes", 0) for a in arrays)
    Path(out).write_text(
        json.dumps(
            {
                "read_s": dt,
                "import_s": t_imp,
                "n": len(arrays),
                "bytes": nbytes,
                "rss_peak_mb": _status_mb("VmHWM"),
                "qt_imported": "PySide6" in sys.modules,
            }
        )
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.gui_side")
    p.add_argument("what", choices=["steps", "open", "h5read"])
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--text")
    p.add_argument("--input")
    p.add_argument("--repeats", type=int, default=1)
    a = p.parse_args(argv)
    if a.what == "steps":
        steps(a.model, a.out, a.text, a.input, a.repeats)
    elif a.what == "open":
        open_file(a.model, a.out)
    else:
        h5read(a.model, a.out)


if __name__ == "__main__":
    main()
