"""A causal LM's input-embedding matrix alone, read from its safetensors: what a guard front needs.

With an engine that takes prompt embeddings (vLLM's ``prompt_embeds``), the front tokenizes,
classifies and corrupts, and the engine holds the model. The front then needs only the embedding
matrix: for a 7B Llama that is 0.26 GB of its 13 GB, read from the one shard that holds it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from guards.errors import ModelSourceError

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"


class InputEmbeddingsOnly(torch.nn.Module):
    """Stands in for the model in a GuardedModel that only embeds (``prompt_embeddings``).

    Generation runs in the engine; calling ``generate`` here is a wiring error, said plainly.
    """

    def __init__(self, embedding: torch.nn.Embedding, config) -> None:
        super().__init__()
        self.embedding = embedding
        self.config = config

    def get_input_embeddings(self) -> torch.nn.Embedding:
        return self.embedding

    def generate(self, *args, **kwargs):
        raise RuntimeError("this model holds only the input embeddings (a prompt-embeds front); "
                           "generation runs in the engine it forwards to")


def embedding_key(config) -> str:
    """The state-dict name of ``config``'s input embeddings, found on an empty (meta) model."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    weight = model.get_input_embeddings().weight
    return next(name for name, param in model.named_parameters() if param is weight)


def _pick(keys: set[str], wanted: str, where: str) -> str:
    """``wanted``, or the one checkpoint key that ends like it (checkpoints drop or add a prefix)."""
    if wanted in keys:
        return wanted
    tail = wanted.split(".", 1)[-1]
    matches = sorted(k for k in keys if k.endswith(tail))
    if len(matches) != 1:
        raise ModelSourceError(f"{where} has no single tensor for the input embeddings `{wanted}` "
                               f"(candidates: {matches or 'none'}); is it this model's checkpoint?")
    return matches[0]


def load_input_embeddings(
    source: str, *, revision: str | None = None, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[torch.nn.Embedding, object]:
    """(embedding module, model config) of a local model folder or a Hub id, reading one tensor.

    From the Hub only the config, the shard index and the one shard are fetched.
    """
    from huggingface_hub import hf_hub_download
    from safetensors import safe_open
    from transformers import AutoConfig

    local = Path(source).is_dir()

    def fetch(name: str) -> Path | None:
        if local:
            path = Path(source) / name
            return path if path.is_file() else None
        try:
            return Path(hf_hub_download(source, name, revision=revision))
        except Exception:  # absent file or no Hub access: the caller says what is missing
            return None

    try:
        config = AutoConfig.from_pretrained(source, revision=revision)
    except OSError as exc:
        raise ModelSourceError(f"could not read the config of `{source}` ({str(exc).splitlines()[0]}); pass a "
                               "local model folder, or set HF_HUB_OFFLINE=1 with a warm cache") from exc
    wanted = embedding_key(config)
    index = fetch(INDEX)
    if index is not None:
        weight_map = json.loads(index.read_text())["weight_map"]
        key = _pick(set(weight_map), wanted, str(index))
        shard = fetch(weight_map[key])
    else:
        shard = fetch(SINGLE)
        key = None
    if shard is None:
        raise ModelSourceError(f"`{source}` has neither {INDEX} nor {SINGLE}: only safetensors weights are read")
    with safe_open(str(shard), framework="pt", device="cpu") as weights:
        key = key or _pick(set(weights.keys()), wanted, str(shard))
        tensor = weights.get_tensor(key)
    embedding = torch.nn.Embedding.from_pretrained(tensor.to(dtype), freeze=True).to(device)
    return embedding, config
