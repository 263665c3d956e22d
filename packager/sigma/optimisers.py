"""Scalar optimisers for sigma, registered by name.

Every optimiser has one signature: ``fn(objective, config) -> sigma``. ``objective`` is a
memoising ``Recorder`` (call it for the distance, ``.signed`` for its signed form), so the result
is the best point the search evaluated (``Recorder.best``); the returned sigma is where the
method itself ended.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from guards.registry import Registry
from packager.sigma.config import SigmaConfig
from packager.sigma.trace import Recorder

Optimiser = Callable[[Recorder, SigmaConfig], float]
OPTIMISERS: Registry[Optimiser] = Registry("sigma optimiser")


@OPTIMISERS.register("zeroth_order")
def zeroth_order(objective: Recorder, config: SigmaConfig) -> float:
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


@OPTIMISERS.register("bracket")
def bracket(objective: Recorder, config: SigmaConfig) -> float:
    """Bracket a sign change of the signed distance on log sigma, then narrow it by regula falsi.

    The signed distance is positive while the guarded values lie above the reference and negative
    past it, so a bracket with one end of each sign holds the optimum whichever way more noise
    pushes. While [low, high] has no sign change it slides one ``expand`` factor towards the end
    with the smaller distance (at most ``max_expansions`` times). Each of the ``iterations``
    Illinois steps then costs one evaluation; it stops early when the bracket is narrower than
    ``xtol`` (relative) or the signed distance is exactly 0.
    """
    br = config.bracket
    a, b = math.log(br.low), math.log(br.high)
    fa, fb = objective.signed(br.low), objective.signed(br.high)
    for _ in range(br.max_expansions):
        if fa * fb <= 0:
            break
        if abs(fb) <= abs(fa):  # ties go up: at low sigma the guard does nothing yet
            a, fa, b = b, fb, b + math.log(br.expand)
            fb = objective.signed(math.exp(b))
        else:
            b, fb, a = a, fa, a - math.log(br.expand)
            fa = objective.signed(math.exp(a))
    if fa * fb > 0:
        return math.exp(a if abs(fa) < abs(fb) else b)
    side = 0
    for _ in range(br.iterations):
        if fa == 0 or fb == 0 or b - a < math.log1p(br.xtol):
            break
        c = (a * fb - b * fa) / (fb - fa)
        fc = objective.signed(math.exp(c))
        if fc * fb > 0:
            b, fb = c, fc
            fa = fa / 2 if side == -1 else fa  # Illinois: halve the end kept twice in a row
            side = -1
        elif fc * fa > 0:
            a, fa = c, fc
            fb = fb / 2 if side == 1 else fb
            side = 1
        else:
            return math.exp(c)
    return math.exp(a if abs(fa) < abs(fb) else b)
