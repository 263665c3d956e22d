"""Memorisation of a text corpus by a (guarded) model, the way MUSE reads it:

- **VerbMem**: given a passage's prefix, the greedy continuation's ROUGE-L F1 against the passage's
  true continuation, for the forget corpus, the retain corpus and holdout passages no model trained
  on (the level of a model that never read a text);
- **KnowMem**: ROUGE-L recall of the greedy answer to questions about a corpus, where the set has
  them (``forget_eval``, ``retain_eval``).

Each continuation gets as many new tokens as its truth has (MUSE compares equal lengths), at most
``max_new_tokens``. Flagged prompts are regenerated under ``noise_seeds - 1`` more noise seeds, and
each value is the median over seeds of the mean over passages, with the range.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from rouge_score import rouge_scorer

from evaluation.scoring import FlagMode, QAScorer, over_noise_seeds

if TYPE_CHECKING:
    from evaluation.forget_set import QA, ForgetSet
    from guards.guarded_model import GuardedModel

VERBMEM_FIELDS = {"forget": "forget", "retain": "retain", "holdout": "holdout"}  # role -> ForgetSet field
KNOWMEM_FIELDS = {"forget": "forget_eval", "retain": "retain_eval"}
_ROUGE = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(reference: str, generation: str, measure: str) -> float:
    """ROUGE-L ``fmeasure`` (VerbMem) or ``recall`` (KnowMem) of a generation (rouge-score, stemming)."""
    return float(getattr(_ROUGE.score(reference.strip(), generation)["rougeL"], measure))


@dataclass(frozen=True)
class RoleMemorisation:
    """One role's passages (or questions) under each noise seed."""

    flagged: tuple[bool, ...]
    seeds: tuple[int | None, ...]
    values: tuple[tuple[float, ...], ...]  # per seed, per item

    def over_seeds(self) -> list[float]:
        return [float(np.mean(row)) for row in self.values]

    def to_dict(self) -> dict[str, Any]:
        over = self.over_seeds()
        return {
            "n": len(self.flagged),
            "flagged": int(sum(self.flagged)),
            "value": float(statistics.median(over)),
            "min": min(over),
            "max": max(over),
            "seeds": list(self.seeds),
            "over_seeds": over,
            "per_item": list(self.values[0]),
        }


@dataclass(frozen=True)
class TextReport:
    """VerbMem per role and, where the set has questions, KnowMem; ``forget_verbmem`` is the headline."""

    verbmem: dict[str, RoleMemorisation]
    knowmem: dict[str, RoleMemorisation]
    flags: str

    @property
    def forget_verbmem(self) -> float:
        return float(statistics.median(self.verbmem["forget"].over_seeds()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "text",
            "flags": self.flags,
            "forget_verbmem": self.forget_verbmem,
            "verbmem": {name: role.to_dict() for name, role in self.verbmem.items()},
            "knowmem": {name: role.to_dict() for name, role in self.knowmem.items()},
        }


def continuation_budget(guarded: GuardedModel, answers: Sequence[str], max_new_tokens: int) -> int:
    """New tokens for a batch of continuations: the longest truth's, at most ``max_new_tokens``."""
    longest = max(len(guarded.tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers)
    return max(1, min(max_new_tokens, longest))


def continuation_scores(
    guarded: GuardedModel,
    items: Sequence[QA],
    flags: Sequence[bool],
    *,
    seed: int | None,
    measure: str = "fmeasure",
    max_new_tokens: int = 128,
    batch_size: int = 16,
) -> list[float]:
    """ROUGE-L of each item's greedy continuation (``question`` is the prefix, ``answer`` the truth)
    under the given per-item flags and noise ``seed``."""
    if not items:
        return []
    answers = [qa.answer for qa in items]
    scorer = QAScorer(guarded, seed=seed, batch_size=batch_size)
    budget = continuation_budget(guarded, answers, max_new_tokens)
    texts = scorer.generate([qa.question for qa in items], flags, budget)
    return [rouge_l(answer, text, measure) for answer, text in zip(answers, texts, strict=True)]


def _role(guarded: GuardedModel, items: Sequence[QA], *, flags: FlagMode, seed: int | None, noise_seeds: int,
          measure: str, max_new_tokens: int, batch_size: int) -> RoleMemorisation:  # fmt: skip
    decided = QAScorer(guarded, flags=flags).decide([qa.question for qa in items])
    settings = dict(measure=measure, max_new_tokens=max_new_tokens, batch_size=batch_size)
    first = continuation_scores(guarded, items, decided, seed=seed, **settings)

    def rescore(extra: int, hot: list[int]) -> list[float]:
        return continuation_scores(guarded, [items[i] for i in hot], [True] * len(hot), seed=extra, **settings)

    seeds, rows = over_noise_seeds(first, decided, flags=flags, seed=seed, noise_seeds=noise_seeds, rescore=rescore)
    return RoleMemorisation(tuple(bool(f) for f in decided), tuple(seeds), tuple(tuple(map(float, r)) for r in rows))


def evaluate_text(
    guarded: GuardedModel,
    forget_set: ForgetSet,
    *,
    flags: FlagMode = "classifier",
    seed: int | None = 0,
    noise_seeds: int = 5,
    max_new_tokens: int = 128,
    batch_size: int = 16,
) -> TextReport:
    """VerbMem and KnowMem of ``guarded`` on every role of ``forget_set`` (a ``kind="text"`` set)."""
    if noise_seeds < 1:
        raise ValueError(f"`noise_seeds` must be at least 1, not {noise_seeds}")
    settings = dict(flags=flags, seed=seed, noise_seeds=noise_seeds, max_new_tokens=max_new_tokens,
                    batch_size=batch_size)  # fmt: skip
    verbmem = {role: _role(guarded, items, measure="fmeasure", **settings)
               for role, field in VERBMEM_FIELDS.items() if (items := getattr(forget_set, field))}  # fmt: skip
    knowmem = {role: _role(guarded, items, measure="recall", **settings)
               for role, field in KNOWMEM_FIELDS.items() if (items := getattr(forget_set, field))}  # fmt: skip
    return TextReport(verbmem, knowmem, flags)
