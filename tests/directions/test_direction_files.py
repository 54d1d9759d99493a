"""Directions files: safetensors round trip with metadata checks, and the authors' released format."""

from __future__ import annotations

import pytest
import torch

from focus_interp import FocusInterpError
from focus_interp.directions import (
    Directions,
    import_official_directions,
    load_directions,
    save_directions,
)
from tests.conftest import SHARED_DATA

OFFICIAL = SHARED_DATA / "official" / "Llama-3.2-3B-Instruct"


def _directions(loaded, **metadata) -> Directions:
    shape = (loaded.architecture.n_layers, loaded.architecture.n_heads, loaded.architecture.head_dim)
    generator = torch.Generator().manual_seed(0)
    return Directions(torch.randn(shape, generator=generator), torch.randn(shape, generator=generator), "pre_rope", metadata)


def test_round_trip_keeps_tensors_site_and_metadata(tiny_loaded, tmp_path):
    loaded = tiny_loaded("llama")
    saved = _directions(loaded, model=loaded.name, config_fingerprint=loaded.architecture.config_fingerprint, epochs="10")
    save_directions(tmp_path / "d.safetensors", saved)
    read = load_directions(tmp_path / "d.safetensors", loaded.architecture)
    assert torch.equal(read.query, saved.query) and torch.equal(read.key, saved.key)
    assert read.site == "pre_rope" and read.metadata["epochs"] == "10"
    assert not list(tmp_path.glob(".*partial"))


def test_directions_of_another_config_are_refused(tiny_loaded, tmp_path):
    llama, qwen = tiny_loaded("llama"), tiny_loaded("qwen2")
    assert llama.architecture.config_fingerprint != qwen.architecture.config_fingerprint
    save_directions(tmp_path / "d.safetensors", _directions(llama, model="tiny-llama", config_fingerprint=llama.architecture.config_fingerprint))
    with pytest.raises(FocusInterpError, match="made for tiny-llama"):
        load_directions(tmp_path / "d.safetensors", qwen.architecture)


@pytest.mark.parametrize(
    "write, match",
    [
        (lambda path: path.write_text("not safetensors"), "not a safetensors directions file"),
        (lambda path: None, "no directions file"),
    ],
)
def test_bad_directions_files_are_one_line(tmp_path, write, match):
    path = tmp_path / "d.safetensors"
    write(path)
    with pytest.raises(FocusInterpError, match=match):
        load_directions(path)


def test_a_file_without_q_and_k_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"q": torch.zeros(1, 2, 3)}, str(tmp_path / "d.safetensors"))
    with pytest.raises(FocusInterpError, match="must hold tensors 'q' and 'k'"):
        load_directions(tmp_path / "d.safetensors")


def test_released_format_imports_per_layer_parameters(tmp_path, tiny_loaded):
    for layer in range(3):
        for kind, scale in (("q", 10.0), ("k", 0.1)):
            parameter = torch.nn.Parameter(torch.full((4, 16), scale * (layer + 1)))
            torch.save(parameter, tmp_path / f"head_{kind}_directions_{layer}.pth")
    directions = import_official_directions(tmp_path, tiny_loaded("llama").architecture)
    assert directions.query.shape == (3, 4, 16) and directions.site == "post_rope"
    assert torch.equal(directions.query[2], torch.full((4, 16), 30.0))
    assert torch.equal(directions.key[0], torch.full((4, 16), 0.1))
    (tmp_path / "head_k_directions_1.pth").unlink()
    with pytest.raises(FocusInterpError, match="head_k_directions_1.pth is missing"):
        import_official_directions(tmp_path)


@pytest.mark.skipif(not OFFICIAL.is_dir(), reason="the authors' released directions are not on this machine")
def test_released_llama_directions_have_the_documented_norms(tiny_loaded):
    directions = import_official_directions(OFFICIAL)
    assert directions.query.shape == (28, 24, 128)
    query_norms, key_norms = directions.query[13].norm(dim=-1), directions.key[13].norm(dim=-1)
    assert 20 < float(query_norms.mean()) < 35
    assert float(key_norms.max()) < 3 < float(query_norms.min())
    with pytest.raises(FocusInterpError, match="belong to another model"):
        directions.check(tiny_loaded("llama").architecture)
