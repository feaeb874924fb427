"""`inspector.io.sandbox.load_isolated`: libhdf5 crashes and hangs become one-line errors.

The two files come from the fuzzer: a seed with ONE byte changed on which libhdf5 1.14 (the one
h5py wheels ship) segfaults, or loops forever while holding the GIL (freezing every thread of the
process, a GUI included).  In-process there is no defence; the sandbox reads in a child process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hostile import files
from inspector.io.errors import ModelFileError
from inspector.io.sandbox import dump_result, load_isolated, load_result

REPO = Path(__file__).resolve().parents[2]


def _raw_load_in_subprocess(path: Path, config: Path | None, wall: float) -> str:
    """'crash' | 'hang' | 'ok': what plain in-process `load` does (in a throwaway process)."""
    code = (
        "from inspector.io import load\n"
        "from inspector.io.errors import ModelFileError\n"
        f"try:\n    load({str(path)!r}, config={str(config) if config else None!r})\n"
        "except ModelFileError:\n    pass\n"
    )
    try:
        cp = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, timeout=wall)
    except subprocess.TimeoutExpired:
        return "hang"
    return "crash" if cp.returncode < 0 else "ok"


@pytest.mark.parametrize("patch", files.LIBHDF5_KILLERS, ids=[p.name for p in files.LIBHDF5_KILLERS])
def test_libhdf5_killer_is_contained(patch: files.BytePatch, seeds: dict, tmp_path: Path) -> None:
    made = files.write_byte_patch(patch, tmp_path, seeds)
    if made is None:
        pytest.skip("this h5py/libhdf5 writes the seed with another byte layout: recipe does not apply")
    path, config = made
    t0 = time.perf_counter()
    with pytest.raises(ModelFileError) as err:
        load_isolated(path, config=config, timeout=4.0)
    took = time.perf_counter() - t0
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg, msg
    assert took < 10.0, f"refused after {took:.1f} s"
    if patch.effect == "hang":
        assert "did not finish" in msg, msg
    # document that the containment is needed (informational when a future libhdf5 fixes it)
    raw = _raw_load_in_subprocess(path, config, wall=6.0)
    if raw != patch.effect:
        pytest.xfail(f"libhdf5 no longer {patch.effect}s on this file (raw load: {raw}); sandbox still fine")


def test_sandbox_returns_what_load_returns(seeds: dict) -> None:
    from inspector.io import load

    for s in seeds.values():
        a = load(s.path, config=s.config)
        b = load_isolated(s.path, config=s.config)
        assert (a.path, a.format_id, a.keras_version, a.backend, a.semantics, a.problems) == (
            b.path, b.format_id, b.keras_version, b.backend, b.semantics, b.problems)
        wa = [(p, w.value, w.gates, w.source) for lay in a.weight_layers for p, w in lay.all_weights()]
        wb = [(p, w.value, w.gates, w.source) for lay in b.weight_layers for p, w in lay.all_weights()]
        assert [x[0] for x in wa] == [x[0] for x in wb]
        for (_, va, ga, sa), (_, vb, gb, sb) in zip(wa, wb):
            assert va.dtype == vb.dtype and np.array_equal(va, vb) and ga == gb and sa == sb
        assert [(lay.name, lay.kind, dict(lay.config), lay.runnable) for lay in a.network.layers] == [
            (lay.name, lay.kind, dict(lay.config), lay.runnable) for lay in b.network.layers]
        assert a.network.input_shapes == b.network.input_shapes


def test_sandbox_passes_errors_through(tmp_path: Path) -> None:
    p = files.CASE_BY_NAME["git_lfs_pointer"].make(tmp_path)
    with pytest.raises(ModelFileError, match="Git LFS pointer") as err:
        load_isolated(p)
    assert err.value.path == str(p)
    with pytest.raises(ModelFileError, match="no such file"):
        load_isolated(tmp_path / "missing.h5")


def _dumped(result: dict) -> bytes:
    chunks: list[bytes] = []
    dump_result(result, lambda b: chunks.append(bytes(b)))
    return b"".join(chunks)


def _forged(tree: object, arrays: list | None = None) -> bytes:
    header = json.dumps({"tree": tree, "arrays": arrays or []}).encode()
    return len(header).to_bytes(8, "little") + header


def test_sandbox_result_is_data_only() -> None:
    """The parent builds only core dataclasses and numeric arrays from a child's result, no pickle."""
    src = (REPO / "inspector" / "io" / "sandbox.py").read_text()
    assert "pickle" not in src.replace("Nothing is unpickled", "")
    for tree in (
        {"__dc__": "Popen", "f": {"args": "true"}},  # a class outside inspector.core.network
        {"__dc__": "ModelFile", "f": {"path": {"__dc__": "CompletedProcess", "f": {}}}},
        {"__nd__": 0, "dtype": "|O", "shape": [1]},  # object arrays would unpickle
        {"__nd__": 0, "dtype": "<f4", "shape": [1000]},  # claims bytes beyond the result
        {"__weird__": 1},
    ):
        with pytest.raises((KeyError, ValueError, TypeError)):
            load_result(_forged(tree, [[0, 4000]]))


def test_sandbox_result_round_trip_keeps_types() -> None:
    from types import MappingProxyType

    from inspector.core.network import Layer, Weight

    w = Weight("kernel", np.arange(6, dtype=np.float32).reshape(2, 3), source="k")
    lay = Layer("d", "Dense", config=MappingProxyType({"units": 3, "shape": (None, 2), "l": [1, 2]}),
                weights=(w,))
    back = load_result(_dumped({"status": "ok", "value": lay}))["value"]
    assert isinstance(back, Layer) and isinstance(back.config, MappingProxyType)
    assert back.config["shape"] == (None, 2) and back.config["l"] == [1, 2]
    np.testing.assert_array_equal(back.weights[0].value, w.value)
    assert back.weights[0].value.dtype == np.float32 and back.weights[0].value.shape == (2, 3)
