"""Sigma search: optimisers on synthetic noisy objectives, caching, and a tiny end-to-end tune."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from evaluation.answers import answer_continuation
from evaluation.forget_set import QA, ForgetSet
from guards.config import CorruptionConfig
from guards.errors import GuardConfigError
from guards.guarded_model import GuardedModel
from packager.sigma import (
    OPTIMISERS,
    BracketConfig,
    GridConfig,
    Measure,
    SigmaConfig,
    ZerothOrderConfig,
    run_search,
    tune_sigma,
)
from packager.sigma.objective import SIGNED_DISTANCES, ks_reject_distance


class Synthetic:
    """Signed distance with its root at ``root``: too little noise below, too much above, with a
    ripple that makes |f| non-monotonic on both sides (like the TOFU probe) and seeded noise."""

    def __init__(self, root: float = 3.0, noise: float = 0.02, ripple: float = 0.3, seed: int = 0):
        self.root, self.noise, self.ripple = root, noise, ripple
        self.rng, self.model_calls = np.random.default_rng(seed), 0

    def __call__(self, sigma: float) -> Measure:
        self.model_calls += 1
        x = math.log(sigma / self.root)
        signed = -math.tanh(2 * x) * (1 + self.ripple * math.sin(5 * x) ** 2) + self.noise * self.rng.standard_normal()
        return Measure(abs(signed), signed)


def test_bracket_finds_the_sign_change_of_a_noisy_objective():
    config = SigmaConfig(optimiser="bracket", progress=False, bracket=BracketConfig(0.1, 100.0, iterations=5))
    result = run_search(Synthetic(), config)
    assert abs(math.log(result.sigma / 3.0)) < 0.2
    assert result.evaluations <= 2 + 5  # the two ends, then one evaluation per step
    assert [p.evaluations for p in result.trace] == list(range(1, result.evaluations + 1))
    assert result.objective == min(p.objective for p in result.trace)
    assert all(p.objective == abs(p.signed) for p in result.trace)


@pytest.mark.parametrize("root", [2000.0, 0.004])
def test_bracket_slides_towards_a_root_outside_the_first_bracket(root):
    config = SigmaConfig(
        optimiser="bracket",
        progress=False,
        bracket=BracketConfig(0.1, 100.0, expand=10.0, max_expansions=3, iterations=6),
    )
    result = run_search(Synthetic(root=root, noise=0.0, ripple=0.0), config)
    assert abs(math.log(result.sigma / root)) < 0.2
    moved = [p.sigma for p in result.trace[2:4]]
    assert moved == pytest.approx([1000.0, 10000.0] if root > 100 else [0.01, 0.001])


def test_bracket_without_a_sign_change_returns_the_best_end():
    config = SigmaConfig(optimiser="bracket", progress=False, bracket=BracketConfig(1.0, 10.0, max_expansions=2))
    objective = Synthetic(root=1e5, noise=0.0, ripple=0.0)  # never crosses zero within reach
    result = run_search(objective, config)
    assert result.evaluations == 2 + 2 and result.sigma == pytest.approx(1000.0)


class FlatPastRoot:
    """Like the truth-ratio surrogate on TOFU: the signed distance rises from -0.5 to its root at
    sigma 5, then creeps to only +0.2, with KS-sized noise, so one draw's sign decides little."""

    def __init__(self, noise: float = 0.1, seed: int = 0):
        self.noise, self.rng, self.model_calls = noise, np.random.default_rng(seed), 0

    def __call__(self, sigma: float) -> Measure:
        self.model_calls += 1
        x = math.log(sigma / 5.0)
        signed = (0.2 * math.tanh(x) if x > 0 else 0.5 * math.tanh(x / 2)) + self.noise * self.rng.standard_normal()
        return Measure(abs(signed), signed)


def test_monotone_fits_either_direction_and_chooses_its_fitted_crossing():
    config = SigmaConfig(optimiser="monotone", progress=False)
    falling = run_search(Synthetic(root=3.0, noise=0.05), config)  # signed distance falls as sigma grows
    rising = run_search(FlatPastRoot(noise=0.02), config)
    assert abs(math.log(falling.sigma / 3.0)) < 0.25 and abs(math.log(rising.sigma / 5.0)) < 0.25
    for result in (falling, rising):
        grid = [p.sigma for p in result.trace[:7]]
        assert grid == pytest.approx(list(np.geomspace(0.1, 100.0, 7)))
        assert result.evaluations <= 7 + 2 + 1  # the grid, the refinements, the choice itself
        assert result.sigma == result.trace[-1].sigma  # pinned to the estimate, not the smallest single draw


def test_monotone_moves_less_than_bracket_across_search_seeds_on_a_flat_noisy_objective():
    def spread(optimiser: str) -> float:
        sigmas = [run_search(FlatPastRoot(seed=s), SigmaConfig(optimiser=optimiser, progress=False)).sigma
                  for s in range(20)]  # fmt: skip
        return max(sigmas) / min(sigmas)

    assert spread("monotone") < 4 < 20 < spread("bracket")


class WiderAtEverySigma:
    """Like the truth-ratio surrogate on the demo: noise spreads the guarded values wider than the
    reference at every sigma, so the signed KS statistic turns from the lower tail's gap (-0.9) to the
    upper tail's (+0.3) near sigma 3 while the distance stays 0.3; it is smallest (0.1) near sigma 40."""

    def __init__(self, reject_distance: float):
        self.reject_distance, self.model_calls = reject_distance, 0

    def __call__(self, sigma: float) -> Measure:
        self.model_calls += 1
        signed = -0.9 + 1.2 / (1 + (3.0 / sigma) ** 4)
        distance = max(-signed, 0.3 - 0.2 * math.exp(-math.log(sigma / 40.0) ** 2))  # lower tail, upper tail
        return Measure(distance, signed)


def test_monotone_keeps_a_crossing_only_where_the_distance_is_small_too():
    config = SigmaConfig(optimiser="monotone", progress=False)
    no_match = run_search(WiderAtEverySigma(reject_distance=0.2), config)  # a KS test rejects at the crossing
    assert no_match.sigma == pytest.approx(np.geomspace(0.1, 100.0, 7)[5])  # the grid's nearest to 40
    assert no_match.objective == min(p.objective for p in no_match.trace)
    lenient = run_search(WiderAtEverySigma(reject_distance=0.5), config)
    assert abs(math.log(lenient.sigma / 3.95)) < 0.25  # where the signed distance crosses zero


def test_ks_reject_distance_is_where_the_two_sample_test_reaches_five_percent():
    n = 400
    k = round(ks_reject_distance(n, n) * n)  # samples shifted by k of n ranks differ by a KS statistic of k / n
    p_values = [stats.ks_2samp(np.arange(n), np.arange(n) + shift).pvalue for shift in (k - 2, k + 2)]
    assert p_values[0] > 0.05 > p_values[1]
    assert ks_reject_distance(40, 40) > ks_reject_distance(400, 400)  # fewer questions, wider band


@pytest.mark.parametrize("root", [2000.0, 0.004])
def test_monotone_extends_its_grid_towards_a_root_outside_it(root):
    config = SigmaConfig(optimiser="monotone", progress=False, monotone=GridConfig(0.1, 100.0, points=4))
    result = run_search(Synthetic(root=root, noise=0.0, ripple=0.0), config)
    assert abs(math.log(result.sigma / root)) < 0.25
    assert (max if root > 100 else min)(p.sigma for p in result.trace[4:6]) == pytest.approx(
        1000.0 if root > 100 else 0.01
    )


def test_monotone_without_a_crossing_in_reach_chooses_the_end_nearest_zero():
    config = SigmaConfig(optimiser="monotone", progress=False,
                         monotone=GridConfig(1.0, 10.0, points=3, max_expansions=1))  # fmt: skip
    result = run_search(Synthetic(root=1e5, noise=0.0, ripple=0.0), config)
    assert result.evaluations == 3 + 2 and result.sigma == pytest.approx(100.0)


def test_monotone_leaves_out_evaluations_that_carry_no_sign():
    def gaps(sigma: float) -> Measure:  # the objective fails below sigma 1, crosses zero at 20
        signed = math.nan if sigma < 1 else math.log(sigma / 20.0)
        return Measure(abs(signed), signed)

    def fails(sigma: float) -> Measure:
        return Measure(math.nan, math.nan)

    gaps.model_calls = fails.model_calls = 0  # what run_search reads of an objective
    assert abs(math.log(run_search(gaps, SigmaConfig(optimiser="monotone", progress=False)).sigma / 20.0)) < 0.05
    with pytest.raises(GuardConfigError, match="no finite value"):
        run_search(fails, SigmaConfig(optimiser="monotone", progress=False))


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
    with pytest.raises(ValueError, match="bracket"):
        run_search(Synthetic(), SigmaConfig(optimiser="nope", progress=False))


def _qa(i: int) -> QA:
    return QA(
        f"Where was author {i} born?",
        f"In city {i}.",
        paraphrased_answer=f"City {i}.",
        perturbed_answers=(f"In town {i + 1}.", f"In village {i + 2}."),
    )


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
    config = SigmaConfig(optimiser="bracket", progress=False, seeds=2, surrogate="answer_probability",
                         bracket=BracketConfig(iterations=1))  # fmt: skip
    result = tune_sigma(guarded, _forget_set(), config)
    # answer probability: 4 holdout rows + 2 unflagged forget rows, once; 2 flagged rows per evaluation and seed
    assert spy.clean == 4 + 2
    assert spy.hot == 2 * result.evaluations * 2
    assert result.model_evaluations == result.evaluations * 2


def test_end_to_end_tune_on_tiny_llama_with_retain_model(tiny_llama, tiny_tokenizer):
    from tests.conftest import make_tiny_model

    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=None, corruption=CorruptionConfig(strength=7.0))
    retain = GuardedModel(make_tiny_model("llama", tiny_tokenizer, seed=1), tiny_tokenizer, classifier=None)
    config = SigmaConfig(optimiser="bracket", flags="all", progress=False, bracket=BracketConfig(iterations=2))
    result = tune_sigma(guarded, _forget_set(), config, retain=retain)
    assert 0.0 <= result.objective <= 1.0 and 2 <= result.evaluations <= 2 + 3 + 2
    assert guarded.corruption.strength == 7.0  # restored
    data = result.to_dict()
    assert {"sigma", "final_objective", "model_evaluations", "seconds", "trace"} <= set(data)
    zo = SigmaConfig(optimiser="zeroth_order", flags="all", progress=False, zeroth_order=ZerothOrderConfig(max_steps=2))
    assert tune_sigma(guarded, _forget_set(), zo, retain=retain).evaluations <= 4


def test_multiple_choice_objective_targets_chance(tiny_llama, tiny_tokenizer):
    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=None)
    colours = ("red", "blue", "green", "black")
    items = tuple(QA(f"Which is item {i}?", colours[i % 4], choices=colours, topic="items") for i in range(4))
    config = SigmaConfig(flags="all", progress=False, bracket=BracketConfig(iterations=0))
    result = tune_sigma(guarded, ForgetSet("mc-test", items, (), kind="mc"), config)
    # accuracy is a multiple of 1/4 and chance is 1/4, so acc - chance is on that lattice
    assert all(p.signed * 4 == pytest.approx(round(p.signed * 4)) for p in result.trace)
    assert all(p.objective == abs(p.signed) for p in result.trace)


def test_truth_ratio_surrogate_scores_holdout_once_and_only_flagged_forget_rows_per_seed(tiny_llama, tiny_tokenizer):
    """The subject's own R on holdout (generic wrong answers, scored once) against the guarded R on
    forget: unflagged rows once, each flagged question's answer and wrong answers per seed."""
    from evaluation.perturb import perturbed_answers

    flag_first_two = lambda texts: [1.0 if ("author 0" in t or "author 1" in t) else 0.0 for t in texts]  # noqa: E731
    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=flag_first_two)
    spy = Spy(guarded)
    fs = _forget_set()
    config = SigmaConfig(optimiser="bracket", progress=False, seeds=2, surrogate="truth_ratio",
                         bracket=BracketConfig(iterations=1))  # fmt: skip
    result = tune_sigma(guarded, fs, config)
    per = lambda items: [1 + len(w) for w in perturbed_answers([q.answer for q in items], [q.question for q in items])]  # noqa: E731
    holdout_rows, forget_rows = per(fs.holdout), per(fs.forget_eval)
    assert spy.clean == sum(holdout_rows) + sum(forget_rows[2:])
    assert spy.hot == sum(forget_rows[:2]) * result.evaluations * 2
    assert 0.0 <= result.objective <= 1.0
    with pytest.raises(ValueError, match="`surrogate` must be one of answer_probability, truth_ratio, truth_ratio_ho"):
        SigmaConfig(surrogate="retain")


def test_generic_wrong_answers_keep_the_shape_and_what_the_question_asks():
    from evaluation.perturb import perturbed_answers

    answers = ["Ana Lind was born in Oslo in 1960.", "Ben Ode wrote 'Blue Rain' in 1999 in Lagos.",
               "Cy Ro was born in Lima in 1971.", "Yes."]  # fmt: skip
    questions = ["Where was Ana Lind born?", "What did Ben Ode write?", "Where was Cy Ro born?", "Is it so?"]
    made = perturbed_answers(answers, questions, k=3, seed=0)
    assert [len(m) for m in made] == [3, 3, 3, 3]
    for answer, wrongs in zip(answers[:3], made[:3], strict=True):
        for wrong in wrongs:
            assert wrong != answer and wrong.split()[:2] == answer.split()[:2]  # the person asked about stays
    assert all(w in answers for w in made[3])  # no fact to swap: other answers, nearest in length
    assert made == perturbed_answers(answers, questions, k=3, seed=0)  # drawn from the seed


def test_generic_wrong_answers_take_a_template_siblings_value_of_the_same_kind():
    """Answers written from one template differ in the value only: a wrong answer keeps the
    answer's own words and person and takes another answer's value of the same kind (a place for a
    place, a number for a number, a word for a word), never another person's name."""
    from evaluation.perturb import perturbed_answers

    answers = ["Ana Lind was born in Oslo, Norway.", "Cy Ro was born in Lima, Peru.", "Bo Dee was born in 1961.",
               "Ed Fay was born in 1970.", "Ana Lind's father was a baker.", "Cy Ro's father was a tailor.",
               "Bo Dee's father was a ship's cook."]  # fmt: skip
    questions = ["Where was Ana Lind born?", "Where was Cy Ro born?", "When was Bo Dee born?",
                 "When was Ed Fay born?", "What did Ana Lind's father do?", "What did Cy Ro's father do?",
                 "What did Bo Dee's father do?"]  # fmt: skip
    made = perturbed_answers(answers, questions, k=2, seed=0)
    assert made[0][0] == "Ana Lind was born in Lima, Peru."
    assert made[2][0] == "Bo Dee was born in 1970."
    assert set(made[4]) == {"Ana Lind's father was a tailor.", "Ana Lind's father was a ship's cook."}
    names = ("Cy", "Ro", "Bo", "Dee", "Ed", "Fay")
    assert not any(name in wrong.split() for wrongs in made[:1] + made[4:5] for wrong in wrongs for name in names)


def test_generic_wrong_answers_can_take_their_facts_from_another_set():
    """With ``source``, a wrong answer keeps its own words and person and takes a value from the other
    set only: never a fact of its own set's other answers (facts the subject may have memorised)."""
    from evaluation.perturb import perturbed_answers

    answers = ["Ana Lind was born in Oslo in 1960.", "Cy Ro was born in Lima in 1971."]
    questions = ["Where was Ana Lind born?", "Where was Cy Ro born?"]
    source = (["Ed Fay was born in Quito in 1933.", "Bo Dee was born in Hanoi in 1948.", "Yes, he did."],
              ["Where was Ed Fay born?", "Where was Bo Dee born?", "Did he?"])  # fmt: skip
    made = perturbed_answers(answers, questions, k=2, seed=0, source=source)
    own_facts = {"Oslo", "Lima", "1960.", "1971."}
    for answer, wrongs in zip(answers, made, strict=True):
        assert len(wrongs) == 2
        for wrong in wrongs:
            assert wrong != answer and wrong.split()[:2] == answer.split()[:2]
            new = set(wrong.split()) - set(answer.split())
            assert new and not new & own_facts and new <= {"Quito", "Hanoi", "1933.", "1948."}
    assert perturbed_answers(answers, questions, k=2, seed=0) != made  # without a source: each other's facts


def test_generic_wrong_answers_take_nothing_from_answers_about_the_same_entity():
    """Given entities, a wrong answer's facts, template values and fallback answers all come from answers
    about other entities: another of Ana's facts may be true of her question too. With fewer other
    entities than wrong answers to make, all answers are drawn from, as with no entities."""
    from evaluation.perturb import perturbed_answers

    answers = ["She was born in Oslo in 1960.", "Her father, Lars Lind, was a baker in Bergen.",
               "He was born in Lima in 1971.", "His father, Tito Ro, was a tailor in Cusco.",
               "It happened in Hanoi in 1948.", "Yes, she did.", "No, he did not."]  # fmt: skip
    questions = ["Where was Ana born?", "Who was Ana's father?", "Where was Cy born?", "Who was Cy's father?",
                 "Where did Bo's story happen?", "Did Ana write?", "Did Cy write?"]  # fmt: skip
    entities = ["Ana", "Ana", "Cy", "Cy", "Bo", "Ana", "Cy"]
    facts = {"Ana": {"Oslo", "1960", "Lars", "Lind", "Bergen", "Yes"},
             "Cy": {"Lima", "1971", "Tito", "Ro", "Cusco", "No"}}

    def words(text: str) -> set[str]:
        return {w.strip(".,") for w in text.split()}

    def borrowed(made):  # words a wrong answer took from another answer about its own entity
        return [(wrong, words(wrong) - words(answer) & facts.get(entity, set()))
                for answer, wrongs, entity in zip(answers, made, entities, strict=True) for wrong in wrongs
                if words(wrong) - words(answer) & facts.get(entity, set())]  # fmt: skip

    for seed in range(5):
        made = perturbed_answers(answers, questions, k=2, seed=seed, entities=entities)
        assert all(wrongs and answer not in wrongs for answer, wrongs in zip(answers, made, strict=True))
        assert borrowed(made) == []
    assert any(borrowed(perturbed_answers(answers, questions, k=2, seed=seed)) for seed in range(5))  # without
    plain = perturbed_answers(answers, questions, k=2, seed=0)
    assert perturbed_answers(answers, questions, k=2, seed=0, entities=[None] * len(answers)) == plain
    # three wrong answers each, with two other entities named: they would come from those two alone
    assert perturbed_answers(answers, questions, k=3, seed=0, entities=entities) == perturbed_answers(
        answers, questions, k=3, seed=0)
    assert borrowed(perturbed_answers(answers, questions, k=3, seed=0))  # so this is no empty check
    with pytest.raises(ValueError, match="one entity per answer"):
        perturbed_answers(answers, questions, entities=entities[:2])
    with pytest.raises(ValueError, match="the set's own answers"):
        perturbed_answers(answers, questions, entities=entities, source=(answers, questions))


def test_the_holdout_facts_surrogate_makes_forget_wrong_answers_from_holdout_answers(tiny_llama, tiny_tokenizer):
    """Its reference is the truth-ratio surrogate's; only the forget side's wrong answers change."""
    from evaluation.perturb import perturbed_answers
    from packager.sigma.objective import holdout_facts_surrogate_objective, truth_ratio_surrogate_objective

    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=None)
    fs = _forget_set()
    config = SigmaConfig(progress=False, flags="all", surrogate="truth_ratio_holdout_facts")
    mine = holdout_facts_surrogate_objective(guarded, fs.forget_eval, fs.holdout, config)
    plain = truth_ratio_surrogate_objective(guarded, fs.forget_eval, fs.holdout, config)
    assert np.array_equal(mine.reference, plain.reference)
    made = perturbed_answers([q.answer for q in fs.forget_eval], [q.question for q in fs.forget_eval],
                             source=([q.answer for q in fs.holdout], [q.question for q in fs.holdout]))
    wrong_rows = [c for c, wrong in zip(mine.rows.continuations, _wrong_rows(made), strict=True) if wrong]
    assert wrong_rows and all(any(w in c for ws in made for w in ws) for c in wrong_rows)
    assert set(mine.rows.continuations) != set(plain.rows.continuations)
    assert 0.0 <= mine(1.0).distance <= 1.0


def test_the_mixed_facts_surrogate_lies_between_the_two_constructions(tiny_llama, tiny_tokenizer):
    """Each forget question gets both sets of wrong answers; where the two give as many, its R is the
    geometric mean of theirs, at any sigma and noise seed, and its reference is the plain surrogate's."""
    from packager.sigma.objective import (
        holdout_facts_surrogate_objective,
        mixed_facts_surrogate_objective,
        truth_ratio_surrogate_objective,
    )

    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=None)
    fs = _forget_set()
    config = SigmaConfig(progress=False, flags="all", surrogate="truth_ratio_mixed_facts")
    own = truth_ratio_surrogate_objective(guarded, fs.forget_eval, fs.holdout, config)
    theirs = holdout_facts_surrogate_objective(guarded, fs.forget_eval, fs.holdout, config)
    mixed = mixed_facts_surrogate_objective(guarded, fs.forget_eval, fs.holdout, config)
    assert np.array_equal(mixed.reference, own.reference)
    assert set(mixed.rows.continuations) == set(own.rows.continuations) | set(theirs.rows.continuations)
    for sigma, seed in ((0.0, 0), (3.0, 1)):
        r_own, r_theirs, r_mixed = (o.values(o.rows.at(sigma, seed)) for o in (own, theirs, mixed))
        assert np.allclose(r_mixed, np.sqrt(r_own * r_theirs), rtol=1e-4)
        assert np.all(np.minimum(r_own, r_theirs) <= r_mixed * (1 + 1e-4))
    assert 0.0 <= mixed(1.0).distance <= 1.0


def test_the_other_entities_surrogate_draws_each_sides_wrong_answers_from_other_entities(tiny_llama, tiny_tokenizer):
    """With entities known, both the reference's and the forget side's wrong answers come from answers
    about other entities; with none known it is the plain truth-ratio surrogate, row for row."""
    from evaluation.perturb import perturbed_answers
    from packager.sigma.objective import (
        generic_truth_ratios,
        other_entities_surrogate_objective,
        truth_ratio_surrogate_objective,
    )

    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=None)
    config = SigmaConfig(progress=False, flags="all", surrogate="truth_ratio_other_entities")
    towns = {"Ana": ("Oslo", "Bergen"), "Cy": ("Lima", "Cusco"), "Di": ("Rome", "Pisa"), "Fa": ("Kyiv", "Lviv"),
             "Bo": ("Hanoi", "Hue"), "Ed": ("Quito", "Loja"), "Gu": ("Accra", "Tema"), "Ha": ("Fez", "Rabat")}

    def lives(people: tuple[str, ...], years: tuple[int, int]) -> tuple[QA, ...]:  # four people: three others each
        return tuple(QA(f"Where did {p} live in {year}?", f"{p} lived in {town} in {year}.", entity=p)
                     for p in people for year, town in zip(years, towns[p], strict=True))  # fmt: skip

    forget, holdout = lives(("Ana", "Cy", "Di", "Fa"), (1960, 1970)), lives(("Bo", "Ed", "Gu", "Ha"), (1950, 1980))
    mine = other_entities_surrogate_objective(guarded, forget, holdout, config)
    made = perturbed_answers([q.answer for q in forget], [q.question for q in forget], seed=config.seed,
                             entities=[q.entity for q in forget])
    wrong_rows = [c for c, wrong in zip(mine.rows.continuations, _wrong_rows(made), strict=True) if wrong]
    assert wrong_rows == [answer_continuation(guarded.prompt_format, w, tiny_tokenizer.eos_token)
                          for ws in made for w in ws]  # fmt: skip
    for qa, wrongs in zip(forget, made, strict=True):
        (other_town,) = {t for t in towns[qa.entity] if t not in qa.answer}  # the same person's other town
        assert wrongs and not any(other_town in w for w in wrongs)
    plain = truth_ratio_surrogate_objective(guarded, forget, holdout, config)
    assert not np.array_equal(mine.reference, plain.reference)  # the reference is made the same way
    assert config.other_entities and not SigmaConfig(surrogate="truth_ratio").other_entities
    assert np.array_equal(mine.reference, generic_truth_ratios(  # as the TOFU benchmark's premise stage makes it
        guarded, holdout, config, other_entities=config.other_entities))
    anonymous = tuple(dataclasses.replace(q, entity=None) for q in forget)
    hold_anonymous = tuple(dataclasses.replace(q, entity=None) for q in holdout)
    same = other_entities_surrogate_objective(guarded, anonymous, hold_anonymous, config)
    assert same.rows.continuations == truth_ratio_surrogate_objective(guarded, anonymous, hold_anonymous,
                                                                      config).rows.continuations
    assert 0.0 <= mine(1.0).distance <= 1.0


def _wrong_rows(made):
    """Per row of truth_ratio_rows: whether it is a wrong answer (each item: its answer, then its wrong ones)."""
    return [flag for ws in made for flag in [False] + [True] * len(ws)]


def test_a_text_corpus_regenerates_only_flagged_forget_passages_per_evaluation(tiny_llama, tiny_tokenizer):
    """VerbMem: holdout passages and unflagged forget passages are continued once, the flagged ones
    per evaluation and noise seed."""
    forget = tuple(QA(f"Passage {i} of the lantern book begins here.", "And then it ended quietly.") for i in range(3))
    holdout = tuple(QA(f"Passage {i} of another book begins here.", "And nobody noticed it.") for i in range(2))
    fs = ForgetSet("text-test", forget, (), holdout=holdout, kind="text")
    lantern_01 = lambda texts: [1.0 if ("0 of the lantern" in t or "1 of the lantern" in t) else 0.0 for t in texts]  # noqa: E731
    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=lantern_01)
    counts = {"clean": 0, "hot": 0}
    generate = guarded.generate

    def spy(prompts, *, flags, **kwargs):
        counts["clean"] += sum(not f for f in flags)
        counts["hot"] += sum(bool(f) for f in flags)
        return generate(prompts, flags=flags, **kwargs)

    guarded.generate = spy
    config = SigmaConfig(optimiser="bracket", progress=False, seeds=2, bracket=BracketConfig(iterations=1))
    result = tune_sigma(guarded, fs, config)
    assert counts["clean"] == 2 + 1  # holdout, and the unflagged forget passage, once
    assert counts["hot"] == 2 * result.evaluations * 2
    assert result.model_evaluations == result.evaluations * 2
    assert all(0.0 <= p.objective <= 1.0 for p in result.trace)  # a KS distance


def test_valley_chooses_the_smallest_distance_where_the_signed_crossing_misleads():
    config = SigmaConfig(optimiser="valley", progress=False)
    for reject_distance in (0.2, 0.5):  # the KS bound plays no part: the distance itself is minimised
        result = run_search(WiderAtEverySigma(reject_distance), config)
        assert abs(math.log(result.sigma / 40.0)) < 0.3  # the crossing, near 3.95, is not a match
    grid = [p.sigma for p in result.trace[:7]]
    assert grid == pytest.approx(list(np.geomspace(0.1, 100.0, 7)))


def test_valley_pools_noisy_draws_across_search_seeds():
    # distance |signed|: smallest at the root, sigma 5, and rising only slowly past it; noise of a KS
    # statistic averaged over a few noise seeds. (At 0.1 per draw the floor's fit spreads over a decade:
    # a flat valley needs noise seeds, where the signed crossing of `monotone` does not.)
    sigmas = [run_search(FlatPastRoot(noise=0.03, seed=s), SigmaConfig(optimiser="valley", progress=False)).sigma
              for s in range(20)]  # fmt: skip
    assert max(sigmas) / min(sigmas) < 2 and abs(math.log(float(np.median(sigmas)) / 5.0)) < 0.2
    noiseless = run_search(FlatPastRoot(noise=0.0), SigmaConfig(optimiser="valley", progress=False))
    assert abs(math.log(noiseless.sigma / 5.0)) < 0.3


@pytest.mark.parametrize("floor", [2000.0, 0.004])
def test_valley_extends_its_grid_towards_a_floor_outside_it(floor):
    def distance(sigma: float) -> Measure:
        value = abs(math.log(sigma / floor)) / 10
        return Measure(value, value)

    distance.model_calls = 0
    config = SigmaConfig(optimiser="valley", progress=False, valley=GridConfig(0.1, 100.0, points=4))
    result = run_search(distance, config)
    assert abs(math.log(result.sigma / floor)) < 0.5
    assert (max if floor > 100 else min)(p.sigma for p in result.trace[4:6]) == pytest.approx(
        1000.0 if floor > 100 else 0.01
    )


def test_valley_leaves_out_evaluations_that_carry_no_distance():
    def gaps(sigma: float) -> Measure:  # fails below sigma 1, smallest at 20
        value = math.nan if sigma < 1 else abs(math.log(sigma / 20.0))
        return Measure(value, value)

    gaps.model_calls = 0
    assert abs(math.log(run_search(gaps, SigmaConfig(optimiser="valley", progress=False)).sigma / 20.0)) < 0.3


def test_every_surrogate_a_build_accepts_names_itself_in_the_sigma_record():
    """The sigma stage records what sigma was tuned towards, by surrogate: a name without a label would
    fail the build after its whole search."""
    from packager.pipeline.stages.sigma import SURROGATE_LABELS
    from packager.sigma.config import SURROGATES

    assert set(SURROGATE_LABELS) == set(SURROGATES)


def test_the_median_distance_is_signed_by_which_side_sits_higher_and_ignores_the_tails():
    """The signed median difference is positive while the guarded values sit above the reference, and a
    long tail on one side (which moves the mean) leaves it where the middle of the values is."""
    reference = np.array([0.2, 0.4, 0.6, 0.8, 1.0])
    median = SIGNED_DISTANCES["median"]
    assert median(reference, reference + 0.1) == pytest.approx(0.1)
    assert median(reference, reference - 0.3) == pytest.approx(-0.3)
    tailed = np.array([0.2, 0.4, 0.6, 0.8, 50.0])
    assert median(reference, tailed) == 0.0 and SIGNED_DISTANCES["mean_abs"](reference, tailed) > 9
    assert SigmaConfig(distance="median").distance == "median"
    with pytest.raises(ValueError, match="`distance` must be one of ks, mean_abs, median"):
        SigmaConfig(distance="mode")


def test_crossing_interpolates_on_log_sigma_at_the_first_sign_change():
    from packager.sigma.trace import crossing

    assert crossing([1.0, 100.0], [-1.0, 1.0]) == pytest.approx(10.0)
    assert crossing([1.0, 10.0, 100.0, 1000.0], [-0.5, -0.1, 0.3, -0.2]) == pytest.approx(
        math.exp(math.log(10) + 0.25 * math.log(10)))
    assert crossing([1.0, 10.0], [-0.5, -0.1]) is None  # never reaches the reference on the grid
    assert crossing([1.0, 10.0], [0.2, 0.4]) is None  # above it from the first point


class _ShiftingRows:
    """Per-question values that move by log(sigma / at) under noise: they meet their own
    distribution at sigma ``at`` (``sign`` -1: they fall instead of rise)."""

    def __init__(self, base: np.ndarray, at: float, sign: float = 1.0) -> None:
        self.values, self.at_sigma, self.sign, self.model_calls = base, at, sign, 0

    def at(self, sigma: float, seed: int) -> np.ndarray:
        noise = np.random.default_rng(seed).normal(0.0, 0.05, len(self.values))
        return self.values + self.sign * math.log(sigma / self.at_sigma) + noise


def _spread(n: int, *, paired: bool = False, sign: float = 1.0, seed: int = 0):
    from packager.sigma.objective import SigmaObjective

    rng = np.random.default_rng(seed)
    questions = rng.normal(0.0, 1.0, n)
    reference = questions + rng.normal(0.0, 0.1, n) if paired else rng.normal(0.0, 1.0, n)  # other questions
    objective = SigmaObjective(_ShiftingRows(questions, 10.0, sign), reference, lambda v: v,
                               SigmaConfig(seeds=2, progress=False), paired=paired)
    assert objective.question_spread() is None  # nothing evaluated yet
    for sigma in (1.0, 3.0, 10.0, 30.0, 100.0):
        objective(sigma)
    return objective.question_spread(resamples=100)


def test_the_question_spread_says_how_far_the_crossing_moves_with_the_questions_drawn():
    few, many = _spread(40), _spread(1000)
    for spread in (few, many):
        assert spread.low < 10.0 < spread.high and spread.level == 0.9 and spread.resamples == 100
    assert many.high / many.low < few.high / few.low  # more questions, a surer sigma
    falling = _spread(1000, sign=-1.0)  # values that fall with noise (answer probability, VerbMem)
    assert falling.low < 10.0 < falling.high and falling.unbracketed == 0.0
    # a reference on the same questions (a retain model's) shares their draw: much narrower
    paired = _spread(40, paired=True)
    assert paired.high / paired.low < few.high / few.low


def test_the_search_result_carries_the_question_spread_where_the_objective_has_one():
    from packager.sigma.objective import SigmaObjective

    config = SigmaConfig(optimiser="monotone", progress=False)
    questions = np.random.default_rng(0).normal(0.0, 1.0, 200)
    objective = SigmaObjective(_ShiftingRows(questions, 10.0), questions[::-1].copy(), lambda v: v, config)
    assert run_search(objective, config).question_spread is None  # only a search that is reported pays for it
    result = run_search(objective, config, question_spread=True)
    spread = result.question_spread
    assert spread is not None and spread.low <= result.sigma <= spread.high and not spread.paired
    assert result.to_dict()["question_spread"] == spread.to_dict()
    assert run_search(Synthetic(), config, question_spread=True).question_spread is None  # no per-question values
