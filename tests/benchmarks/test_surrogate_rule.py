"""The default-surrogate rule, read from benchmark results: the counts, the verdict, and refusals."""

import json

import pytest

from benchmarks.surrogate_rule import main
from packager.sigma.config import SigmaConfig

DEFAULT = SigmaConfig().surrogate
CANDIDATE = "truth_ratio_mixed_facts"


def _subject(tmp_path, seed: int, surrogate: str, medians: dict[str, float], **config) -> str:
    rows = [{"split": split, "method": "eco", "forget_quality": fq, "forget_quality_min": fq / 2,
             "forget_quality_max": min(1.0, 2 * fq)} for split, fq in medians.items()]
    rows.append({"split": "forget01", "method": "retain", "forget_quality": 1.0, "forget_quality_min": 1.0,
                 "forget_quality_max": 1.0})  # not the guard: never counted
    result = {"quick": False, "rows": rows, "guard": {split: {"sigma": 7.5} for split in medians},
              "config": {"seed": seed, "surrogate": surrogate, "exchangeable_holdout": True, "hidden": 256,
                         "results_name": f"s{seed}_{surrogate}", **config}}
    path = tmp_path / f"tofu_seed{seed}_{surrogate}.json"
    path.write_text(json.dumps(result))
    return str(path)


def _demo(tmp_path, median: float, surrogate: str = CANDIDATE) -> str:
    path = tmp_path / f"demo_{median}.json"
    path.write_text(json.dumps({"surrogate": surrogate, "guarded": {"forget_quality_over_seeds": {
        "median": median, "min": median / 2, "max": median}}}))
    return str(path)


def _run(tmp_path, subjects: list[str], demo: list[str]) -> dict:
    return main(["--candidate", CANDIDATE, "--subjects", *subjects, "--demo", *demo,
                 "--results-dir", str(tmp_path), "--results-name", "rule"])


def test_the_candidate_wins_with_more_splits_met_and_no_fewer_forget10(tmp_path):
    subjects = [_subject(tmp_path, 8, DEFAULT, {"forget01": 0.4, "forget05": 0.01, "forget10": 0.5}),
                _subject(tmp_path, 8, CANDIDATE, {"forget01": 0.4, "forget05": 0.35, "forget10": 0.3}),
                _subject(tmp_path, 9, DEFAULT, {"forget01": 0.2, "forget05": 0.02, "forget10": 0.01}),
                _subject(tmp_path, 9, CANDIDATE, {"forget01": 0.1, "forget05": 0.5, "forget10": 0.02})]
    result = _run(tmp_path, subjects, [_demo(tmp_path, 0.3), _demo(tmp_path, 0.12)])
    verdict = result["verdict"]
    assert verdict["counts"] == {DEFAULT: {"splits_met": 2, "forget10_met": 1},
                                 CANDIDATE: {"splits_met": 4, "forget10_met": 1}}
    assert verdict["subject_splits"] == 6 and verdict["change_default"]
    text = (tmp_path / "rule.md").read_text()
    assert "change the default: **yes**" in text and "0.35 (0.175 to 0.7) at sigma 7.5" in text
    assert json.loads((tmp_path / "rule.json").read_text())["command"].startswith("python -m benchmarks.surrogate_rule")


@pytest.mark.parametrize("why", ["fewer forget10", "a demo build misses"])
def test_the_default_stays_when_one_condition_fails(tmp_path, why):
    subjects = [_subject(tmp_path, 8, DEFAULT, {"forget01": 0.1, "forget05": 0.1, "forget10": 0.5}),
                _subject(tmp_path, 8, CANDIDATE, {"forget01": 0.4, "forget05": 0.4,
                                                  "forget10": 0.1 if why == "fewer forget10" else 0.5})]
    demo = [_demo(tmp_path, 0.05 if why == "a demo build misses" else 0.2)]
    verdict = _run(tmp_path, subjects, demo)["verdict"]
    assert verdict["more_splits_met"] and not verdict["change_default"]
    assert verdict["no_fewer_forget10_met"] == (why != "fewer forget10")
    assert verdict["demo_kept"] == (why != "a demo build misses")


def test_runs_that_are_not_the_same_subject_or_lack_a_pair_are_refused(tmp_path):
    medians = {"forget10": 0.5}
    other = _subject(tmp_path, 8, CANDIDATE, medians, hidden=128)
    with pytest.raises(SystemExit, match="differ in hidden, not only in the surrogate"):
        _run(tmp_path, [_subject(tmp_path, 8, DEFAULT, medians), other], [_demo(tmp_path, 0.2)])
    with pytest.raises(SystemExit, match=f"seed 9 has no run with {CANDIDATE}"):
        _run(tmp_path, [_subject(tmp_path, 9, DEFAULT, medians)], [_demo(tmp_path, 0.2)])
    with pytest.raises(SystemExit, match="not truth_ratio_mixed_facts"):
        _run(tmp_path, [_subject(tmp_path, 9, DEFAULT, medians), _subject(tmp_path, 9, CANDIDATE, medians)],
             [_demo(tmp_path, 0.2, surrogate=DEFAULT)])
    with pytest.raises(SystemExit, match="--candidate must be one of"):
        main(["--candidate", DEFAULT, "--subjects", other, "--demo", _demo(tmp_path, 0.2)])
