"""The search trace: every objective evaluation, for the model card's plot."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimiser": self.optimiser,
            "sigma": self.sigma,
            "final_objective": self.objective,
            "evaluations": self.evaluations,
            "model_evaluations": self.model_evaluations,
            "seconds": self.seconds,
            "trace": [vars(p) for p in self.trace],
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
