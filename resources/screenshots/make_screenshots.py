"""Re-render the README screenshots (1280x800, offscreen) through the real app code paths.

    QT_QPA_PLATFORM=offscreen python resources/screenshots/make_screenshots.py [--corpus DIR]

Writes main.png (the window as a new user first sees it on the bundled sample), weights_*.png,
stepper.png (mid-sequence, one unit selected), stepper_generate.png (generate mode),
error_banner.png (a file that cannot be opened; the previous model stays) and
weights_only_file.png (a save_weights file: inspection works, the stepper asks for model.json).
Every PNG is checked to stay under 300 KB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

MAX_BYTES = 300_000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_corpus = os.environ.get("KERAS_CORPUS") or str(REPO / ".." / "shared" / "keras-corpus")
    p.add_argument("--corpus", default=default_corpus, help="the third-party Keras files (optional)")
    p.add_argument("--out", default=str(HERE))
    args = p.parse_args(argv)

    from PySide6.QtCore import QPointF, QSettings, QThreadPool
    from PySide6.QtWidgets import QApplication

    from inspector.resources import sample_model_path
    from inspector.ui.main_window import MainWindow
    from inspector.ui.session import Session

    app = QApplication.instance() or QApplication(["make_screenshots"])
    tmp = tempfile.TemporaryDirectory()
    out = Path(args.out)
    corpus = Path(args.corpus)
    sample = str(sample_model_path())

    def settle(rounds: int = 20) -> None:
        for _ in range(rounds):
            QThreadPool.globalInstance().waitForDone(50)
            app.processEvents()

    def window() -> tuple[Session, MainWindow]:
        session = Session()
        settings = QSettings(os.path.join(tmp.name, "s.ini"), QSettings.Format.IniFormat)
        win = MainWindow(session, settings=settings)
        win.resize(1280, 800)
        win.show()
        return session, win

    def save(win: MainWindow, name: str) -> None:
        settle(5)
        path = out / name
        win.grab().save(str(path), "PNG")
        size = path.stat().st_size
        print(f"{path.name}: {size // 1024} KB")
        if size > MAX_BYTES:
            raise SystemExit(f"{path}: {size} bytes, more than {MAX_BYTES}")

    # the first minute: `keras-inspector` with no file opens the sample on the weights
    s, w = window()
    s.open(sample)
    settle(40)
    save(w, "main.png")
    save(w, "weights_lstm_kernel.png")

    # stepper mid-sequence with a unit picked by clicking a forget-gate column in the heatmap
    hm = w.weights.heatmap
    vb = hm.panels[1].plot.getViewBox()
    w.weights._on_unit_clicked(hm.cell_at(vb.mapViewToScene(QPointF(17, 3)))[2])
    w.stepper.input_panel.set_text("to be, or not to be, that is the question")
    settle()
    s.set_step(20)
    w.tabs.setCurrentIndex(1)
    save(w, "stepper.png")

    # generate mode: a few sampled characters appended, still running
    w.stepper.input_panel.set_text("the king ")
    settle()
    out_view = w.stepper.output
    out_view.seed.setValue(3)
    out_view.generate_button.setChecked(True)
    for _ in range(40):
        out_view._awaiting_input = False
        out_view.generate_once()
        settle(2)
    save(w, "stepper_generate.png")
    out_view.stop_generating()

    # an error keeps the previous model
    bad = Path(tmp.name) / "not_a_model.h5"
    bad.write_bytes(b"this is not an HDF5 file\n" * 4)
    w.tabs.setCurrentIndex(0)
    s.open(str(bad))
    settle()
    save(w, "error_banner.png")
    w.close()

    weights_only = corpus / "k2.0.5_katshun_lstm_saveweights.h5"
    if weights_only.exists():
        s2, w2 = window()
        s2.open(str(weights_only))
        settle()
        save(w2, "weights_only_file.png")
        w2.close()
    else:
        print(f"no corpus at {corpus}: weights_only_file.png not refreshed")
    settle()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
