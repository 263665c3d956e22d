"""Every input of a build checked before the first expensive stage, each error naming the input
and its fix: the options, the forget set, the models (they load, and the prompt format works
with their tokenizers), the classifier backbone and the device. Nothing here writes to disk."""

from __future__ import annotations

from pathlib import Path

from evaluation.forget_set import ForgetSet
from guards.base_model import resolve_device, resolve_dtype
from guards.corruptions import CORRUPTIONS
from guards.errors import GuardConfigError, ModelSourceError
from guards.prompt_format import PromptFormat
from packager.classifier.config import check_encoder_layers, default_backbone
from packager.finetune import local_prompt_format
from packager.models import MODELS, get_spec, offline_fix
from packager.pipeline.config import BuildConfig
from packager.sources import load_forget_set

TEMPLATE_HINT = "--prompt-format 'Question: {question}\\nAnswer:'"


def _pretrained(auto, what: str, holds: str, source: str, option: str, value: str):
    """``auto.from_pretrained(source)``, or an error naming ``option`` and the fix: the offline fix
    for a Hub id, what a folder must hold for a local one."""
    try:
        return auto.from_pretrained(source)
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        local = Path(source).expanduser().is_dir()
        fix = f"check that the folder holds {holds}" if local else offline_fix(source, option)
        raise ModelSourceError(f"`{option} {value}`: cannot load its {what} ({first}). Fix: {fix}") from None


def _tokenizer(source: str, option: str, value: str):
    from transformers import AutoTokenizer

    return _pretrained(AutoTokenizer, "tokenizer", "a tokenizer (tokenizer.json or tokenizer_config.json)", source,
                       option, value)  # fmt: skip


def _backbone_config(source: str):
    from transformers import AutoConfig

    return _pretrained(AutoConfig, "config", "a config.json", source, "--classifier-backbone", source)


def check_prompt_format(fmt: PromptFormat, tokenizer, option: str, value: str) -> None:
    """A chat template needs a tokenizer that has one; say which ``--prompt-format`` to pass instead."""
    if fmt.name == "chat_template" and not getattr(tokenizer, "chat_template", None):
        raise GuardConfigError(
            f"`{option} {value}`: its tokenizer has no chat template, so prompt format `chat_template` cannot "
            f"be used. Pass --prompt-format with a name (llama2, phi, raw) or a template, e.g. {TEMPLATE_HINT}"
        )


def check_model(value: str, forget: str, option: str, override: PromptFormat | None) -> None:
    """``value`` names a model that loads; its prompt format is usable with its tokenizer."""
    folder = Path(value).expanduser()
    if value not in MODELS and folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ModelSourceError(f"`{option} {value}` holds no config.json: not a Hugging Face model folder")
        if not any(folder.glob("*.safetensors")):
            raise ModelSourceError(
                f"`{option} {value}` holds no *.safetensors weights (pickled weights are refused); convert with "
                "`model.save_pretrained(DIR, safe_serialization=True)`"
            )
        check_prompt_format(override or local_prompt_format(folder), _tokenizer(str(folder), option, value), option,
                            value)  # fmt: skip
        return
    if value not in MODELS and "/" in value:
        check_prompt_format(override or PromptFormat("chat_template"), _tokenizer(value, option, value), option, value)
        return
    spec = get_spec(value)  # an unknown alias lists the close matches
    if spec.base.startswith("builtin:"):
        return  # built offline by the model stage, with its registered prompt format
    source, _, split = forget.partition(":")
    hub_id = spec.tofu_subject if source == "tofu" and spec.tofu_subject else spec.base
    check_prompt_format(override or spec.prompt_format, _tokenizer(hub_id, option, value), option, value)


def validate(config: BuildConfig) -> ForgetSet:
    """Check the whole build, cheapest first; returns the loaded forget set the build will use."""
    resolve_dtype(config.dtype, resolve_device(config.device))
    CORRUPTIONS.get(config.corruption)
    fs = load_forget_set(config.forget, data_dir=config.data_dir, seed=config.seed)
    if config.selection == "entity_spans" and not fs.entities:
        raise GuardConfigError(
            f"`--selection entity_spans` needs entity names, and forget set `{fs.name}` has none; give each "
            "forget row an `entity`, or choose `--selection all_but_last`"
        )
    override = config.parsed_prompt_format
    check_model(config.model, config.forget, "--model", override)
    for option, value in (("--retain-model", config.retain_model), ("--reference-model", config.reference_model)):
        if value is not None:
            check_model(value, config.forget, option, override)
    backbone = config.classifier_backbone
    if backbone is None:
        default_backbone()
    elif not Path(backbone).expanduser().is_dir():
        _tokenizer(backbone, "--classifier-backbone", backbone)
    if config.classifier_layers is not None:
        check_encoder_layers(_backbone_config(backbone or default_backbone()), config.classifier_layers,
                             backbone or "MiniLM-L6")  # fmt: skip
    return fs
