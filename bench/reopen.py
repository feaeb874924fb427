"""RSS after 10 re-opens of the big benchmark model / RSS after the first (issue 16, goal <= 1.2).

The real main window, offscreen, opens the 220 MB model (`bench.models.open_spec`), then re-opens
it ten times the way a user does, alternating reload (F5) and drag and drop of the same file.
RSS (VmRSS of this process, after a garbage collection) is read once each open has been painted.

    python -m bench.reopen            # the full-size model (written with h5py into bench/.cache once)
    python -m bench.reopen --smoke    # tiny model, seconds

Prints one JSON object: {"rss_reopen_ratio_large": ..., "rss_mb": [...], "memfd_mb": [...], ...}.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

from bench.models import DEFAULT_CACHE, FULL, SMOKE, ensure, open_spec


def _rss_mb() -> float:
    gc.collect()
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _memfd_mb() -> float:
    seen: dict[int, int] = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:"):
                st = os.stat(f"/proc/self/fd/{fd}")
                seen[st.st_ino] = st.st_size
        except OSError:
            continue
    return sum(seen.values()) / 1024**2


def measure(path: Path, reopens: int = 10) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QThreadPool, QUrl
    from PySide6.QtGui import QDropEvent
    from PySide6.QtWidgets import QApplication

    from inspector.ui.main_window import MainWindow
    from inspector.ui.session import Session

    app = QApplication.instance() or QApplication([])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(DEFAULT_CACHE / "settings"))
    win = MainWindow(Session(), settings=QSettings())
    win.resize(1100, 700)
    win.show()

    def drop() -> None:
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(str(path))])
        no_button, no_key = Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
        win.dropEvent(QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, data, no_button, no_key))

    def settle() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            QThreadPool.globalInstance().waitForDone(50)
            app.processEvents()
            if not win.session.busy and win.session.model_file is not None:
                break
        for _ in range(5):
            app.processEvents()
            time.sleep(0.02)

    rss, memfd = [], []
    for k in range(reopens + 1):
        if k == 0 or k % 2 == 0:
            drop()
        else:
            win.reload_action.trigger()
        settle()
        rss.append(round(_rss_mb(), 1))
        memfd.append(round(_memfd_mb(), 1))
    win.close()
    return {
        "rss_reopen_ratio_large": round(rss[-1] / rss[0], 3),
        "file_mb": round(path.stat().st_size / 1024**2, 1),
        "rss_mb": rss,
        "memfd_mb": memfd,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.reopen", description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny model (seconds)")
    ap.add_argument("--reopens", type=int, default=10)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = ap.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    model = ensure(
        open_spec(sizes), args.cache, use_keras=False, threads=1, log=lambda m: print(m, file=sys.stderr)
    )
    keras_h5 = args.cache / f"{open_spec(sizes)['name']}.h5"  # the Keras-made file of a full bench run
    path = keras_h5 if keras_h5.is_file() else Path(model.h5)
    out = measure(path, args.reopens)
    out["model"] = str(path)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
