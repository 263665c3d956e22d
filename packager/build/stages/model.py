"""Stage 2: resolve the subject model, its retain reference and its prompt format.

``retain`` is the evaluation reference (``--retain-model``, else ``--reference-model``, else the
registry's retain model for the forget split). ``tuning_reference`` exists only with
``--retain-model``: by default sigma is tuned against the holdout surrogate and the retain model
is used for evaluation only.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from guards.config import BaseModelRef
from guards.prompt_format import PromptFormat
from packager.build.runner import BuildContext, Stage
from packager.models import ResolvedModel, resolve_model
from packager.models import load_model as load_registered


def resolved(ctx: BuildContext) -> ResolvedModel:
    if "resolved" not in ctx.objects:
        config = ctx.config
        ctx.objects["resolved"] = resolve_model(config.model, config.forget, data_dir=config.data_dir)
    return ctx.objects["resolved"]


def _refs(ctx: BuildContext) -> dict[str, BaseModelRef | None]:
    found = resolved(ctx)
    explicit = resolve_model(ctx.config.retain_model).subject if ctx.config.retain_model else None
    reference = resolve_model(ctx.config.reference_model).subject if ctx.config.reference_model else None
    return {"subject": found.subject, "retain": explicit or reference or found.retain, "tuning_reference": explicit}


def model_ref(ctx: BuildContext, role: str) -> BaseModelRef:
    ref = ctx.results["model"][role]
    return BaseModelRef(**ref)


def has_model(ctx: BuildContext, role: str) -> bool:
    return ctx.results["model"].get(role) is not None


def prompt_format(ctx: BuildContext) -> PromptFormat:
    return PromptFormat.from_dict(ctx.results["model"]["prompt_format"])


def load_model(ctx: BuildContext, role: str):
    """(model, tokenizer) for ``role``, loaded once per process."""
    key = f"model:{role}"
    if key not in ctx.objects:
        alias = ctx.config.model if role == "subject" else (ctx.config.retain_model or ctx.config.reference_model)
        ctx.objects[key] = load_registered(
            model_ref(ctx, role), alias=alias, device=ctx.config.device, dtype=ctx.config.dtype
        )
    return ctx.objects[key]


def _inputs(ctx: BuildContext) -> dict[str, Any]:
    # Resolving may train the tiny models, so it happens in ``_run``, where it is timed and cached.
    config = ctx.config
    return {"model": config.model, "retain_model": config.retain_model, "reference_model": config.reference_model,
            "data": ctx.results["data"]["sha256"]}


def _run(ctx: BuildContext, out: Path) -> dict[str, Any]:
    refs = _refs(ctx)
    for role, ref in refs.items():
        if ref is not None:
            ctx.console.print(f"{role}: {ref.name_or_path}" + (f" @ {ref.revision}" if ref.revision else ""))
    result: dict[str, Any] = {role: asdict(ref) if ref else None for role, ref in refs.items()}
    return result | {"prompt_format": resolved(ctx).prompt_format.to_dict(), "alias": ctx.config.model}


STAGE = Stage("model", "Models", _inputs, _run)
