"""Load a model by spec (short name, .gguf file, local directory or hub id) and wrap it for nnsight."""

from __future__ import annotations

import hashlib
import pickle
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from focus_interp.errors import FocusInterpError
from focus_interp.model.architecture import Architecture
from focus_interp.model.families import family_for
from focus_interp.model.gguf import (
    SHORT_NAMES,
    convert_gguf,
    convert_packaged,
    default_cache_dir,
    gguf_key,
)
from focus_interp.model.sites import LayerSites

DEFAULT_MODEL = "smollm2-135m-instruct"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
ATTN_IMPLEMENTATIONS = ("sdpa", "eager")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass
class LoadedModel:
    """A model ready for interventions.

    ``model`` is the nnsight ``TransformersModel`` (trace and generate through it), ``hf_model`` the
    transformers module inside it, ``architecture`` its sizes, and ``sites(layer)`` its attention sites.
    """

    name: str
    model: object
    hf_model: torch.nn.Module
    tokenizer: object
    architecture: Architecture

    @property
    def attn_implementation(self) -> str:
        return self.hf_model.config._attn_implementation

    @property
    def device(self) -> torch.device:
        return next(self.hf_model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.hf_model.parameters()).dtype

    def identity(self) -> dict[str, str]:
        """What a run folder pins of this model besides its name: fingerprints of its config and of its weights,
        its dtype and its device (another model under the same name, or another precision, is another run)."""
        return {
            "config": self.architecture.config_fingerprint,
            "weights": weights_fingerprint(self.hf_model),
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
        }

    def sites(self, layer: int) -> LayerSites:
        """The attention sites of ``layer`` (see ``focus_interp.model.sites``)."""
        self.architecture.check_layer(layer)
        return LayerSites(self.model, self.architecture, layer, self.attn_implementation)

    def describe(self) -> str:
        """The architecture and the site paths of layer 0, for a terminal."""
        lines = [self.architecture.describe(), f"attention      {self.attn_implementation}", "sites of layer 0:"]
        lines += [f"  {name:<15}{path}" for name, path in self.sites(0).paths().items()]
        return "\n".join(lines)


def weights_fingerprint(module: torch.nn.Module, per_tensor: int = 256) -> str:
    """A short hash of every parameter's name, shape, dtype and first and last ``per_tensor`` values: two models
    whose weights differ anywhere in practice differ here, at the cost of reading a few values per tensor."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}\n".encode())
        if tensor.device.type != "meta" and tensor.numel():
            flat = tensor.detach().reshape(-1)
            values = torch.cat([flat[:per_tensor], flat[-per_tensor:]]).to("cpu", torch.float32)
            digest.update(values.numpy().tobytes())
    return digest.hexdigest()[:16]


def load_model(
    spec: str = DEFAULT_MODEL,
    *,
    device: str = "cpu",
    dtype: str | torch.dtype = "float32",
    attn_implementation: str = "sdpa",
    cache_dir: str | Path | None = None,
) -> LoadedModel:
    """Load ``spec`` and wrap it for nnsight.

    ``spec``: a short name (``smollm2-135m-instruct``, ``gemma-3-270m``), a ``.gguf`` file, a local model
    directory (safetensors) or a hub id. GGUF weights are dequantised once into ``cache_dir`` (default
    ``default_cache_dir()``); later loads read the converted safetensors.
    """
    torch_dtype = _resolve_dtype(dtype)
    _check_device(device)
    if attn_implementation not in ATTN_IMPLEMENTATIONS:
        raise FocusInterpError(
            f"attn_implementation '{attn_implementation}' is not supported: use one of {ATTN_IMPLEMENTATIONS}"
        )
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    source, name = _resolve_spec(str(spec), cache)
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        family_for(AutoConfig.from_pretrained(source, local_files_only=name != "hub").model_type)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=name != "hub")
        hf_model = AutoModelForCausalLM.from_pretrained(
            source, dtype=torch_dtype, attn_implementation=attn_implementation, local_files_only=name != "hub"
        )
    except pickle.UnpicklingError:
        raise FocusInterpError(
            f"cannot load model '{spec}' from {source}: its weights are a pickle that torch refuses to load safely "
            "(weights_only); save the model as safetensors (save_pretrained) where you trust it, then load that"
        ) from None
    except (OSError, ValueError) as error:
        raise FocusInterpError(f"cannot load model '{spec}' from {source}: {_first_line(error)}") from error
    finally:
        transformers_logging.enable_progress_bar()
    return wrap_model(hf_model.to(device), tokenizer, name=str(spec) if name == "hub" else name)


def wrap_model(hf_model: torch.nn.Module, tokenizer, name: str | None = None) -> LoadedModel:
    """Wrap an already-built transformers causal LM (e.g. a tiny model from a config) for nnsight."""
    from nnsight import TransformersModel

    name = name or getattr(hf_model.config, "_name_or_path", None) or type(hf_model).__name__
    architecture = Architecture.from_model(hf_model, name)
    hf_model.eval()
    model = TransformersModel(hf_model, tokenizer=tokenizer)
    return LoadedModel(name=name, model=model, hf_model=hf_model, tokenizer=tokenizer, architecture=architecture)


def _resolve_spec(spec: str, cache: Path) -> tuple[str, str]:
    """(directory or hub id to load from, display name); converts GGUF files into ``cache`` first."""
    if spec in SHORT_NAMES:
        return str(convert_packaged(spec, SHORT_NAMES[spec], cache)), spec
    path = Path(spec).expanduser()
    if spec.endswith(".gguf"):
        if not path.is_file():
            raise FocusInterpError(f"GGUF file not found: {spec}")
        return str(convert_gguf(path, cache / "models" / gguf_key(path))), path.stem
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FocusInterpError(f"{spec} is a directory without config.json: pass a transformers model folder")
        return str(path), path.name
    if not _HUB_ID.match(spec) or path.exists():
        raise FocusInterpError(_not_found(spec))
    if not _in_hub_cache(spec) and not _hub_reachable():
        raise FocusInterpError(_not_found(spec) + " (the model hub is unreachable and it is not in the local cache)")
    return spec, "hub"


def _not_found(spec: str) -> str:
    names = ", ".join(SHORT_NAMES)
    return (
        f"model '{spec}' not found: pass a short name ({names}), a .gguf file, a local model directory, "
        f"or a hub id reachable from this machine; the default needs `{SHORT_NAMES[DEFAULT_MODEL].install}`"
    )


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def _hub_reachable(timeout: float = 3.0) -> bool:
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    host = urlparse(constants.ENDPOINT).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise FocusInterpError(f"dtype '{dtype}' is not supported: use one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def _check_device(device: str) -> None:
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise FocusInterpError(f"device '{device}' is not a torch device: use 'cpu' or 'cuda'") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise FocusInterpError(f"device '{device}' requested but torch sees no GPU here: use device='cpu'")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
