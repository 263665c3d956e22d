"""Scalar optimisers for sigma, registered by name.

Every optimiser has one signature: ``fn(objective, config) -> sigma``. ``objective`` is a
memoising ``Recorder``, so the result is the best point the search evaluated
(``Recorder.best``); the returned sigma is where the method itself ended, kept for the trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from guards.registry import Registry
from packager.sigma.config import SigmaConfig

Objective = Callable[[float], float]
Optimiser = Callable[[Objective, SigmaConfig], float]
OPTIMISERS: Registry[Optimiser] = Registry("sigma optimiser")

INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0  # 0.618...


@OPTIMISERS.register("zeroth_order")
def zeroth_order(objective: Objective, config: SigmaConfig) -> float:
    """The ECO paper's method: sigma <- max(floor, sigma - lr * (f(s+eps) - f(s-eps)) / 2eps)."""
    zo = config.zeroth_order
    sigma, best, stall = zo.init, math.inf, 0
    for _ in range(zo.max_steps):
        low, high = max(zo.floor, sigma - zo.eps), sigma + zo.eps
        f_low, f_high = objective(low), objective(high)
        gradient = (f_high - f_low) / (high - low) if math.isfinite(f_high - f_low) else 0.0
        current = min(f_low, f_high)
        if current < best - zo.tol:
            best, stall = current, 0
        else:
            stall += 1
            if stall >= zo.patience:
                break
        sigma = max(zo.floor, sigma - zo.lr * gradient)
    return sigma


@OPTIMISERS.register("golden")
def golden(objective: Objective, config: SigmaConfig) -> float:
    """Log-grid bracket over [low, high], then golden-section steps on log sigma inside it.

    The best grid point and its two neighbours form a bracketing triplet whose middle value is
    already known, so each of the ``iterations`` steps costs exactly one new evaluation: it probes
    the larger side of the bracket at the golden ratio and keeps the triplet around the best value.
    """
    br = config.bracket
    grid = np.exp(np.linspace(math.log(br.low), math.log(br.high), br.grid))
    values = [objective(float(s)) for s in grid]
    i = int(np.argmin(values))
    lo, hi = math.log(grid[max(i - 1, 0)]), math.log(grid[min(i + 1, br.grid - 1)])
    mid, f_mid = math.log(grid[i]), values[i]
    for _ in range(br.iterations):
        right = hi - mid > mid - lo
        x = mid + (1.0 - INV_PHI) * (hi - mid) if right else mid - (1.0 - INV_PHI) * (mid - lo)
        f_x = objective(math.exp(x))
        if f_x < f_mid:
            lo, hi = (mid, hi) if right else (lo, mid)
            mid, f_mid = x, f_x
        else:
            lo, hi = (lo, x) if right else (x, hi)
    return math.exp(mid)
