"""The bundled sample models: both files of each open, agree with each other and with real Keras.

Each sample ships as a Keras 3 `.keras` and a tf_keras `.h5` (same weights), a `<stem>.vocab.json`
sidecar, and `<stem>.reference.npz`: a probe input `x` and what Keras 3 / tf_keras returned for it
when the training script loaded its own files back (so no TensorFlow is needed here).
"""

from __future__ import annotations

import numpy as np
import pytest

from inspector import resources
from inspector.core.engine import predict
from inspector.io import load

SAMPLES = ("classic", "explainer")
MAX_BYTES = 5 * 1024 * 1024


def _weights(model_file) -> dict[str, np.ndarray]:
    return {path: w.value for layer in model_file.weight_layers for path, w in layer.all_weights()}


def _one_hot(text: str, vocab: list[str]) -> np.ndarray:
    x = np.zeros((1, len(text), len(vocab)), np.float32)
    x[0, np.arange(len(text)), [vocab.index(ch) for ch in text]] = 1.0
    return x


@pytest.fixture(scope="module", params=SAMPLES)
def sample(request):
    name = request.param
    return (
        name,
        load(resources.sample_model_path(name, "keras")),
        load(resources.sample_model_path(name, "h5")),
        resources.sample_vocabulary(name),
    )


def test_samples_are_listed_and_small():
    assert set(SAMPLES) <= set(resources.sample_names())
    shipped = [p for p in resources.samples_dir().iterdir() if p.is_file()]
    total = sum(p.stat().st_size for p in shipped)
    assert total < MAX_BYTES, f"samples folder is {total} bytes"
    for name in SAMPLES:
        for suffix in (".keras", ".h5", ".vocab.json", ".reference.npz"):
            assert (resources.samples_dir() / f"{name}{suffix}").is_file()
        assert (resources.samples_dir() / f"train_{name}.py").is_file()


def test_default_sample_is_the_classic_keras3_file():
    assert resources.sample_model_path() == resources.samples_dir() / "classic.keras"
    with pytest.raises(FileNotFoundError, match="classic"):
        resources.sample_model_path("no-such-sample")


def test_formats_and_writers(sample):
    _, k3, k2, _ = sample
    assert k3.format_id == "keras3-archive"
    assert k3.keras_version.startswith("3.")
    assert k2.format_id == "legacy-h5-model"
    assert k2.keras_version.startswith("2.")
    assert k3.network is not None and k2.network is not None
    assert (
        [lay.kind for lay in k3.network.layers]
        == [lay.kind for lay in k2.network.layers]
        == [
            "LSTM",
            "Dense",
        ]
    )


def test_both_files_hold_the_same_weights(sample):
    _, k3, k2, _ = sample
    w3, w2 = _weights(k3), _weights(k2)
    assert (
        sorted(w3)
        == sorted(w2)
        == ["lstm/bias", "lstm/kernel", "lstm/recurrent_kernel", "next_char/bias", "next_char/kernel"]
    )
    for path in w3:
        np.testing.assert_array_equal(w3[path], w2[path], err_msg=path)


def test_vocabulary_matches_input_and_output_width(sample):
    _, k3, k2, vocab = sample
    assert len(vocab) == len(set(vocab)) and all(len(s) == 1 for s in vocab)
    for mf in (k3, k2):
        assert mf.network.input_shapes[0][-1] == len(vocab)
        lstm, dense = mf.network.layers
        assert lstm.weight("kernel").shape[0] == len(vocab)
        assert dense.weight("kernel").shape[1] == len(vocab)


def test_engine_reproduces_keras_on_the_reference_input(sample):
    name, k3, k2, _ = sample
    with np.load(resources.samples_dir() / f"{name}.reference.npz") as ref:
        x, want3, want2 = ref["x"], ref["keras3"], ref["tf_keras"]
    (got3,) = predict(k3.network, x, k3.semantics)
    (got2,) = predict(k2.network, x, k2.semantics)
    np.testing.assert_allclose(got3, want3, atol=1e-5)
    np.testing.assert_allclose(got2, want2, atol=1e-5)
    np.testing.assert_allclose(got3, got2, atol=1e-6)


def test_both_files_predict_the_same_on_typed_text(sample):
    name, k3, k2, vocab = sample
    text = "to be, or not to be: that is the question" if name == "classic" else "a((b)c(a(b)))."
    x = _one_hot(text, vocab)
    (y3,) = predict(k3.network, x, k3.semantics)
    (y2,) = predict(k2.network, x, k2.semantics)
    assert y3.shape == y2.shape == (1, len(vocab))
    np.testing.assert_allclose(y3.sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(y3, y2, atol=1e-6)


def test_classic_has_learned_english():
    """'what is th' -> 'e': the model predicts English, not noise."""
    mf = load(resources.sample_model_path("classic"))
    vocab = resources.sample_vocabulary("classic")
    x = _one_hot("and what is the matter, my lord?\nhamlet:\nwhat is th", vocab)
    (y,) = predict(mf.network, x, mf.semantics)
    assert vocab[int(np.argmax(y[0]))] == "e"


def test_explainer_knows_when_brackets_can_close():
    """')' is impossible at depth 0 and '.' (end) is impossible while a bracket is open."""
    mf = load(resources.sample_model_path("explainer"))
    vocab = resources.sample_vocabulary("explainer")
    close, end = vocab.index(")"), vocab.index(".")
    (balanced,) = predict(mf.network, _one_hot("a(b(c)a)b", vocab), mf.semantics)
    (open_3,) = predict(mf.network, _one_hot("a(b(c(a", vocab), mf.semantics)
    assert balanced[0, close] < 0.02 and balanced[0, end] > 0.1
    assert open_3[0, end] < 0.02 and open_3[0, close] > 0.2
