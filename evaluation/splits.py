"""One TOFU split scored once, and the per-split metrics registered by name.

``score_split`` makes one ``mean_nll`` call for every (question, answer) pair a split needs
(answer, truth-ratio correct answer, all perturbed answers) and one batched generation call.
Metrics are then pure functions of those scores: ``fn(scores, spec) -> MetricResult``.

Which answer is "correct" for the truth ratio follows open-unlearning's TOFU configs
(``configs/eval/tofu_metrics/*_Truth_Ratio.yaml``): the paraphrased answer on forget and
retain_perturbed, the original answer on real_authors and world_facts. Probability on forget
and retain uses the original answer (``*_Q_A_Prob.yaml``); on real_authors and world_facts
model utility uses the option-normalised probability (``ra_Q_A_Prob_normalised``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rouge_score import rouge_scorer

from evaluation import quantities as q
from evaluation.result import MetricResult
from evaluation.scoring import Scorer
from guards.registry import Registry

if TYPE_CHECKING:
    from evaluation.forget_set import QA


@dataclass(frozen=True)
class SplitSpec:
    """How a split is scored.

    ``tr_correct``: the truth ratio's correct answer (``paraphrased_answer`` or ``answer``).
    ``tr_statistic``: ``closer_to_1_better`` (forget) or ``true_better``.
    ``probability``: the metric reported as the split's probability.
    """

    name: str
    tr_correct: str
    tr_statistic: str
    probability: str


SPLITS: dict[str, SplitSpec] = {
    "forget": SplitSpec("forget", "paraphrased_answer", "closer_to_1_better", "probability"),
    "retain": SplitSpec("retain", "paraphrased_answer", "true_better", "probability"),
    "real_authors": SplitSpec("real_authors", "answer", "true_better", "probability_w_options"),
    "world_facts": SplitSpec("world_facts", "answer", "true_better", "probability_w_options"),
}


@dataclass(frozen=True)
class SplitScores:
    """Model outputs for one split; ``wrong_nlls`` is empty when the split has no perturbed answers."""

    answers: tuple[str, ...]
    answer_nll: np.ndarray
    correct_nll: np.ndarray
    wrong_nlls: tuple[np.ndarray, ...]
    generations: tuple[str, ...] | None
    flags: tuple[bool, ...]


def tr_correct_answer(qa: QA, spec: SplitSpec) -> str:
    """The truth ratio's correct answer; falls back to the answer when there is no paraphrase."""
    if spec.tr_correct == "paraphrased_answer" and qa.paraphrased_answer:
        return qa.paraphrased_answer
    return qa.answer


def score_split(
    scorer: Scorer, spec: SplitSpec, items: Sequence[QA], *, max_new_tokens: int | None = 200
) -> SplitScores:
    """Score ``items`` with one NLL call and (unless ``max_new_tokens`` is None) one generation call."""
    questions = [qa.question for qa in items]
    flags = scorer.decide(questions)
    has_wrong = bool(items) and all(qa.perturbed_answers for qa in items)
    pairs: list[tuple[int, str]] = [(i, qa.answer) for i, qa in enumerate(items)]
    pairs += [(i, tr_correct_answer(qa, spec)) for i, qa in enumerate(items)]
    if has_wrong:
        pairs += [(i, a) for i, qa in enumerate(items) for a in qa.perturbed_answers]
    nll = scorer.mean_nll([questions[i] for i, _ in pairs], [a for _, a in pairs], [flags[i] for i, _ in pairs])
    n = len(items)
    wrong: list[np.ndarray] = []
    if has_wrong:
        offsets = np.cumsum([0] + [len(qa.perturbed_answers) for qa in items]) + 2 * n
        wrong = [nll[offsets[i] : offsets[i + 1]] for i in range(n)]
    generations = None
    if max_new_tokens is not None:
        generations = tuple(scorer.generate(questions, flags, max_new_tokens))
    return SplitScores(
        answers=tuple(qa.answer for qa in items),
        answer_nll=nll[:n],
        correct_nll=nll[n : 2 * n],
        wrong_nlls=tuple(wrong),
        generations=generations,
        flags=tuple(flags),
    )


SplitMetric = Callable[[SplitScores, SplitSpec], MetricResult]
METRICS: Registry[SplitMetric] = Registry("metric")


@METRICS.register("probability")
def probability(scores: SplitScores, spec: SplitSpec) -> MetricResult:
    """Mean normalised answer probability exp(-mean token NLL) of the original answer."""
    values = q.normalised_prob(scores.answer_nll)
    return MetricResult("probability", float(np.mean(values)), tuple(values.tolist()))


@METRICS.register("probability_w_options")
def probability_w_options(scores: SplitScores, spec: SplitSpec) -> MetricResult:
    """Mean option-normalised probability of the original answer against the perturbed ones."""
    values = q.option_normalised_prob(scores.answer_nll, scores.wrong_nlls)
    return MetricResult("probability_w_options", float(np.mean(values)), tuple(values.tolist()))


@METRICS.register("truth_ratio")
def truth_ratio(scores: SplitScores, spec: SplitSpec) -> MetricResult:
    """The split's truth-ratio statistic; ``per_item`` holds the raw per-question R."""
    ratios = q.truth_ratio(scores.correct_nll, scores.wrong_nlls)
    statistic = q.closer_to_1_better if spec.tr_statistic == "closer_to_1_better" else q.true_better
    return MetricResult("truth_ratio", statistic(ratios), tuple(ratios.tolist()))


@METRICS.register("rougeL_recall")
def rougeL_recall(scores: SplitScores, spec: SplitSpec) -> MetricResult:
    """ROUGE-L recall of the greedy generation against the answer (rouge-score, stemming)."""
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    values = [
        scorer.score(ref.strip(), gen)["rougeL"].recall
        for ref, gen in zip(scores.answers, scores.generations or (), strict=True)
    ]
    return MetricResult("rougeL_recall", float(np.mean(values)), tuple(values))


def metric_names(spec: SplitSpec, scores: SplitScores) -> list[str]:
    """The metrics a split supports with the scores it has."""
    names = [spec.probability if scores.wrong_nlls else "probability"]
    if scores.wrong_nlls:
        names.append("truth_ratio")
    if scores.generations is not None:
        names.append("rougeL_recall")
    return names
