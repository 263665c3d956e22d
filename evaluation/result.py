"""The small result objects metrics return: an aggregate plus the per-item values behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MetricResult:
    """``value`` aggregates ``per_item`` (one number per question)."""

    name: str
    value: float
    per_item: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "per_item": list(self.per_item)}


@dataclass(frozen=True)
class SplitReport:
    """One split's metrics. ``truth_ratios`` are the raw per-question R (forget quality needs them)."""

    split: str
    n: int
    flagged: int
    metrics: dict[str, MetricResult]

    def value(self, name: str) -> float | None:
        result = self.metrics.get(name)
        return None if result is None else result.value

    @property
    def prob(self) -> float:
        name = "probability_w_options" if "probability_w_options" in self.metrics else "probability"
        return self.metrics[name].value

    @property
    def rougeL(self) -> float | None:
        return self.value("rougeL_recall")

    @property
    def truth_ratio(self) -> float | None:
        return self.value("truth_ratio")

    @property
    def truth_ratios(self) -> tuple[float, ...]:
        result = self.metrics.get("truth_ratio")
        return () if result is None else result.per_item

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "flagged": self.flagged,
            "prob": self.prob,
            "rougeL": self.rougeL,
            "truth_ratio": self.truth_ratio,
            "truth_ratios": list(self.truth_ratios),
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
        }


@dataclass(frozen=True)
class EvalReport:
    """Per-split reports plus the two TOFU summary numbers.

    ``utility_inputs`` names the numbers the harmonic mean was taken over (all 9 when every
    utility split is present). ``forget_quality`` is None without a reference.
    """

    splits: dict[str, SplitReport]
    model_utility: float | None
    utility_inputs: dict[str, float]
    forget_quality: float | None
    flags: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "flags": self.flags,
            "model_utility": self.model_utility,
            "utility_inputs": dict(self.utility_inputs),
            "forget_quality": self.forget_quality,
            "splits": {name: s.to_dict() for name, s in self.splits.items()},
        }
