"""The front of a prompt-embeds engine loads the embedding matrix alone, and corrupts exactly as the full model."""

from __future__ import annotations

import pytest
import torch

from guards import BaseModelRef, CorruptionConfig, GuardedModel, SeedPolicy
from guards.base_model import hash_weights, load_embeddings_only
from guards.errors import ModelSourceError


@pytest.fixture(scope="module", params=["single", "sharded"])
def saved(request, tmp_path_factory, tiny_tokenizer):
    from tests.conftest import make_tiny_model

    model = make_tiny_model("llama", tiny_tokenizer)
    folder = tmp_path_factory.mktemp(request.param)
    model.save_pretrained(folder, max_shard_size="20KB" if request.param == "sharded" else "5GB")
    tiny_tokenizer.save_pretrained(folder)
    return model, folder


def test_only_the_input_embeddings_are_read(saved):
    model, folder = saved
    if "sharded" in folder.name:
        assert (folder / "model.safetensors.index.json").is_file()
    ref = BaseModelRef("local", str(folder), weights_sha256=hash_weights(folder))
    front, tokenizer = load_embeddings_only(ref, device="cpu", dtype="float32")
    assert torch.equal(front.get_input_embeddings().weight, model.get_input_embeddings().weight)
    assert sum(p.numel() for p in front.parameters()) == model.get_input_embeddings().weight.numel()
    with pytest.raises(RuntimeError, match="only the input embeddings"):
        front.generate()
    # the same corruption as the full model: flagged and unflagged, keyed by the prompt
    options = dict(corruption=CorruptionConfig(dims=32, strength=5.0), seed_policy=SeedPolicy("fixed", seed=3))
    full = GuardedModel(model, tokenizer, classifier=None, **options)
    part = GuardedModel(front, tokenizer, classifier=None, **options)
    prompts = ["Where was Jaime Vasquez born?", "Tell me a joke about cats."]
    for flags in ([True, False], [False, True]):
        for a, b in zip(full.prompt_embeddings(prompts, flags=flags), part.prompt_embeddings(prompts, flags=flags),
                        strict=True):
            assert torch.equal(a, b)


def test_tampered_weights_and_pickles_are_refused(saved, tmp_path):
    import shutil

    _, folder = saved
    ref = BaseModelRef("local", str(folder), weights_sha256="0" * 64)
    with pytest.raises(Exception, match="do not match"):
        load_embeddings_only(ref, device="cpu")
    pickled = tmp_path / "pickled"
    shutil.copytree(folder, pickled, ignore=shutil.ignore_patterns("*.safetensors", "*.index.json"))
    torch.save({}, pickled / "pytorch_model.bin")
    with pytest.raises(ModelSourceError, match="only safetensors"):
        load_embeddings_only(BaseModelRef("local", str(pickled)), device="cpu")
