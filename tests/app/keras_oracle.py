"""Keras oracle for the app-layer tests (export, attribution): tiny models and what *Keras* computes.

Runs only as a subprocess (it imports TensorFlow)::

    python tests/app/keras_oracle.py --flavor tf_keras|keras3 --out DIR [--full]

Reuses the parity generator's case builders (tests/parity/generate.py) and adds a few cases of its
own: hostile layer names and attribution references (Keras' predict on occluded inputs, the LSTM's
last hidden state and the Dense weights).  Writes, per case, ``<case>.h5`` (tf_keras) or
``<case>.keras`` (Keras 3), ``<case>.npz`` (``in_k`` inputs, ``out_k`` = model.predict, extras) and a
``manifest.json``.  The pytest side caches DIR by a hash of this file and generate.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
PARITY = HERE.parent / "parity" / "generate.py"

# parity cases the numpy exporter covers (the others use layers it refuses)
EXPORT_CASES = (
    "lstm_last lstm_seq_hard_sigmoid lstm_backwards_nobias lstm_backwards_last lstm_stacked lstm_activations "
    "gru_reset_after gru_reset_before_hard_sigmoid gru_reset_before_backwards gru_reset_after_backwards_seq "
    "gru_nobias simple_rnn simple_rnn_backwards_nobias rnn_cells dense_activations activation_layers "
    "bidi_concat_seq bidi_sum_gru bidi_ave_gru_reset_before bidi_mul_simple_rnn bidi_none bidi_return_state "
    "bidi_masked_seq bidi_masked_last_gru bidi_masked_pre_sum bidi_inner_go_backwards timedistributed_dense "
    "embedding_mask_zero_lstm embedding_mask_zero_gru_seq embedding_nomask_lstm masking_lstm_pre "
    "masking_lstm_post masking_lstm_mid_backwards masking_gru_pre masking_gru_mid masking_gru_post_backwards "
    "masking_simple_rnn_mid masking_dense_passthrough dropout_between merge_layers merge_sequences batchnorm "
    "layernorm return_state_lstm return_state_gru multi_io shared_lstm masked_timedistributed_then_gru "
    "embedding_mask_bidi bidi_backward_layer_gru unrolled_masked_gru simple_rnn_return_state"
).split() + [f"random_{k:02d}" for k in range(20)]
# The default run: every layer kind, recurrent option (go_backwards, return_sequences / return_state,
# use_bias, activations, GRU reset_after), Bidirectional merge mode, masked recurrent layer and
# input/output count of EXPORT_CASES at least once per flavour (a greedy set cover over those features
# of the generated models), plus the cases other tests name.  `--full` (pytest: INSPECTOR_FULL_ORACLE=1)
# generates every case; the others are then tested too.
DEFAULT_EXPORT_CASES = (
    "activation_layers dense_activations merge_layers bidi_none multi_io batchnorm layernorm shared_lstm "
    "bidi_masked_seq return_state_gru bidi_return_state bidi_masked_last_gru embedding_nomask_lstm "
    "simple_rnn_return_state random_00 random_05 random_06 random_08 random_09 random_11 "
    "lstm_last lstm_backwards_nobias gru_reset_after bidi_concat_seq"
).split()
FULL_ENV = "INSPECTOR_FULL_ORACLE"

# parity cases the exporter must refuse with a clear message
REFUSED_CASES = ("conv1d_valid_maxpool", "encoder_decoder_lstm", "nested_sequential")

HOSTILE_NAMES = (
    "q'uote",
    'd"ouble',
    "new\nline __import__('os').system('echo>pwn_marker')",
    "tri'''ple\"\"\"",
    "__import__('os').system('echo>pwn_marker')",
    "back\\slash\\",
    "sep\u2028arator",
)


def _parity():
    spec = importlib.util.spec_from_file_location("inspector_parity_generate_for_app", PARITY)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _hostile(K: Any, flavor: str) -> Any:
    L = K.layers
    # TensorFlow only runs scope-safe names: Keras 3 gets the hostile ones after predict (see main),
    # tf_keras through the ModelFile in the test
    names = ("plain_a", "plain_b", "plain_c", "plain_d")
    return K.Sequential(
        [
            K.Input(shape=(6, 3)),
            L.Masking(0.0, name=names[0]),
            L.LSTM(4, return_sequences=True, name=names[1]),
            L.GRU(3, name=names[2]),
            L.Dense(2, activation="softmax", name=names[3]),
        ],
        name="hostile_model",  # TensorFlow uses the model name as a root scope: it must stay plain
    )


def _attr_lstm(K: Any, flavor: str) -> Any:
    L = K.layers
    return K.Sequential(
        [K.Input(shape=(6, 4)), L.LSTM(5, name="lstm"), L.Dense(3, activation="softmax", name="out")]
    )


def _attr_embedding(K: Any, flavor: str) -> Any:
    L = K.layers
    return K.Sequential(
        [
            K.Input(shape=(7,), dtype="int32"),
            L.Embedding(12, 4, mask_zero=True, name="emb"),
            L.LSTM(5, name="lstm"),
            L.Dropout(0.2),
            L.Dense(2, name="out"),
        ]
    )


OWN_CASES = {"hostile_names": _hostile, "attr_lstm": _attr_lstm, "attr_embedding": _attr_embedding}


def _own_inputs(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    if name == "attr_embedding":
        x = rng.integers(1, 12, (3, 7)).astype(np.int32)
        x[1, 5:] = 0
        return [x]
    x = rng.normal(0.0, 1.0, (3, 6, 3 if name == "hostile_names" else 4)).astype(np.float32)
    x[2, 4:] = 0.0
    return [x]


def _attribution_refs(K: Any, model: Any, x: np.ndarray, pg: Any) -> dict[str, np.ndarray]:
    """Keras' own numbers: predict on every occluded copy, the LSTM's last h, the head's weights."""
    y = pg.predict(model, [x])[0]
    B, T = x.shape[:2]
    occluded = np.repeat(x, T, axis=0)
    for n in range(B):
        for t in range(T):
            occluded[n * T + t, t] = 0
    y_occ = pg.predict(model, [occluded])[0].reshape(B, T, -1)
    lstm = model.get_layer("lstm")
    h_last = np.asarray(K.Model(model.inputs, lstm.output).predict(x, verbose=0), dtype=np.float32)
    kernel, bias = model.get_layer("out").get_weights()
    return {"occlusion": y[:, None, :] - y_occ, "h_last": h_last, "out_kernel": kernel, "out_bias": bias}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flavor", required=True, choices=("tf_keras", "keras3"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", nargs="*", help="just these cases, merged into an existing manifest")
    ap.add_argument("--full", action="store_true", help="every case of EXPORT_CASES, not the default set")
    args = ap.parse_args(argv)
    pg = _parity()
    pg._register_random_stacks()
    K, tf = pg.import_keras(args.flavor)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".h5" if args.flavor == "tf_keras" else ".keras"
    by_name = {c.name: c for c in pg.CASES}
    manifest: dict[str, Any] = {"keras_version": K.__version__, "cases": {}, "failures": {}}
    export = EXPORT_CASES if args.full else DEFAULT_EXPORT_CASES
    names = [n for n in (*export, *REFUSED_CASES) if args.flavor in by_name[n].flavors]
    names += list(OWN_CASES)
    if args.only:
        names = [n for n in names if n in args.only]
        if (out / "manifest.json").is_file():
            manifest = json.loads((out / "manifest.json").read_text())
    for name in names:
        manifest["failures"].pop(name, None)
        try:
            K.backend.clear_session()
            rng = np.random.default_rng([pg.SEED, pg._stable(name)])
            tf.random.set_seed(pg.SEED)
            if name in OWN_CASES:
                model = OWN_CASES[name](K, args.flavor)
                inputs = _own_inputs(name, rng)
            else:
                model = by_name[name].build(K)
                inputs = by_name[name].inputs(rng)
            pg.randomize_weights(model, rng)
            arrays = {f"in_{i}": a for i, a in enumerate(inputs)}
            arrays |= {f"out_{k}": y for k, y in enumerate(pg.predict(model, inputs))}
            if name.startswith("attr_"):
                arrays |= _attribution_refs(K, model, inputs[0], pg)
            if name == "hostile_names" and args.flavor == "keras3":
                for lay, hostile in zip(model.layers, HOSTILE_NAMES[1:]):
                    lay.name = hostile  # Keras 3 saves these names as they are
            model.save(str(out / f"{name}{suffix}"))
            np.savez(out / f"{name}.npz", **arrays)
            manifest["cases"][name] = {"file": f"{name}{suffix}", "n_inputs": len(inputs)}
        except Exception:  # noqa: BLE001 - recorded; the test reports it
            manifest["failures"][name] = traceback.format_exc()[-1500:]
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
