"""How well a calibrated classifier separates forget prompts from everything else."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from evaluation.result import Rate, flag_rate
from guards.config import DecisionRule
from packager.classifier.data import ClassifierData

Scorer = Callable[[Sequence[str]], list[float]]
GENERAL_GROUPS = ("real_authors", "world_facts", "everyday")


@dataclass(frozen=True)
class ClassifierReport:
    """Recall on never-trained forget prompts, false positives on never-trained negatives, latency."""

    threshold: float
    recall: dict[str, Rate]  # heldout_forget, paraphrase
    fpr: dict[str, Rate]  # retain, retain_paraphrases, holdout, real_authors, world_facts, everyday, general
    ms_per_prompt: float
    examples: dict[str, tuple[str, ...]]  # up to 5 misses / false alarms per group, to read

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def evaluate_classifier(scorer: Scorer, data: ClassifierData, decision: DecisionRule) -> ClassifierReport:
    """Score every held-out group once and count what the decision rule flags."""
    groups = {"heldout_forget": data.test_forget, "paraphrase": data.paraphrases} | data.negatives
    texts = [t for group in groups.values() for t in group]
    started = time.perf_counter()
    probs = scorer(texts) if texts else []
    ms = 1000 * (time.perf_counter() - started) / max(len(texts), 1)
    flags: dict[str, list[bool]] = {}
    examples: dict[str, tuple[str, ...]] = {}
    start = 0
    for name, group in groups.items():
        group_flags = [decision.flags(p) for p in probs[start : start + len(group)]]
        start += len(group)
        flags[name] = group_flags
        want = name in ("heldout_forget", "paraphrase")
        examples[name] = tuple(t for t, f in zip(group, group_flags, strict=True) if f != want)[:5]
    fpr = {name: flag_rate(flags[name]) for name in data.negatives}
    fpr["general"] = flag_rate([f for name in GENERAL_GROUPS for f in flags.get(name, [])])
    return ClassifierReport(
        threshold=decision.threshold,
        recall={name: flag_rate(flags[name]) for name in ("heldout_forget", "paraphrase")},
        fpr=fpr,
        ms_per_prompt=ms,
        examples=examples,
    )
