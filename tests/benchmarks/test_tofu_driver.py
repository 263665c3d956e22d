"""The TOFU benchmark driver's plumbing: stage caching (resume), the quick subset, options, targets."""

from __future__ import annotations

import json

import pytest

from benchmarks.tofu import report
from benchmarks.tofu.data import BenchmarkDataError, check_mirror, write_exchangeable_holdout, write_quick_subset
from benchmarks.tofu.driver import main, parse_args
from packager.pipeline.cache import RESULT_FILE, run_stage


def test_stage_runs_once_then_resumes_from_its_cache(tmp_path):
    calls = []

    def stage(out):
        calls.append(out)
        (out / "weights.txt").write_text("trained")
        return {"answer": 42}

    first = run_stage(tmp_path, "finetune-full", {"epochs": 3}, stage)
    again = run_stage(tmp_path, "finetune-full", {"epochs": 3}, stage)
    assert len(calls) == 1 and not first.cached and again.cached
    assert again.result == {"answer": 42} and again.path == first.path
    assert (again.path / "weights.txt").read_text() == "trained"
    changed = run_stage(tmp_path, "finetune-full", {"epochs": 4}, stage)
    assert len(calls) == 2 and not changed.cached and changed.path != first.path


def test_interrupted_stage_leaves_nothing_that_looks_done(tmp_path):
    def crash(out):
        (out / "half.txt").write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stage(tmp_path, "eco-forget10", {"split": "forget10"}, crash)
    assert not list(tmp_path.rglob(RESULT_FILE))
    done = run_stage(tmp_path, "eco-forget10", {"split": "forget10"}, lambda out: {"ok": True})
    assert not done.cached and json.loads((done.path / RESULT_FILE).read_text())["result"] == {"ok": True}


def test_quick_subset_is_nested_like_tofu(tofu_dir, tmp_path):
    counts = write_quick_subset(tofu_dir, tmp_path)
    read = {name: [json.loads(line)["question"] for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
            for name in counts}
    assert (counts["forget01"], counts["forget05"], counts["forget10"]) == (40, 60, 80)
    assert set(read["forget01"]) < set(read["forget05"]) < set(read["forget10"])
    assert set(read["full"]) == set(read["retain90"]) | set(read["forget10"])
    assert set(read["retain99"]) == set(read["full"]) - set(read["forget01"])
    assert {q for q in read["forget05_perturbed"]} == set(read["forget05"])
    assert counts["retain_perturbed"] > 0 and counts["holdout01"] == 40
    check_mirror(tmp_path)  # complete: the quick subset is a valid mirror


def _questions(folder, name):
    return [json.loads(line)["question"] for line in (folder / f"{name}.jsonl").read_text().splitlines()]


def test_exchangeable_holdout_sets_authors_of_full_aside(tofu_dir, tmp_path):
    from packager.sources import load_forget_set

    made = write_exchangeable_holdout(tofu_dir, tmp_path, seed=3)
    authors = made["authors"]
    full, held = _questions(tofu_dir, "full"), set(_questions(tmp_path, "holdout10"))
    author_of = {q: i // 20 for i, q in enumerate(full)}
    busy = {author_of[q] for name in ("forget10", "retain_perturbed") for q in _questions(tofu_dir, name)}
    assert len(authors) == 20 and not busy & set(authors)  # forget10's size; neither forgotten nor utility's
    assert held == {q for q in full if author_of[q] in authors}
    assert set(_questions(tmp_path, "full")) == set(full) - held  # no model of the run learns them
    for name in ("retain90", "retain95", "retain99"):
        assert set(_questions(tmp_path, name)) == set(_questions(tofu_dir, name)) - held
    for name in ("forget01", "forget05", "forget10", "forget10_perturbed", "retain_perturbed", "world_facts_perturbed"):
        assert _questions(tmp_path, name) == _questions(tofu_dir, name)
    h10, h05, h01 = (_questions(tmp_path, f"holdout{n}") for n in ("10", "05", "01"))
    assert h05 == h10[:200] and h01 == h10[:40]  # as many authors as each forget split, nested
    fs = load_forget_set("tofu:forget10", data_dir=tmp_path)  # a build reads them, each under its author's name
    assert len({qa.entity for qa in fs.holdout}) == 20 and all(qa.entity for qa in fs.holdout)
    for seed, same in ((3, True), (4, False)):  # the run's seed draws them
        (tmp_path / str(seed)).mkdir()
        assert (write_exchangeable_holdout(tofu_dir, tmp_path / str(seed), seed)["authors"] == authors) == same
    (tmp_path / "quick").mkdir()  # the quick subset of it is still nested like TOFU
    counts = write_quick_subset(tmp_path, tmp_path / "quick")
    assert (counts["forget01"], counts["forget05"], counts["forget10"]) == (40, 60, 80)
    assert set(_questions(tmp_path / "quick", "forget10")) < set(_questions(tofu_dir, "forget10"))
    assert set(_questions(tmp_path / "quick", "holdout01")) <= held
    check_mirror(tmp_path / "quick")


def test_a_run_reads_the_quick_subset_of_the_mirror_with_its_authors_set_aside(tofu_dir, tmp_path):
    from rich.console import Console

    from benchmarks.tofu.driver import _data

    config = parse_args(["--quick", "--exchangeable-holdout", "--seed", "2", "--data-dir", str(tofu_dir)])
    source, key, stages = _data(config, tmp_path, Console(quiet=True))
    assert list(stages) == ["data-holdout", "data-quick"] and source == stages["data-quick"].path
    assert set(_questions(source, "holdout10")) <= set(_questions(stages["data-holdout"].path, "holdout10"))
    assert not set(_questions(source, "holdout10")) & set(_questions(source, "full"))
    again = _data(config, tmp_path, Console(quiet=True))
    assert again[1] == key and all(s.cached for s in again[2].values())  # resumes
    assert list(_data(parse_args(["--data-dir", str(tofu_dir)]), tmp_path, Console(quiet=True))[2]) == []


def test_missing_data_names_the_option(tmp_path, capsys):
    with pytest.raises(BenchmarkDataError, match="--data-dir"):
        check_mirror(tmp_path)
    assert main(["--quick", "--data-dir", str(tmp_path), "--work-dir", str(tmp_path / "w")]) == 1
    assert "--data-dir" in capsys.readouterr().err.replace("\n", "")


def test_quick_outputs_never_take_the_official_names():
    assert parse_args([]).name == "tofu_cpu"
    quick = parse_args(["--quick", "--epochs", "2"])
    assert quick.quick and quick.name == "tofu_cpu_quick" and quick.epochs == 2 and quick.hidden < parse_args([]).hidden
    assert quick.fpr_target is None and parse_args([]).fpr_target == 0.01  # 4 retain authors: too few for the bound
    assert parse_args(["--jobs", "1"]).jobs == 1 and parse_args([]).jobs == 2
    assert parse_args(["--quick", "--results-name", "tofu_cpu"]).name == "tofu_cpu"
    assert parse_args(["--splits", "forget05,forget10", "--unlearn-lrs", "1e-4,3e-4"]).unlearn_lrs == (1e-4, 3e-4)
    with pytest.raises(ValueError, match="--splits"):
        parse_args(["--splits", "forget20"])
    with pytest.raises(ValueError, match="--jobs"):
        parse_args(["--jobs", "0"])


def _row(split, method, fq, mu):
    return {"split": split, "method": method, "forget_quality": fq, "model_utility": mu}


def test_targets_report_what_is_met_and_missed():
    rows = [_row("forget10", "subject", 1e-5, 0.40), _row("forget10", "eco", 0.6, 0.405),
            _row("forget10", "graddiff", 0.7, 0.30), _row("forget10", "npo", 0.1, 0.39),
            _row("forget05", "subject", 1e-3, 0.25), _row("forget05", "eco", 0.2, 0.25)]
    found = {(t["split"], t["target"]): t["met"] for t in report.targets(rows)}
    assert found[("forget10", "median forget quality >= 0.3")]
    assert not found[("forget05", "median forget quality >= 0.3")]
    assert found[("forget10", "subject's utility >= 0.3")] and not found[("forget05", "subject's utility >= 0.3")]
    assert found[("forget10", "utility within 0.01 of subject's")]
    assert not found[("forget10", "forget quality > graddiff's")] and found[("forget10", "forget quality > npo's")]


def test_rows_give_forget_quality_over_noise_seeds_with_its_range_and_ks_statistic():
    over = {"median": 0.5, "min": 0.21, "max": 0.93, "ks_statistic_median": 0.0612, "seeds": [0, 1, 2, 3, 4]}
    summary = {"forget_quality": 0.5, "forget_quality_over_seeds": over, "model_utility": 0.8,
               "splits": {"forget": {"truth_ratio": 0.6, "rougeL": 0.2}}}
    eco = report.build_row("forget10", "eco", summary, 12.0, "cmd")
    assert (eco["forget_quality_min"], eco["forget_quality_max"], eco["noise_seeds"]) == (0.21, 0.93, 5)
    one_seed = report.build_row("forget10", "subject", summary | {"forget_quality": 1e-7, "forget_quality_over_seeds": {
        "median": 1e-7, "min": 1e-7, "max": 1e-7, "ks_statistic_median": 0.4, "seeds": [None]}}, 1.0, "cmd")
    data = {"quick": False, "command": "cmd", "subject": {"parameters": 1000, "pairs": 10}, "config": {"epochs": 1},
            "stage_seconds_total": 1.0, "invocation_seconds": 1.0, "rows": [eco, one_seed], "targets": [],
            "guard": {}, "unlearning_cost": {}, "forget10_build_seconds": {}, "stages": {}}
    table = report.markdown(data)
    assert "| forget10 | eco | 0.500 (0.210 to 0.930) | 0.061 | 0.800 |" in table
    assert "| forget10 | subject | 1e-07 | 0.400 | 0.800 |" in table  # one seed: no range


def test_models_learn_general_knowledge_unless_told_not_to():
    assert parse_args([]).general and not parse_args(["--no-general"]).general
    assert parse_args(["--fq-seeds", "7", "--search-seeds", "2", "--surrogate", "truth_ratio"]).fq_seeds == 7
    with pytest.raises(ValueError, match="--fq-seeds"):
        parse_args(["--fq-seeds", "0"])


def test_an_unknown_surrogate_is_refused_before_any_stage():
    assert parse_args(["--surrogate", "truth_ratio_mixed_facts"]).surrogate == "truth_ratio_mixed_facts"
    with pytest.raises(ValueError, match="--surrogate.*truth_ratio_holdout_facts.*not truth_ratio_mixed$"):
        parse_args(["--surrogate", "truth_ratio_mixed"])


def test_the_builds_distance_is_checked_before_any_stage_and_named_in_the_search_table():
    assert parse_args([]).distance == "ks" and parse_args(["--distance", "median"]).distance == "median"
    with pytest.raises(ValueError, match="--distance.*ks, mean_abs, median, not medain$"):
        parse_args(["--distance", "medain"])
    guard = {"forget05": {"sigma": 9.0, "search": {"optimiser": "monotone", "noise_seeds": 3, "evaluations": 2,
                                                   "trace": [{"sigma": 1.0, "distance": 0.2, "signed": -0.2},
                                                             {"sigma": 9.0, "distance": 0.0, "signed": 0.0}]}}}
    assert "surrogate's difference of medians (signed" in "\n".join(report.search_markdown(guard, "median"))
    assert "surrogate's KS distance (signed" in "\n".join(report.search_markdown(guard))


def test_the_build_and_the_sweep_searches_name_their_optimisers():
    config = parse_args(["--optimiser", "monotone", "--search-optimisers", "monotone,bracket"])
    assert config.optimiser == "monotone" and config.search_optimisers == ("monotone", "bracket")
    with pytest.raises(ValueError, match="--search-optimisers.*bracket, monotone"):
        parse_args(["--search-optimisers", "bisect"])


def test_sweep_sigmas_option_parses_and_can_be_turned_off(capsys):
    assert parse_args(["--sweep-sigmas", "1,10"]).sweep_sigmas == (1.0, 10.0)
    assert parse_args(["--sweep-sigmas", ""]).sweep_sigmas == ()
    for option, value in (("--sweep-sigmas", "0,1"), ("--unlearn-epochs", "2.5"), ("--unlearn-lrs", "fast")):
        with pytest.raises(SystemExit):  # a usage error, before any stage runs
            parse_args([option, value])
        assert f"argument {option}: {value!r}" in capsys.readouterr().err


def test_sweep_section_names_the_chosen_and_the_best_sigma_and_where_each_surrogate_lands(tmp_path):
    grid = ((1.0, 1e-6, 0.9, 0.5), (2.3, 1e-4, 0.0, 0.3), (10.0, 0.2, -0.9, 0.01))
    points = [{"sigma": s, "forget_quality": fq, "forget_quality_min": fq / 2, "forget_quality_max": fq * 2,
               "forget_truth_ratio": 0.5, "surrogates": {"answer_probability": {"distance": abs(a), "signed": a},
                                                         "truth_ratio": {"distance": abs(t), "signed": t}}}
              for s, fq, a, t in grid]  # fmt: skip
    choices = {"answer_probability": {"sigma": 2.3, "forget_quality": 1e-4},
               "truth_ratio": {"sigma": 10.0, "forget_quality": 0.2}}  # fmt: skip
    searches = {"truth_ratio (monotone)": [{"search_seed": 0, "sigma": 8.0, "forget_quality": 0.3},
                                           {"search_seed": 1, "sigma": 12.0, "forget_quality": 0.25}]}  # fmt: skip
    sweeps = {"forget05": {"chosen_sigma": 2.3, "best_sigma": 10.0, "best_forget_quality": 0.2, "flagged": 197,
                           "n": 200, "points": points, "surrogate_choices": choices, "searches": searches}}
    lines = report.sweep_markdown(sweeps)
    assert "| forget05 | 197/200 | 2.300 | 10.000 | 0.200 | 2.300 (0.0001) | 10.000 (0.200) |" in lines
    assert "| forget05 | 10.000 | 0.200 (0.100 to 0.400) | 0.500 | -0.900 | +0.010 |" in lines
    assert "| forget05 | truth_ratio (monotone) | 8.000, 12.000 | 1.50 | 0.300, 0.250 |" in lines
    assert sum(line.startswith("| forget05 | ") for line in lines) == 1 + len(points) + 1
    assert report.sweep_markdown({}) == []
    report.plot_sweep(sweeps, tmp_path / "sweep.png", "t")
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_search_section_lists_every_evaluated_sigma_of_each_build():
    sigma = {"sigma": 9.6, "optimiser": "monotone", "noise_seeds": 3, "evaluations": 3,
             "trace": [{"sigma": 10.0, "objective": 0.11, "signed": 0.05, "evaluations": 2, "seconds": 1.0},
                       {"sigma": 1.0, "objective": 0.6, "signed": -0.6, "evaluations": 1, "seconds": 1.0},
                       {"sigma": 9.6, "objective": 0.1, "signed": -0.01, "evaluations": 3, "seconds": 1.0}]}
    search = report.search_summary(sigma)
    assert [p["sigma"] for p in search["trace"]] == [1.0, 9.6, 10.0]  # by sigma, not by the order evaluated
    lines = report.search_markdown({"forget05": {"sigma": 9.6, "search": search}, "forget01": {"sigma": 2.0}})
    assert ("| forget05 | monotone (3 evaluations x 3 seeds) | 9.600 | n/a | 1.000: 0.600 (-0.600), "
            "9.600: 0.100 (-0.010), 10.000: 0.110 (+0.050) |") in lines  # results from before the spread was kept
    sigma["question_spread"] = {"low": 7.25, "median": 9.7, "high": 14.0, "level": 0.9, "resamples": 200,
                                "unbracketed": 0.05, "paired": False}
    lines = report.search_markdown({"forget05": {"sigma": 9.6, "search": report.search_summary(sigma)}})
    assert any(line.startswith("| forget05 | monotone (3 evaluations x 3 seeds) | 9.600 | 7.250 to 14.000 (5%) |")
               for line in lines)
    assert not any(line.startswith("| forget01") for line in lines)  # results written before searches were kept
    assert report.search_markdown({"forget01": {"sigma": 2.0}}) == []


def test_premise_sets_holdout_against_forget_for_a_model_that_saw_neither(tofu_dir, tmp_path, tiny_tokenizer):
    from rich.console import Console

    from benchmarks.tofu.config import BenchConfig
    from benchmarks.tofu.stages import Context, surrogate_premise
    from packager.pipeline.cache import StageRecord
    from tests.conftest import make_vllm_llama

    (tmp_path / "data").mkdir()
    write_quick_subset(tofu_dir, tmp_path / "data")
    records = {}
    for seed in (0, 1):  # two different random models, saved as fine-tuning stages save theirs
        make_vllm_llama(tiny_tokenizer, seed).save_pretrained(tmp_path / f"m{seed}" / "model")
        tiny_tokenizer.save_pretrained(tmp_path / f"m{seed}" / "model")
        records[seed] = StageRecord(f"m{seed}", f"key{seed}", tmp_path / f"m{seed}", 0.0, False, {"model": "model"})
    ctx = Context(BenchConfig.quick_config(), tmp_path / "work", tmp_path / "data", "data", Console(quiet=True))
    same = surrogate_premise(ctx, "forget01", records[0], records[0]).result
    # one model on one set, scored twice with the same wrong answers: nothing between the two
    assert same["reference_vs_retain_holdout"] == {"statistic": 0.0, "pvalue": 1.0}
    assert same["reference_vs_retain_forget"] == same["retain_holdout_vs_forget"]
    assert same["holdout"] == 40 and same["forget"] == 40
    other = surrogate_premise(ctx, "forget01", records[0], records[1]).result
    assert other["reference_vs_retain_holdout"]["statistic"] > 0  # another model: other ratios
    assert other["medians"]["subject_holdout"] == same["medians"]["subject_holdout"]  # the subject's are its own
    lines = report.premise_markdown({"forget01": other})
    row = next(line for line in lines if line.startswith("| forget01 | 40 / 40 | "))
    assert "| 0.185 | 0.218 | 0.304 |" in row  # sampling (median D), FQ 0.3 and 5% reject, for 40 against 40
    assert report.premise_markdown({}) == []
