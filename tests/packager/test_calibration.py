"""Split-conformal calibration checked against hand-worked numbers."""

from __future__ import annotations

import pytest

from packager.classifier.calibration import (
    CalibrationError,
    calibrate,
    conformal_quantile,
    conformal_rank,
    min_calibration_size,
)


def test_hand_worked_example():
    # n = 9 forget prompts, alpha = 0.2: k = ceil(10 * 0.8) = 8, so q_hat is the 8th smallest s.
    probs = [0.99, 0.95, 0.90, 0.97, 0.60, 0.85, 0.98, 0.80, 0.70]
    # s = 1 - p sorted: 0.01 0.02 0.03 0.05 0.10 0.15 0.20 0.30 0.40 -> 8th = 0.30
    rule = calibrate(probs, alpha=0.2)
    assert rule.q_hat == pytest.approx(0.30)
    assert rule.threshold == pytest.approx(0.70)
    assert (rule.kind, rule.alpha, rule.n) == ("conformal", 0.2, 9)
    assert [rule.flags(p) for p in (0.71, 0.69)] == [True, False]
    assert sum(rule.flags(p) for p in probs) == 8  # only p = 0.60 escapes


def test_rank_and_minimum_size():
    assert conformal_rank(19, 0.05) == 19  # (20 * 0.95) = 19 exactly, not 20 by float error
    assert conformal_rank(99, 0.05) == 95
    assert [min_calibration_size(a) for a in (0.05, 0.1, 0.2, 0.5)] == [19, 9, 4, 1]
    assert conformal_quantile([0.5] * 18 + [0.9], 0.05) == 0.9  # n = 19: the largest score


def test_too_few_prompts_names_the_minimum():
    with pytest.raises(CalibrationError, match="at least 19"):
        conformal_quantile([0.1] * 18, alpha=0.05)
    with pytest.raises(CalibrationError, match="strictly between"):
        min_calibration_size(1.0)


def test_false_positive_side_lowers_the_threshold_only_where_both_bounds_hold():
    forget = [0.99, 0.95, 0.90, 0.97, 0.60, 0.85, 0.98, 0.80, 0.70]  # recall side: threshold 0.70 (above)
    # n = 9 negatives, fpr_target = 0.2: k = 8, so t_fpr is the 8th smallest p = 0.30
    negatives = [0.01, 0.02, 0.05, 0.10, 0.30, 0.04, 0.20, 0.03, 0.45]
    easy = [0.001 * i for i in range(9)]  # a second group with t = 0.007: the highest group counts
    rule = calibrate(forget, 0.2, {"retain": negatives, "general": easy}, fpr_target=0.2, position=0.0)
    assert rule.fpr_threshold == pytest.approx(0.30) and (rule.fpr_target, rule.n_negative) == (0.2, 18)
    assert 0.30 < rule.threshold < 0.3000001 and rule.fpr_bound_met
    assert [rule.flags(p) for p in (0.30, 0.31, 0.60)] == [False, True, True]  # strictly above t_fpr
    assert sum(rule.flags(p) for p in negatives) == 1  # only 0.45 is a false positive
    assert all(rule.flags(p) for p in forget)  # a superset of the recall side's flags

    assert rule.recall_bound == pytest.approx(9 / 10) and rule.recall_bound_met  # all 9 flagged: 9 / (n + 1)

    # negatives scoring above the recall side: the bounds conflict and `on_conflict` picks one
    high = [0.1] * 7 + [0.8, 0.9]  # t_fpr = 0.8 > 0.70
    kept_fpr = calibrate(forget, 0.2, {"retain": high}, fpr_target=0.2)
    assert 0.8 < kept_fpr.threshold < 0.8000001 and kept_fpr.fpr_bound_met and not kept_fpr.recall_bound_met
    assert kept_fpr.recall_bound == pytest.approx(6 / 10)  # 6 of 9 calibration prompts have p > 0.8
    kept_recall = calibrate(forget, 0.2, {"retain": high}, fpr_target=0.2, on_conflict="recall")
    assert kept_recall.threshold == pytest.approx(0.70) and not kept_recall.fpr_bound_met
    assert kept_recall.recall_bound == pytest.approx(8 / 10) and kept_recall.recall_bound_met
    with pytest.raises(CalibrationError, match="on_conflict"):
        calibrate(forget, 0.2, {"retain": high}, fpr_target=0.2, on_conflict="both")


def test_threshold_sits_between_the_bounds():
    forget = [0.99, 0.95, 0.90, 0.97, 0.60, 0.85, 0.98, 0.80, 0.70]  # 1 - q_hat = 0.70
    negatives = {"retain": [0.01, 0.02, 0.05, 0.10, 0.30, 0.04, 0.20, 0.03, 0.45]}  # t_fpr = 0.30
    assert calibrate(forget, 0.2, negatives, fpr_target=0.2).threshold == pytest.approx(0.5)
    assert calibrate(forget, 0.2, negatives, fpr_target=0.2, position=1.0).threshold == pytest.approx(0.70)
    assert calibrate(forget, 0.2, negatives, fpr_target=0.2, position=0.25).threshold == pytest.approx(0.40)
    assert calibrate(forget, 0.2, negatives, fpr_target=0.2, position=0.0).threshold > 0.30  # strictly above t_fpr
    confident = [0.9999] * 8 + [0.70]  # 1 - q_hat = 0.9999: the midpoint stays halfway in probability
    assert calibrate(confident, 0.2, negatives, fpr_target=0.2).threshold == pytest.approx((0.30 + 0.9999) / 2)
    with pytest.raises(CalibrationError, match="threshold_position"):
        calibrate(forget, 0.2, negatives, fpr_target=0.2, position=1.5)


def test_too_few_negatives_names_the_knob():
    with pytest.raises(CalibrationError, match=r"`fpr_target`=0.01 needs at least 99 held-out general prompts"):
        calibrate([0.9] * 19, 0.05, {"retain": [0.1] * 99, "general": [0.1] * 50}, fpr_target=0.01)
