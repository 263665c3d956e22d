"""The search trace: every objective evaluation, for the model card's plot."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rich.progress import Progress


@dataclass(frozen=True)
class Measure:
    """One objective evaluation: the distance being minimised and its signed form.

    ``signed`` is positive while the guarded model's values lie above the reference (too little
    noise on the surrogate), negative past it; a sign change brackets the optimum.
    """

    distance: float
    signed: float


@dataclass(frozen=True)
class TracePoint:
    """One objective evaluation; ``evaluations`` and ``seconds`` are cumulative."""

    sigma: float
    objective: float
    signed: float
    evaluations: int
    seconds: float


def crossing(sigmas: Sequence[float], signed: Sequence[float]) -> float | None:
    """The first sigma (ascending) where ``signed`` turns from negative to non-negative, log-linearly
    interpolated between the two evaluations around it; None where it never does."""
    for i in range(len(sigmas) - 1):
        (s0, s1), (d0, d1) = sigmas[i : i + 2], signed[i : i + 2]
        if d0 < 0 <= d1:
            t = -d0 / (d1 - d0)
            return float(math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0))))
    return None


@dataclass(frozen=True)
class QuestionSpread:
    """Where the objective crosses zero when the questions are drawn again (bootstrap resamples of the
    reference's and the guarded side's questions, over the sigmas the search evaluated).

    A reference read on other questions (a holdout) differs from what it stands for by about what
    sampling puts between two such sets, so the chosen sigma is only as sure as this interval is
    narrow: ``low`` and ``high`` hold the central ``level`` of the resamples' crossings.
    ``unbracketed``: the share of resamples whose objective does not cross within the evaluated
    sigmas; each counts at the nearer end of them, so a large share means a wider spread than shown.
    ``paired``: the reference was read on the forget questions themselves (a retain model), so the
    two sides were drawn together.
    """

    low: float
    median: float
    high: float
    level: float
    resamples: int
    unbracketed: float
    paired: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SigmaResult:
    """The chosen sigma, its objective, the cost (objective and model evaluations) and the trace.

    ``model_evaluations`` counts re-scorings of the flagged forget prompts (evaluations x seeds).
    """

    optimiser: str
    sigma: float
    objective: float
    evaluations: int
    model_evaluations: int
    seconds: float
    trace: tuple[TracePoint, ...]
    question_spread: QuestionSpread | None = None  # None for objectives without per-question values

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimiser": self.optimiser,
            "sigma": self.sigma,
            "final_objective": self.objective,
            "evaluations": self.evaluations,
            "model_evaluations": self.model_evaluations,
            "seconds": self.seconds,
            "trace": [vars(p) for p in self.trace],
            "question_spread": self.question_spread.to_dict() if self.question_spread else None,
        }


class Recorder:
    """Wraps an objective: memoises repeated sigmas, records each new evaluation, shows progress.

    Calling it gives the distance (what every optimiser minimises); ``signed`` gives the signed
    form of the same, memoised evaluation.
    """

    def __init__(self, objective: Callable[[float], Measure], progress: Progress | None = None) -> None:
        self.objective = objective
        self.progress = progress
        self.task = progress.add_task("sigma search", total=None) if progress else None
        self.points: list[TracePoint] = []
        self._memo: dict[float, Measure] = {}
        self._start = time.perf_counter()
        self.chosen: float | None = None

    def measure(self, sigma: float) -> Measure:
        sigma = float(sigma)
        if sigma not in self._memo:
            m = self.objective(sigma)
            finite = math.isfinite(m.distance) and math.isfinite(m.signed)
            self._memo[sigma] = m = m if finite else Measure(math.inf, math.nan)
            elapsed = time.perf_counter() - self._start
            self.points.append(TracePoint(sigma, m.distance, m.signed, len(self.points) + 1, elapsed))
            if self.progress is not None and self.task is not None:
                self.progress.update(self.task, advance=1, description=f"sigma={sigma:.4g} objective={m.distance:.4g}")
        return self._memo[sigma]

    def __call__(self, sigma: float) -> float:
        return self.measure(sigma).distance

    def signed(self, sigma: float) -> float:
        return self.measure(sigma).signed

    def choose(self, sigma: float) -> float:
        """Pin the result to ``sigma`` (evaluated, for the trace) instead of the best point evaluated:
        for an optimiser whose estimate pools several evaluations."""
        self.measure(sigma)
        self.chosen = float(sigma)
        return self.chosen

    def best(self) -> TracePoint:
        """The chosen point if an optimiser pinned one, else the one with the smallest distance."""
        if self.chosen is not None:
            return next(p for p in self.points if p.sigma == self.chosen)
        return min(self.points, key=lambda p: (p.objective, p.evaluations))
