"""How the classifier batches segments: packed end to end where the model allows it, padded where not,
with the same scores either way; and it scores in the dtype it was saved in."""

from __future__ import annotations

import pytest
import torch

from guards.classifier import PACK_TOKENS, PromptClassifier
from tests.conftest import count_scored

TEXTS = [
    "Where was Jaime Vasquez born?",
    "Hi",
    "Tell me a joke about cats, then another one about dogs, and end with a short poem about both of them.",
    " ".join(["word"] * 90),  # longer than a pack of the others together
    "What is the capital of France?",
]


def _alone(scorer: PromptClassifier, text: str) -> float:
    """The probability from the model itself on ``text`` with nothing else in the pass."""
    enc = scorer.tokenizer(text, truncation=True, max_length=scorer.max_length, return_tensors="pt")
    with torch.inference_mode():
        return scorer.model(**enc).logits.float().softmax(-1)[0, 1].item()


def test_packed_segments_score_as_each_alone_in_one_pass(tiny_classifier_dir):
    scorer = PromptClassifier(tiny_classifier_dir, max_length=128, cache_size=0)
    assert scorer.packed  # a BERT encoder with a first-token head packs
    alone = [_alone(scorer, t) for t in TEXTS]
    passes = count_scored(scorer)
    scores = scorer.score_segments(TEXTS)
    assert scores == pytest.approx(alone, abs=1e-5)
    assert sum(passes) == len(TEXTS) and len(passes) < len(TEXTS)  # several texts share a pass
    lengths = [len(ids) for ids in scorer.tokenizer(TEXTS, truncation=True, max_length=128)["input_ids"]]
    assert len(passes) == 1 + (sum(lengths) > PACK_TOKENS)  # one pass unless the texts overflow a pack
    assert len(set(scores)) == len(scores)  # rows did not leak into each other's first token


def test_a_model_that_cannot_pack_is_padded_with_the_same_scores(tmp_path, tiny_classifier_dir):
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(tiny_classifier_dir)
    torch.manual_seed(0)
    config = DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                              num_labels=2)  # fmt: skip
    DistilBertForSequenceClassification(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    scorer = PromptClassifier(tmp_path, cache_size=0)
    assert not scorer.packed  # DistilBERT's encoder is not `encoder`: no hook, padded batches
    assert scorer.score_segments(TEXTS) == pytest.approx([_alone(scorer, t) for t in TEXTS], abs=1e-5)


def test_it_scores_in_the_dtype_it_was_saved_in(tmp_path, tiny_classifier_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_classifier_dir)
    model.to(torch.bfloat16).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_classifier_dir).save_pretrained(tmp_path)
    scorer = PromptClassifier(tmp_path, cache_size=0)
    assert scorer.model.dtype == torch.bfloat16 and scorer.packed
    full = PromptClassifier(tiny_classifier_dir, cache_size=0)
    assert scorer.score_segments(TEXTS) == pytest.approx(full.score_segments(TEXTS), abs=0.02)


def test_bfloat16_linears_are_prepacked_on_cpu_and_score_as_the_plain_ones(tmp_path, tiny_classifier_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from guards.packed_linear import PackedLinear

    model = AutoModelForSequenceClassification.from_pretrained(tiny_classifier_dir)
    model.to(torch.bfloat16).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_classifier_dir).save_pretrained(tmp_path)
    prepacked = PromptClassifier(tmp_path, cache_size=0)
    plain = PromptClassifier(tmp_path, cache_size=0, prepack=False)
    linears = [m for m in prepacked.model.modules() if isinstance(m, (torch.nn.Linear, PackedLinear))]
    assert prepacked.weights_prepacked and linears
    assert all(isinstance(m, PackedLinear) for m in linears)
    assert not plain.weights_prepacked and not any(isinstance(m, PackedLinear) for m in plain.model.modules())
    texts = [*TEXTS, "Who is the author born in Taipei?"]
    assert prepacked(texts) == pytest.approx(plain(texts), abs=1e-3)
    # float32 stays as it is (MKL's own linears are faster there)
    assert not PromptClassifier(tiny_classifier_dir, cache_size=0).weights_prepacked
