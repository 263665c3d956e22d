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

from evaluation.forget_set import ForgetSetError
from guards.errors import EcoPackError, ModelSourceError
from guards.facts import FactMatcher
from guards.manifest import verify_manifest
from packager.cli import cli
from packager.pipeline import BuildConfig, run_build
from packager.pipeline.build import STAGES, ArtifactExistsError

STAGE_NAMES = [s.name for s in STAGES]


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory):
    """A subject (demo forget + retain) and a retain reference (retain only), 1-epoch from-scratch Llamas."""
    from packager.finetune import ScratchModel, finetune
    from packager.finetune_data import select_training_data
    from packager.finetune_defaults import make_config

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
    assert any(name.startswith("bento/") and name.endswith(".bento.tar") for name in checksums)
    assert any(name.startswith("base/") and name.endswith(".safetensors") for name in checksums)

    card = ModelCard.load(path / "README.md")
    assert card.data.base_model == demo_models[0].name  # a local base is named, its path is not leaked
    assert {"unlearning", "eco"} <= set(card.data.tags)
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    results = json.loads((path / "results.json").read_text())
    assert metrics["model_utility"] == pytest.approx(results["models"]["guarded"]["model_utility"])
    assert metrics["forget_quality"] == pytest.approx(results["models"]["guarded"]["forget_quality"])
    assert set(results["models"]) == {"unguarded", "guarded", "retain"}
    spread = results["models"]["guarded"]["forget_quality_over_seeds"]  # read over noise seeds, D beside p
    assert results["models"]["guarded"]["splits"]["forget"]["flagged"]  # the calibrated guard corrupts forget rows
    assert len(spread["seeds"]) == 5 and spread["min"] <= results["models"]["guarded"]["forget_quality"]
    assert "median of 5 noise seeds" in card.text and "KS D" in card.text
    assert len(results["models"]["unguarded"]["forget_quality_over_seeds"]["seeds"]) == 1  # no noise, one test
    assert "Limitations" in card.text and "only as strong as its classifier" in card.text
    assert "one of its 64 forget prompts whole" in card.text  # demo's, all shipped (tests below: held-out ones too)
    shipped_facts = FactMatcher.load(path / "guard" / "classifier").facts  # demo's questions give no dated place
    assert ("exact forget facts" in card.text) == bool(shipped_facts)
    assert "(all 2 of its encoder layers)" in card.text  # the tiny backbone, kept whole as a given backbone is
    assert "probe.json" in checksums and "### Attack report" in card.text and "| multi_turn |" in card.text
    assert set(results["probe"]["recall"]) == set(json.loads((path / "probe.json").read_text())["recall"])

    build = json.loads((path / "build.json").read_text())
    assert list(build["stage_seconds"]) == STAGE_NAMES
    assert build["command"] == "pytest"
    assert build["augment_profile"] == "biographies"  # demo's default, recorded and on the card
    assert "`biographies` augmentation profile" in card.text
    guard = json.loads((path / "guard" / "eco_guard.json").read_text())
    assert guard["corruption"]["strength"] == pytest.approx(results["sigma"]["sigma"])
    drawn_again = results["sigma"]["question_spread"]  # where the search's crossing moves with the questions
    assert drawn_again["low"] <= drawn_again["median"] <= drawn_again["high"] and drawn_again["resamples"] == 200
    assert "With the questions drawn again (200 bootstrap resamples of the forget questions)" in card.text
    inside = drawn_again["low"] <= results["sigma"]["sigma"] <= drawn_again["high"]
    assert ("no surer than that" in card.text) == inside and ("outside that range" in card.text) == (not inside)
    assert guard["seed_policy"]["kind"] == "keyed"

    # a second build of the same inputs reuses every stage up to sigma and gets the next version;
    # the bundle records its version, so the new bundle is saved and measured again
    assert again.version == "0.1.1"
    assert again.cached == ["data", "model", "classifier", "calibration", "sigma"]


def test_resume_after_a_killed_stage(tmp_path, demo_models, tiny_classifier_dir, monkeypatch):
    from packager.pipeline.stages import evaluation

    def killed(inputs, out, session):
        (out / "partial.txt").write_text("half")
        raise KeyboardInterrupt

    original = evaluation.STAGE
    monkeypatch.setattr(evaluation, "STAGE", replace(original, run=killed))
    config = fast_config(tmp_path, demo_models, tiny_classifier_dir)
    with pytest.raises(KeyboardInterrupt):
        run_build(config)
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
    work = Path(os.environ["ECO_PACK_CACHE"]) / "builds" / "demo-test"
    assert not list((work / "evaluation").rglob("*")), "a killed stage must not look finished"

    monkeypatch.setattr(evaluation, "STAGE", original)
    outcome = run_build(config)
    assert outcome.cached == ["data", "model", "classifier", "calibration", "sigma", "bundle"]
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
    with pytest.raises(EcoPackError, match="--classifier-layers"):
        run_build(fast_config(tmp_path, demo_models, tiny_classifier_dir, classifier_layers=0))
    with pytest.raises(EcoPackError, match="`--classifier-layers` 3 does not fit.*2 layers"):  # before any training
        run_build(fast_config(tmp_path, demo_models, tiny_classifier_dir, classifier_layers=3))


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
    table = CliRunner().invoke(cli, ["inspect", str(path)])
    assert table.exit_code == 0 and "questions drawn again" in table.output and "of 200 resamples" in table.output

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


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_evaluated_guard_is_the_shipped_guard(built):
    """Evaluation measured the bundle stage's saved guard; the artifact ships those very bytes."""
    _, again = built
    work = again.path.parents[1] / "cache" / "builds" / "demo-test"
    (evaluated,) = list((work / "bundle").glob("*/guard"))  # the one bundle of the latest build
    assert _files(again.path / "guard") == _files(evaluated)
    record = json.loads(next((work / "evaluation").glob("*/result.json")).read_text())
    shipped = {k: v for k, v in verify_manifest(again.path).items() if k.startswith("guard/")}
    assert record["result"]["evaluated_guard"] == shipped


def test_the_shipped_guard_finds_the_forget_prompts_training_kept_back(built):
    """Calibration and the report scored the held-out forget prompts with the classifier's own
    scores; the bundle ships the whole forget text, so each of them scores 1 in the artifact."""
    from guards.bundle import load_bundle
    from guards.forget_text import ForgetText
    from packager.classifier import ClassifierData

    _, again = built
    work = again.path.parents[1] / "cache" / "builds" / "demo-test"
    (stage,) = list((work / "classifier").glob("*/"))
    held_out = ClassifierData.load(stage / "split.json").test_forget
    assert not any(ForgetText.load(stage / "classifier").matching(held_out))
    assert load_bundle(again.path / "guard").classifier()(list(held_out)) == [1.0] * len(held_out)


def test_each_file_is_hashed_once_per_build(built):
    outcome, _ = built
    shipped = sum(p.stat().st_size for p in outcome.path.rglob("*") if p.is_file())
    assert outcome.hashing["seconds"] > 0
    # every byte of the artifact once, plus the few small files hashed on the way (no second pass)
    assert shipped * 0.9 <= outcome.hashing["bytes"] <= shipped * 1.05


def test_stage_keys_follow_inputs_and_code(tmp_path):
    from packager.pipeline.cache import run_stage, stage_key

    calls = []

    def work(out: Path) -> dict:
        calls.append(out)
        return {"n": len(calls)}

    first = run_stage(tmp_path, "s", {"a": 1}, work, code=("packager.pipeline.typed",))
    again = run_stage(tmp_path, "s", {"a": 1}, work, code=("packager.pipeline.typed",))
    assert (first.cached, again.cached, again.result) == (False, True, {"n": 1})
    typed, cache = ("packager.pipeline.typed",), ("packager.pipeline.cache",)
    assert stage_key("s", {"a": 1}, typed) != stage_key("s", {"a": 2}, typed)
    assert stage_key("s", {"a": 1}, typed) != stage_key("s", {"a": 1}, cache)
    other = run_stage(tmp_path, "s", {"a": 2}, work, keep_others=False)
    assert [p.name for p in (tmp_path / "s").iterdir()] == [other.key]


def test_typed_results_round_trip(tmp_path):
    from guards.config import BaseModelRef, DecisionRule
    from guards.prompt_format import PromptFormat
    from packager.pipeline.stages.model import ModelResult
    from packager.pipeline.typed import from_jsonable, load_result, to_jsonable

    result = ModelResult(
        subject=BaseModelRef("local", "/m", weights_sha256="ab" * 32), retain=None, tuning_reference=None,
        prompt_format=PromptFormat("template", "Q: {question}\nA:"), alias="m", card_name="m",
        subject_digests={"model.safetensors": "cd" * 32}, folder=tmp_path,
    )
    data = json.loads(json.dumps(to_jsonable(result)))
    assert "folder" not in data
    assert load_result(ModelResult, data, tmp_path) == result
    assert from_jsonable(DecisionRule, to_jsonable(DecisionRule(threshold=0.3, alpha=0.1, n=20))).n == 20


def test_validation_fails_fast_and_leaves_no_work_folder(tmp_path, demo_models, tiny_classifier_dir):
    """A model folder whose tokenizer has no chat template and no recorded format: `--prompt-format` fixes it."""
    from packager.pipeline.validate import validate

    bare = shutil.copytree(demo_models[0], tmp_path / "my-model")
    (bare / "finetune.json").unlink()  # trained elsewhere: nothing records its prompt format
    config = fast_config(tmp_path, demo_models, tiny_classifier_dir, model=str(bare), name="bare")
    work = Path(os.environ["ECO_PACK_CACHE"]) / "builds" / "bare"
    with pytest.raises(EcoPackError, match="no chat template.*--prompt-format"):
        run_build(config)
    assert not work.exists()
    fixed = replace(config, prompt_format="Question: {question}\\nAnswer:")
    assert validate(fixed).name == "demo"
    assert fixed.parsed_prompt_format.format("Who?") == "Question: Who?\nAnswer:"
    with pytest.raises(EcoPackError, match="--prompt-format"):
        replace(config, prompt_format="alpaca")
    with pytest.raises(EcoPackError, match="safetensors"):
        (bare / "model.safetensors").unlink()
        run_build(replace(fixed))
    assert not work.exists()


def test_a_second_build_of_one_name_is_refused_while_the_first_runs(tmp_path, demo_models, tiny_classifier_dir):
    """A build prunes its stages' other folders, so two builds of one name at once would delete each
    other's files: the second is refused before any stage runs, and publishes nothing."""
    from packager.pipeline.build import BuildBusyError, _sole_build

    config = fast_config(tmp_path, demo_models, tiny_classifier_dir, name="busy")
    work = Path(os.environ["ECO_PACK_CACHE"]) / "builds" / "busy"
    with _sole_build(work, "busy"):
        with pytest.raises(BuildBusyError, match="another build of `busy` is running.*--name"):
            run_build(config)
        assert [p.name for p in work.iterdir()] == [".lock"]
        assert not list(Path(config.out).glob("busy-*"))
    with _sole_build(work, "busy"):  # released when the first ends
        pass


def test_the_model_stage_trains_tiny_on_the_builds_seed(monkeypatch, tmp_path):
    """`--forget demo --seed 1`: the tiny subject learns demo:1's people, as the classifier does."""
    from guards.config import BaseModelRef
    from guards.prompt_format import PromptFormat
    from packager.models import ResolvedModel
    from packager.pipeline.stages import model
    from packager.pipeline.typed import StageResult

    seen = {}

    def fake_resolve(name, forget="demo", *, data_dir=None, seed=0, **_):
        seen[name] = seed
        return ResolvedModel(name, BaseModelRef("hub", "org/m"), None, PromptFormat("phi"))

    monkeypatch.setattr(model, "resolve_model", fake_resolve)

    class Session:
        console = __import__("rich.console").console.Console(quiet=True)

    inputs = model.ModelInputs(model="tiny", forget="demo", seed=1, data="x", retain_model=None,
                               reference_model=None, prompt_format=None, data_dir=None)
    result = model.STAGE.run(inputs, tmp_path, Session())
    assert seen == {"tiny": 1} and isinstance(result, StageResult)


def test_build_options_come_from_the_config_fields():
    from dataclasses import fields

    from packager.pipeline.config import BuildConfig

    help_text = CliRunner().invoke(cli, ["build", "--help"]).output
    for f in fields(BuildConfig):
        if f.metadata.get("cli", True) and f.name not in ("bento", "force", "command"):
            assert f"--{f.name.replace('_', '-')}" in help_text, f.name
            assert f.metadata["help"].split()[0] in help_text
    for command in ("eval", "serve"):
        assert "--prompt-format" in CliRunner().invoke(cli, [command, "--help"]).output


def test_probe_command_writes_its_report_into_the_artifact(built, tmp_path):
    copy = shutil.copytree(built[0].path, tmp_path / "artifact")
    (copy / "probe.json").unlink()
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["files"]["probe.json"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = CliRunner().invoke(cli, ["probe", str(copy), "--per-family", "5"])
    assert result.exit_code == 0, result.output
    assert "Attack report" in result.output and "system_message" in result.output
    assert "probe.json" in verify_manifest(copy)  # written and listed: the artifact still verifies
    report = json.loads((copy / "probe.json").read_text())
    assert all(rate["n"] <= 5 for rate in report["recall"].values())
