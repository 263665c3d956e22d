"""`eco-pack build` end to end on `demo` with tiny sizes, resume after a killed stage, and bad input."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from huggingface_hub import ModelCard

from guards.errors import EcoPackError, ModelSourceError
from guards.manifest import verify_manifest
from packager.build import BuildConfig, run_build
from packager.build.pipeline import STAGES, ArtifactExistsError
from packager.cli import cli
from packager.sources.base import ForgetSetError

STAGE_NAMES = [s.name for s in STAGES]


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory):
    """A subject (demo forget + retain) and a retain reference (retain only), 1-epoch from-scratch Llamas."""
    from packager.finetune import ScratchModel, finetune, make_config
    from packager.finetune_data import select_training_data

    root = tmp_path_factory.mktemp("models")
    sizes = ScratchModel(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, vocab_size=400)
    config = make_config("scratch", epochs=1, scratch_model=sizes, device="cpu", dtype="float32")
    finetune(config, select_training_data("demo", "all"), root / "subject", progress=False)
    finetune(
        config, select_training_data("demo", "retain"), root / "retain", tokenizer=root / "subject", progress=False
    )
    return root / "subject", root / "retain"


def fast_config(tmp_path, demo_models, classifier_dir, **overrides) -> BuildConfig:
    subject, retain = demo_models
    settings = dict(
        model=str(subject),
        retain_model=str(retain),
        forget="demo",
        out=tmp_path / "dist",
        name="demo-test",
        classifier_backbone=str(classifier_dir),
        classifier_epochs=1,
        noise_seeds=1,
        device="cpu",
        max_new_tokens=8,
        bento=False,
        command="pytest",
    )
    return BuildConfig(**(settings | overrides))


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_models, tiny_classifier_dir):
    """One full build (bento included) shared by the read-only tests below; its cache is its own."""
    root = tmp_path_factory.mktemp("built")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ECO_PACK_CACHE", str(root / "cache"))
        outcome = run_build(fast_config(root, demo_models, tiny_classifier_dir, bento=True))
        again = run_build(fast_config(root, demo_models, tiny_classifier_dir, bento=True))
    return outcome, again


def test_end_to_end_build_writes_a_complete_artifact(built, demo_models):
    outcome, again = built
    path = outcome.path
    assert path.name == "demo-test-0.1.0"
    checksums = verify_manifest(path)
    assert {"guard/eco_guard.json", "README.md", "build.json", "results.json", "plots/sigma_search.png"} <= set(
        checksums
    )
    assert any(name.startswith("bento/") and name.endswith(".bento") for name in checksums)
    assert any(name.startswith("base/") and name.endswith(".safetensors") for name in checksums)

    card = ModelCard.load(path / "README.md")
    assert card.data.base_model == demo_models[0].name  # a local base is named, its path is not leaked
    assert {"unlearning", "eco"} <= set(card.data.tags)
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    results = json.loads((path / "results.json").read_text())
    assert metrics["model_utility"] == pytest.approx(results["models"]["guarded"]["model_utility"])
    assert metrics["forget_quality"] == pytest.approx(results["models"]["guarded"]["forget_quality"])
    assert set(results["models"]) == {"unguarded", "guarded", "retain"}
    assert "Limitations" in card.text and "only as strong as its classifier" in card.text

    build = json.loads((path / "build.json").read_text())
    assert list(build["stage_seconds"]) == STAGE_NAMES
    assert build["command"] == "pytest"
    guard = json.loads((path / "guard" / "eco_guard.json").read_text())
    assert guard["corruption"]["strength"] == pytest.approx(results["sigma"]["sigma"])
    assert guard["seed_policy"]["kind"] == "keyed"

    # a second build of the same inputs reuses every stage and gets the next version
    assert again.version == "0.1.1"
    assert set(again.cached) >= {"data", "model", "classifier", "calibration", "sigma", "evaluation"}


def test_resume_after_a_killed_stage(tmp_path, demo_models, tiny_classifier_dir, monkeypatch):
    from packager.build.stages import evaluation

    def killed(ctx, out):
        (out / "partial.txt").write_text("half")
        raise KeyboardInterrupt

    original = evaluation.STAGE
    stages = [replace(s, run=killed) if s is original else s for s in STAGES]
    monkeypatch.setattr("packager.build.pipeline.STAGES", stages)
    config = fast_config(tmp_path, demo_models, tiny_classifier_dir)
    with pytest.raises(KeyboardInterrupt):
        run_build(config)
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
    work = Path(os.environ["ECO_PACK_CACHE"]) / "builds" / "demo-test"
    assert not (work / "evaluation").exists(), "a killed stage must not look finished"

    monkeypatch.setattr("packager.build.pipeline.STAGES", STAGES)
    outcome = run_build(config)
    assert outcome.cached == ["data", "model", "classifier", "calibration", "sigma"]
    verify_manifest(outcome.path)


def test_bad_input_gets_clear_errors(tmp_path, demo_models, tiny_classifier_dir):
    with pytest.raises(ModelSourceError, match="`llama-2-7b-chatt`.*Did you mean `llama-2-7b-chat`"):
        run_build(fast_config(tmp_path, demo_models, tiny_classifier_dir, model="llama-2-7b-chatt", retain_model=None))
    with pytest.raises(EcoPackError, match="forget-set source `nope`"):
        run_build(fast_config(tmp_path, demo_models, tiny_classifier_dir, forget="nope"))
    with pytest.raises(ForgetSetError, match="ECO_PACK_DATA_DIR"):
        run_build(
            fast_config(
                tmp_path, demo_models, tiny_classifier_dir, forget="tofu:forget01", data_dir=tmp_path / "missing"
            )
        )
    with pytest.raises(ModelSourceError, match="hf download|local"):
        run_build(
            fast_config(
                tmp_path,
                demo_models,
                tiny_classifier_dir,
                model="org/not-cached-model",
                retain_model=None,
                forget="demo",
            )
        )
    (tmp_path / "dist" / "demo-test-1.0.0").mkdir(parents=True)
    with pytest.raises(ArtifactExistsError, match="--force"):
        run_build(fast_config(tmp_path, demo_models, tiny_classifier_dir, version="1.0.0"))
    with pytest.raises(EcoPackError, match="semantic version"):
        run_build(fast_config(tmp_path, demo_models, tiny_classifier_dir, version="v1"))
    with pytest.raises(EcoPackError, match="--threshold-position"):
        run_build(fast_config(tmp_path, demo_models, tiny_classifier_dir, threshold_position=1.5))


def test_cli_maps_errors_to_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--model", "llama-2-7b-chatt", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "Did you mean" in str(result.exception)
    help_text = CliRunner().invoke(cli, ["build", "--help"]).output
    assert "eco-pack build --model llama-2-7b-chat --forget tofu" in help_text
    for option in ("--out", "--version", "--seed", "--device", "--dtype", "--data-dir", "--threshold-position"):
        assert option in help_text


def test_inspect_and_eval_commands(built, tmp_path):
    path = built[0].path
    shown = CliRunner().invoke(cli, ["inspect", str(path), "--json"])
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.output)
    assert info["guard"]["name"] == "demo-test"
    assert "guard/classifier/model.safetensors" in info["checksums"]

    report = path.parent / "remeasured.json"
    result = CliRunner().invoke(cli, ["eval", str(path), "--max-new-tokens", "4", "--write", str(report)])
    assert result.exit_code == 0, result.output
    scores = json.loads(report.read_text())
    built_results = json.loads((path / "results.json").read_text())["models"]
    # the unguarded model is deterministic, so re-measuring reproduces its probabilities exactly
    assert scores["unguarded"]["splits"]["retain"]["prob"] == pytest.approx(
        built_results["unguarded"]["splits"]["retain"]["prob"], rel=1e-6
    )
    assert scores["guarded"]["splits"]["forget"]["flagged"] == built_results["guarded"]["splits"]["forget"]["flagged"]

    copy = shutil.copytree(path, tmp_path / path.name)
    tampered = copy / "guard" / "eco_guard.json"
    tampered.write_text(tampered.read_text().replace('"keyed"', '"fresh"'))
    refused = CliRunner().invoke(cli, ["inspect", str(copy)])
    assert refused.exit_code != 0
    assert "eco_guard.json" in str(refused.exception)
