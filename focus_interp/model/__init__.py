"""The model room: load a model by spec (short name, GGUF, folder, hub id), wrap it for nnsight, describe its
architecture and the attention sites of a layer, attention maths, KV caches and greedy generation; the only
place that knows per-family names."""
