"""The model room: load a model by spec (short name, GGUF, folder, hub id) and wrap it for nnsight; its architecture,
attention sites, attention maths, KV caches and greedy generation; the one place that knows per-family names."""
