"""Split-conformal calibration of the decision threshold on held-out forget prompts.

Nonconformity s = 1 - p_forget. With n calibration scores, q_hat is the k-th smallest score,
k = ceil((n + 1)(1 - alpha)). Flagging every prompt with s <= q_hat then catches an exchangeable
new forget prompt with probability >= 1 - alpha.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from guards.config import DecisionRule
from guards.errors import EcoPackError

_EPS = 1e-9  # keeps (n + 1)(1 - alpha) = 19.000000000000004 from rounding up to 20


class CalibrationError(EcoPackError, ValueError):
    """Too few calibration prompts for the requested alpha, or invalid scores."""


def conformal_rank(n: int, alpha: float) -> int:
    """k = ceil((n + 1)(1 - alpha)): the rank of q_hat among n sorted scores (1-based)."""
    return math.ceil((n + 1) * (1.0 - alpha) - _EPS)


def min_calibration_size(alpha: float) -> int:
    """The smallest n for which k <= n, i.e. for which q_hat exists."""
    if not 0.0 < alpha < 1.0:
        raise CalibrationError(f"`alpha` must lie strictly between 0 and 1, not {alpha}")
    n = max(1, math.floor((1.0 - alpha) / alpha) - 1)
    while conformal_rank(n, alpha) > n:
        n += 1
    return n


def conformal_quantile(scores: Sequence[float], alpha: float) -> float:
    """q_hat of nonconformity ``scores``; raises when n is below ``min_calibration_size(alpha)``."""
    n = len(scores)
    need = min_calibration_size(alpha)
    if n < need:
        raise CalibrationError(
            f"conformal calibration with `alpha`={alpha} needs at least {need} held-out forget "
            f"prompts, got {n}; add forget prompts, raise `calibration_fraction`, or raise `alpha`"
        )
    if any(not 0.0 <= s <= 1.0 for s in scores):
        raise CalibrationError("nonconformity scores must lie in [0, 1] (s = 1 - p_forget)")
    return sorted(scores)[conformal_rank(n, alpha) - 1]


def calibrate(forget_probs: Sequence[float], alpha: float) -> DecisionRule:
    """The conformal decision rule from p_forget of held-out forget prompts."""
    q_hat = conformal_quantile([1.0 - p for p in forget_probs], alpha)
    return DecisionRule.conformal(q_hat=q_hat, alpha=alpha, n=len(forget_probs))
