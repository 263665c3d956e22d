"""The retrain-agreement benchmark: every pair of retain models tested against each other."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.retrain_agreement import agreement, guard_against_retrains, markdown, parse_args


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


def test_a_guard_is_tested_against_every_retain_model_with_the_median_over_its_noise_seeds():
    rng = np.random.default_rng(2)
    retrains = [rng.lognormal(0, 0.5, 200), rng.lognormal(0.6, 0.5, 200)]
    seeds = [rng.lognormal(0, 0.5, 200) for _ in range(5)]
    against = guard_against_retrains(seeds, retrains)
    assert [a["model"] for a in against] == [0, 1]
    assert against[0]["forget_quality"] > 0.05 > against[1]["forget_quality"]
    for a in against:
        assert a["forget_quality_min"] <= a["forget_quality"] <= a["forget_quality_max"]
    one_seed = guard_against_retrains(seeds[:1], retrains)
    assert one_seed[0]["forget_quality_min"] == one_seed[0]["forget_quality"] == one_seed[0]["forget_quality_max"]


def test_the_guards_table_gives_each_guard_its_score_against_each_retrain():
    rng = np.random.default_rng(3)
    ratios = [rng.normal(size=200) for _ in range(2)]
    guard = {"artifact": "dist/g", "sigma": 9.5, "noise_seeds": [0, 1],
             "against": guard_against_retrains([r + 0.01 for r in ratios], ratios),
             "sweep": [{"sigma": s, "against": guard_against_retrains([r + s for r in ratios], ratios)}
                       for s in (0.01, 3.0)]}
    split = {"subset": "retain95", "models": ["a", "b"], "questions": 200, "median_ratios": [0.6, 0.6],
             **agreement(ratios), "guards": [guard]}
    table = markdown({"command": "c", "design": "d", "seconds": 1.0, "splits": {"forget05": split}})
    assert "## Guards against every retrain" in table
    row = next(line for line in table.splitlines() if line.startswith("| forget05 | g |"))  # the folder's name
    assert "0: " in row and "1: " in row and row.endswith(" of 2 |")
    summary = [line for line in table.splitlines() if line.startswith("| forget05 | all 1 guards |")]
    assert len(summary) == 1 and summary[0].endswith(" of 2 |")
    assert "| split | guard | built sigma | at the built sigma | sigma 0.01 | sigma 3 |" in table
    by_sigma = next(line for line in table.splitlines() if line.startswith("| forget05 | g | 9.5 |"))
    built, near, far = (cell.strip() for cell in by_sigma.split("|")[4:7])
    assert built.endswith("(2 of 2)") and near.endswith("(2 of 2)")
    assert far.endswith("(0 of 2)") and float(far.split()[0]) < 1e-6  # shifted by 3 sd: no retrain accepts it
    assert "## Guards" not in markdown({"command": "c", "design": "d", "seconds": 1.0,
                                        "splits": {"forget05": {**split, "guards": []}}})


def test_guards_need_their_retain_models_and_a_built_artifact_before_any_model_loads(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--retain90", str(tmp_path), str(tmp_path), "--guards-forget05", str(tmp_path)])
    assert "--retain95" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--retain95", str(tmp_path), str(tmp_path), "--guards-forget05", str(tmp_path)])
    assert "not a built artifact" in capsys.readouterr().err
    (tmp_path / "guard").mkdir()
    (tmp_path / "results.json").write_text("{}")
    args = parse_args(["--retain95", str(tmp_path), str(tmp_path), "--guards-forget05", str(tmp_path)])
    assert args.guards_forget05 == [tmp_path] and args.guards_forget10 == []


def test_a_guards_ratios_are_read_at_its_builds_noise_seeds_and_only_flagged_questions_move(tmp_path, tiny_tokenizer):
    import json

    from benchmarks.retrain_agreement import _guard_ratios, _load_guard
    from evaluation.forget_set import QA, ForgetSet
    from guards.errors import BundleError
    from guards.manifest import write_manifest
    from tests.conftest import build_tiny_artifact

    artifact = build_tiny_artifact(tmp_path / "art", tiny_tokenizer)
    (artifact.path / "results.json").write_text(json.dumps(
        {"models": {"guarded": {"forget_quality_over_seeds": {"seeds": [3, 4]}}}}))
    write_manifest(artifact.path)
    qas = tuple(QA(question=q, answer="It was Lima.", paraphrased_answer="Lima, it was.",
                   perturbed_answers=("It was Oslo.", "It was Rome.")) for q in (artifact.forget_prompt,
                                                                                 artifact.retain_prompt))
    fs = ForgetSet(name="t", forget=qas, retain=(QA(question="How do I sort a list?"),), forget_eval=qas)
    guarded, seeds = _load_guard(artifact.path)
    ratios = _guard_ratios(guarded, seeds, fs)
    assert seeds == [3, 4] and [len(r) for r in ratios] == [2, 2]
    assert ratios[0][0] != ratios[1][0]  # the flagged question, under two noise seeds
    assert ratios[0][1] == ratios[1][1]  # the unflagged one is scored clean both times
    quieter = _guard_ratios(guarded, seeds, fs, sigma=0.001)  # another sigma moves the flagged question only
    assert guarded.corruption.strength == 0.001
    assert quieter[0][0] != ratios[0][0] and quieter[0][1] == ratios[0][1]
    (artifact.path / "results.json").write_text("{}")  # edited after the build: refused before any scoring
    with pytest.raises(BundleError, match="results.json does not match its sha256"):
        _load_guard(artifact.path)


def test_sigmas_are_positive_numbers_and_need_guards_to_measure(tmp_path, capsys):
    (tmp_path / "guard").mkdir()
    (tmp_path / "results.json").write_text("{}")
    common = ["--retain95", str(tmp_path), str(tmp_path)]
    args = parse_args([*common, "--guards-forget05", str(tmp_path), "--sigmas", "7,10.5"])
    assert args.sigmas == (7.0, 10.5)
    assert parse_args([*common, "--guards-forget05", str(tmp_path)]).sigmas == ()
    for bad in ("7,x", "0,10"):
        with pytest.raises(SystemExit):
            parse_args([*common, "--guards-forget05", str(tmp_path), "--sigmas", bad])
        assert "--sigmas" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args([*common, "--sigmas", "7"])
    assert "--sigmas measures guards" in capsys.readouterr().err
