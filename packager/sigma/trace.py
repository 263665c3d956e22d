"""The search trace: every objective evaluation, for the model card's plot."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.progress import Progress


@dataclass(frozen=True)
class TracePoint:
    """One objective evaluation; ``evaluations`` and ``seconds`` are cumulative."""

    sigma: float
    objective: float
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
    """Wraps an objective: memoises repeated sigmas, records each new evaluation, shows progress."""

    def __init__(self, objective: Callable[[float], float], progress: Progress | None = None) -> None:
        self.objective = objective
        self.progress = progress
        self.task = progress.add_task("sigma search", total=None) if progress else None
        self.points: list[TracePoint] = []
        self._memo: dict[float, float] = {}
        self._start = time.perf_counter()

    def __call__(self, sigma: float) -> float:
        sigma = float(sigma)
        if sigma not in self._memo:
            value = float(self.objective(sigma))
            self._memo[sigma] = value if math.isfinite(value) else math.inf
            self.points.append(
                TracePoint(sigma, self._memo[sigma], len(self.points) + 1, time.perf_counter() - self._start)
            )
            if self.progress is not None and self.task is not None:
                self.progress.update(
                    self.task, advance=1, description=f"sigma={sigma:.4g} objective={value:.4g}"
                )
        return self._memo[sigma]

    def best(self) -> TracePoint:
        return min(self.points, key=lambda p: (p.objective, p.evaluations))
