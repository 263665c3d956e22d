"""Stage 2: resolve the subject model, its retain reference and its prompt format; hash the
subject's weights, once for the whole build.

``retain`` is the evaluation reference (``--retain-model``, else ``--reference-model``, else the
registry's retain model for the forget split). ``tuning_reference`` exists only with
``--retain-model``: by default sigma is tuned against the holdout surrogate and the retain model
is used for evaluation only. Resolving ``tiny`` trains it on first use, so it happens here, where
it is timed and cached.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from guards.base_model import combine_digests, weight_digests
from guards.config import BaseModelRef
from guards.prompt_format import PromptFormat
from packager.models import resolve_model
from packager.pipeline.stage import Stage
from packager.pipeline.typed import StageResult


@dataclass(frozen=True)
class ModelInputs:
    model: str  # --model: alias, Hub id or folder
    forget: str  # the forget-set spec (the registry picks TOFU models by split)
    seed: int  # the forget set's seed (``tiny`` trains on the people it draws)
    data: str  # the forget set's fingerprint
    retain_model: str | None
    reference_model: str | None
    prompt_format: PromptFormat | None  # --prompt-format; None = the model's own
    data_dir: str | None  # where TOFU is read from (for ``tiny`` on TOFU)


@dataclass(frozen=True, kw_only=True)
class ModelResult(StageResult):
    subject: BaseModelRef  # a local subject carries its ``weights_sha256``
    retain: BaseModelRef | None
    tuning_reference: BaseModelRef | None
    prompt_format: PromptFormat
    alias: str  # --model as given (names the model in Hub errors)
    card_name: str  # the card's ``base_model``: the Hub id, the alias or the folder name, never a path
    subject_digests: dict[str, str]  # sha256 of a local subject's safetensors files, by name


def card_name(model: str, subject: BaseModelRef) -> str:
    if subject.source == "hub":
        return subject.name_or_path
    return Path(model).name if Path(model).is_dir() else model


def _run(inputs: ModelInputs, out: Path, session) -> ModelResult:
    data_dir = Path(inputs.data_dir) if inputs.data_dir else None
    found = resolve_model(inputs.model, inputs.forget, data_dir=data_dir, seed=inputs.seed)
    explicit = resolve_model(inputs.retain_model).subject if inputs.retain_model else None
    reference = resolve_model(inputs.reference_model).subject if inputs.reference_model else None
    subject, digests = found.subject, {}
    if subject.source == "local":
        digests = weight_digests(Path(subject.name_or_path))
        subject = replace(subject, weights_sha256=combine_digests(digests))
    roles = {"subject": subject, "retain": explicit or reference or found.retain, "tuning_reference": explicit}
    for role, ref in roles.items():
        if ref is not None:
            session.console.print(f"{role}: {ref.name_or_path}" + (f" @ {ref.revision}" if ref.revision else ""))
    return ModelResult(
        **roles,
        prompt_format=inputs.prompt_format or found.prompt_format,
        alias=inputs.model,
        card_name=card_name(inputs.model, subject),
        subject_digests=digests,
    )


STAGE = Stage("model", "Models", ModelResult, _run, code=("packager.pipeline.stages.model", "packager.models",
                                                          "packager.tiny", "packager.finetune", "packager.bpe"))
