"""Split-conformal calibration of the decision threshold on held-out prompts.

Recall side: nonconformity s = 1 - p_forget on held-out forget prompts. With n scores, q_hat is
the k-th smallest, k = ceil((n + 1)(1 - alpha)). Flagging every prompt with s <= q_hat catches an
exchangeable new forget prompt with probability >= 1 - alpha.

False-positive side (optional): the same quantile of p_forget on held-out negatives, at level
``fpr_target``, gives t_fpr; flagging only p > t_fpr flags an exchangeable new negative with
probability <= fpr_target. Any threshold between the two keeps both guarantees, and the lowest
one (t_fpr) catches the most rephrased forget prompts, which calibration prompts under-represent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

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


def conformal_quantile(
    scores: Sequence[float], alpha: float, *, what: str = "forget prompts", knob: str = "alpha"
) -> float:
    """The k-th smallest of ``scores`` (k = ``conformal_rank``); raises when n is too small for ``alpha``."""
    n = len(scores)
    need = min_calibration_size(alpha)
    if n < need:
        raise CalibrationError(
            f"conformal calibration with `{knob}`={alpha} needs at least {need} held-out {what}, "
            f"got {n}; add prompts, raise the calibration fraction, or raise `{knob}`"
        )
    if any(not 0.0 <= s <= 1.0 for s in scores):
        raise CalibrationError("calibration scores must lie in [0, 1]")
    return sorted(scores)[conformal_rank(n, alpha) - 1]


def calibrate(
    forget_probs: Sequence[float],
    alpha: float,
    negative_probs: Sequence[float] = (),
    fpr_target: float | None = None,
) -> DecisionRule:
    """The conformal decision rule from p_forget of held-out forget prompts (and negatives)."""
    q_hat = conformal_quantile([1.0 - p for p in forget_probs], alpha)
    if fpr_target is None:
        return DecisionRule.conformal(q_hat=q_hat, alpha=alpha, n=len(forget_probs))
    t_fpr = conformal_quantile(list(negative_probs), fpr_target, what="negative prompts", knob="fpr_target")
    return DecisionRule.conformal(
        q_hat=q_hat, alpha=alpha, n=len(forget_probs),
        fpr_threshold=t_fpr, fpr_target=fpr_target, n_negative=len(negative_probs),
    )  # fmt: skip


def calibrate_scorer(
    scorer: Callable[[list[str]], list[float]],
    forget: Sequence[str],
    negatives: Sequence[str],
    alpha: float,
    fpr_target: float | None,
) -> DecisionRule:
    """Score the held-out calibration prompts with ``scorer`` and calibrate on them."""
    negative_probs = scorer(list(negatives)) if fpr_target is not None else []
    return calibrate(scorer(list(forget)), alpha, negative_probs, fpr_target)
