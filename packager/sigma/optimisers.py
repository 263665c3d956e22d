"""Scalar optimisers for sigma, registered by name.

Every optimiser has one signature: ``fn(objective, config) -> sigma``. ``objective`` is a
memoising ``Recorder`` (call it for the distance, ``.signed`` for its signed form), so the result
is the best point the search evaluated (``Recorder.best``), unless the optimiser pins its own
estimate (``Recorder.choose``); the returned sigma is where the method itself ended.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import isotonic_regression

from guards.errors import GuardConfigError
from guards.registry import Registry
from packager.sigma.config import GridConfig, SigmaConfig
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


def _grid(grid: GridConfig) -> list[float]:
    """The first sigmas of a grid search: ``points`` log-spaced from ``low`` to ``high``."""
    return [float(s) for s in np.exp(np.linspace(math.log(grid.low), math.log(grid.high), grid.points))]


def _extension(logs: np.ndarray, step: float) -> list[float]:
    """Two sigmas beyond the grid's end in the direction of ``step`` (log sigma): half and the whole of it."""
    edge = float(logs[-1] if step > 0 else logs[0])
    return [float(s) for s in np.exp(edge + step * np.linspace(0.5, 1.0, 2))]


def _finite(points: dict[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Log sigmas (sorted) and their values, without the non-finite evaluations (``Recorder`` marks a
    failed one NaN or inf); an error if none is left."""
    kept = sorted(s for s, v in points.items() if math.isfinite(v))
    if not kept:
        raise GuardConfigError(f"the sigma objective gave no finite value at sigma {', '.join(map(str, points))}")
    return np.log(kept), np.array([points[s] for s in kept])


def _monotone_fit(points: dict[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Log sigmas (sorted) and the isotonic fit of their signed distances, increasing or decreasing,
    whichever fits better: the direction is read from the data, as objectives differ in it. A
    non-finite evaluation (``Recorder`` marks it NaN) carries no sign and is left out."""
    logs, values = _finite(points)
    fits = [isotonic_regression(values, increasing=up).x for up in (True, False)]
    return logs, min(fits, key=lambda fit: float(np.sum((fit - values) ** 2)))


def _crossing(logs: np.ndarray, fit: np.ndarray) -> float | None:
    """Log sigma where the fitted curve first reaches zero (linear between points), or None."""
    zero = np.flatnonzero(fit == 0)
    if zero.size:  # a fitted block at exactly zero: its middle
        return float((logs[zero[0]] + logs[zero[-1]]) / 2)
    for i in range(len(fit) - 1):
        if fit[i] * fit[i + 1] < 0:
            return float(logs[i] + (logs[i + 1] - logs[i]) * fit[i] / (fit[i] - fit[i + 1]))
    return None


@OPTIMISERS.register("monotone")
def monotone(objective: Recorder, config: SigmaConfig) -> float:
    """Fit a monotone curve to the signed distance over a log-spaced grid; choose where it crosses zero.

    Each evaluation is one noisy draw. ``bracket`` trusts every draw's sign, so where the signed
    distance is nearly flat past its root, one draw of the wrong sign sends it a decade away. In
    expectation the signed distance moves one way as sigma grows (more noise, further from the
    subject), so an isotonic fit (``scipy.optimize.isotonic_regression``) over every evaluation
    pools their noise: the crossing of the fit, interpolated on log sigma, is the estimate. Each
    ``refine`` step evaluates at the estimate and refits. The chosen sigma is the last estimate,
    evaluated for the trace (``Recorder.choose``), not the point with the smallest single draw.

    A zero of the signed distance is a match only if the distance there is small too: where the
    guarded values spread wider than the reference at every sigma (noise scatters each question's
    value), the signed KS statistic turns from the lower tail's gap to the upper tail's while both
    stay large. So the crossing is kept unless its distance exceeds the objective's
    ``reject_distance`` (a KS test there rejects that the two are equal, at the 5% level); else the
    search takes the evaluated sigma with the smallest distance, as ``bracket`` does.
    """
    mo = config.monotone
    signed = {s: objective.signed(s) for s in _grid(mo)}
    logs, fit = _monotone_fit(signed)
    root = _crossing(logs, fit)
    for _ in range(mo.max_expansions):
        if root is not None:
            break
        step = math.log(mo.expand) * (1 if abs(fit[-1]) <= abs(fit[0]) else -1)  # ties go up, as in `bracket`
        for sigma in _extension(logs, step):
            signed[sigma] = objective.signed(sigma)
        logs, fit = _monotone_fit(signed)
        root = _crossing(logs, fit)
    if root is None:  # no crossing within reach: the end of the fit nearest zero
        return objective.choose(float(math.exp(logs[int(np.argmin(np.abs(fit)))])))
    for _ in range(mo.refine):
        sigma = math.exp(root)
        signed[sigma] = objective.signed(sigma)
        logs, fit = _monotone_fit(signed)
        refitted = _crossing(logs, fit)
        root = root if refitted is None else refitted
    crossing = math.exp(root)
    if objective(crossing) <= getattr(objective.objective, "reject_distance", math.inf):
        return objective.choose(crossing)
    # the sign changes where the two distributions differ in both tails, each by as much: no match
    return objective.choose(min(objective.points, key=lambda p: (p.objective, p.evaluations)).sigma)


def _valley_fit(points: dict[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log sigmas (sorted), their distances and the least-squares unimodal fit: falling, then rising
    (two isotonic fits split where their summed error is least). Non-finite evaluations are left out."""
    logs, values = _finite(points)

    def split(k: int) -> np.ndarray:
        parts = [isotonic_regression(part, increasing=up).x for part, up in ((values[:k], False), (values[k:], True))
                 if part.size]
        return np.concatenate(parts)

    fits = [split(k) for k in range(len(values) + 1)]
    return logs, values, min(fits, key=lambda fit: float(np.sum((fit - values) ** 2)))


@OPTIMISERS.register("valley")
def valley(objective: Recorder, config: SigmaConfig) -> float:
    """Fit a valley (falling, then rising) to the distance over a log-spaced grid; choose its floor.

    The surrogate's distance is itself what a sigma should make small: the KS statistic between the
    guarded forget values and a reference of questions the subject never saw. ``monotone`` aims at
    the zero of its signed form instead, which marks a match only when the two distributions differ
    in location alone. Where the guarded values also spread differently, the sign flips from one tail
    to the other (and from one noise seed to the next) well before the distance is smallest.

    Every evaluation is one noisy draw, so the search fits a unimodal curve to all of them
    (``_valley_fit``) rather than trusting the smallest single draw. The floor is every evaluated
    sigma whose fitted distance lies within the draws' scatter about the fit of the lowest; the
    estimate is its middle, on log sigma. While the floor touches an end of the grid, the grid
    extends one ``expand`` factor that way (at most ``max_expansions`` times). Each ``refine`` step
    evaluates at the estimate, or, if the estimate is already evaluated, halfway (on log sigma) to
    its neighbours on both sides, and refits. The chosen sigma (``Recorder.choose``) is the signed
    distance's fitted crossing (as ``monotone`` finds it, from the same evaluations) if it lies on
    the floor, else the estimate.
    """
    va = config.valley
    distances = {s: objective(s) for s in _grid(va)}

    def estimate() -> tuple[np.ndarray, int, int, float]:
        logs, values, fit = _valley_fit(distances)
        noise = float(np.sqrt(np.mean((values - fit) ** 2)))  # the draws' scatter about the fit
        floor = np.flatnonzero(fit <= fit.min() + noise + 1e-12)  # points the fit cannot tell from the floor
        return logs, int(floor[0]), int(floor[-1]), float((logs[floor[0]] + logs[floor[-1]]) / 2)

    logs, lo, hi, root = estimate()
    for _ in range(va.max_expansions):
        if 0 < lo and hi < len(logs) - 1:
            break
        step = math.log(va.expand) * (1 if hi == len(logs) - 1 else -1)  # a floor over the whole grid goes up
        for sigma in _extension(logs, step):
            distances[sigma] = objective(sigma)
        logs, lo, hi, root = estimate()
    for _ in range(va.refine):
        index = int(np.argmin(np.abs(logs - root)))
        if abs(logs[index] - root) > 1e-9:
            targets = [root]
        else:  # the estimate is an evaluated point: narrow in on both sides of it
            targets = [(logs[index] + logs[j]) / 2 for j in (index - 1, index + 1) if 0 <= j < len(logs)]
        for target in targets:
            distances[math.exp(target)] = objective(math.exp(target))
        logs, lo, hi, root = estimate()
    # where the fit cannot tell the signed crossing from the floor, the crossing is the steadier choice:
    # its sign pools every draw, while a floor flat within the noise sets the estimate loose along it
    signed_logs, signed_fit = _monotone_fit({s: objective.signed(s) for s in distances})
    crossing = _crossing(signed_logs, signed_fit)
    if crossing is not None and logs[lo] <= crossing <= logs[hi]:
        return objective.choose(math.exp(crossing))
    return objective.choose(math.exp(root))
