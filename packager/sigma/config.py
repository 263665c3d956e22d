"""Configuration of a sigma search: one frozen dataclass per component."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DISTANCES = ("ks", "mean_abs", "median")
FLAG_MODES = ("classifier", "all")
# sigma's target without a retain model
SURROGATES = ("answer_probability", "truth_ratio", "truth_ratio_holdout_facts", "truth_ratio_mixed_facts",
              "truth_ratio_other_entities")


@dataclass(frozen=True)
class ZerothOrderConfig:
    """The ECO paper's scalar zeroth-order method.

    Each step estimates df/dsigma by two-sided finite differences at ``sigma +- eps`` (two
    evaluations) and moves ``sigma <- max(floor, sigma - lr * g)``. It stops after ``max_steps``
    or when the best objective has not improved by ``tol`` for ``patience`` steps.
    """

    init: float = 1.0
    lr: float = 20.0
    eps: float = 0.5
    floor: float = 0.01
    max_steps: int = 12
    patience: int = 4
    tol: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("init", "lr", "eps", "floor"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"`zeroth_order.{name}` must be a positive number, not {value!r}")
        if self.max_steps < 1 or self.patience < 1:
            raise ValueError("`zeroth_order.max_steps` and `zeroth_order.patience` must be >= 1")


def _check_range(name: str, low: float, high: float, expand: float) -> None:
    """The first sigma range [low, high] of a search and the factor it extends by."""
    if not 0 < low < high or not math.isfinite(high):
        raise ValueError(f"`{name}.low` and `{name}.high` need 0 < low < high, not {low}, {high}")
    if not expand > 1 or not math.isfinite(expand):
        raise ValueError(f"`{name}.expand` must be a finite factor > 1, not {expand}")


@dataclass(frozen=True)
class BracketConfig:
    """Sign-change bracket on log sigma, narrowed by Illinois regula falsi.

    [``low``, ``high``] is the first bracket; it slides by ``expand`` at most ``max_expansions``
    times while both ends have the same sign. ``iterations`` regula-falsi steps (one evaluation
    each) narrow it, stopping early once it is narrower than ``xtol`` relative to sigma.
    """

    low: float = 0.1
    high: float = 100.0
    expand: float = 10.0
    max_expansions: int = 3
    iterations: int = 3
    xtol: float = 0.02

    def __post_init__(self) -> None:
        _check_range("bracket", self.low, self.high, self.expand)
        if self.max_expansions < 0 or self.iterations < 0:
            raise ValueError("`bracket.max_expansions` and `bracket.iterations` must be >= 0")
        if not self.xtol > 0:
            raise ValueError(f"`bracket.xtol` must be > 0, not {self.xtol}")


@dataclass(frozen=True)
class GridConfig:
    """A log-spaced grid search: ``monotone`` (a monotone fit of the signed distance and its zero
    crossing) and ``valley`` (a unimodal fit of the distance and its floor) each have one.

    ``points`` sigmas from ``low`` to ``high`` (log-spaced) are evaluated once each. While the fit
    has no estimate inside the grid (no crossing; a floor at an end), the grid extends one
    ``expand`` factor that way, at most ``max_expansions`` times. Then ``refine`` steps near the
    estimate, each refitted.
    """

    low: float = 0.1
    high: float = 100.0
    points: int = 7
    expand: float = 10.0
    max_expansions: int = 2
    refine: int = 2

    def __post_init__(self) -> None:
        _check_range("grid", self.low, self.high, self.expand)
        if self.points < 3:
            raise ValueError(f"`grid.points` must be >= 3, not {self.points}")
        if self.max_expansions < 0 or self.refine < 0:
            raise ValueError("`grid.max_expansions` and `grid.refine` must be >= 0")


@dataclass(frozen=True)
class SigmaConfig:
    """A sigma search.

    ``optimiser``: a name in ``OPTIMISERS`` (``monotone``, ``valley``, ``bracket`` or ``zeroth_order``).
    ``distance``: ``ks`` (KS statistic between the per-question distributions),
    ``mean_abs`` (absolute difference of their means) or ``median`` (of their medians).
    ``seeds``: noise seeds each objective evaluation averages over (k = ``seeds``, starting at ``seed``).
    ``flags``: ``classifier`` (the guard decides which forget prompts are corrupted) or ``all``.
    ``surrogate``: the target without a retain model, the subject's own truth ratios or answer
    probability on holdout questions (``objective.py``).
    """

    optimiser: str = "monotone"
    distance: str = "ks"
    seeds: int = 1
    seed: int = 0
    flags: str = "classifier"
    surrogate: str = "truth_ratio_other_entities"
    batch_size: int = 16
    score_eos: bool = True
    zeroth_order: ZerothOrderConfig = field(default_factory=ZerothOrderConfig)
    bracket: BracketConfig = field(default_factory=BracketConfig)
    monotone: GridConfig = field(default_factory=GridConfig)
    valley: GridConfig = field(default_factory=lambda: GridConfig(refine=3))
    progress: bool = True

    def __post_init__(self) -> None:
        if self.distance not in DISTANCES:
            raise ValueError(f"`distance` must be one of {', '.join(DISTANCES)}, not `{self.distance}`")
        if self.flags not in FLAG_MODES:
            raise ValueError(f"`flags` must be one of {', '.join(FLAG_MODES)}, not `{self.flags}`")
        if self.surrogate not in SURROGATES:
            raise ValueError(f"`surrogate` must be one of {', '.join(SURROGATES)}, not `{self.surrogate}`")
        if self.seeds < 1:
            raise ValueError(f"`seeds` must be >= 1, not {self.seeds}")

    @property
    def other_entities(self) -> bool:
        """Whether the surrogate's wrong answers come only from answers about other entities: its
        reference must then be made the same way wherever it is measured (``generic_truth_ratios``)."""
        return self.surrogate == "truth_ratio_other_entities"
