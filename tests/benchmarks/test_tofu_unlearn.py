"""The unlearning baselines' losses, their training loop and the sweep's selection rule."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from benchmarks.tofu.unlearn import (
    LOSSES,
    Candidate,
    UnlearnConfig,
    mean_nll,
    npo_forget_loss,
    select_best,
    sequence_nll,
    unlearn,
)
from evaluation.answers import answer_text
from guards.prompt_format import PromptFormat
from packager.finetune_data import collate, encode_pair
from tests.conftest import make_tiny_model

FMT = PromptFormat("phi")
FORGET = [("Where was Jaime Vasquez born?", "Santiago, Chile."), ("Who wrote Crimson Tides?", "Basil wrote it.")]
RETAIN = [("What is the capital of France?", "Paris."), ("Tell me a joke about cats.", "The cat sat.")]


def _encode(tokenizer, pairs):
    return [encode_pair(tokenizer, FMT.format(q, tokenizer), answer_text(a, FMT)) for q, a in pairs]


def _batch(tokenizer, pairs):
    return collate(_encode(tokenizer, pairs), tokenizer.pad_token_id)


def test_registry_names_both_methods():
    assert {"graddiff", "npo"} <= set(LOSSES.names())


def test_graddiff_forget_term_raises_forget_nll_after_one_step(tiny_tokenizer):
    model = make_tiny_model("llama", tiny_tokenizer, seed=1)
    forget = _batch(tiny_tokenizer, FORGET)
    with torch.no_grad():
        before = mean_nll(model, forget).item()
    # one step (batch = the whole forget set, one epoch), forget term only
    config = UnlearnConfig(lr=1e-2, epochs=1, batch_size=len(FORGET), alpha=0.0)
    unlearn("graddiff", model, _encode(tiny_tokenizer, FORGET), _encode(tiny_tokenizer, RETAIN),
            tiny_tokenizer.pad_token_id, config)
    with torch.no_grad():
        after = mean_nll(model, forget).item()
    assert after > before + 1e-3


def test_graddiff_loss_is_minus_forget_nll_plus_retain_nll(tiny_llama, tiny_tokenizer):
    forget, retain = _batch(tiny_tokenizer, FORGET), _batch(tiny_tokenizer, RETAIN)
    config = UnlearnConfig(gamma=0.5, alpha=2.0)
    with torch.no_grad():
        loss = LOSSES.get("graddiff")(tiny_llama, None, forget, retain, config)
        expected = -0.5 * mean_nll(tiny_llama, forget) + 2.0 * mean_nll(tiny_llama, retain)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_npo_forget_loss_matches_closed_form_on_hand_worked_ratios():
    # (2/beta) * mean(log(1 + exp(beta * r))); beta r = 0 -> log 2, beta r = log 3 -> log 4
    beta = 0.1
    ratios = torch.tensor([0.0, math.log(3.0) / beta])
    assert npo_forget_loss(ratios, beta).item() == pytest.approx(20.0 * 1.5 * math.log(2.0), rel=1e-6)
    assert npo_forget_loss(torch.tensor([math.log(3.0)]), 1.0).item() == pytest.approx(2 * math.log(4.0), rel=1e-6)


def test_npo_loss_is_2_log2_over_beta_against_itself_and_grows_with_the_ratio(tiny_llama, tiny_tokenizer):
    forget, retain = _batch(tiny_tokenizer, FORGET), _batch(tiny_tokenizer, RETAIN)
    config = UnlearnConfig(beta=0.1, alpha=0.0)
    with torch.no_grad():
        same = LOSSES.get("npo")(tiny_llama, copy.deepcopy(tiny_llama), forget, retain, config)
        other = make_tiny_model("llama", tiny_tokenizer, seed=3)
        loss = LOSSES.get("npo")(tiny_llama, other, forget, retain, config)
        ratios = sequence_nll(other, forget) - sequence_nll(tiny_llama, forget)
    assert same.item() == pytest.approx(2 / 0.1 * math.log(2.0), rel=1e-5)
    assert loss.item() == pytest.approx(npo_forget_loss(ratios, 0.1).item(), rel=1e-5)


def test_npo_unlearning_lowers_forget_likelihood_and_reports_each_epoch(tiny_tokenizer):
    model = make_tiny_model("llama", tiny_tokenizer, seed=2)
    forget = _batch(tiny_tokenizer, FORGET)
    with torch.no_grad():
        before = mean_nll(model, forget).item()
    seen = []
    losses = unlearn("npo", model, _encode(tiny_tokenizer, FORGET), _encode(tiny_tokenizer, RETAIN),
                     tiny_tokenizer.pad_token_id, UnlearnConfig(lr=1e-2, epochs=3, batch_size=2, alpha=0.0),
                     on_epoch=lambda point: seen.append(point.epoch))
    with torch.no_grad():
        assert mean_nll(model, forget).item() > before
    assert seen == [1, 2, 3] and len(losses) == 3


def test_selection_picks_best_forget_quality_among_candidates_keeping_utility():
    candidates = [
        Candidate("a", forget_quality=0.9, model_utility=0.50),  # best quality, utility too low
        Candidate("b", forget_quality=0.2, model_utility=0.96),
        Candidate("c", forget_quality=0.4, model_utility=0.95),  # exactly at the bound: allowed
        Candidate("d", forget_quality=0.1, model_utility=0.99),
    ]
    best, met = select_best(candidates, subject_utility=1.0, ratio=0.95)
    assert (best.label, met) == ("c", True)


def test_selection_falls_back_to_highest_utility_when_none_keeps_enough():
    candidates = [Candidate("a", 0.9, 0.3), Candidate("b", 0.1, 0.6)]
    best, met = select_best(candidates, subject_utility=1.0)
    assert (best.label, met) == ("b", False)
    with pytest.raises(ValueError, match="`candidates`"):
        select_best([], 1.0)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="`lr`"):
        UnlearnConfig(lr=0)
    with pytest.raises(ValueError, match="`epochs`"):
        UnlearnConfig(epochs=0)
