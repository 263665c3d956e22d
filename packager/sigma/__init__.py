"""Tuning sigma (the corruption strength) by bracketing, monotone-fit or zeroth-order search (docs/sigma.md).

Its names load on first use (lazy_loader): the build's settings read ``packager.sigma.config``
without importing the search (torch, evaluation)."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "config": ["BracketConfig", "GridConfig", "SigmaConfig", "ZerothOrderConfig"],
    "objective": ["ChanceObjective", "SigmaObjective", "surrogate_objective", "truth_ratio_objective",
                  "truth_ratio_surrogate_objective"],
    "optimisers": ["OPTIMISERS"],
    "trace": ["Measure", "SigmaResult", "TracePoint"],
    "tune": ["build_objective", "run_search", "tune_sigma"],
})  # fmt: skip
