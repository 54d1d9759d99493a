"""A KV cache that many decodings share a prompt prefix through, written in place instead of concatenated.

Hugging Face's ``DynamicLayer`` concatenates the whole cache with each new token, which copies O(batch x T) per
layer and step; for long prompts that copy costs more than the decoding step itself. ``PreallocatedLayer``
holds the same keys and values in a buffer sized once for the prompt plus the response and hands out views.
"""

from __future__ import annotations

import copy

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

from focus_interp.errors import FocusInterpError


class PreallocatedLayer(DynamicLayer):
    """A ``DynamicLayer`` of ``batch`` copies of a prefix, with room for ``capacity`` positions."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, batch: int, capacity: int):
        super().__init__()
        self.dtype, self.device = keys.dtype, keys.device
        self.is_initialized = True
        self._key_buffer = keys.new_empty(batch, keys.shape[1], capacity, keys.shape[3])
        self._value_buffer = values.new_empty(batch, values.shape[1], capacity, values.shape[3])
        self._key_buffer[:, :, : keys.shape[2]] = keys
        self._value_buffer[:, :, : values.shape[2]] = values
        self._set_length(keys.shape[2])

    def _set_length(self, length: int) -> None:
        self.keys = self._key_buffer[:, :, :length]
        self.values = self._value_buffer[:, :, :length]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        start = self.keys.shape[2]
        end = start + key_states.shape[2]
        if end > self._key_buffer.shape[2]:
            raise FocusInterpError(f"the shared cache holds {self._key_buffer.shape[2]} positions, {end} were needed")
        self._key_buffer[:, :, start:end] = key_states
        self._value_buffer[:, :, start:end] = value_states
        self._set_length(end)
        return self.keys, self.values


def repeat_prefix_cache(prefix: DynamicCache, batch: int, capacity: int) -> DynamicCache:
    """A cache of ``batch`` rows that each start from the one-row ``prefix``, with room for ``capacity`` positions.

    Full-attention layers become ``PreallocatedLayer``; other layers (sliding windows) are repeated as they are.
    """
    cache = copy.copy(prefix)
    cache.layers = []
    for layer in prefix.layers:
        if type(layer) is DynamicLayer:
            cache.layers.append(PreallocatedLayer(layer.keys, layer.values, batch, capacity))
        else:
            repeated = copy.deepcopy(layer)
            repeated.batch_repeat_interleave(batch)
            cache.layers.append(repeated)
    return cache
