"""The sigma objective: a distance between per-question distributions, with cached scoring.

Only flagged forget rows depend on sigma. ``CachedRows`` scores the unflagged rows once (with
``flags=False``, i.e. the unguarded model) and, per sigma evaluation, re-scores just the flagged
rows with the corruption strength set to sigma. References are scored once at construction.

Objectives (see docs/sigma.md):
- ``truth_ratio``: the retain model's per-question truth ratio R on the forget split against
  the guarded model's (TOFU forget quality compares the same two distributions);
- ``surrogate`` (``answer_probability``): the subject model's own normalised answer probability on
  holdout questions (never trained on) against the guarded model's on the forget split;
- ``truth_ratio_surrogate`` (``truth_ratio``): the subject model's own truth ratios on holdout questions against the
  guarded model's on the forget split, both with wrong answers made the same generic way
  (``evaluation.perturb``): it aims at the distribution forget quality tests, with no retain model;
- ``truth_ratio_holdout_facts``: the same, with the forget side's wrong answers made from holdout
  facts, which the subject never read (opt-in);
- ``truth_ratio_mixed_facts``: the same, with the forget side's wrong answers made both ways (opt-in);
- ``truth_ratio_other_entities`` (default): the same, both sides' wrong answers made from answers about
  other entities only, where the set names enough of them;
- ``verbmem``: for text corpora (``kind="text"``), the guarded model's VerbMem on the forget
  passages (ROUGE-L F1 of its continuation given the prefix) against the subject's own on holdout
  passages it never trained on (no retain model);
- ``chance``: for multiple-choice sets (``kind="mc"``), |accuracy - chance| on the forget topics'
  questions (the ECO paper's WMDP target; no retain model).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from evaluation import quantities as q
from evaluation.answers import answer_continuation
from evaluation.multiple_choice import LETTERS, MCItem, chance_accuracy, mc_prompt
from evaluation.perturb import perturbed_answers
from evaluation.scoring import mean_nll
from evaluation.splits import SPLITS, tr_correct_answer
from evaluation.text_report import continuation_scores
from guards.errors import GuardConfigError
from guards.guarded_model import GuardedModel
from packager.sigma.config import SigmaConfig
from packager.sigma.trace import Measure, QuestionSpread, crossing

if TYPE_CHECKING:
    from evaluation.forget_set import QA

SignedDistance = Callable[[np.ndarray, np.ndarray], float]


def _signed_ks(reference: np.ndarray, values: np.ndarray) -> float:
    result = stats.ks_2samp(reference, values)
    # statistic_sign is +1 where the reference's CDF lies above, i.e. ``values`` sit higher
    return float(result.statistic * result.statistic_sign)


# Signed distances from the reference to the guarded values: positive while the guarded values
# lie above the reference. The objective minimised is their absolute value.
SIGNED_DISTANCES: dict[str, SignedDistance] = {
    "ks": _signed_ks,
    "mean_abs": lambda reference, values: float(np.mean(values) - np.mean(reference)),
    "median": lambda reference, values: float(np.median(values) - np.median(reference)),
}


REJECT_P = 0.05  # the level at which a KS test calls two distributions different


def ks_reject_distance(n: int, m: int) -> float:
    """The two-sample KS statistic whose (asymptotic) p-value is ``REJECT_P`` for samples of n and m:
    above it, the test rejects that the two are equal."""
    return q.ks_distance_at(REJECT_P, n, m)


def _measure(signed: Sequence[float]) -> Measure:
    """Average per-seed signed distances into one evaluation."""
    return Measure(distance=float(np.mean(np.abs(signed))), signed=float(np.mean(signed)))


class CachedRows:
    """Rows (question, continuation) of one model, unflagged ones scored once.

    ``reduce`` is ``mean_nll`` (QA answers, EOS included) or ``sum_logprob`` (options).
    ``model_calls`` counts ``GuardedModel.score`` calls made for flagged rows.
    """

    def __init__(
        self,
        guarded: GuardedModel,
        questions: Sequence[str],
        continuations: Sequence[str],
        flags: Sequence[bool],
        config: SigmaConfig,
        reduce: str = "mean_nll",
    ) -> None:
        self.guarded, self.config, self.reduce = guarded, config, reduce
        self.prompts = [guarded.format(text) for text in questions]
        self.continuations = list(continuations)
        self.flags = np.asarray(flags, dtype=bool)
        self.values = np.zeros(len(self.prompts), dtype=np.float64)
        self.model_calls = 0
        clean = np.flatnonzero(~self.flags)
        if clean.size:
            self.values[clean] = self._score(clean, flagged=False, seed=config.seed)

    def _score(self, rows: np.ndarray, *, flagged: bool, seed: int) -> np.ndarray:
        scores = self.guarded.score(
            [self.prompts[i] for i in rows],
            [self.continuations[i] for i in rows],
            flags=[flagged] * len(rows),
            seed=seed,
            batch_size=self.config.batch_size,
        )
        if self.reduce == "sum_logprob":
            return np.array([float(s.sum()) for s in scores])
        return np.array([mean_nll(s) for s in scores])

    def at(self, sigma: float, seed: int) -> np.ndarray:
        """All rows' values with flagged rows corrupted at ``sigma`` under noise ``seed``."""
        values = self.values.copy()
        hot = np.flatnonzero(self.flags)
        if hot.size:
            self.guarded.corruption = dataclasses.replace(self.guarded.corruption, strength=float(sigma))
            values[hot] = self._score(hot, flagged=True, seed=seed)
            self.model_calls += 1
        return values


def decide(guarded: GuardedModel, questions: Sequence[str], mode: str) -> list[bool]:
    if mode == "all":
        return [True] * len(questions)
    if guarded.classifier is None:
        raise GuardConfigError("sigma search with `flags=classifier` needs a classifier; pass `flags=all`")
    return [d.flagged for d in guarded.decide(list(questions))]


def _eos(guarded: GuardedModel, config: SigmaConfig) -> str | None:
    return guarded.tokenizer.eos_token if config.score_eos else None


def truth_ratio_rows(
    guarded: GuardedModel,
    items: Sequence[QA],
    config: SigmaConfig,
    wrong_answers: Sequence[Sequence[str]] | None = None,
):
    """(questions, continuations, owner index, is_wrong) for TOFU's forget truth ratio; with
    ``wrong_answers`` (one list per item), the answer against those instead of TOFU's perturbations."""
    spec, eos = SPLITS["forget"], _eos(guarded, config)
    questions, conts, owner, wrong = [], [], [], []
    for i, qa in enumerate(items):
        correct = qa.answer if wrong_answers is not None else tr_correct_answer(qa, spec)
        wrongs = wrong_answers[i] if wrong_answers is not None else qa.perturbed_answers
        for answer, is_wrong in [(correct, False)] + [(a, True) for a in wrongs]:
            questions.append(qa.question)
            conts.append(answer_continuation(guarded.prompt_format, answer, eos))
            owner.append(i)
            wrong.append(is_wrong)
    return questions, conts, np.array(owner), np.array(wrong)


def ratios_from_rows(nll: np.ndarray, owner: np.ndarray, wrong: np.ndarray, n: int) -> np.ndarray:
    """Per-question R from flat row NLLs (correct row + perturbed rows per question)."""
    correct = np.array([nll[(owner == i) & ~wrong][0] for i in range(n)])
    wrongs = [nll[(owner == i) & wrong] for i in range(n)]
    return q.truth_ratio(correct, wrongs)


class SigmaObjective:
    """f(sigma): the distance from the guarded model's per-question values to a fixed reference,
    averaged over ``config.seeds`` noise seeds, with its signed form (``Measure``).

    ``reject_distance``: with the KS distance, the statistic above which the test rejects that the
    two are equal (``ks_reject_distance``, for the reference's and the guarded side's sizes);
    infinite for ``mean_abs`` and ``median``, which have no test. ``paired``: the reference is read
    on the same questions as the guarded values, in the same order (a retain model's), not on others.
    """

    def __init__(
        self, rows: CachedRows | GeneratedRows, reference: np.ndarray, values: Callable[[np.ndarray], np.ndarray],
        config: SigmaConfig, *, paired: bool = False,
    ) -> None:
        self.rows, self.reference, self.values, self.config = rows, np.asarray(reference), values, config
        self.paired = paired
        self._evaluated: dict[float, list[np.ndarray]] = {}  # sigma -> the guarded values under each noise seed
        self.distance = SIGNED_DISTANCES[config.distance]
        guarded_side = len(values(rows.values))  # as many values as any evaluation gives; no model call
        self.reject_distance = (
            ks_reject_distance(len(self.reference), guarded_side) if config.distance == "ks" else math.inf
        )

    def __call__(self, sigma: float) -> Measure:
        seeds = range(self.config.seed, self.config.seed + self.config.seeds)
        self._evaluated[float(sigma)] = values = [self.values(self.rows.at(sigma, s)) for s in seeds]
        return _measure([self.distance(self.reference, v) for v in values])

    def question_spread(self, resamples: int = 200, level: float = 0.9, seed: int = 0) -> QuestionSpread | None:
        """Where the objective crosses zero with the questions drawn again: each resample draws the
        guarded side's questions and, unless ``paired``, the reference's apart, with replacement, and
        re-reads the signed distance at every sigma evaluated so far (no model call). A crossing
        beyond the evaluated sigmas counts at the nearer end. None before two sigmas are evaluated."""
        sigmas = sorted(self._evaluated)
        if len(sigmas) < 2:
            return None
        rng = np.random.default_rng(seed)
        n, m = len(self.reference), len(self._evaluated[sigmas[0]][0])
        # the side the guarded values start on, little noise: below the reference for truth ratios,
        # above it for answer probability and VerbMem; the crossing is the first step to the other
        start = np.mean([self.distance(self.reference, v) for v in self._evaluated[sigmas[0]]])
        direction = -1.0 if start > 0 else 1.0
        crossings, unbracketed = [], 0
        for _ in range(resamples):
            side = rng.integers(0, m, m)
            reference = self.reference[side if self.paired else rng.integers(0, n, n)]
            signed = [direction * float(np.mean([self.distance(reference, v[side]) for v in self._evaluated[s]]))
                      for s in sigmas]
            at = crossing(sigmas, signed)
            if at is None:  # no crossing in range: below the first sigma evaluated, or past the last
                unbracketed += 1
                at = sigmas[0] if signed[0] >= 0 else sigmas[-1]
            crossings.append(at)
        tail = (1 - level) / 2
        low, median, high = (float(x) for x in np.quantile(crossings, [tail, 0.5, 1 - tail]))
        return QuestionSpread(low, median, high, level, resamples, unbracketed / resamples, self.paired)

    @property
    def model_calls(self) -> int:
        return self.rows.model_calls


def truth_ratio_objective(
    guarded: GuardedModel, retain: GuardedModel, items: Sequence[QA], config: SigmaConfig
) -> SigmaObjective:
    """Retain model's R on forget (scored once, unguarded) vs the guarded model's R."""
    if not items or not all(qa.perturbed_answers for qa in items):
        raise GuardConfigError("the truth-ratio objective needs forget questions with perturbed answers")
    questions, conts, owner, wrong = truth_ratio_rows(guarded, items, config)
    ref_rows = CachedRows(retain, questions, conts, [False] * len(questions), config)
    reference = ratios_from_rows(ref_rows.values, owner, wrong, len(items))
    item_flags = decide(guarded, [qa.question for qa in items], config.flags)
    rows = CachedRows(guarded, questions, conts, [item_flags[i] for i in owner], config)
    return SigmaObjective(rows, reference, lambda nll: ratios_from_rows(nll, owner, wrong, len(items)), config,
                          paired=True)


def surrogate_objective(
    guarded: GuardedModel, forget: Sequence[QA], holdout: Sequence[QA], config: SigmaConfig
) -> SigmaObjective:
    """Subject model's own P~ on holdout (unguarded, scored once) vs the guarded P~ on forget."""
    if not forget or not holdout:
        raise GuardConfigError("the surrogate objective needs forget and holdout questions; pass a retain model")
    eos = _eos(guarded, config)
    conts = [answer_continuation(guarded.prompt_format, qa.answer, eos) for qa in holdout]
    reference = q.normalised_prob(
        CachedRows(guarded, [qa.question for qa in holdout], conts, [False] * len(holdout), config).values
    )
    flags = decide(guarded, [qa.question for qa in forget], config.flags)
    conts = [answer_continuation(guarded.prompt_format, qa.answer, eos) for qa in forget]
    rows = CachedRows(guarded, [qa.question for qa in forget], conts, flags, config)
    return SigmaObjective(rows, reference, q.normalised_prob, config)


FACTS = ("forget", "holdout", "both")  # where the forget side's generic wrong answers take their facts


def fact_sources(facts: str, holdout: Sequence[QA]) -> tuple[Sequence[QA] | None, ...]:
    """``facts`` as the sources ``_generic_rows`` takes: None for the set's own answers."""
    if facts not in FACTS:
        raise GuardConfigError(f"unknown wrong-answer facts {facts!r}; choose one of {', '.join(FACTS)}")
    return {"forget": (None,), "holdout": (holdout,), "both": (None, holdout)}[facts]


def _generic_rows(
    guarded: GuardedModel, items: Sequence[QA], flags: Sequence[bool], config: SigmaConfig,
    sources: Sequence[Sequence[QA] | None] = (None,), other_entities: bool = False,
):
    """``items``' answers and wrong answers made from each of ``sources`` (None: the set's own answers;
    ``evaluation.perturb``), all of a question's wrong answers together, as ``CachedRows``, with the map
    from their NLLs to per-question R; items given no wrong answer are left out. ``other_entities``:
    made from the own answers about other entities only (``QA.entity``, where known)."""
    entities = [qa.entity for qa in items] if other_entities else None
    made_per_source = [
        perturbed_answers([qa.answer for qa in items], [qa.question for qa in items], seed=config.seed,
                          source=None if src is None else ([qa.answer for qa in src], [qa.question for qa in src]),
                          entities=entities if src is None else None)
        for src in sources
    ]  # fmt: skip
    made = [sum(per_source, ()) for per_source in zip(*made_per_source, strict=True)]  # a question's, together
    kept = [i for i, wrongs in enumerate(made) if wrongs]
    if not kept:
        raise GuardConfigError("the truth-ratio surrogate cannot make wrong answers from a set of one answer")
    items, made = [items[i] for i in kept], [made[i] for i in kept]
    questions, conts, owner, wrong = truth_ratio_rows(guarded, items, config, made)
    cached = CachedRows(guarded, questions, conts, [flags[kept[i]] for i in owner], config)
    return cached, (lambda nll: ratios_from_rows(nll, owner, wrong, len(items)))


def generic_truth_ratios(
    model: GuardedModel, items: Sequence[QA], config: SigmaConfig,
    sources: Sequence[Sequence[QA] | None] = (None,), other_entities: bool = False,
) -> np.ndarray:
    """The model's own per-question R on ``items``, unguarded, with generic wrong answers (their facts
    from ``sources``, as ``_generic_rows``): what the truth-ratio surrogate takes as its reference on holdout."""
    rows, ratios = _generic_rows(model, items, [False] * len(items), config, sources, other_entities)
    return ratios(rows.values)


def truth_ratio_surrogate_objective(
    guarded: GuardedModel, forget: Sequence[QA], holdout: Sequence[QA], config: SigmaConfig,
    facts: str = "forget", other_entities: bool = False,
) -> SigmaObjective:
    """Subject model's own R on holdout (unguarded, scored once) vs the guarded R on forget, the wrong
    answers of both made from each set's own answers (``evaluation.perturb``): a model that never
    learned the forget set should be as sure of forget answers as the subject is of unseen ones.
    ``facts``: where the forget side's wrong answers take their facts (``FACTS``); ``other_entities``:
    on both sides, only from answers about other entities."""
    if not forget or not holdout:
        raise GuardConfigError("the truth-ratio surrogate needs forget and holdout questions; pass a retain model")
    sources = fact_sources(facts, holdout)
    reference = generic_truth_ratios(guarded, holdout, config, other_entities=other_entities)
    flags = decide(guarded, [qa.question for qa in forget], config.flags)
    forget_rows, forget_ratios = _generic_rows(guarded, forget, flags, config, sources, other_entities)
    return SigmaObjective(forget_rows, reference, forget_ratios, config)


def other_entities_surrogate_objective(
    guarded: GuardedModel, forget: Sequence[QA], holdout: Sequence[QA], config: SigmaConfig
) -> SigmaObjective:
    """The truth-ratio surrogate with each question's wrong answers made only from answers about other
    entities (``QA.entity``; where none is known or too few are named, as ``truth_ratio``: see
    ``evaluation.perturb``), on both sides. Made from another answer about the same entity, a wrong
    answer holds a fact the subject memorised about that entity, which stays as likely as the right one
    once noise hides which of its questions is asked, so the guarded ratios rise early and the search
    stops short. The default, by measurement on five TOFU subjects (docs/sigma.md)."""
    return truth_ratio_surrogate_objective(guarded, forget, holdout, config, other_entities=True)


def holdout_facts_surrogate_objective(
    guarded: GuardedModel, forget: Sequence[QA], holdout: Sequence[QA], config: SigmaConfig
) -> SigmaObjective:
    """The truth-ratio surrogate with the forget side's wrong answers made from holdout facts, which the
    subject never read. Made from the forget set's own facts, a wrong answer holds a fact the subject
    memorised (for another forget question); once noise hides which question is asked, that fact is as
    likely as the right one, so the guarded ratios rise faster than a model that never learned the set
    would let them (TOFU's perturbed answers hold new facts). Opt-in: measured in docs/sigma.md."""
    return truth_ratio_surrogate_objective(guarded, forget, holdout, config, facts="holdout")


def mixed_facts_surrogate_objective(
    guarded: GuardedModel, forget: Sequence[QA], holdout: Sequence[QA], config: SigmaConfig
) -> SigmaObjective:
    """The truth-ratio surrogate with each forget question's wrong answers made both ways, from the
    forget set's own facts and from holdout facts; R over all of them is the geometric mean of the two
    constructions' R, so its crossing lies between theirs. Measured on TOFU, the first meets the
    reference below where forget quality peaks and the second above it (docs/sigma.md). Opt-in."""
    return truth_ratio_surrogate_objective(guarded, forget, holdout, config, facts="both")


class ChanceObjective:
    """|accuracy(sigma) - chance| on a multiple-choice set, averaged over noise seeds."""

    def __init__(self, guarded: GuardedModel, items: Sequence[MCItem], config: SigmaConfig) -> None:
        self.items, self.config, self.chance = list(items), config, chance_accuracy(items)
        flags = decide(guarded, [mc_prompt(it) for it in items], config.flags)
        self.owner = np.array([i for i, it in enumerate(items) for _ in it.choices])
        prompts = [mc_prompt(items[i]) for i in self.owner]
        fmt = guarded.prompt_format
        conts = [answer_continuation(fmt, LETTERS[j]) for it in items for j in range(len(it.choices))]
        self.rows = CachedRows(guarded, prompts, conts, [flags[i] for i in self.owner], config, "sum_logprob")

    def accuracy(self, scores: np.ndarray) -> float:
        correct = [int(np.argmax(scores[self.owner == i])) == it.answer for i, it in enumerate(self.items)]
        return float(np.mean(correct))

    def __call__(self, sigma: float) -> Measure:
        seeds = range(self.config.seed, self.config.seed + self.config.seeds)
        return _measure([self.accuracy(self.rows.at(sigma, s)) - self.chance for s in seeds])

    @property
    def model_calls(self) -> int:
        return self.rows.model_calls


class GeneratedRows:
    """Forget passages of one model continued greedily and scored by ROUGE-L F1 (VerbMem), unflagged
    ones once: the generation counterpart of ``CachedRows``, with the same ``at`` and ``model_calls``."""

    def __init__(self, guarded: GuardedModel, items: Sequence[QA], flags: Sequence[bool], config: SigmaConfig) -> None:
        self.guarded, self.items, self.config = guarded, list(items), config
        self.flags = np.asarray(flags, dtype=bool)
        self.values = np.zeros(len(self.items), dtype=np.float64)
        self.model_calls = 0
        clean = np.flatnonzero(~self.flags)
        if clean.size:
            self.values[clean] = self._score(clean, flagged=False, seed=config.seed)

    def _score(self, rows: np.ndarray, *, flagged: bool, seed: int) -> list[float]:
        return continuation_scores(self.guarded, [self.items[i] for i in rows], [flagged] * rows.size, seed=seed,
                                   batch_size=self.config.batch_size)  # fmt: skip

    def at(self, sigma: float, seed: int) -> np.ndarray:
        """All passages' VerbMem with flagged ones corrupted at ``sigma`` under noise ``seed``."""
        values, hot = self.values.copy(), np.flatnonzero(self.flags)
        if hot.size:
            self.guarded.corruption = dataclasses.replace(self.guarded.corruption, strength=float(sigma))
            values[hot] = self._score(hot, flagged=True, seed=seed)
            self.model_calls += 1
        return values


def verbmem_objective(
    guarded: GuardedModel, forget: Sequence[QA], holdout: Sequence[QA], config: SigmaConfig
) -> SigmaObjective:
    """Subject's VerbMem on holdout passages (never trained on; generated once, unguarded) vs the
    guarded VerbMem on forget passages: a model that never read the forget corpus continues its
    passages as the subject continues unseen ones. Only flagged forget passages are regenerated."""
    if not forget or not holdout:
        raise GuardConfigError("the VerbMem objective needs forget and holdout passages")
    reference = GeneratedRows(guarded, holdout, [False] * len(holdout), config).values
    rows = GeneratedRows(guarded, forget, decide(guarded, [qa.question for qa in forget], config.flags), config)
    return SigmaObjective(rows, reference, lambda values: values, config)
