"""Recording: GIF frame count and timing, PNG-folder fallback without imageio, MP4 refused clearly."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QLabel

from inspector.ui import recorder
from inspector.ui.recorder import RecordDialog, RecorderError, parse_steps, record


@pytest.fixture
def counter(qtbot):
    """A label showing the current step in a colour of its own: every frame differs."""
    label = QLabel()
    label.setAutoFillBackground(True)
    qtbot.addWidget(label)
    label.resize(120, 60)
    label.show()
    qtbot.waitExposed(label)
    shown = []

    def set_step(t: int) -> None:
        shown.append(t)
        label.setText(f"step {t}")
        label.setStyleSheet(f"background: rgb({20 * t % 256}, 80, 160); color: white;")

    return label, set_step, shown


def test_parse_steps() -> None:
    assert parse_steps("3:7", 10) == range(3, 8)
    assert parse_steps(":2", 10) == range(0, 3) and parse_steps("8:", 10) == range(8, 10)
    assert parse_steps("4", 10) == range(4, 5)
    for bad in ("0:10", "5:2", "a:b", "1:2:3", "-1:3"):
        with pytest.raises(RecorderError):
            parse_steps(bad, 10)


def test_gif_has_one_frame_per_step(counter, tmp_path: Path) -> None:
    iio = pytest.importorskip("imageio.v3")
    label, set_step, shown = counter
    res = record(label, set_step, range(2, 9), tmp_path / "a.gif", fps=5)
    assert res.kind == "gif" and res.frames == 7 and shown == list(range(2, 9))
    frames = iio.imread(tmp_path / "a.gif", index=None)
    assert frames.shape[0] == 7 and frames.shape[1:3] == (60, 120)
    assert len({f[30, 5, :3].tobytes() for f in frames}) == 7  # each frame shows its own step
    meta = iio.immeta(tmp_path / "a.gif", index=0)
    assert meta.get("duration") == 200
    # the GIF block structure, read without imageio or PIL: 7 image descriptors after the header
    data = (tmp_path / "a.gif").read_bytes()
    assert data[:6] in (b"GIF87a", b"GIF89a") and _count_gif_images(data) == 7


def _count_gif_images(data: bytes) -> int:
    """Number of images in a GIF, by walking its blocks (GIF89a spec)."""
    pos = 13
    flags = data[10]
    if flags & 0x80:
        pos += 3 * (2 ** ((flags & 7) + 1))
    count = 0
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            pos += 2
        else:  # 0x2C image descriptor
            count += 1
            local = data[pos + 9]
            pos += 10
            if local & 0x80:
                pos += 3 * (2 ** ((local & 7) + 1))
            pos += 1  # LZW minimum code size
        while data[pos] != 0:
            pos += data[pos] + 1
        pos += 1
    return count


def test_png_folder_when_imageio_is_missing(counter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    label, set_step, _ = counter
    monkeypatch.setitem(sys.modules, "imageio", None)
    monkeypatch.setitem(sys.modules, "imageio.v3", None)
    res = record(label, set_step, range(0, 4), tmp_path / "b.gif", fps=2)
    assert res.kind == "png-frames" and res.path == tmp_path / "b_frames"
    assert "imageio is not installed" in res.note
    assert sorted(p.name for p in res.path.iterdir()) == [f"frame_{n:04d}.png" for n in range(4)]
    assert not (tmp_path / "b.gif").exists()
    # a name without extension is a folder of frames on purpose
    res = record(label, set_step, range(0, 2), tmp_path / "frames", fps=2)
    assert res.kind == "png-frames" and len(list((tmp_path / "frames").iterdir())) == 2


def test_mp4_without_ffmpeg_says_so(counter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    label, set_step, _ = counter
    monkeypatch.setattr(recorder, "ffmpeg_available", lambda: False)
    with pytest.raises(RecorderError, match="MP4 needs the imageio-ffmpeg package, which is not installed"):
        record(label, set_step, range(0, 3), tmp_path / "c.mp4")
    with pytest.raises(RecorderError, match=r"\.gif, an \.mp4 or a folder"):
        record(label, set_step, range(0, 3), tmp_path / "c.avi")
    with pytest.raises(RecorderError, match="fps"):
        record(label, set_step, range(0, 3), tmp_path / "c.gif", fps=0)


def test_dialog_records_and_returns_to_the_current_step(qtbot, counter, tmp_path: Path) -> None:
    pytest.importorskip("imageio.v3")
    label, set_step, shown = counter
    dlg = RecordDialog({"panel": label}, set_step, n_steps=10, current=6)
    qtbot.addWidget(dlg)
    dlg.first.setValue(1)
    dlg.last.setValue(3)
    dlg.fps.setValue(10)
    res = dlg.record_to(tmp_path / "d.gif")
    assert res.frames == 3 and shown[-1] == 6
    assert np.array_equal(shown[:3], [1, 2, 3])


def test_snapshot_cli_records_the_classic_sample(
    qapp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iio = pytest.importorskip("imageio.v3")
    from inspector import cli
    from inspector.resources import sample_model_path

    model = str(sample_model_path())
    out = tmp_path / "anim.gif"
    argv = ["snapshot", model, "--text", "to be", "--steps", "1:3", "--fps", "2", "--size", "800x500"]
    assert cli.main([*argv, "--output", str(out)]) == 0
    frames = iio.imread(out, index=None)
    assert frames.shape[:3] == (3, 500, 800)
    assert iio.immeta(out, index=0).get("duration") == 500
    for bad, message in (("2:9", "outside 0..4"), ("x", "expected A:B")):
        argv_bad = ["snapshot", model, "--text", "to be", "--steps", bad, "--output", str(tmp_path / "b.gif")]
        assert cli.main(argv_bad) == 2
        assert message in capsys.readouterr().err
    assert cli.main(["snapshot", model, "--steps", "0:1", "--output", str(tmp_path / "c.gif")]) == 2
    assert "--steps needs an input" in capsys.readouterr().err
