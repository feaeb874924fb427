"""Untrusted files: every failure is one ModelFileError line; nothing outside the file is touched."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from inspector.io import ModelFileError, load


def _weights_file(p: Path) -> None:
    with h5py.File(p, "w") as f:
        f.attrs["layer_names"] = [b"dense_1"]
        f.attrs["keras_version"] = b"2.2.4"
        g = f.create_group("dense_1")
        g.attrs["weight_names"] = [b"dense_1/kernel:0", b"dense_1/bias:0"]
        g["dense_1/kernel:0"] = np.ones((3, 2), np.float32)
        g["dense_1/bias:0"] = np.zeros(2, np.float32)


def _refused(p: Path, *words: str, config: Path | None = None) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        load(p, config=config)
    err = info.value
    assert "\n" not in str(err)
    for w in words:
        assert w.lower() in err.reason.lower(), err.reason
    return err


def test_external_link_refused(tmp_path: Path) -> None:
    secret = tmp_path / "other.h5"
    with h5py.File(secret, "w") as f:
        f["kernel"] = np.ones((3, 2), np.float32)
    p = tmp_path / "w.h5"
    _weights_file(p)
    with h5py.File(p, "a") as f:
        del f["dense_1/dense_1"]
        f["dense_1/dense_1"] = h5py.ExternalLink(str(secret), "/")
    _refused(p, "external link")


def test_external_link_in_layer_names_refused(tmp_path: Path) -> None:
    secret = tmp_path / "other.h5"
    with h5py.File(secret, "w") as f:
        f.create_group("g")
    p = tmp_path / "w.h5"
    _weights_file(p)
    with h5py.File(p, "a") as f:
        f["evil"] = h5py.ExternalLink(str(secret), "/g")
        f.attrs["layer_names"] = [b"dense_1", b"evil"]
    _refused(p, "external link")


def test_virtual_dataset_refused(tmp_path: Path) -> None:
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        f["data"] = np.ones((3, 2), np.float32)
    p = tmp_path / "w.h5"
    _weights_file(p)
    layout = h5py.VirtualLayout(shape=(3, 2), dtype=np.float32)
    layout[:] = h5py.VirtualSource(str(src), "data", shape=(3, 2))
    with h5py.File(p, "a") as f:
        del f["dense_1/dense_1/kernel:0"]
        f["dense_1/dense_1"].create_virtual_dataset("kernel:0", layout)
    _refused(p, "virtual")


def test_external_raw_storage_refused(tmp_path: Path) -> None:
    p = tmp_path / "w.h5"
    _weights_file(p)
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.ones(6, np.float32).tobytes())
    with h5py.File(p, "a") as f:
        del f["dense_1/dense_1/kernel:0"]
        f["dense_1/dense_1"].create_dataset(
            "kernel:0", shape=(3, 2), dtype=np.float32, external=[(str(raw), 0, 24)]
        )
    _refused(p, "external")


def test_huge_dataset_refused_before_reading(tmp_path: Path) -> None:
    p = tmp_path / "w.h5"
    _weights_file(p)
    with h5py.File(p, "a") as f:
        del f["dense_1/dense_1/kernel:0"]
        # 2^33 float32 declared, nothing written (chunked + compressed: a few bytes on disk)
        f["dense_1/dense_1"].create_dataset(
            "kernel:0", shape=(1 << 20, 1 << 13), dtype=np.float32, chunks=(1024, 1024), compression="gzip"
        )
    assert p.stat().st_size < 1_000_000
    _refused(p, "too large")


def test_absurd_units_and_deep_json(tmp_path: Path) -> None:
    p = tmp_path / "w.h5"
    _weights_file(p)
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps(
            {
                "class_name": "Sequential",
                "config": [{"class_name": "LSTM", "config": {"name": "l", "units": 10**12}}],
            }
        )
    )
    mf = load(p, config=cfg)  # refused as an architecture, before any allocation; weights still shown
    assert mf.network is None and "absurd" in mf.damage and mf.weight_layers
    cfg.write_text('{"class_name": "Sequential", "config": ' + "[" * 5000 + "]" * 5000 + "}")
    err = _refused(p, "nested", config=cfg)
    assert err.path == str(cfg)


def test_deep_model_config_attr(tmp_path: Path) -> None:
    p = tmp_path / "m.h5"
    with h5py.File(p, "w") as f:
        f.attrs["model_config"] = (
            '{"class_name": "Sequential", "config": ' + "[" * 100000 + "]" * 100000 + "}"
        )
        f.create_group("model_weights").attrs["layer_names"] = []
    _refused(p, "nested")


def test_invalid_utf8_attr(tmp_path: Path) -> None:
    p = tmp_path / "w.h5"
    _weights_file(p)
    with h5py.File(p, "a") as f:
        f.attrs["layer_names"] = np.array([b"dense_\xff\xfe"])
    _refused(p, "utf-8")


def test_non_numeric_weight(tmp_path: Path) -> None:
    p = tmp_path / "w.h5"
    _weights_file(p)
    with h5py.File(p, "a") as f:
        del f["dense_1/dense_1/bias:0"]
        f["dense_1/dense_1/bias:0"] = "hello"
    _refused(p, "numeric")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_files(tmp_path: Path, keep: float) -> None:
    p = tmp_path / "w.h5"
    _weights_file(p)
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * keep)])
    _refused(p)


def test_garbage_and_empty(tmp_path: Path) -> None:
    p = tmp_path / "x.h5"
    p.write_bytes(np.random.default_rng(0).bytes(4096))
    _refused(p, "not a keras file")
    p.write_bytes(b"")
    _refused(p, "empty")
    p.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12345\n")
    _refused(p, "git lfs", "12345")
    _refused(tmp_path / "missing.h5", "no such file")


def _archive(p: Path, members: dict[str, bytes], compress: int = zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(p, "w", compression=compress) as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_zip_bomb_and_npz_refused(tmp_path: Path) -> None:
    p = tmp_path / "bomb.keras"
    _archive(
        p,
        {"config.json": b"{}", "metadata.json": b"{}", "model.weights.h5": b"\0" * (64 * 1024**2)},
        zipfile.ZIP_DEFLATED,
    )
    _refused(p, "compression ratio")
    p2 = tmp_path / "npz.keras"
    _archive(p2, {"config.json": b"{}", "metadata.json": b"{}", "model.weights.npz": b"PK"})
    _refused(p2, "npz")
    p3 = tmp_path / "other.zip"
    _archive(p3, {"readme.txt": b"hi"})
    _refused(p3, "config.json")


def test_zip_member_larger_than_declared(tmp_path: Path) -> None:
    """A member whose real size exceeds its declared size is refused while reading."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("config.json", b"{}")
        z.writestr("metadata.json", b'{"keras_version": "3.1.0"}')
        z.writestr("model.weights.h5", b"x" * 1000)
    data = bytearray(buf.getvalue())
    # lower the declared uncompressed size in the central directory (stored: sizes are equal)
    idx = data.rfind(b"PK\x01\x02")
    while idx != -1:
        name_len = int.from_bytes(data[idx + 28 : idx + 30], "little")
        name = bytes(data[idx + 46 : idx + 46 + name_len])
        if name == b"model.weights.h5":
            data[idx + 24 : idx + 28] = (10).to_bytes(4, "little")
        idx = data.rfind(b"PK\x01\x02", 0, idx)
    p = tmp_path / "liar.keras"
    p.write_bytes(bytes(data))
    _refused(p)


def test_keras3_lambda_and_custom_never_runnable(tmp_path: Path) -> None:
    cfg = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {"batch_shape": [None, 3], "name": "i"},
                    "registered_name": None,
                },
                {
                    "module": "keras.layers",
                    "class_name": "Lambda",
                    "config": {
                        "name": "lam",
                        "function": {
                            "class_name": "__lambda__",
                            "config": {"code": "ZXZpbA==", "defaults": None, "closure": None},
                        },
                    },
                    "registered_name": None,
                },
                {
                    "module": "evil.module",
                    "class_name": "Dense",
                    "config": {"name": "fake", "units": 2},
                    "registered_name": "evil>Dense",
                },
                {
                    "module": "keras.layers",
                    "class_name": "MyLayer",
                    "config": {"name": "mine"},
                    "registered_name": "Custom>MyLayer",
                },
            ],
        },
    }
    p = tmp_path / "m.keras"
    wbuf = io.BytesIO()
    with h5py.File(wbuf, "w") as f:
        f.create_group("layers")
        f.create_group("vars")
    _archive(
        p,
        {
            "config.json": json.dumps(cfg).encode(),
            "metadata.json": b'{"keras_version": "3.15.1"}',
            "model.weights.h5": wbuf.getvalue(),
        },
    )
    mf = load(p)
    assert mf.network is not None
    lam, fake, mine = mf.network.layers
    assert not lam.runnable and "bytecode" in lam.problems[0]
    assert not fake.runnable and not mine.runnable
    assert any("Lambda" in pr for pr in mf.problems)


def test_tf_op_lambda_not_runnable(tmp_path: Path) -> None:
    cfg = {
        "class_name": "Functional",
        "config": {
            "name": "f",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "name": "inp",
                    "config": {"batch_input_shape": [None, 3], "name": "inp"},
                    "inbound_nodes": [],
                },
                {
                    "class_name": "TFOpLambda",
                    "name": "tf.math.multiply",
                    "config": {"name": "tf.math.multiply", "function": "math.multiply"},
                    "inbound_nodes": [["inp", 0, 0, {"y": 2.0, "name": None}]],
                },
            ],
            "input_layers": [["inp", 0, 0]],
            "output_layers": [["tf.math.multiply", 0, 0]],
        },
    }
    p = tmp_path / "m.h5"
    with h5py.File(p, "w") as f:
        f.attrs.update({"keras_version": "2.10.0", "backend": "tensorflow", "model_config": json.dumps(cfg)})
        mw = f.create_group("model_weights")
        mw.attrs.update({"keras_version": "2.10.0", "layer_names": ["inp", "tf.math.multiply"]})
        for n in ("inp", "tf.math.multiply"):
            mw.create_group(n).attrs["weight_names"] = np.asarray([])
    net = load(p).network
    assert net is not None
    op = net.layer("tf.math.multiply")
    assert not op.runnable and op.calls[0].inputs[0].layer == "inp"
