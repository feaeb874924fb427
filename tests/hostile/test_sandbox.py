"""`inspector.io.sandbox.load_isolated`: libhdf5 crashes and hangs become one-line errors.

The two files come from the fuzzer: a seed with ONE byte changed on which libhdf5 1.14 (the one
h5py wheels ship) segfaults, or loops forever while holding the GIL (freezing every thread of the
process, a GUI included).  In-process there is no defence; the sandbox reads in a child process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from hostile import files
from inspector.io import reader_pool
from inspector.io.arena import Arena
from inspector.io.errors import ModelFileError
from inspector.io.result_codec import TAG, dump_result, load_result
from inspector.io.sandbox import ReaderNotIsolatedWarning, load_isolated

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


SAMPLES = [REPO / "resources" / "samples" / n for n in ("classic.keras", "classic.h5", "explainer.keras")]


def _same_tree(a: object, b: object, where: str, pairs: dict[int, int]) -> None:
    """`b` (from the sandbox) equals `a` (from `load`) field by field, with the same types (tuple vs
    list, MappingProxyType vs dict), dtypes, shapes and values, and the same object sharing."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.ndarray) or dataclasses.is_dataclass(a):
        if id(a) in pairs:  # met before: `b` must be the very object met then
            assert pairs[id(a)] == id(b), f"{where}: sharing differs"
            return
        pairs[id(a)] = id(b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), where
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same_tree(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}", pairs)
    elif isinstance(a, (dict, MappingProxyType)):
        assert list(a) == list(b), where
        for k in a:
            _same_tree(a[k], b[k], f"{where}[{k!r}]", pairs)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same_tree(x, y, f"{where}[{i}]", pairs)
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _inputs(net) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for shape, dtype in zip(net.input_shapes, net.input_dtypes or ["float32"] * len(net.input_shapes)):
        dims = [2] + [d if d is not None else 5 for d in shape[1:]]
        if "int" in str(dtype):
            out.append(rng.integers(0, 3, dims).astype(dtype))
        else:
            out.append(rng.standard_normal(dims).astype(np.float32))
    return out


def _cases(seeds: dict) -> list[tuple[Path, Path | None]]:
    return [(s.path, s.config) for s in seeds.values()] + [(p, None) for p in SAMPLES if p.exists()]


def test_sandbox_returns_what_load_returns(seeds: dict) -> None:
    """Every field equal, same types, same sharing; `predict` gives the very same numbers."""
    from inspector.core import engine
    from inspector.io import load

    ran = 0
    for path, config in _cases(seeds):
        a = load(path, config=config)
        b = load_isolated(path, config=config)
        _same_tree(a, b, path.name, {})
        if a.network is not None and all(lay.runnable for lay in a.network.layers):
            x = _inputs(a.network)
            ya, yb = engine.predict(a.network, x, a.semantics), engine.predict(b.network, x, b.semantics)
            assert len(ya) == len(yb) and ya
            for u, v in zip(ya, yb):
                assert u.dtype == v.dtype and np.array_equal(u, v), path.name
            ran += 1
    assert ran >= 5, ran


def test_sandbox_arrays_are_shared_read_only_float32(seeds: dict) -> None:
    """The arrays are views of one read-only mapping: float32, C-contiguous, 64-byte aligned."""
    for path, config in _cases(seeds):
        mf = load_isolated(path, config=config)
        for lay in mf.weight_layers:
            for p, w in lay.all_weights():
                v = w.value
                assert isinstance(v, np.ndarray) and v.dtype == np.float32, (path.name, p, v.dtype)
                assert v.flags.c_contiguous and v.ctypes.data % 64 == 0, (path.name, p)
                assert not v.flags.writeable, (path.name, p)
                with pytest.raises(ValueError):
                    v.flat[0] = 1.0


def test_prestarted_reader_is_used_and_replaced(seeds: dict, tmp_path: Path, monkeypatch) -> None:
    """`prestart` keeps one reader waiting; each load uses it and a fresh one follows, also after a
    crash; `shutdown` stops it."""
    monkeypatch.setattr(reader_pool, "RESPAWN_DELAY_S", 0.0)
    good = seeds["tf_h5_full"].path
    try:
        reader_pool.prestart()
        spare = reader_pool._spare
        assert spare is not None and spare.alive()
        reader_pool.prestart()  # idempotent
        assert reader_pool._spare is spare
        time.sleep(1.0)  # let it import numpy and h5py
        t0 = time.perf_counter()
        load_isolated(good)
        warm = time.perf_counter() - t0
        assert spare.proc.returncode == 0 and spare.fd == -1  # used, ended and its file closed
        nxt = _wait_for_spare(spare)
        crash = next((p for p in files.LIBHDF5_KILLERS if p.effect == "crash"), None)
        made = files.write_byte_patch(crash, tmp_path, seeds) if crash is not None else None
        if made is not None:
            with pytest.raises(ModelFileError, match="crashed"):
                load_isolated(made[0], config=made[1], timeout=4.0)
            nxt = _wait_for_spare(nxt)
        mf = load_isolated(good)
        assert mf.network is not None and nxt.proc.returncode == 0
        assert warm < 5.0
    finally:
        reader_pool.shutdown()
    assert reader_pool._spare is None


def _wait_for_spare(previous: object) -> reader_pool.ReaderProcess:
    for _ in range(100):
        s = reader_pool._spare
        if s is not None and s is not previous:
            return s
        time.sleep(0.05)
    raise AssertionError("no new reader process was started after a load")


def test_child_ignores_an_inspector_folder_in_the_working_dir(
    seeds: dict, tmp_path: Path, monkeypatch
) -> None:
    """The child is started with -P: an `inspector` package in the current folder is not imported."""
    fake = tmp_path / "inspector" / "io"
    fake.mkdir(parents=True)
    mark = tmp_path / "FAKE.EXECUTED"
    for f in (tmp_path / "inspector" / "__init__.py", fake / "__init__.py", fake / "sandbox.py"):
        f.write_text(f"open({str(mark)!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    reader_pool.shutdown()  # a reader started elsewhere would not tell
    load_isolated(seeds["tf_h5_full"].path)
    assert not mark.exists()


def test_in_process_when_disabled(seeds: dict, monkeypatch) -> None:
    monkeypatch.setenv("INSPECTOR_SANDBOX", "0")
    mf = load_isolated(seeds["tf_h5_full"].path)
    assert all(w.value.flags.writeable for lay in mf.weight_layers for _, w in lay.all_weights())


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


def _forged(tree: object, arrays: list | None = None, payload: bytes = b"") -> bytes:
    """A result in the sandbox's format: payload, JSON header, its length, the tag."""
    header = json.dumps({"tree": tree, "arrays": arrays or []}).encode()
    return payload + header + len(header).to_bytes(8, "little") + TAG


def test_sandbox_result_is_data_only() -> None:
    """The parent builds only core dataclasses and numeric arrays from a child's result, no pickle."""
    for name in ("sandbox.py", "result_codec.py", "arena.py", "reader_pool.py"):
        src = (REPO / "inspector" / "io" / name).read_text()
        assert "pickle" not in src and "marshal" not in src
    for tree in (
        {"__dc__": "Popen", "f": {"args": "true"}},  # a class outside inspector.core.network
        {"__dc__": "ModelFile", "f": {"path": {"__dc__": "CompletedProcess", "f": {}}}},
        {"__nd__": 0, "dtype": "|O", "shape": [1]},  # object arrays would unpickle
        {"__nd__": 0, "dtype": "<f4", "shape": [1000]},  # claims bytes beyond the result
        {"__weird__": 1},
        {"__t__": [{"__ref__": 0}]},  # a reference to nothing
        {"__dc__": "TensorRef", "f": {"layer": {"__ref__": 0}}},  # to itself: no cycles
        {"__nd__": 0, "dtype": "<f4", "shape": [3]},  # shape disagrees with the byte count
    ):
        with pytest.raises((KeyError, ValueError, TypeError)):
            load_result(_forged(tree, [[0, 4000]]))


def test_sandbox_result_round_trip_keeps_types() -> None:
    from types import MappingProxyType

    from inspector.core.network import Layer, Weight

    w = Weight("kernel", np.arange(6, dtype=np.float32).reshape(2, 3), source="k")
    lay = Layer(
        "d", "Dense", config=MappingProxyType({"units": 3, "shape": (None, 2), "l": [1, 2]}), weights=(w,)
    )
    back = load_result(_dumped({"status": "ok", "value": lay}))["value"]
    shared = load_result(_dumped({"a": w, "b": (w, lay)}))
    assert shared["a"] is shared["b"][0] is shared["b"][1].weights[0]
    assert isinstance(back, Layer) and isinstance(back.config, MappingProxyType)
    assert back.config["shape"] == (None, 2) and back.config["l"] == [1, 2]
    np.testing.assert_array_equal(back.weights[0].value, w.value)
    assert back.weights[0].value.dtype == np.float32 and back.weights[0].value.shape == (2, 3)


def test_child_ends_itself_when_nobody_kills_it(seeds: dict, tmp_path: Path) -> None:
    """A reader stuck in libhdf5 (GIL held) whose parent is gone (a GUI that quit) must not spin
    forever: the child's own alarm / CPU limit ends it `timeout` + 2 s after its request."""
    hang = next((p for p in files.LIBHDF5_KILLERS if p.effect == "hang"), None)
    made = files.write_byte_patch(hang, tmp_path, seeds) if hang is not None else None
    if made is None:
        pytest.skip("no hang recipe applies to this h5py/libhdf5")
    child = reader_pool.ReaderProcess()
    try:
        req = {
            "path": str(made[0]),
            "config": str(made[1]) if made[1] else None,
            "mem_mb": 1024,
            "timeout": 1.0,
        }
        child.proc.stdin.write((json.dumps(req) + "\n").encode())
        child.proc.stdin.close()  # and nobody waits with a timeout
        t0 = time.perf_counter()
        rc = child.proc.wait(timeout=15)
        assert rc < 0 and time.perf_counter() - t0 < 10, rc
    finally:
        child.discard()


# ---------------------------------------------------------------------------------------- preview


def test_preview_arrives_first_and_holds_exactly_one_weight(seeds: dict) -> None:
    from inspector.core.network import default_weight, find_weight

    made = 0
    for path, config in _cases(seeds):
        calls: list[tuple[str, object]] = []
        mf = load_isolated(path, config=config, preview="", on_preview=lambda w, m, c=calls: c.append((w, m)))
        assert len(calls) <= 1, path
        if not calls:
            continue  # no single-dataset weight to show first (Keras 1 per-gate arrays)
        made += 1
        weight, pm = calls[0]
        assert weight == default_weight(mf)
        real = find_weight(pm, weight)[1].value
        np.testing.assert_array_equal(real, find_weight(mf, weight)[1].value)
        assert not real.flags.writeable
        for lay in pm.weight_layers:
            for p, w in lay.all_weights():
                if p != weight and w.value.size:
                    # placeholders: read-only zeros that take no memory (zero strides)
                    assert not w.value.flags.writeable and not w.value.any(), (path, p)
                    assert all(s == 0 for s in w.value.strides), (path, p)
    assert made >= 4


def test_preview_honours_the_wanted_weight(seeds: dict) -> None:
    path = SAMPLES[0]
    if not path.exists():
        pytest.skip("sample absent")
    calls: list[str] = []
    load_isolated(path, preview="next_char/bias", on_preview=lambda w, m: calls.append(w))
    assert calls == ["next_char/bias"]


@pytest.mark.parametrize("patch", files.LIBHDF5_KILLERS, ids=[p.name for p in files.LIBHDF5_KILLERS])
def test_killer_files_with_preview_still_fail_in_one_line(
    patch: files.BytePatch, seeds: dict, tmp_path: Path
) -> None:
    made = files.write_byte_patch(patch, tmp_path, seeds)
    if made is None:
        pytest.skip("this h5py/libhdf5 writes the seed with another byte layout: recipe does not apply")
    path, config = made
    with pytest.raises(ModelFileError) as err:
        load_isolated(path, config=config, timeout=4.0, preview="", on_preview=lambda w, m: None)
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg, msg


def test_placeholder_of_absurd_size_is_refused() -> None:
    absurd = {"__d__": [["value", {"__z__": 1, "dtype": "<f4", "shape": [1 << 30, 1 << 30]}]]}
    with pytest.raises(ValueError, match="absurd"):
        load_result(_forged(absurd))
    ok = load_result(_forged({"__d__": [["value", {"__z__": 1, "dtype": "<f4", "shape": [2, 5]}]]}))
    assert ok["value"].shape == (2, 5) and not ok["value"].any() and not ok["value"].flags.writeable


def test_arena_arrays_stay_in_place_and_the_rest_follows(tmp_path: Path) -> None:
    """The child reads big float32 weights straight into the result file (Arena); dump_result then
    writes only the small arrays and the header after them, and the parent reads both back."""
    import mmap
    import os

    if not hasattr(os, "memfd_create"):
        pytest.skip("Linux memfd only")
    fd = os.memfd_create("t")
    try:
        arena = Arena(fd)
        big = arena.empty((512, 1024), np.float32)  # 2 MiB: in the arena
        big[...] = np.arange(big.size, dtype=np.float32).reshape(big.shape)
        small = arena.empty((3, 4), np.float32)  # small: ordinary memory
        small[...] = 7
        assert arena.span(big) == (0, big.nbytes) and arena.span(small) is None
        assert arena.span(big.T) is None  # a transposed view has other bytes: written normally
        os.lseek(fd, arena.size, os.SEEK_SET)
        chunks: list[int] = []

        def write(b: object) -> None:
            chunks.append(os.write(fd, b))

        dump_result({"big": big, "small": small, "t": big.T[:2, :3]}, write, arena=arena)
        assert sum(chunks) < 100_000  # the 2 MiB array was not written again
        size = os.fstat(fd).st_size
        back = load_result(mmap.mmap(fd, size, access=mmap.ACCESS_READ))
        np.testing.assert_array_equal(back["big"], big)
        np.testing.assert_array_equal(back["small"], small)
        np.testing.assert_array_equal(back["t"], big.T[:2, :3])
    finally:
        os.close(fd)


def test_sandbox_reads_big_weights_into_the_result_file(tmp_path: Path) -> None:
    """End to end: LSTM(256) over 300 features (kernel 1.2 MB, recurrent kernel 1 MiB: both read into
    the result file by the child) comes back equal to an in-process load."""
    from inspector.core.network import find_weight
    from inspector.io import load

    rng = np.random.default_rng(1)
    cfg = files.model_a_tf_config()
    cfg["config"]["layers"] = [
        {
            "class_name": "InputLayer",
            "config": {
                "batch_input_shape": [None, 5, 300],
                "dtype": "float32",
                "sparse": False,
                "ragged": False,
                "name": "inp",
            },
        },
        {"class_name": "LSTM", "config": files._k2_rnn("LSTM", "lstm", 256)},
        {"class_name": "Dense", "config": files._k2_dense("dense", 2)},
    ]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((300, 1024), (256, 1024), (1024,))]
    dense = [rng.standard_normal(s).astype(np.float32) for s in ((256, 2), (2,))]
    path = files.write_legacy_h5(
        tmp_path / "big.h5",
        cfg,
        {"lstm": (files.MODEL_A_TF_NAMES["lstm"], arrays), "dense": (files.MODEL_A_TF_NAMES["dense"], dense)},
    )
    ref = load(path)
    got = load_isolated(path)
    for p in ("lstm/kernel", "lstm/recurrent_kernel", "lstm/bias", "dense/kernel", "dense/bias"):
        np.testing.assert_array_equal(find_weight(got, p)[1].value, find_weight(ref, p)[1].value)
    assert not find_weight(got, "lstm/kernel")[1].value.flags.writeable


def test_a_failing_preview_receiver_does_not_fail_the_read() -> None:
    path = SAMPLES[1]
    if not path.exists():
        pytest.skip("sample absent")

    def boom(weight: str, mf: object) -> None:
        raise RuntimeError("receiver broke")

    mf = load_isolated(path, preview="", on_preview=boom)
    assert mf.network is not None


def test_reader_that_cannot_start_is_said_not_hidden(seeds: dict, monkeypatch, caplog) -> None:
    """No reader process (fork refused, no interpreter): the file is still read, but the loss of
    crash protection is visible: a ModelFile problem, a warning and a log record."""

    def refuse(*_a: object, **_k: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    reader_pool.shutdown()  # no pre-warmed reader to fall back on
    monkeypatch.setattr(reader_pool.subprocess, "Popen", refuse)
    fds_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    with caplog.at_level("WARNING", logger="inspector.io.sandbox"):
        with pytest.warns(ReaderNotIsolatedWarning, match="without crash protection"):
            mf = load_isolated(seeds["tf_h5_full"].path)
    assert mf.network is not None
    assert mf.problems[0].startswith("read inside the app, without crash protection")
    assert "Resource temporarily unavailable" in mf.problems[0]
    assert any("without crash protection" in r.getMessage() for r in caplog.records)
    if fds_before:  # the memory files made for the process that never started are closed
        assert len(os.listdir("/proc/self/fd")) <= fds_before
