"""The TOFU fine-tuning protocol: answer-only loss, real tiny training runs, the cached `tiny` alias, the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from transformers import AutoModelForCausalLM

from evaluation.answers import answer_text
from guards.errors import EcoPackError
from guards.prompt_format import PromptFormat
from packager.cli import cli
from packager.finetune import FinetuneConfig, ScratchModel, TrainConfig, finetune
from packager.finetune_data import (
    IGNORE,
    FinetuneDataError,
    collate,
    encode_pair,
    select_training_data,
)
from packager.finetune_defaults import make_config
from packager.models import resolve_model
from packager.tiny import TinyConfig, ensure_tiny

SMALL = ScratchModel(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, vocab_size=300, max_positions=96)


def test_labels_cover_answer_and_eos_only(tiny_tokenizer):
    fmt = PromptFormat("phi")
    prompt, answer = fmt.format("Where was Jaime Vasquez born?"), answer_text("In Santiago, Chile.", fmt)
    ids, labels = encode_pair(tiny_tokenizer, prompt, answer)
    n_prompt = len(tiny_tokenizer(prompt)["input_ids"])
    n_answer = len(tiny_tokenizer(answer, add_special_tokens=False)["input_ids"])
    assert labels[:n_prompt] == [IGNORE] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:] and len(ids) == n_prompt + n_answer + 1
    assert ids[-1] == tiny_tokenizer.eos_token_id
    assert tiny_tokenizer.decode(ids[n_prompt:-1]) == answer

    short = encode_pair(tiny_tokenizer, fmt.format("Who?"), answer_text("Me.", fmt))
    batch = collate([(ids, labels), short], tiny_tokenizer.pad_token_id)
    pad = batch["attention_mask"][1] == 0
    assert pad.any() and (batch["labels"][1][pad] == IGNORE).all()
    assert (batch["input_ids"][1][pad] == tiny_tokenizer.pad_token_id).all()


def test_training_data_parts_and_tofu_subsets(tofu_dir):
    everything = select_training_data("demo")
    retain = select_training_data("demo", "retain")
    forget = select_training_data("demo", "forget")
    assert len(everything.pairs) == len(retain.pairs) + len(forget.pairs)
    forget_questions = {q for q, _ in forget.pairs}
    assert not forget_questions & {q for q, _ in retain.pairs}
    assert retain.tokenizer_corpus == everything.tokenizer_corpus  # one vocabulary for subject and retain
    assert retain.sha256 != everything.sha256
    assert len(select_training_data("demo", general=True).pairs) > len(everything.pairs)
    assert len(select_training_data("tofu:retain90", data_dir=tofu_dir).pairs) == 3600
    with pytest.raises(FinetuneDataError, match="--part"):
        select_training_data("tofu:full", "retain", data_dir=tofu_dir)
    with pytest.raises(FinetuneDataError, match="--part"):
        select_training_data("demo", "everything")


def test_scratch_training_really_learns(tmp_path):
    data = select_training_data("demo", "forget")
    train = TrainConfig.scratch(epochs=6, lr=1e-2, batch_size=8, micro_batch_size=8, warmup_epochs=1, seed=1)
    config = FinetuneConfig(train=train, scratch_model=SMALL, device="cpu")
    result = finetune(config, data, tmp_path / "m", progress=False)
    assert result.epoch_losses[-1] < 0.6 * result.epoch_losses[0]
    assert result.epoch_losses[-1] < min(result.epoch_losses[:-1])
    assert (tmp_path / "m" / "model.safetensors").is_file() and not list((tmp_path / "m").glob("*.bin"))
    record = json.loads((tmp_path / "m" / "finetune.json").read_text())
    assert record["data"]["sha256"] == data.sha256 and record["config"]["train"]["epochs"] == 6
    assert record["steps"] == 6 * 8  # 64 forget QA / batch 8
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert sum(p.numel() for p in model.parameters()) == result.parameters
    with pytest.raises(EcoPackError, match="already exists"):
        finetune(config, data, tmp_path / "m", progress=False)


def test_defaults_per_mode():
    assert make_config("scratch").train.lr == TrainConfig.scratch().lr > 1e-4
    tofu = make_config("llama-2-7b-chat")
    assert (tofu.train.lr, tofu.train.epochs, tofu.train.batch_size, tofu.train.weight_decay) == (1e-5, 5, 32, 0.01)
    assert tofu.prompt_format.name == "llama2"
    assert make_config("phi-1.5").train.lr == 2e-5
    assert make_config("scratch", lr=0.5, epochs=2).train.lr == 0.5


def test_tiny_alias_is_cached_and_reused(tmp_path):
    config = TinyConfig(model=SMALL, train=TrainConfig.scratch(epochs=1, seed=0), general=False)
    first = ensure_tiny("demo", config=config, cache=tmp_path, progress=False)
    assert first.trained and first.subject != first.retain
    stamp = (first.subject / "model.safetensors").stat().st_mtime_ns
    second = ensure_tiny("demo", config=config, cache=tmp_path, progress=False)
    assert not second.trained and second.subject == first.subject
    assert (second.subject / "model.safetensors").stat().st_mtime_ns == stamp
    subject_tok = (first.subject / "tokenizer.json").read_text()
    assert (first.retain / "tokenizer.json").read_text() == subject_tok
    retain_record = json.loads((first.retain / "finetune.json").read_text())
    assert retain_record["data"]["name"] == "demo:retain"
    other = TinyConfig(model=SMALL, train=TrainConfig.scratch(epochs=1, seed=1), general=False)
    assert ensure_tiny("demo", config=other, cache=tmp_path, progress=False).subject != first.subject


def test_resolve_tiny_gives_local_subject_and_retain(monkeypatch, tmp_path):
    monkeypatch.setenv("ECO_PACK_CACHE", str(tmp_path))
    config = TinyConfig(model=SMALL, train=TrainConfig.scratch(epochs=1), general=False)
    resolved = resolve_model("tiny", "demo", tiny_config=config, progress=False)
    assert resolved.subject.source == resolved.retain.source == "local"
    assert resolved.subject.name_or_path.startswith(str(tmp_path))
    assert resolved.prompt_format.name == "phi"


def test_finetune_command(tmp_path):
    out = tmp_path / "m"
    args = ["finetune", "--data", "demo", "--part", "forget", "--out", str(out), "--epochs", "2", "--hidden", "32",
            "--layers", "1", "--heads", "2", "--intermediate", "64", "--vocab", "300", "--device", "cpu"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "demo:forget" in result.output and (out / "finetune.json").is_file()
    again = CliRunner().invoke(cli, [*args, "--tokenizer", str(out), "--part", "retain"])
    assert isinstance(again.exception, EcoPackError)  # --out exists and no --force
    forced = CliRunner().invoke(cli, [*args, "--force", "--tokenizer", str(out), "--part", "retain"])
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "finetune.json").read_text())["data"]["name"] == "demo:retain"
    help_text = CliRunner().invoke(cli, ["finetune", "--help"]).output
    assert "Example" in help_text and "--data" in help_text


def test_finetune_from_a_pretrained_local_base(tmp_path, tiny_llama, tiny_tokenizer):
    tiny_llama.save_pretrained(tmp_path / "base")
    tiny_tokenizer.save_pretrained(tmp_path / "base")
    config = make_config(str(tmp_path / "base"), epochs=3, lr=3e-3, batch_size=8, device="cpu")
    assert config.train.weight_decay == 0.01 and config.prompt_format.name == "chat_template"
    config = FinetuneConfig(base=config.base, prompt_format=PromptFormat("phi"), train=config.train, device="cpu")
    result = finetune(config, select_training_data("demo", "forget"), tmp_path / "out", progress=False)
    assert result.epoch_losses[-1] < result.epoch_losses[0]
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert tuned.config.hidden_size == tiny_llama.config.hidden_size
    assert not torch.equal(tuned.model.embed_tokens.weight, tiny_llama.model.embed_tokens.weight)
