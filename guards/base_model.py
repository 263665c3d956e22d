"""Load the base model a bundle references, from the Hub or a hash-pinned local path."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import torch

from guards.config import BaseModelRef
from guards.errors import BundleError, ModelSourceError
from guards.manifest import sha256_file

DTYPES = {
    "auto": "auto",
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def resolve_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelSourceError(f"`--device {device}` was asked for but no CUDA device is visible; use `--device cpu`")
    return device


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise ModelSourceError(f"unknown dtype `{dtype}`; valid: {', '.join(DTYPES)}")
    if DTYPES[dtype] == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return DTYPES[dtype]


def weight_digests(path: Path) -> dict[str, str]:
    """sha256 of every safetensors file in a model folder, by file name (each file read once)."""
    files = sorted(Path(path).glob("*.safetensors"))
    if not files:
        raise BundleError(f"{path} holds no *.safetensors weights (pickled weights are refused)", str(path))
    return {file.name: sha256_file(file) for file in files}


def combine_digests(digests: Mapping[str, str]) -> str:
    """The folder's ``weights_sha256`` from its per-file digests (``weight_digests``)."""
    digest = hashlib.sha256()
    for name in sorted(digests):
        digest.update(f"{name}:{digests[name]}\n".encode())
    return digest.hexdigest()


def hash_weights(path: Path) -> str:
    """sha256 over the sorted (name, sha256) pairs of every safetensors file in a model folder."""
    return combine_digests(weight_digests(path))


def _source(ref: BaseModelRef, relative_to: Path | None, verified: bool) -> tuple[str, dict]:
    """Where ``ref``'s files are read from, and the revision kwargs; local weights must match their hash."""
    if ref.source != "local":
        return ref.name_or_path, {"revision": ref.revision}
    path = Path(ref.name_or_path)
    if not path.is_absolute() and relative_to is not None:
        path = (relative_to / path).resolve()
    if not path.is_dir():
        raise ModelSourceError(
            f"base model folder {path} does not exist; pull the artifact with its base "
            "or fix `base_model.name_or_path`"
        )
    if ref.weights_sha256 and not verified and hash_weights(path) != ref.weights_sha256:
        raise BundleError(f"weights in {path} do not match the bundle's `base_model.weights_sha256`", str(path))
    return str(path), {}


def base_model_source(ref: BaseModelRef, relative_to: Path | None = None) -> str:
    """The folder or Hub id an engine loads ``ref`` from (a local path resolved against the bundle)."""
    return _source(ref, relative_to, verified=True)[0]


def _offline_hint(ref: BaseModelRef, exc: OSError) -> ModelSourceError:
    return ModelSourceError(
        f"could not load `{ref.name_or_path}` ({exc.__class__.__name__}: {str(exc).splitlines()[0]}). "
        "If the Hugging Face Hub is unreachable, download the model elsewhere and pass its local "
        "folder instead (or set HF_HUB_OFFLINE=1 with a warm cache)"
    )


def load_base_model(
    ref: BaseModelRef,
    device: str = "auto",
    dtype: str = "auto",
    relative_to: Path | None = None,
    *,
    verified: bool = False,
):
    """(model, tokenizer) for ``ref``; local weights must match their recorded hash.

    ``verified=True`` skips that hash: the caller has just checked these very files (an
    artifact's manifest at start-up, or the build that wrote them), and hashing a 7B model's
    weights again costs minutes.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    source, kwargs = _source(ref, relative_to, verified)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, use_safetensors=True, **kwargs)
    except OSError as exc:
        raise _offline_hint(ref, exc) from exc
    return model.to(device).eval(), tokenizer


def load_embeddings_only(
    ref: BaseModelRef,
    device: str = "auto",
    dtype: str = "auto",
    relative_to: Path | None = None,
    *,
    verified: bool = False,
):
    """(InputEmbeddingsOnly, tokenizer) for ``ref``: what a front for a prompt-embeds engine loads."""
    from transformers import AutoTokenizer

    from guards.input_embeddings import InputEmbeddingsOnly, load_input_embeddings

    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    source, kwargs = _source(ref, relative_to, verified)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise _offline_hint(ref, exc) from exc
    embedding, config = load_input_embeddings(source, revision=kwargs.get("revision"), device=device,
                                              dtype=torch_dtype)
    return InputEmbeddingsOnly(embedding, config).eval(), tokenizer
