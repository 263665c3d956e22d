"""Split-conformal calibration of the decision threshold on held-out prompts.

Recall side: nonconformity s = 1 - p_forget on held-out forget prompts. With n scores, q_hat is
the k-th smallest, k = ceil((n + 1)(1 - alpha)). Flagging every prompt with s <= q_hat catches an
exchangeable new forget prompt with probability >= 1 - alpha.

False-positive side (optional): the same quantile of p_forget on each group of held-out
negatives (retain, general) at level ``fpr_target``; the highest is t_fpr. Flagging only
p > t_fpr flags an exchangeable new negative of any group with probability <= fpr_target. Any
threshold between the two sides keeps both guarantees. Each side is set by a few extreme
calibration scores, so an end of the interval sits right where the next unlucky prompt falls:
``position`` places the threshold between them (0 = t_fpr, the most recall; 1 = 1 - q_hat, the
fewest false positives; 0.5, the default, keeps a margin to both), in probability: in log-odds a
confident model, whose calibration prompts nearly all score above 0.999, drew the midpoint up
with it (to 0.910 between bounds of 0.037 and 0.9996 on TOFU forget10's seed-0 split,
benchmarks/results/classifier_tofu.json at commit 7e2c0b9). When t_fpr lies
above 1 - q_hat (a small calibration set with one hard prompt), both cannot hold and
``on_conflict`` picks one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from guards.config import DecisionRule
from guards.errors import EcoPackError

CONFLICT_POLICIES = ("fpr", "recall")  # which bound wins when the two cannot both hold
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


def _between(low: float, high: float, position: float) -> float:
    """The point ``position`` of the way from ``low`` to ``high`` (``low`` when they cross)."""
    return low + position * (high - low) if high > low else low


def calibrate(
    forget_probs: Sequence[float],
    alpha: float,
    negative_probs: Mapping[str, Sequence[float]] | None = None,
    fpr_target: float | None = None,
    on_conflict: str = "fpr",
    position: float = 0.5,
) -> DecisionRule:
    """The conformal decision rule from p_forget of held-out forget prompts (and negatives).

    With ``fpr_target``, each group of ``negative_probs`` gives its own t_fpr and the highest
    counts, so the false-positive bound holds for every group (and any mix of them). The
    threshold lies ``position`` of the way from just above t_fpr to 1 - q_hat,
    which keeps both bounds, unless t_fpr lies above 1 - q_hat; then ``on_conflict`` decides:
    ``fpr`` keeps the false-positive bound (``recall_bound`` says what recall is still
    guaranteed), ``recall`` drops to 1 - q_hat and gives up the false-positive bound.
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise CalibrationError(f"`on_conflict` must be one of {', '.join(CONFLICT_POLICIES)}, not `{on_conflict}`")
    if not 0.0 <= position <= 1.0:
        raise CalibrationError(f"`threshold_position` must lie in [0, 1], not {position}")
    rule = DecisionRule.conformal(conformal_quantile([1.0 - p for p in forget_probs], alpha), alpha, len(forget_probs))
    if fpr_target is not None:
        if not negative_probs:
            raise CalibrationError("`fpr_target` needs held-out negative prompts to calibrate on")
        t_fpr = max(
            conformal_quantile(list(probs), fpr_target, what=f"{group} prompts", knob="fpr_target")
            for group, probs in negative_probs.items()
        )
        above = math.nextafter(t_fpr, math.inf)  # flag strictly above the negatives' quantile
        if above <= rule.threshold:
            threshold = _between(above, rule.threshold, position)
        else:
            threshold = above if on_conflict == "fpr" else rule.threshold
        n_negative = sum(len(probs) for probs in negative_probs.values())
        rule = replace(rule, threshold=threshold, fpr_target=fpr_target, n_negative=n_negative, fpr_threshold=t_fpr)
    flagged = sum(rule.flags(p) for p in forget_probs)
    return replace(rule, recall_bound=flagged / (len(forget_probs) + 1))

