"""The numpy export: the written program, run in a clean subprocess, against real Keras' predict."""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inspector.app.export_numpy import ExportError, build_program, export_numpy
from inspector.io import load

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from keras_oracle import (  # noqa: E402
    DEFAULT_EXPORT_CASES,
    EXPORT_CASES,
    FULL_ENV,
    HOSTILE_NAMES,
    REFUSED_CASES,
)

REPO = HERE.parents[1]
FULL = os.environ.get(FULL_ENV) == "1"


def _case(name: str) -> Any:
    """A case of the default oracle run, or one of the full matrix (slow: needs INSPECTOR_FULL_ORACLE=1)."""
    if name in DEFAULT_EXPORT_CASES:
        return name
    skip = pytest.mark.skipif(not FULL, reason=f"full oracle matrix only: set {FULL_ENV}=1")
    return pytest.param(name, marks=[pytest.mark.slow, skip])


TOL = 1e-5
ALLOWED_IMPORTS = {"__future__", "math", "sys", "pathlib", "collections.abc", "typing", "numpy"}
ERRORS: dict[str, float] = {}


def run_program(folder: Path, inputs: list[np.ndarray], n_out: int, cwd: Path) -> list[np.ndarray]:
    """python folder/model.py X_0.npy ... Y.npy from another folder, with an empty environment."""
    cwd.mkdir(parents=True, exist_ok=True)
    xs = []
    for i, a in enumerate(inputs):
        np.save(cwd / f"X_{i}.npy", a)
        xs.append(f"X_{i}.npy")
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "PYTHONNOUSERSITE": "1"}
    proc = subprocess.run(
        [sys.executable, "-I", str(folder / "model.py"), *xs, "Y.npy"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    if n_out == 1:
        return [np.load(cwd / "Y.npy")]
    return [np.load(cwd / f"Y_{k}.npy") for k in range(n_out)]


def check_imports(text: str) -> None:
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            assert {a.name for a in node.names} <= ALLOWED_IMPORTS
        elif isinstance(node, ast.ImportFrom):
            assert node.module in ALLOWED_IMPORTS
        elif isinstance(node, ast.Name):
            assert node.id not in ("__import__", "eval", "exec", "open", "compile")


def compare(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    assert len(got) == len(want)
    err = 0.0
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == np.float32
        err = max(err, float(np.max(np.abs(g - w))) if g.size else 0.0)
    return err


@pytest.fixture(scope="module", autouse=True)
def _report_errors(generated_dir: Path):
    yield
    if ERRORS:
        worst = max(ERRORS, key=lambda k: ERRORS[k])
        (generated_dir / "export_errors.json").write_text(
            json.dumps({"max_abs_err": ERRORS[worst], "worst": worst, "cases": ERRORS}, indent=1)
        )


@pytest.mark.parametrize("flavor", ["tf_keras", "keras3"])
@pytest.mark.parametrize("case", [*map(_case, EXPORT_CASES), "attr_lstm", "attr_embedding", "hostile_names"])
def test_export_reproduces_keras(oracle, flavor: str, case: str, tmp_path: Path) -> None:
    o = oracle[flavor]
    path = o.path(case)
    ref = o.arrays(case)
    mf = load(path)
    result = export_numpy(mf, tmp_path / "exported")
    text = result.program.read_text()
    check_imports(text)
    inputs = [ref[f"in_{i}"] for i in range(o.require(case)["n_inputs"])]
    want = [
        ref[k]
        for k in sorted(
            (k for k in ref if k.startswith("out_") and k[4:].isdigit()), key=lambda k: int(k[4:])
        )
    ]
    got = run_program(result.weights.parent, inputs, len(want), tmp_path / "elsewhere")
    err = compare(got, want)
    ERRORS[f"{flavor}/{case}"] = err
    assert err <= TOL, f"{case}: exported program differs from Keras by {err:.3g}"


@pytest.mark.parametrize("case", REFUSED_CASES)
def test_refuses_what_it_cannot_write(oracle, case: str) -> None:
    mf = load(oracle["tf_keras"].path(case))
    with pytest.raises(ExportError) as info:
        build_program(mf)
    msg = str(info.value)
    assert "\n" not in msg
    assert any(k in msg for k in ("Conv1D", "initial_state", "Sequential", "MaxPooling1D"))


def test_weights_are_gate_sliced_and_named(oracle, tmp_path: Path) -> None:
    mf = load(oracle["tf_keras"].path("lstm_last"))
    res = export_numpy(mf, tmp_path)
    lstm = next(lay for lay in mf.network.layers if lay.kind == "LSTM")
    kernel = lstm.weight("kernel").value
    u = kernel.shape[1] // 4
    with np.load(res.weights, allow_pickle=False) as z:
        for k, g in enumerate("ifco"):
            np.testing.assert_array_equal(z[f"{lstm.name}/kernel/{g}"], kernel[:, k * u : (k + 1) * u])
    text = res.program.read_text()
    assert "[i, f, c, o]" in text and "clip(0.2 * x + 0.5, 0, 1)" in text


def _hostile_copy(mf):
    """The same model with every name and the writer version replaced by hostile strings."""
    net = mf.network
    names = iter(HOSTILE_NAMES * 3)
    layers = tuple(dataclasses.replace(lay, name=next(names)) for lay in net.layers)
    net = dataclasses.replace(net, layers=layers, name="'''\n__import__('os').system('echo>pwn_marker')\n'''")
    return dataclasses.replace(
        mf, network=net, keras_version="3.0'\n__import__('os').system('echo>pwn_marker')#"
    )


@pytest.mark.parametrize("flavor", ["tf_keras", "keras3"])
def test_hostile_names_only_compute(oracle, flavor: str, tmp_path: Path) -> None:
    o = oracle[flavor]
    ref = o.arrays("hostile_names")
    mf = load(o.path("hostile_names"))
    if flavor == "tf_keras":
        mf = _hostile_copy(mf)
    else:  # Keras 3 wrote the hostile names itself
        assert (
            any("__import__" in lay.name for lay in [*mf.network.layers]) or "__import__" in mf.network.name
        )
    res = export_numpy(mf, tmp_path / "exported")
    text = res.program.read_text()
    check_imports(text)
    # the hostile text reaches the program only in comments, or as a sanitised weights.npz key
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if "__import__" in tok.string or "pwn_marker" in tok.string:
            assert tok.type == tokenize.COMMENT or (
                tok.type == tokenize.STRING and re.fullmatch(r"'[A-Za-z0-9_./-]*'", tok.string)
            ), tok
    cwd = tmp_path / "elsewhere"
    got = run_program(res.weights.parent, [ref["in_0"]], 1, cwd)
    assert not list(tmp_path.rglob("pwn_marker")) and not (REPO / "pwn_marker").exists()
    assert compare(got, [ref["out_0"]]) <= TOL
    with np.load(res.weights, allow_pickle=False) as z:
        assert all("\n" not in k and "'" not in k for k in z.files)


def test_cli_export(oracle, tmp_path: Path, capsys) -> None:
    from inspector.cli import main

    ok = main(["export", str(oracle["keras3"].path("bidi_concat_seq")), "--format", "numpy",
               "--output", str(tmp_path / "out")])  # fmt: skip
    assert (
        ok == 0 and (tmp_path / "out" / "model.py").is_file() and (tmp_path / "out" / "weights.npz").is_file()
    )
    capsys.readouterr()
    bad = main(["export", str(oracle["tf_keras"].path("conv1d_valid_maxpool")), "--format", "numpy",
                "--output", str(tmp_path / "bad")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert bad == 2 and len(err.splitlines()) == 1 and "Conv1D" in err


SAMPLES = sorted((REPO / "resources" / "samples").glob("*.keras")) + sorted(
    (REPO / "resources" / "samples").glob("*.h5")
)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_samples_export_match_engine(path: Path, tmp_path: Path) -> None:
    """Extra check (the Keras comparison above is the main one): the bundled samples vs our engine."""
    from inspector.core import engine

    mf = load(path)
    res = export_numpy(mf, tmp_path / "exported")
    shape = mf.network.input_shapes[0]
    rng = np.random.default_rng(3)
    emb = [lay for lay in mf.network.layers if lay.kind == "Embedding"]
    if emb:  # a word-level model reads token ids
        x = rng.integers(1, emb[0].config["input_dim"], size=(2, 9)).astype(np.float32)
    else:
        x = rng.normal(size=(2, 9, *shape[2:])).astype(np.float32)
    got = run_program(res.weights.parent, [x], 1, tmp_path / "elsewhere")
    assert compare(got, engine.predict(mf.network, x, mf.semantics)) <= TOL


CORPUS = REPO.parent / "shared" / "keras-corpus"
CORPUS_FILES = (
    sorted(p for p in CORPUS.glob("*") if p.suffix in (".h5", ".hdf5", ".keras")) if CORPUS.is_dir() else []
)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_export_matches_engine(path: Path, tmp_path: Path) -> None:
    """Extra: every corpus model the engine runs either exports and matches the engine, or is refused."""
    from inspector.core import engine
    from inspector.io import ModelFileError

    try:
        mf = load(path)
    except ModelFileError:
        pytest.skip("not a Keras model")
    if mf.network is None:
        pytest.skip("weights only")
    try:
        res = export_numpy(mf, tmp_path / "exported")
    except ExportError as exc:
        assert "\n" not in str(exc) and "cannot export" in str(exc)
        return
    net = mf.network
    rng = np.random.default_rng(0)
    xs = []
    for i, shape in enumerate(net.input_shapes):
        T = shape[1] or 9
        if len(shape) == 2 and engine.sequence_inputs(net)[i]:
            emb = next(lay for lay in net.layers if lay.kind == "Embedding")
            xs.append(rng.integers(0, emb.weights[0].value.shape[0], (2, T)).astype(np.int32))
        else:
            xs.append(rng.normal(size=(2, T, *[s or 4 for s in shape[2:]])).astype(np.float32))
    want = engine.predict(net, xs if len(xs) > 1 else xs[0], mf.semantics)
    got = run_program(res.weights.parent, xs, len(want), tmp_path / "elsewhere")
    assert compare(got, want) <= TOL
