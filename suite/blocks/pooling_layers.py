"""Masked global max pooling over steps, registered as `suite>MaskedGlobalMaxPooling1D`.

Keras' GlobalMaxPooling1D ignores a mask (its GlobalAveragePooling1D reads it), so the maximum
over a padded sequence could come from a padded step. This subclass takes the maximum over
unmasked steps only; without a mask it is the stock layer. Like suite.blocks.attention this
module imports keras at the top; `global_max_pool` imports it at build time,
`suite.blocks.saved.load_model` before loading.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="suite")
class MaskedGlobalMaxPooling1D(keras.layers.GlobalMaxPooling1D):
    """Maximum over the unmasked steps of (batch, steps, features) -> (batch, features)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            return super().call(inputs)
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        lowest = -65000.0 if str(inputs.dtype).endswith("float16") else -3.0e38  # finite
        low = ops.cast(lowest, inputs.dtype)
        return ops.max(ops.where(keep, inputs, low), axis=1, keepdims=self.keepdims)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None
