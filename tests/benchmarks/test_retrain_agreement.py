"""The retrain-agreement benchmark: every pair of retain models tested against each other."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.retrain_agreement import agreement, markdown, parse_args


def test_every_pair_is_tested_and_a_shifted_model_scores_lower_than_a_resampled_one():
    rng = np.random.default_rng(0)
    same = [rng.lognormal(0, 0.5, 200) for _ in range(2)]
    shifted = rng.lognormal(0.6, 0.5, 200)
    result = agreement([*same, shifted])
    assert [p["models"] for p in result["pairs"]] == [[0, 1], [0, 2], [1, 2]]
    by_pair = {tuple(p["models"]): p for p in result["pairs"]}
    assert by_pair[0, 1]["forget_quality"] > 0.05 > by_pair[0, 2]["forget_quality"]
    assert by_pair[0, 2]["ks_d"] > by_pair[0, 1]["ks_d"]
    assert result["forget_quality_min"] <= result["forget_quality_median"] <= result["forget_quality_max"]
    identical = agreement([same[0], same[0].copy()])
    assert identical["forget_quality_median"] == 1.0 and identical["ks_d_median"] == 0.0


def test_the_table_gives_each_split_its_pairs_and_the_d_that_forget_quality_0_3_allows():
    rng = np.random.default_rng(1)
    split = {"subset": "retain95", "models": ["a", "b", "c"], "questions": 200, "median_ratios": [0.61, 0.5, 0.7],
             **agreement([rng.normal(size=200) for _ in range(3)])}
    table = markdown({"command": "python -m benchmarks.retrain_agreement", "design": "d", "seconds": 3.0,
                      "splits": {"forget05": split}})
    assert "| forget05 | 3 retain95 | 3 |" in table and "| 0.097 |" in table and "0-1: " in table
    assert "| 0: 0.610, 1: 0.500, 2: 0.700 |" in table


def test_one_model_for_a_split_or_none_at_all_is_refused_before_any_model_loads(tmp_path):
    with pytest.raises(SystemExit):
        parse_args(["--retain95", str(tmp_path)])
    with pytest.raises(SystemExit):
        parse_args([])
    args = parse_args(["--retain90", str(tmp_path), str(tmp_path)])
    assert args.retain90 == [tmp_path, tmp_path] and args.retain95 == []
