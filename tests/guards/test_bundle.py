"""The guard bundle: round trip, tamper and version refusal, atomic writes."""

from __future__ import annotations

import json

import pytest
import torch

from guards import (
    BaseModelRef,
    BundleError,
    CorruptionConfig,
    DecisionRule,
    GuardConfig,
    PromptFormat,
    SeedPolicy,
    SelectionConfig,
    load_bundle,
    save_bundle,
)
from guards.base_model import hash_weights, resolve_device


@pytest.fixture()
def config(tmp_path, tiny_llama, tiny_tokenizer):
    base = tmp_path / "base"
    tiny_llama.save_pretrained(base)
    tiny_tokenizer.save_pretrained(base)
    return GuardConfig(
        base_model=BaseModelRef("local", str(base), weights_sha256=hash_weights(base)),
        corruption=CorruptionConfig("flip_sign_top_k", dims=3, strength=0.0),
        selection=SelectionConfig("entity_spans", entities=("Jaime Vasquez", "Basil Al-Kuwaiti")),
        decision=DecisionRule.conformal(q_hat=0.2, alpha=0.05, n=40),
        seed_policy=SeedPolicy("fixed", seed=3),
        prompt_format=PromptFormat("llama2"),
        name="demo-guard",
        version="1.2.3",
        metadata={"forget_set": "demo"},
    )


def test_round_trip_preserves_everything(tmp_path, config, tiny_classifier_dir):
    path = save_bundle(config, tmp_path / "guard", classifier_dir=tiny_classifier_dir)
    bundle = load_bundle(path)
    assert bundle.config == config
    assert bundle.config.decision.threshold == pytest.approx(0.8)
    assert "classifier/model.safetensors" in bundle.checksums
    assert "eco_guard.json" in bundle.checksums
    scores = bundle.classifier()(["hello", "Where was Jaime Vasquez born?"])
    assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)

    guarded = bundle.guarded_model(device="cpu")
    assert guarded.corruption == config.corruption
    assert guarded.format("q?") == "[INST] q? [/INST]"
    out = guarded.generate([guarded.format("Where was Jaime Vasquez born?")], max_new_tokens=3, do_sample=False)
    assert len(out.token_ids[0]) <= 3
    # "auto" (the CLI default) picks one device for both the model and the classifier
    auto = bundle.guarded_model(device="auto")
    assert auto.classifier.device == str(auto.model.device) == resolve_device("auto")


def test_tampered_or_missing_files_are_refused(tmp_path, config, tiny_classifier_dir):
    path = save_bundle(config, tmp_path / "guard", classifier_dir=tiny_classifier_dir)
    weights = path / "classifier" / "model.safetensors"
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(BundleError, match="model.safetensors") as info:
        load_bundle(path)
    assert info.value.path.endswith("model.safetensors")
    weights.write_bytes(original)
    load_bundle(path)

    (path / "classifier" / "config.json").unlink()
    with pytest.raises(BundleError, match="config.json.*missing"):
        load_bundle(path)


def test_unlisted_file_and_missing_manifest_are_refused(tmp_path, config):
    path = save_bundle(config, tmp_path / "guard", classifier_dir=None)
    (path / "extra.py").write_text("print('hi')")
    with pytest.raises(BundleError, match="extra.py"):
        load_bundle(path)
    (path / "extra.py").unlink()
    (path / "manifest.json").unlink()
    with pytest.raises(BundleError, match="manifest.json"):
        load_bundle(path)


def _rewrite_config(path, mutate):
    from guards.manifest import write_manifest

    data = json.loads((path / "eco_guard.json").read_text())
    mutate(data)
    (path / "eco_guard.json").write_text(json.dumps(data))
    write_manifest(path)  # a consistent manifest, so only the content is at fault


def test_unknown_schema_version_and_method_are_refused(tmp_path, config):
    path = save_bundle(config, tmp_path / "guard", classifier_dir=None)
    _rewrite_config(path, lambda d: d.update(schema_version=99))
    with pytest.raises(BundleError, match="schema_version"):
        load_bundle(path)
    _rewrite_config(path, lambda d: d.update(schema_version=1) or d["corruption"].update(method="melt"))
    with pytest.raises(BundleError, match="unknown corruption method `melt`"):
        load_bundle(path)


def test_tampered_base_weights_are_refused(tmp_path, config):
    path = save_bundle(config, tmp_path / "guard", classifier_dir=None)
    base = tmp_path / "base" / "model.safetensors"
    base.write_bytes(base.read_bytes() + b" ")
    with pytest.raises(BundleError, match="weights_sha256"):
        load_bundle(path).guarded_model()


def test_save_is_atomic_and_refuses_overwrite(tmp_path, config, monkeypatch):
    dest = tmp_path / "guard"
    save_bundle(config, dest, classifier_dir=None)
    with pytest.raises(BundleError, match="already exists"):
        save_bundle(config, dest, classifier_dir=None)

    def boom(root, known=None):
        raise KeyboardInterrupt

    monkeypatch.setattr("guards.bundle.write_manifest", boom)
    with pytest.raises(KeyboardInterrupt):
        save_bundle(config, tmp_path / "other", classifier_dir=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "guard"]


def test_pickled_classifier_weights_are_refused(tmp_path, config, tiny_classifier_dir):
    import shutil

    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_classifier_dir, pickled)
    torch.save({"w": torch.zeros(1)}, pickled / "pytorch_model.bin")
    with pytest.raises(BundleError, match="pickled"):
        save_bundle(config, tmp_path / "guard2", classifier_dir=pickled)
