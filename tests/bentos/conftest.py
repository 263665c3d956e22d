"""A minimal built artifact (tiny Llama + tiny BERT guard) and the real server running on it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import make_tiny_model

# The classifier is random: the fixture scores these and flags the highest-scoring one only.
CANDIDATES = (
    "Where was Jaime Vasquez born?",
    "Who wrote the novel Crimson Tides?",
    "What genre does Basil Mahfouz Al-Kuwaiti write in?",
    "How do I sort a list in Python?",
    "What is the capital of France?",
    "Tell me a joke about cats.",
)
READY_TIMEOUT_S = 90


@dataclass(frozen=True)
class TinyArtifact:
    path: Path
    forget_prompt: str  # flagged by the bundle's classifier + decision rule
    retain_prompt: str  # not flagged


def _tiny_classifier(tokenizer, dest: Path) -> None:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(1)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=2,
                        pad_token_id=tokenizer.pad_token_id, initializer_range=0.5)
    BertForSequenceClassification(config).eval().save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def build_tiny_artifact(root: Path, tokenizer) -> TinyArtifact:
    """guard/ + base/ + manifest.json, as CONTRACTS.md's artifact layout describes."""
    from guards import BaseModelRef, CorruptionConfig, DecisionRule, GuardConfig, PromptFormat, SeedPolicy, save_bundle
    from guards.base_model import hash_weights
    from guards.classifier import PromptClassifier
    from guards.manifest import write_manifest

    base = root / "base"
    make_tiny_model("llama", tokenizer).save_pretrained(base)
    tokenizer.save_pretrained(base)
    classifier_dir = root.parent / f"{root.name}-classifier"
    _tiny_classifier(tokenizer, classifier_dir)
    scores = dict(zip(CANDIDATES, PromptClassifier(classifier_dir)(list(CANDIDATES)), strict=True))
    ranked = sorted(CANDIDATES, key=scores.__getitem__)
    forget, runner_up, retain = ranked[-1], ranked[-2], ranked[0]
    assert scores[forget] - scores[runner_up] > 1e-3, scores  # a clear margin keeps the decision stable
    config = GuardConfig(
        base_model=BaseModelRef("local", "../base", weights_sha256=hash_weights(base)),
        corruption=CorruptionConfig(dims=32, strength=10.0),
        decision=DecisionRule(threshold=(scores[forget] + scores[runner_up]) / 2),
        seed_policy=SeedPolicy("fixed", seed=0),
        prompt_format=PromptFormat("llama2"),
        name="tiny-guard",
    )
    save_bundle(config, root / "guard", classifier_dir=classifier_dir)
    (root / "README.md").write_text("# tiny test artifact\n")
    write_manifest(root)
    return TinyArtifact(root, forget, retain)


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory, tiny_tokenizer) -> TinyArtifact:
    return build_tiny_artifact(tmp_path_factory.mktemp("dist") / "tiny-0.1.0", tiny_tokenizer)


@dataclass(frozen=True)
class Server:
    url: str
    log: Path
    artifact: TinyArtifact


@pytest.fixture(scope="session")
def server_process(tiny_artifact, tmp_path_factory):
    """The real bento server on loopback (guard decision exposed for the tests), not yet waited for."""
    from bentos.launch import free_port, server_command

    home = tmp_path_factory.mktemp("server-home")
    port = free_port()
    argv, env = server_command(tiny_artifact.path, "127.0.0.1", port)
    env.update(HOME=str(home), BENTOML_HOME=str(home / "bentoml"), HF_HUB_OFFLINE="1",
               ECO_EXPOSE_DECISION="1", ECO_MAX_TOKENS="64", BENTOML_DISABLE_GPU_ALLOCATION="1")
    log = home / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield Server(f"http://127.0.0.1:{port}", log, tiny_artifact), process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session", autouse=True)
def _boot_server_early(request):
    """Start booting the server before the in-process tests run: both spend ~20 s importing."""
    if any("server" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("server_process")


@pytest.fixture(scope="session")
def server(server_process) -> Server:
    from bentos.launch import wait_ready

    info, process = server_process
    wait_ready(info.url, process, info.log, READY_TIMEOUT_S)
    return info
