"""`keras-inspector units`: the REPORT.json contract and one-line errors (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inspector.app.keyframes import ids_to_input
from inspector.cli import main
from inspector.core import engine
from inspector.io import load
from tests.conftest import REPO

SAMPLES = REPO / "resources" / "samples"
CLASSIC = str(SAMPLES / "classic.keras")
TEXT = "to be, or not to be: that is the question:\n'tis nobler in the mind to suffer\n" * 3


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT)
    return p


def test_report_contract(tmp_path, text_file):
    out = tmp_path / "r.json"
    rc = main(
        [
            "units",
            CLASSIC,
            "--text",
            str(text_file),
            "--hypothesis",
            "[aeiou]",
            "--top",
            "4",
            "--output",
            str(out),
        ]
    )
    assert rc == 0
    rep = json.loads(out.read_text())
    assert (
        rep["layer"] == "lstm" and rep["units"] == 128 and rep["steps"] == len(TEXT) and rep["value"] == "c"
    )
    assert set(rep["saturation"]) == {"i", "f", "o"}
    assert all(len(rep["saturation"][g][s]) == 128 for g in "ifo" for s in ("left", "right"))
    assert len(rep["top"]) == 128 and all(len(t) == 4 for t in rep["top"])
    # independent check of unit 9's largest value against a full trace of the text
    mf = load(CLASSIC)
    vocab = json.loads((SAMPLES / "classic.vocab.json").read_text())
    ids = np.array([vocab.index(ch) for ch in TEXT])
    c = engine.trace(mf.network, ids_to_input(ids[None], 36), mf.semantics).layers["lstm"].c[0]
    best = rep["top"][9][0]
    assert best["position"] == int(np.argmax(c[:, 9])) and best["value"] == pytest.approx(
        c[:, 9].max(), abs=1e-5
    )
    assert [e["value"] for e in rep["top"][9]] == sorted((e["value"] for e in rep["top"][9]), reverse=True)
    assert TEXT[best["position"]] == best["context"][best["offset"]]
    hyp = rep["hypothesis"]
    mask = np.array([ch in "aeiou" for ch in TEXT])
    assert hyp["regex"] == "[aeiou]" and hyp["positions"] == int(mask.sum())
    r = [np.corrcoef(c[:, u], mask)[0, 1] for u in range(128)]
    top = hyp["ranking"][0]
    assert top["unit"] == int(np.argmax(np.abs(r))) and top["r"] == pytest.approx(r[top["unit"]], abs=1e-4)


def test_value_h_window_and_numeric(tmp_path, text_file):
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "units",
                CLASSIC,
                "--text",
                str(text_file),
                "--value",
                "h",
                "--window",
                "50",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    rep = json.loads(out.read_text())
    assert rep["value"] == "h" and rep["mode"] == "windows of 50" and rep["steps"] == len(TEXT)
    x = np.random.default_rng(0).random((3, 20, 36)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert (
        main(["units", CLASSIC, "--input", str(tmp_path / "x.npy"), "--top", "2", "--output", str(out)]) == 0
    )
    rep = json.loads(out.read_text())
    assert rep["steps"] == 60 and rep["mode"] == "batch"
    c = engine.trace(load(CLASSIC).network, x, load(CLASSIC).semantics).layers["lstm"].c.reshape(60, -1)
    assert rep["top"][5][0]["position"] == int(np.argmax(c[:, 5]))  # n*T + t


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--text", "missing.txt"], "missing.txt"),
        (["--text", "{bad}"], "vocabulary"),
        (["--text", "{ok}", "--hypothesis", "("], "bad regular expression"),
        (["--text", "{ok}", "--layer", "nope"], "no recurrent layer 'nope'"),
        (["--text", "{ok}", "--top", "0"], "--top"),
        (["--input", "{txt_as_npy}"], "txt.npy: "),
        (["--input", "{wrong_width}"], "36"),
    ],
)
def test_bad_input_exit_2_one_line(tmp_path, capsys, extra, needle):
    (tmp_path / "ok.txt").write_text("hello")
    (tmp_path / "bad.txt").write_text("HELLO \u00e9t\u00e9")
    (tmp_path / "txt.npy").write_text("not numpy")
    np.save(tmp_path / "wrong.npy", np.zeros((2, 5, 7), np.float32))
    subst = {"{ok}": "ok.txt", "{bad}": "bad.txt", "{txt_as_npy}": "txt.npy", "{wrong_width}": "wrong.npy"}
    args = [str(tmp_path / subst[a]) if a in subst else a for a in extra]
    rc = main(["units", CLASSIC, *args, "--output", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and needle in err, err
    assert "Traceback" not in err
