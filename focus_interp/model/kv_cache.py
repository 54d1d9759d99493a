"""KV caches written in place instead of concatenated, sized once for the prompt plus the response.

Hugging Face's ``DynamicLayer`` concatenates the whole cache with each new token, which copies O(batch x T) per
layer and step; for long prompts that copy costs more than the decoding step itself. ``PreallocatedLayer``
holds the same keys and values in a buffer allocated once and hands out views. A cache of these can start empty
(``preallocated_cache``) or from copies of a shared prompt prefix (``repeat_prefix_cache``), and keeps only some of
its rows (``batch_select_indices``) to go on decoding them.
"""

from __future__ import annotations

import copy

from jaxtyping import Float
from torch import Tensor
from transformers import PretrainedConfig
from transformers.cache_utils import DynamicCache, DynamicLayer

from focus_interp.errors import FocusInterpError


class PreallocatedLayer(DynamicLayer):
    """A ``DynamicLayer`` with room for ``capacity`` positions, allocated at its first update (or by ``filled``)."""

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity

    @classmethod
    def filled(
        cls, keys: Float[Tensor, "1 kv T dim"], values: Float[Tensor, "1 kv T dim"], batch: int, capacity: int
    ) -> PreallocatedLayer:
        """``batch`` copies of a one-row prefix's keys and values, with room for ``capacity`` positions."""
        layer = cls(capacity)
        layer._allocate(keys, values, batch)
        layer._key_buffer[:, :, : keys.shape[2]] = keys
        layer._value_buffer[:, :, : values.shape[2]] = values
        layer._set_length(keys.shape[2])
        return layer

    def _allocate(self, keys: Tensor, values: Tensor, batch: int) -> None:
        self.dtype, self.device = keys.dtype, keys.device
        self.is_initialized = True
        self._key_buffer = keys.new_empty(batch, keys.shape[1], self.capacity, keys.shape[3])
        self._value_buffer = values.new_empty(batch, values.shape[1], self.capacity, values.shape[3])
        self._set_length(0)

    def lazy_initialization(self, key_states: Tensor, value_states: Tensor) -> None:
        self._allocate(key_states, value_states, key_states.shape[0])

    def _set_length(self, length: int) -> None:
        self.keys = self._key_buffer[:, :, :length]
        self.values = self._value_buffer[:, :, :length]

    def update(self, key_states: Tensor, value_states: Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        start = self.keys.shape[2]
        end = start + key_states.shape[2]
        if end > self.capacity:
            raise FocusInterpError(f"the preallocated cache holds {self.capacity} positions, {end} were needed")
        self._key_buffer[:, :, start:end] = key_states
        self._value_buffer[:, :, start:end] = value_states
        self._set_length(end)
        return self.keys, self.values

    def batch_select_indices(self, indices: Tensor) -> None:
        """Keep only the rows ``indices`` (their buffers copied, room kept)."""
        if self.is_initialized:
            length = self.keys.shape[2]
            self._key_buffer = self._key_buffer[indices]
            self._value_buffer = self._value_buffer[indices]
            self._set_length(length)


def preallocated_cache(config: PretrainedConfig, capacity: int) -> DynamicCache:
    """An empty cache of the layers Hugging Face would build for ``config``, its full-attention layers
    ``PreallocatedLayer``s with room for ``capacity`` positions (sliding-window layers as they are)."""
    cache = DynamicCache(config=config.get_text_config(decoder=True))
    cache.layers = [PreallocatedLayer(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


def repeat_prefix_cache(prefix: DynamicCache, batch: int, capacity: int) -> DynamicCache:
    """A cache of ``batch`` rows that each start from the one-row ``prefix``, with room for ``capacity`` positions.

    Full-attention layers become ``PreallocatedLayer``; other layers (sliding windows) are repeated as they are.
    """
    cache = copy.copy(prefix)
    cache.layers = []
    for layer in prefix.layers:
        if type(layer) is DynamicLayer:
            cache.layers.append(PreallocatedLayer.filled(layer.keys, layer.values, batch, capacity))
        else:
            repeated = copy.deepcopy(layer)
            repeated.batch_repeat_interleave(batch)
            cache.layers.append(repeated)
    return cache
