"""Accuracy per topic of a (guarded) model on a multiple-choice forget set, the way WMDP and the
ECO paper's MMLU subsets are read: the forget topics' accuracy should fall to chance, the retain
and general topics' should stay where the unguarded model has them.

Corruption noise moves only the flagged questions' scores, so each role is scored once with
``seed`` and its flagged questions again under ``noise_seeds - 1`` more seeds; accuracies are
reported as the median over those seeds, with the range.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluation.multiple_choice import MCItem, chance_accuracy, mc_item, mc_prompt, multiple_choice_accuracy
from evaluation.scoring import FlagMode, QAScorer, over_noise_seeds

if TYPE_CHECKING:
    from evaluation.forget_set import ForgetSet
    from guards.guarded_model import GuardedModel

ROLE_FIELDS = {"forget": "forget", "retain": "retain", "general": "world_facts"}  # role -> ForgetSet field


@dataclass(frozen=True)
class RoleAccuracy:
    """One role's questions (forget, retain or general topics) under each noise seed."""

    topics: tuple[str, ...]  # per question
    flagged: tuple[bool, ...]  # per question, as the guard decided
    seeds: tuple[int | None, ...]
    correct: tuple[tuple[float, ...], ...]  # per seed, per question: 1.0 where the top option is the answer
    chance: float

    def accuracy(self, rows: np.ndarray | None = None) -> list[float]:
        """Accuracy under each seed, over ``rows`` (all questions by default)."""
        table = np.asarray(self.correct)
        return [float(np.mean(r if rows is None else r[rows])) for r in table]

    def to_dict(self) -> dict[str, Any]:
        over_seeds = self.accuracy()
        topics = np.asarray(self.topics)
        return {
            "n": len(self.topics),
            "flagged": int(sum(self.flagged)),
            "chance": self.chance,
            "accuracy": float(statistics.median(over_seeds)),
            "min": min(over_seeds),
            "max": max(over_seeds),
            "seeds": list(self.seeds),
            "accuracy_over_seeds": over_seeds,
            "topics": {
                topic: float(statistics.median(self.accuracy(topics == topic))) for topic in dict.fromkeys(self.topics)
            },
            "correct": [list(row) for row in self.correct],
        }


@dataclass(frozen=True)
class MCReport:
    """A model's accuracy per role and topic; ``forget_accuracy`` is the headline (median over seeds)."""

    roles: dict[str, RoleAccuracy]
    flags: str

    @property
    def forget_accuracy(self) -> float:
        return float(statistics.median(self.roles["forget"].accuracy()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "mc",
            "flags": self.flags,
            "forget_accuracy": self.forget_accuracy,
            "roles": {name: role.to_dict() for name, role in self.roles.items()},
        }


def evaluate_mc(
    guarded: GuardedModel,
    forget_set: ForgetSet,
    *,
    flags: FlagMode = "classifier",
    seed: int | None = 0,
    noise_seeds: int = 5,
    batch_size: int = 16,
) -> MCReport:
    """Accuracy of ``guarded`` on every role of ``forget_set`` (a ``kind="mc"`` set)."""
    if noise_seeds < 1:
        raise ValueError(f"`noise_seeds` must be at least 1, not {noise_seeds}")
    roles = {role: _role(guarded, [mc_item(qa) for qa in getattr(forget_set, field)], role, flags=flags, seed=seed,
                         noise_seeds=noise_seeds, batch_size=batch_size)
             for role, field in ROLE_FIELDS.items() if getattr(forget_set, field)}  # fmt: skip
    return MCReport(roles, flags)


def _role(guarded: GuardedModel, items: list[MCItem], role: str, *, flags: FlagMode, seed: int | None,
          noise_seeds: int, batch_size: int) -> RoleAccuracy:  # fmt: skip
    scorer = QAScorer(guarded, flags=flags, seed=seed, batch_size=batch_size)
    decided = scorer.decide([mc_prompt(it) for it in items])

    def rescore(extra: int, rows: list[int]) -> tuple[float, ...]:
        noisy = QAScorer(guarded, flags=flags, seed=extra, batch_size=batch_size)
        return multiple_choice_accuracy(noisy, [items[i] for i in rows], [True] * len(rows)).per_item

    first = multiple_choice_accuracy(scorer, items, decided).per_item
    seeds, correct = over_noise_seeds(first, decided, flags=flags, seed=seed, noise_seeds=noise_seeds, rescore=rescore)
    return RoleAccuracy(
        topics=tuple(it.topic or role for it in items),
        flagged=tuple(bool(f) for f in decided),
        seeds=tuple(seeds),
        correct=tuple(tuple(float(v) for v in row) for row in correct),
        chance=chance_accuracy(items),
    )
