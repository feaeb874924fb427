"""Render the analysis pages of the real main window on the classic sample (offscreen) as PNGs.

    QT_QPA_PLATFORM=offscreen python resources/screenshots/make_page_screenshots.py \
        [--out DIR] [--size 1280x800 ...] [--prefix NAME_] [--checkpoints FOLDER]

Writes units.png (a corpus ranked by a hypothesis), health.png, cell_diagram.png, intervention.png
(an edited input and its counterfactual) and compare.png (with --checkpoints, a folder of
ModelCheckpoint files: the first file against the training run; else classic.h5 against
classic.keras).  With several sizes, each name gets a `_WxH` suffix.  Every PNG stays < 300 KB.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
SAMPLES = REPO / "resources" / "samples"
MAX_BYTES = 300_000
CORPUS_CHARS = 60_000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(HERE))
    p.add_argument("--size", action="append", default=None, help="WxH (repeatable; default 1280x800)")
    p.add_argument("--prefix", default="")
    p.add_argument("--checkpoints", default=None, help="a folder of checkpoints for compare.png")
    args = p.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in (args.size or ["1280x800"])]

    import tempfile

    from PySide6.QtCore import QSettings, QThreadPool
    from PySide6.QtWidgets import QApplication

    from inspector.ui.main_window import MainWindow
    from inspector.ui.session import Session

    app = QApplication.instance() or QApplication(["make_page_screenshots"])
    tmp = tempfile.TemporaryDirectory()
    settings = QSettings(str(Path(tmp.name) / "settings.ini"), QSettings.Format.IniFormat)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def settle() -> None:
        for _ in range(10):
            QThreadPool.globalInstance().waitForDone(50)
            app.processEvents()

    s = Session(sync=True)
    win = MainWindow(s, settings=settings)
    win.show()
    s.open(str(SAMPLES / "classic.h5"))
    corpus = Path(tmp.name) / "hamlet.txt"
    corpus.write_text((SAMPLES / "shakespeare.txt").read_text(encoding="utf-8")[:CORPUS_CHARS], "utf-8")

    def save(name: str) -> None:
        settle()
        for w, h in sizes:
            win.resize(w, h)
            settle()
            suffix = f"_{w}x{h}" if len(sizes) > 1 else ""
            path = out / f"{args.prefix}{name}{suffix}.png"
            win.grab().save(str(path))
            size = path.stat().st_size
            print(f"{path} ({size // 1000} KB)")
            if size > MAX_BYTES:
                print(f"  warning: {path.name} is over {MAX_BYTES // 1000} KB", file=sys.stderr)

    units = win.pages["Units"]
    units.open_corpus(str(corpus))
    units.page.regex_edit.setText(r"[aeiou]")
    units.page.rank_button.click()
    ranked = units.page.ranking
    if ranked.count() > 1:
        ranked.setCurrentRow(1)
        ranked.itemClicked.emit(ranked.item(1))
    win.show_page("Units")
    save("units")

    win.show_page("Health")
    win.pages["Health"].panel.run_button.click()
    save("health")

    layer, unit = s.unit
    s.set_step(min(20, s.n_steps - 1))
    win.show_page("Cell")
    save("cell_diagram")

    whatif = win.pages["What if"]
    win.show_page("What if")
    panel = whatif.panel
    panel.kind.setCurrentIndex(2)  # edit the input: another character at step 12
    panel.from_step.setValue(12)
    panel.feature.setValue(s.vocabulary.index("z") if s.vocabulary and "z" in s.vocabulary else 0)
    panel.add_button.click()
    save("intervention")

    compare = win.pages["Compare"]
    if args.checkpoints:
        first = sorted(Path(args.checkpoints).iterdir())[0]
        s.open(str(first))
        s.select_weight("rnn/kernel" if s.find_weight("rnn/kernel") else s.selection)
        compare.compare_with(args.checkpoints)
    else:
        compare.compare_with(str(SAMPLES / "classic.keras"))
    save("compare")
    win.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
