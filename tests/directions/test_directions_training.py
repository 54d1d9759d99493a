"""Focus-direction training from the activation cache, against a full eager forward of the model."""

from __future__ import annotations

import importlib

import pytest
import torch

from focus_interp import build_prompt
from focus_interp.data import gold_parts, gold_segment, load_multidoc_qa, long_parts
from focus_interp.directions.cache import build_cache, read_shard
from focus_interp.directions.training import head_span_mass, train_on_cache
from focus_interp.model.generation import greedy_response
from tests.conftest import tiny_hf_model

ROWS = load_multidoc_qa("synthetic", split="train", n=2, gold_positions=(2,), n_documents=3)


def _directions(architecture):
    generator = torch.Generator().manual_seed(4)
    shape = (architecture.n_layers, architecture.n_heads, architecture.head_dim)
    query = torch.randn(shape, generator=generator) * 0.5
    per_kv = torch.randn(architecture.n_layers, architecture.n_kv_heads, architecture.head_dim, generator=generator)
    key = per_kv.repeat_interleave(architecture.n_groups, dim=1) * 0.5
    return query, key


def _eager_gradients(loaded, row, query, key, site, family):
    """Per layer l, the gradient of -S_C of layer l's heads with the directions added at layer l alone, through
    the model's own eager attention (hooks on a fresh copy of the model, which nnsight has not instrumented):
    a full forward of that attention layer on the inputs it gets in the model."""
    hf = tiny_hf_model(family, "eager")
    architecture = loaded.architecture
    prompt = build_prompt(loaded.tokenizer, long_parts(row))
    response = greedy_response(loaded, build_prompt(loaded.tokenizer, gold_parts(row)), 4)
    full = prompt.with_response(response)
    rows = full.span("response")
    start, end = prompt.spans[gold_segment(row)]
    module = importlib.import_module(f"transformers.models.{family}.modeling_{family}")
    original = module.apply_rotary_pos_emb
    query_grads, key_grads = [], []
    for layer, block in enumerate(hf.model.layers):
        query_leaf = query[layer].clone().requires_grad_(True)
        key_leaf = key[layer, :: architecture.n_groups].clone().requires_grad_(True)
        if site == "post_rope":
            def shifted_rope(q, k, cos, sin, *args, **kwargs):
                q, k = original(q, k, cos, sin, *args, **kwargs)
                return q + query_leaf[None, :, None], k + key_leaf[None, :, None]

            hooks = [
                block.self_attn.register_forward_pre_hook(lambda *_: setattr(module, "apply_rotary_pos_emb", shifted_rope)),
                block.self_attn.register_forward_hook(lambda *_: setattr(module, "apply_rotary_pos_emb", original)),
            ]
        else:
            hooks = [
                block.self_attn.q_proj.register_forward_hook(lambda m, i, o: o + query_leaf.flatten()),
                block.self_attn.k_proj.register_forward_hook(lambda m, i, o: o + key_leaf.flatten()),
            ]
        try:
            attention = hf(full.ids(), output_attentions=True).attentions[layer]
        finally:
            module.apply_rotary_pos_emb = original
            for hook in hooks:
                hook.remove()
        (-attention[0, :, rows, start:end].sum(-1).mean(-1).sum()).backward()
        query_grads.append(query_leaf.grad)
        key_grads.append(key_leaf.grad)
    return torch.stack(query_grads), torch.stack(key_grads)


@pytest.mark.parametrize("family", ["llama", "qwen2"])
@pytest.mark.parametrize("site", ["post_rope", "pre_rope"])
def test_gradients_from_the_cache_equal_a_full_eager_forward(tiny_loaded, tmp_path, family, site):
    loaded = tiny_loaded(family, "sdpa")
    architecture = loaded.architecture
    build_cache(loaded, ROWS.select(range(1)), tmp_path, site, max_new_tokens=4, dtype="float32", progress=False)
    tensors, metadata = read_shard(next(tmp_path.glob("sample-*.safetensors")))
    query, key = _directions(architecture)
    query_ours = query.clone().requires_grad_(True)
    key_ours = key[:, :: architecture.n_groups].clone().requires_grad_(True)
    per_query = key_ours.repeat_interleave(architecture.n_groups, dim=1)
    loss = -sum(
        head_span_mass(architecture, layer, tensors, metadata, query_ours[layer], per_query[layer], site).sum()
        for layer in range(architecture.n_layers)
    )
    loss.backward()
    query_grad, key_grad = _eager_gradients(loaded, ROWS[0], query, key, site, family)
    torch.testing.assert_close(query_ours.grad, query_grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(key_ours.grad, key_grad, atol=1e-5, rtol=1e-4)
    assert query_grad.abs().max() > 1e-4
    if site == "post_rope":
        assert key_ours.grad.abs().max() < 1e-5  # softmax removes the constant q . d_K of every row
    else:
        assert key_grad.abs().max() > 1e-4


def test_training_raises_the_gold_span_mass(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama", "sdpa")
    build_cache(loaded, ROWS, tmp_path, "post_rope", max_new_tokens=4, dtype="float32", progress=False)
    shards = sorted(tmp_path.glob("sample-*.safetensors"))
    result = train_on_cache(loaded.architecture, shards, epochs=5, lr=0.05, progress=False)
    assert result.losses.shape == (5, 3)
    assert (result.losses[-1] < result.losses[0]).all()
    again = train_on_cache(loaded.architecture, shards, epochs=5, lr=0.05, progress=False)
    assert torch.equal(again.directions.query, result.directions.query)


def test_directions_run_writes_a_checked_file_and_loss_curves_and_resumes(tiny_loaded, tmp_path, monkeypatch):
    from focus_interp.directions import cache as cache_module
    from focus_interp.directions import load_directions
    from focus_interp.directions.run import train_directions

    loaded = tiny_loaded("llama", "sdpa")
    original, calls = cache_module.cache_sample, []

    def interrupt_on_second(loaded, row, *args):
        calls.append(row["id"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(loaded, row, *args)

    monkeypatch.setattr(cache_module, "cache_sample", interrupt_on_second)
    with pytest.raises(KeyboardInterrupt):
        train_directions(loaded, ROWS, tmp_path, {"source": "synthetic"}, epochs=2, max_new_tokens=3, progress=False)
    calls.clear()
    result = train_directions(loaded, ROWS, tmp_path, {"source": "synthetic"}, epochs=2, max_new_tokens=3, progress=False)
    summary = result.summary
    assert calls == [ROWS[1]["id"]] and summary["n_trained"] == 2
    assert result.losses.shape == (2, 3) and float(result.losses[-1].mean()) == pytest.approx(summary["final_loss"], abs=1e-6)
    directions = load_directions(tmp_path / "directions.safetensors", loaded.architecture)
    assert directions.metadata["epochs"] == "2" and directions.metadata["model"] == loaded.name
    assert float(directions.metadata["final_loss"]) == pytest.approx(summary["final_loss"], abs=1e-6)
    assert len((tmp_path / "losses.csv").read_text().splitlines()) == 1 + 2 * 3
    assert (tmp_path / "losses.png").stat().st_size > 0
    from focus_interp.directions import run as run_module

    monkeypatch.setattr(run_module, "train_on_cache", lambda *args: pytest.fail("a finished run trained again"))
    again = train_directions(loaded, ROWS, tmp_path, {"source": "synthetic"}, epochs=2, max_new_tokens=3, progress=False)
    assert again.summary == summary
    torch.testing.assert_close(again.losses, result.losses, atol=1e-6, rtol=0)
    torch.testing.assert_close(again.directions.query, result.directions.query)


def test_directions_are_trained_again_when_the_cache_was_rebuilt_with_other_settings(tiny_loaded, tmp_path, monkeypatch):
    import shutil

    from focus_interp.directions import load_directions
    from focus_interp.directions import run as run_module
    from focus_interp.directions.run import train_directions

    loaded = tiny_loaded("llama", "sdpa")
    train_directions(loaded, ROWS, tmp_path, {"source": "synthetic"}, epochs=2, max_new_tokens=2, progress=False)
    shutil.rmtree(tmp_path / "cache")
    trained = []
    real_train = run_module.train_on_cache
    monkeypatch.setattr(run_module, "train_on_cache", lambda *args: trained.append(1) or real_train(*args))
    train_directions(loaded, ROWS, tmp_path, {"source": "synthetic"}, epochs=2, max_new_tokens=4, progress=False)
    assert trained == [1]
    assert load_directions(tmp_path / "directions.safetensors").metadata["max_new_tokens"] == "4"


def test_pre_rope_directions_train_and_apply_on_a_gqa_model(tiny_loaded, tmp_path):
    from focus_interp.interventions import FocusDirection, apply_interventions

    loaded = tiny_loaded("qwen2", "sdpa")
    build_cache(loaded, ROWS, tmp_path, "pre_rope", max_new_tokens=3, dtype="float32", progress=False)
    result = train_on_cache(loaded.architecture, sorted(tmp_path.glob("sample-*.safetensors")), "pre_rope", epochs=1, progress=False)
    key = result.directions.key
    assert torch.equal(key[:, 0], key[:, 1]) and not torch.equal(key[:, 1], key[:, 2])
    every_head = tuple((layer, head) for layer in range(3) for head in range(4))
    edit = FocusDirection(every_head, result.directions.query, key, 1.0, "pre_rope")
    with torch.no_grad(), loaded.model.trace(torch.tensor([[5, 6, 7]])):
        apply_interventions(loaded, [edit])


def test_training_with_no_folder_keeps_nothing_on_disk_and_returns_the_directions(tiny_loaded, tmp_path, monkeypatch):
    from focus_interp.directions.run import train_directions

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    result = train_directions(tiny_loaded("llama", "sdpa"), ROWS, epochs=1, max_new_tokens=2, progress=False)
    assert result.directions.query.shape == (3, 4, 16) and result.losses.shape == (1, 3)
    assert result.summary["n_trained"] == 2 and result.plot().axes[0].lines
    assert list(tmp_path.iterdir()) == []
