"""Sigma search: optimisers on synthetic noisy objectives, caching, and a tiny end-to-end tune."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.metrics.multiple_choice import MCItem
from guards.config import CorruptionConfig
from guards.guarded_model import GuardedModel
from packager.sigma import (
    OPTIMISERS,
    BracketConfig,
    SigmaConfig,
    ZerothOrderConfig,
    run_search,
    tune_sigma,
    tune_sigma_multiple_choice,
)
from packager.sources import QA, ForgetSet


class Synthetic:
    """Basin at sigma = 3, worse at 1 and at 10 (like the TOFU probe), plus seeded noise."""

    def __init__(self, noise: float = 0.02, seed: int = 0):
        self.rng, self.noise, self.model_calls = np.random.default_rng(seed), noise, 0

    def __call__(self, sigma: float) -> float:
        self.model_calls += 1
        x = math.log(sigma / 3.0)
        return 1 - math.exp(-x * x / 0.5) + 0.1 * math.sin(5 * x) ** 2 + self.noise * self.rng.standard_normal()


def test_golden_finds_the_basin_of_a_noisy_non_monotonic_objective():
    config = SigmaConfig(optimiser="golden", progress=False, bracket=BracketConfig(0.1, 100.0, grid=6, iterations=5))
    result = run_search(Synthetic(), config)
    assert abs(math.log(result.sigma / 3.0)) < 0.5
    assert result.evaluations == 6 + 5  # one new evaluation per golden step
    assert [p.evaluations for p in result.trace] == list(range(1, result.evaluations + 1))
    assert result.objective == min(p.objective for p in result.trace)


def test_zeroth_order_respects_floor_budget_and_early_stopping():
    seen: list[float] = []

    def downhill(sigma: float) -> float:
        seen.append(sigma)
        return sigma

    zo = ZerothOrderConfig(init=1.0, lr=100.0, eps=0.1, floor=0.05, max_steps=50, patience=3)
    OPTIMISERS.get("zeroth_order")(downhill, SigmaConfig(zeroth_order=zo))
    assert min(seen) >= 0.05
    seen.clear()
    OPTIMISERS.get("zeroth_order")(lambda s: seen.append(s) or 0.5, SigmaConfig(zeroth_order=zo))
    assert len(seen) == 2 * (zo.patience + 1)  # flat objective: stop after `patience` stalled steps
    seen.clear()
    budget = ZerothOrderConfig(init=5.0, lr=0.1, eps=0.1, max_steps=3, patience=10)
    OPTIMISERS.get("zeroth_order")(lambda s: seen.append(s) or s, SigmaConfig(zeroth_order=budget))
    assert len(seen) == 2 * 3


def test_unknown_optimiser_lists_known_names():
    with pytest.raises(ValueError, match="golden"):
        run_search(Synthetic(), SigmaConfig(optimiser="nope", progress=False))


def _qa(i: int) -> QA:
    return QA(f"Where was author {i} born?", f"In city {i}.", paraphrased_answer=f"City {i}.",
              perturbed_answers=(f"In town {i + 1}.", f"In village {i + 2}."))


def _forget_set() -> ForgetSet:
    forget = tuple(_qa(i) for i in range(4))
    holdout = tuple(QA(f"What did author {i} write?", f"Book {i}.") for i in range(10, 14))
    return ForgetSet("test", forget=forget, retain=(_qa(20),), forget_eval=forget, holdout=holdout)


class Spy:
    """Counts rows GuardedModel.score is asked to score, split by flag."""

    def __init__(self, guarded: GuardedModel):
        self.clean = self.hot = 0
        self._score = guarded.score
        guarded.score = self

    def __call__(self, prompts, continuations, *, flags, **kwargs):
        self.clean += sum(not f for f in flags)
        self.hot += sum(bool(f) for f in flags)
        return self._score(prompts, continuations, flags=flags, **kwargs)


def test_unflagged_rows_are_scored_once(tiny_llama, tiny_tokenizer):
    flag_first_two = lambda texts: [1.0 if ("author 0" in t or "author 1" in t) else 0.0 for t in texts]  # noqa: E731
    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=flag_first_two)
    spy = Spy(guarded)
    config = SigmaConfig(optimiser="golden", progress=False, seeds=2, bracket=BracketConfig(grid=3, iterations=1))
    result = tune_sigma(guarded, _forget_set(), config)
    # surrogate: 4 holdout rows + 2 unflagged forget rows, once; 2 flagged rows per evaluation and seed
    assert spy.clean == 4 + 2
    assert spy.hot == 2 * result.evaluations * 2
    assert result.model_evaluations == result.evaluations * 2


def test_end_to_end_tune_on_tiny_llama_with_retain_model(tiny_llama, tiny_tokenizer):
    from tests.conftest import make_tiny_model

    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=None, corruption=CorruptionConfig(strength=7.0))
    retain = GuardedModel(make_tiny_model("llama", tiny_tokenizer, seed=1), tiny_tokenizer, classifier=None)
    config = SigmaConfig(optimiser="golden", flags="all", progress=False, bracket=BracketConfig(grid=3, iterations=2))
    result = tune_sigma(guarded, _forget_set(), config, retain=retain)
    assert 0.0 <= result.objective <= 1.0 and result.evaluations == 3 + 2
    assert guarded.corruption.strength == 7.0  # restored
    data = result.to_dict()
    assert {"sigma", "final_objective", "model_evaluations", "seconds", "trace"} <= set(data)
    zo = SigmaConfig(optimiser="zeroth_order", flags="all", progress=False,
                     zeroth_order=ZerothOrderConfig(max_steps=2))
    assert tune_sigma(guarded, _forget_set(), zo, retain=retain).evaluations <= 4


def test_multiple_choice_objective_targets_chance(tiny_llama, tiny_tokenizer):
    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=None)
    items = [MCItem(f"Which is item {i}?", ("red", "blue", "green", "black"), i % 4) for i in range(4)]
    config = SigmaConfig(flags="all", progress=False, bracket=BracketConfig(grid=3, iterations=0))
    result = tune_sigma_multiple_choice(guarded, items, config)
    # accuracy is a multiple of 1/4 and chance is 1/4, so |acc - chance| is on that lattice
    assert all(p.objective * 4 == pytest.approx(round(p.objective * 4)) for p in result.trace)
