"""The guard's configuration, assembled in one place: the sigma search tunes this guard and the
bundle stage saves it with the chosen sigma, so the guard that is measured is the one that ships."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from guards.config import BaseModelRef, CorruptionConfig, DecisionRule, GuardConfig, SeedPolicy, SelectionConfig
from guards.prompt_format import PromptFormat


@dataclass(frozen=True)
class CorruptionSettings:
    """``--corruption``, ``--dims`` and ``--selection``: how a flagged prompt is corrupted."""

    method: str
    dims: int
    selection: str


def assemble_guard(
    *,
    base: BaseModelRef,
    decision: DecisionRule,
    prompt_format: PromptFormat,
    corruption: CorruptionSettings,
    entities: tuple[str, ...],
    strength: float,
    classifier_max_length: int,
    name: str,
    version: str,
    metadata: Mapping[str, Any],
) -> GuardConfig:
    """The shipped guard: noise keyed by the server's secret (``keyed``), never a public seed."""
    return GuardConfig(
        base_model=base,
        corruption=CorruptionConfig(corruption.method, dims=corruption.dims, strength=float(strength)),
        selection=SelectionConfig(corruption.selection, entities=tuple(entities)),
        decision=decision,
        seed_policy=SeedPolicy("keyed"),
        prompt_format=prompt_format,
        classifier_max_length=classifier_max_length,
        name=name,
        version=version,
        metadata=dict(metadata),
    )
