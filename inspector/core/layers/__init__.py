"""Core: the non-recurrent Keras layers in numpy: Dense, Embedding, Masking, Conv, pooling, merges ...

Every layer function has the signature ``f(layer, xs, masks, semantics) -> (outputs, out_masks)``:
lists of arrays (one per input / output tensor) and the matching Keras masks (bool, the input's shape
without its last axis, or None).  Mask rules follow docs/formats.md, 'Masks': layers that support
masking pass the mask through, the others drop it.  Maths: docs/formats.md, 'Layer maths'.
Wrappers (TimeDistributed, Bidirectional), recurrent layers and nested models are run by
`inspector.core.engine`.  One module per family: basic, conv, reshape, merge.

Layers compute in float32, as Keras does (weights are used as stored, never copied to float64).
"""

from inspector.core.layers import basic, conv, merge, reshape  # noqa: F401  (each registers its kinds)
from inspector.core.layers._registry import LayerFn, Mask, apply, keras3_runtime, supported_kinds
from inspector.core.layers.basic import INFERENCE_IDENTITY

__all__ = ["INFERENCE_IDENTITY", "LayerFn", "Mask", "apply", "keras3_runtime", "supported_kinds"]
