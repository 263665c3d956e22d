"""The TOFU quantities as pure functions of mean token NLLs, and their aggregates.

Definitions follow open-unlearning (``src/evals/metrics/memorization.py``: ``probability``,
``probability_w_options``, ``truth_ratio``; ``utility.py``: ``hm_aggregate``;
``utils.py``: ``get_forget_quality``), which reproduces the TOFU paper (Maini et al., 2024):

- normalised answer probability  P~(a|q) = exp(-mean token NLL of a);
- truth ratio  R = exp(-mean_j NLL(perturbed_j)) / P~(correct): the perturbed term averages
  the per-token NLLs over the perturbed answers *before* exponentiating (``aggregate_to_1D``
  of the ``avg_loss`` values), so it is a geometric, not arithmetic, mean of probabilities;
- option-normalised probability  P~(a) / (P~(a) + sum_j P~(perturbed_j));
- truth-ratio statistic: ``closer_to_1_better`` = mean(min(R, 1/R)) on forget,
  ``true_better`` = mean(max(0, 1 - R)) elsewhere;
- model utility: harmonic mean (``scipy.stats.hmean``) of its inputs; any zero input gives 0;
- forget quality: ``scipy.stats.ks_2samp(...).pvalue`` between per-question R of the model and
  of a reference. open-unlearning tests 1/R; KS is invariant under that monotone map, so the
  p-value is the same.

The 1e-10 guards are open-unlearning's, kept so our numbers match theirs to the last digit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special, stats

EPS = 1e-10


def normalised_prob(nll: np.ndarray) -> np.ndarray:
    """P~ = exp(-mean token NLL), per question."""
    return np.exp(-np.asarray(nll, dtype=np.float64))


def perturbed_nll(nlls: Sequence[np.ndarray]) -> np.ndarray:
    """Per question, the mean over its perturbed answers of their mean token NLLs."""
    return np.array([float(np.mean(row)) for row in nlls], dtype=np.float64)


def truth_ratio(correct_nll: np.ndarray, wrong_nlls: Sequence[np.ndarray]) -> np.ndarray:
    """Per-question R = P~(perturbed) / P~(correct); R < 1 means the true answer is preferred."""
    return normalised_prob(perturbed_nll(wrong_nlls)) / (normalised_prob(correct_nll) + EPS)


def option_normalised_prob(correct_nll: np.ndarray, wrong_nlls: Sequence[np.ndarray]) -> np.ndarray:
    """P~(a) / (P~(a) + sum_j P~(perturbed_j)), per question."""
    correct = normalised_prob(correct_nll)
    wrong = np.array([float(normalised_prob(row).sum()) for row in wrong_nlls], dtype=np.float64)
    return correct / (correct + wrong + EPS)


def closer_to_1_better(ratios: np.ndarray) -> float:
    """Forget-split statistic: mean(min(R, 1/R)); 1 when true and false answers are equally likely."""
    ratios = np.asarray(ratios, dtype=np.float64)
    return float(np.mean(np.minimum(ratios, 1.0 / (ratios + EPS))))


def true_better(ratios: np.ndarray) -> float:
    """Statistic elsewhere: mean(max(0, 1 - R)); higher when the true answer is preferred."""
    return float(np.mean(np.maximum(0.0, 1.0 - np.asarray(ratios, dtype=np.float64))))


def harmonic_mean(values: Sequence[float]) -> float:
    """``scipy.stats.hmean``; a zero input gives 0 (as scipy does), a negative one raises."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("`values` is empty: model utility needs at least one metric")
    if np.any(values < 0):
        raise ValueError(f"harmonic mean of negative values is undefined: {values.tolist()}")
    if np.any(values == 0):
        return 0.0
    return float(stats.hmean(values))


def ks_test(model_ratios: np.ndarray, reference_ratios: np.ndarray) -> tuple[float, float]:
    """(KS statistic D, p-value) between the model's and the reference's per-question R on forget."""
    result = stats.ks_2samp(np.asarray(model_ratios), np.asarray(reference_ratios))
    return float(result.statistic), float(result.pvalue)


def ks_distance_at(pvalue: float, n: int, m: int) -> float:
    """The two-sample KS statistic whose asymptotic p-value is ``pvalue`` for samples of n and m."""
    return float(special.kolmogi(pvalue) * math.sqrt((n + m) / (n * m)))


def forget_quality(model_ratios: np.ndarray, reference_ratios: np.ndarray) -> float:
    """KS two-sample p-value between the model's and the reference's per-question R on forget."""
    return ks_test(model_ratios, reference_ratios)[1]
