"""Tuning sigma (the corruption strength) by bracketing, monotone-fit or zeroth-order search (docs/sigma.md)."""

from packager.sigma.config import BracketConfig, GridConfig, SigmaConfig, ZerothOrderConfig
from packager.sigma.objective import (
    ChanceObjective,
    SigmaObjective,
    surrogate_objective,
    truth_ratio_objective,
    truth_ratio_surrogate_objective,
)
from packager.sigma.optimisers import OPTIMISERS
from packager.sigma.trace import Measure, SigmaResult, TracePoint
from packager.sigma.tune import build_objective, run_search, tune_sigma

__all__ = [
    "OPTIMISERS",
    "BracketConfig",
    "ChanceObjective",
    "Measure",
    "GridConfig",
    "SigmaConfig",
    "SigmaObjective",
    "SigmaResult",
    "TracePoint",
    "ZerothOrderConfig",
    "build_objective",
    "run_search",
    "surrogate_objective",
    "truth_ratio_objective",
    "truth_ratio_surrogate_objective",
    "tune_sigma",
]
