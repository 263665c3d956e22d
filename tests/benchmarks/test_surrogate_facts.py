"""The surrogate-facts benchmark's reading of forget quality near a crossing, and its options."""

from __future__ import annotations

import pytest

from benchmarks.surrogate_facts import CONSTRUCTIONS, _fq_at, parse_args


def test_forget_quality_is_read_at_the_grid_point_nearest_on_log_sigma():
    points = [{"sigma": 10.0, "forget_quality": 0.1}, {"sigma": 30.0, "forget_quality": 0.5}]
    assert _fq_at(points, 16.0).endswith("nearest grid point 10: forget quality 0.1)")
    assert _fq_at(points, 19.0).endswith("nearest grid point 30: forget quality 0.5)")
    assert _fq_at(points, None) == "no crossing on the grid"


def test_constructions_default_to_all_and_refuse_unknown_names(capsys):
    required = ["--subject", "s", "--never-learned", "n", "--bundle", "b"]
    assert parse_args(required).constructions == tuple(CONSTRUCTIONS)
    chosen = parse_args([*required, "--constructions", "truth_ratio_other_entities, truth_ratio"]).constructions
    assert chosen == ("truth_ratio_other_entities", "truth_ratio")
    with pytest.raises(SystemExit):
        parse_args([*required, "--constructions", "truth_ratio_typo"])
    assert "choose among truth_ratio, truth_ratio_other_entities" in capsys.readouterr().err
