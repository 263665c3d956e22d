"""The small result objects metrics return: an aggregate plus the per-item values behind it."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
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
class Rate:
    """A flag rate over ``n`` prompts: recall on forget prompts (or attacks), FPR on the others;
    ``rate`` is None where the group held no prompt, so an empty group never reads as 0."""

    rate: float | None
    flagged: int
    n: int


def flag_rate(flags: Sequence[bool]) -> Rate:
    return Rate(sum(flags) / len(flags) if flags else None, sum(flags), len(flags))


def rate_text(rate: Mapping[str, Any]) -> str:
    """A saved ``Rate`` (``asdict``) as the card and the CLI show it: "0.950 (57/60)", or "n/a"."""
    return "n/a" if rate["rate"] is None else f"{rate['rate']:.3f} ({rate['flagged']}/{rate['n']})"


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
class ForgetQualitySeeds:
    """Forget quality under several corruption-noise seeds. When the two truth-ratio distributions
    are equal, a KS p-value is uniform on (0, 1), so one seed's value is one draw: the median and
    the range over seeds are what to read. A model with no corrupted forget row has no noise, and
    one seed says all."""

    seeds: tuple[int | None, ...]  # None: unseeded noise
    p_values: tuple[float, ...]
    ks_statistics: tuple[float, ...]

    @property
    def median(self) -> float:
        return float(statistics.median(self.p_values))

    def to_dict(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "min": min(self.p_values),
            "max": max(self.p_values),
            "ks_statistic_median": float(statistics.median(self.ks_statistics)),
            "seeds": list(self.seeds),
            "p_values": list(self.p_values),
            "ks_statistics": list(self.ks_statistics),
        }


@dataclass(frozen=True)
class EvalReport:
    """Per-split reports plus the two TOFU summary numbers.

    ``utility_inputs`` names the numbers the harmonic mean was taken over (all 9 when every
    utility split is present). ``forget_quality`` is the median over ``forget_quality_seeds``
    (None without a reference).
    """

    splits: dict[str, SplitReport]
    model_utility: float | None
    utility_inputs: dict[str, float]
    flags: str
    forget_quality_seeds: ForgetQualitySeeds | None = None

    @property
    def forget_quality(self) -> float | None:
        return None if self.forget_quality_seeds is None else self.forget_quality_seeds.median

    def to_dict(self) -> dict[str, Any]:
        return {
            "flags": self.flags,
            "model_utility": self.model_utility,
            "utility_inputs": dict(self.utility_inputs),
            "forget_quality": self.forget_quality,
            "forget_quality_over_seeds": self.forget_quality_seeds and self.forget_quality_seeds.to_dict(),
            "splits": {name: s.to_dict() for name, s in self.splits.items()},
        }


def readable(value: Any) -> str:
    """A number at a precision a reader takes in: four decimals, or three significant digits when
    tiny (``1.23e-07``, not ``1.2340177116496064e-07``); ``n/a`` for None."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}" if (abs(value) < 1e-3 and value != 0) else f"{value:.4f}"
    return str(value)


def forget_quality_text(summary: Mapping[str, Any]) -> str:
    """One model's forget quality as a reader should take it: the median over noise seeds with the
    range and the KS statistic, from a summary holding ``forget_quality`` and (optionally)
    ``forget_quality_over_seeds``."""
    spread = summary.get("forget_quality_over_seeds")
    if not spread:
        return readable(summary.get("forget_quality"))
    statistic = f"KS D {spread['ks_statistic_median']:.3f}"
    if len(spread["seeds"]) == 1:
        return f"{readable(spread['median'])} ({statistic})"
    return (f"{readable(spread['median'])} (median of {len(spread['seeds'])} noise seeds, "
            f"{readable(spread['min'])} to {readable(spread['max'])}; {statistic})")  # fmt: skip


def value_text(role: Mapping[str, Any], key: str = "accuracy") -> str:
    """A per-role score over noise seeds (``mc_report``, ``text_report``): the median, with the range
    when there were several seeds."""
    if len(role["seeds"]) == 1:
        return readable(role[key])
    return f"{readable(role[key])} ({readable(role['min'])} to {readable(role['max'])})"


def summary_text(summary: Mapping[str, Any]) -> str:
    """One model's headline scores, for every kind of report: forget quality and model utility (``qa``),
    accuracy per role against chance (``mc``), VerbMem and KnowMem per role (``text``)."""
    if summary.get("kind") == "text":
        parts = [f"{name} VerbMem {value_text(role, 'value')}" for name, role in summary["verbmem"].items()]
        return ", ".join(parts + [f"{name} KnowMem {value_text(role, 'value')}"
                                  for name, role in summary["knowmem"].items()])  # fmt: skip
    if summary.get("kind") == "mc":
        roles = summary["roles"]
        chance = roles["forget"]["chance"]
        return ", ".join(f"{name} accuracy {value_text(role)}" for name, role in roles.items()) + (
            f" (chance {readable(chance)})"
        )
    return f"forget quality {forget_quality_text(summary)}, model utility {readable(summary.get('model_utility'))}"
