"""Golden tests: hand-worked numbers for every metric, then the real scorer on a tiny model."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from evaluation import (
    METRICS,
    SPLITS,
    EvalConfig,
    QAScorer,
    answer_continuation,
    evaluate,
    evaluate_splits,
    load_mc_jsonl,
    multiple_choice_accuracy,
    score_split,
)
from evaluation import quantities as q
from evaluation.forget_set import QA, ForgetSet
from evaluation.multiple_choice import MCItem, MultipleChoiceError
from evaluation.result import forget_quality_text, readable
from guards.guarded_model import GuardedModel
from guards.prompt_format import PromptFormat

LN2 = math.log(2)


class FakeScorer:
    """Returns hand-picked mean NLLs per answer text; records what it was asked."""

    def __init__(self, nll: dict[str, float], generations: dict[str, str] | None = None, flagged=()):
        self.nll, self.generations, self.flagged = nll, generations or {}, set(flagged)
        self.calls: list[tuple[list[str], list[str], list[bool]]] = []

    def decide(self, questions):
        return [qq in self.flagged for qq in questions]

    def mean_nll(self, questions, answers, flags):
        self.calls.append((list(questions), list(answers), list(flags)))
        return np.array([self.nll[a] for a in answers])

    def sum_logprob(self, questions, answers, flags):
        return np.array([-self.nll[f"{qq}|{a}"] for qq, a in zip(questions, answers, strict=True)])

    def generate(self, questions, flags, max_new_tokens):
        return [self.generations.get(qq, "") for qq in questions]


ITEM = QA("Q1", "The cat sat on the mat", paraphrased_question="Q1'", paraphrased_answer="para",
          perturbed_answers=("wrong1", "wrong2"))
NLL = {"The cat sat on the mat": LN2, "para": LN2, "wrong1": LN2, "wrong2": 3 * LN2}
# P~(answer) = 0.5, P~(para) = 0.5; perturbed mean NLL = 2 ln2 -> 0.25, so R = 0.5.
# (Averaging probabilities instead, (0.5 + 0.125) / 2, would give R = 0.625.)


def test_probability_is_exp_of_minus_mean_token_nll():
    scores = score_split(FakeScorer(NLL), SPLITS["retain"], [ITEM], max_new_tokens=None)
    assert METRICS.get("probability")(scores, SPLITS["retain"]).value == pytest.approx(0.5)


def test_truth_ratio_averages_nll_over_perturbed_answers():
    scores = score_split(FakeScorer(NLL), SPLITS["forget"], [ITEM], max_new_tokens=None)
    result = METRICS.get("truth_ratio")(scores, SPLITS["forget"])
    assert result.per_item[0] == pytest.approx(0.5)
    assert result.value == pytest.approx(0.5)  # min(0.5, 2)
    retain = METRICS.get("truth_ratio")(scores, SPLITS["retain"])
    assert retain.value == pytest.approx(0.5)  # max(0, 1 - 0.5)


def test_truth_ratio_statistics_by_hand():
    ratios = np.array([0.5, 2.0, 1.5])
    assert q.closer_to_1_better(ratios) == pytest.approx((0.5 + 0.5 + 2 / 3) / 3)
    assert q.true_better(ratios) == pytest.approx((0.5 + 0 + 0) / 3)


def test_forget_and_retain_use_paraphrased_answer_others_the_answer():
    nll = {**NLL, "para": 2 * LN2}  # P~(para) = 0.25 -> R = 1 on forget/retain
    for split, expected in (("forget", 1.0), ("retain", 1.0), ("real_authors", 0.5), ("world_facts", 0.5)):
        scores = score_split(FakeScorer(nll), SPLITS[split], [ITEM], max_new_tokens=None)
        ratio = METRICS.get("truth_ratio")(scores, SPLITS[split]).per_item[0]
        assert ratio == pytest.approx(expected, rel=1e-6), split


def test_option_normalised_probability():
    nll = {**NLL, "wrong1": 2 * LN2, "wrong2": 2 * LN2}  # 0.5 / (0.5 + 0.25 + 0.25)
    scores = score_split(FakeScorer(nll), SPLITS["real_authors"], [ITEM], max_new_tokens=None)
    assert METRICS.get("probability_w_options")(scores, SPLITS["real_authors"]).value == pytest.approx(0.5)


def test_rouge_l_recall_with_stemming():
    scorer = FakeScorer(NLL, generations={"Q1": "the cats sat"})
    scores = score_split(scorer, SPLITS["forget"], [ITEM], max_new_tokens=200)
    # reference has 6 tokens; "cats" stems to "cat", LCS = the cat sat = 3
    assert METRICS.get("rougeL_recall")(scores, SPLITS["forget"]).value == pytest.approx(0.5)


def test_one_nll_call_per_split_with_all_pairs():
    scorer = FakeScorer(NLL, flagged={"Q1"})
    score_split(scorer, SPLITS["forget"], [ITEM, ITEM], max_new_tokens=None)
    assert len(scorer.calls) == 1
    questions, answers, flags = scorer.calls[0]
    assert len(answers) == 2 * (1 + 1 + 2) and all(flags)


def test_harmonic_mean_edge_cases():
    assert q.harmonic_mean([1.0, 0.5]) == pytest.approx(2 / 3)
    assert q.harmonic_mean([0.9, 0.0, 0.7]) == 0.0
    with pytest.raises(ValueError, match="empty"):
        q.harmonic_mean([])


def test_forget_quality_identical_distributions_is_one_and_differs_otherwise():
    ratios = np.array([0.2, 0.5, 0.9, 1.3])
    assert q.forget_quality(ratios, ratios) == pytest.approx(1.0)
    assert q.forget_quality(ratios, ratios + 10) < 0.05


def test_evaluate_splits_model_utility_is_hmean_of_nine_numbers():
    scorer = FakeScorer(NLL, generations={"Q1": "the cats sat"})
    splits = {name: [ITEM] for name in SPLITS}
    report = evaluate_splits(scorer, splits, EvalConfig(progress=False), reference_ratios=[0.5])
    # retain: prob 0.5, rouge 0.5, tr 0.5; ra/wf: prob_w_options 0.5/(0.5+0.5+0.125), rouge 0.5, tr 0.5
    ra_prob = 0.5 / (0.5 + 0.5 + 0.125)
    expected = 9 / (7 / 0.5 + 2 / ra_prob)
    assert len(report.utility_inputs) == 9
    assert report.model_utility == pytest.approx(expected, rel=1e-6)
    assert report.forget_quality == pytest.approx(1.0)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["splits"]["forget"]["truth_ratios"] == pytest.approx([0.5])


def test_multiple_choice_accuracy_picks_top_log_likelihood(tmp_path):
    items = [MCItem("q1", ("a", "b", "c"), 1), MCItem("q2", ("a", "b"), 0)]
    from evaluation.multiple_choice import mc_prompt

    nll = {f"{mc_prompt(items[0])}|A": 3.0, f"{mc_prompt(items[0])}|B": 1.0, f"{mc_prompt(items[0])}|C": 2.0,
           f"{mc_prompt(items[1])}|A": 5.0, f"{mc_prompt(items[1])}|B": 1.0}
    result = multiple_choice_accuracy(FakeScorer(nll), items)
    assert result.per_item == (1.0, 0.0) and result.value == 0.5
    path = tmp_path / "mc.jsonl"
    path.write_text('{"question": "q", "choices": ["x", "y"], "answer": 1}\n{"question": "q", "choices": ["x"]}\n')
    with pytest.raises(MultipleChoiceError, match="mc.jsonl:2"):
        load_mc_jsonl(path)


def test_answer_continuation_follows_tofu_templates():
    assert answer_continuation(PromptFormat("llama2"), "Paris", "</s>") == " Paris</s>"
    assert answer_continuation(PromptFormat("chat_template"), "Paris") == "Paris"
    assert answer_continuation(PromptFormat("phi"), "Paris") == " Paris"


def test_qa_scorer_on_tiny_model_matches_manual_nll(tiny_llama, tiny_tokenizer):
    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=lambda texts: [0.9] * len(texts),
                           prompt_format=PromptFormat("phi"))
    scorer = QAScorer(guarded, flags="none")
    nll = scorer.mean_nll(["Where was Jaime Vasquez born?"], ["Santiago"], [False])
    lp = guarded.score(["Question: Where was Jaime Vasquez born?\nAnswer:"], [" Santiago</s>"], flags=[False])[0]
    assert nll[0] == pytest.approx(float(-lp.mean()))
    assert QAScorer(guarded, flags="classifier").decide(["x", "y"]) == [True, True]
    noisy = QAScorer(guarded, flags="all").mean_nll(["Where was Jaime Vasquez born?"], ["Santiago"], [True])
    assert noisy[0] != pytest.approx(nll[0])


def test_evaluate_on_tiny_model_end_to_end(tiny_llama, tiny_tokenizer):
    qa = QA("Where was Jaime Vasquez born?", "Santiago, Chile.", paraphrased_answer="In Santiago.",
            perturbed_answers=("In Lima.", "In Quito."))
    other = QA("What is the capital of France?", "Paris.", perturbed_answers=("Rome.",))
    forget_set = ForgetSet("test", forget=(qa,), retain=(other,), forget_eval=(qa, qa), retain_eval=(other,),
                           real_authors=(other,), world_facts=(other,))
    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=None)
    config = EvalConfig(flags="none", max_new_tokens=4, progress=False)
    report = evaluate(guarded, forget_set, config, reference_ratios=[0.3, 0.4])
    assert set(report.splits) == {"forget", "retain", "real_authors", "world_facts"}
    assert len(report.splits["forget"].truth_ratios) == 2
    assert 0.0 <= report.model_utility <= 1.0 and 0.0 <= report.forget_quality <= 1.0
    json.dumps(report.to_dict())


def test_forget_quality_of_a_guarded_model_is_read_over_noise_seeds(tiny_llama, tiny_tokenizer):
    """Only corrupted rows depend on the noise seed: a guarded model's forget quality is the median
    of several seeds' KS tests, an unguarded model's one test."""
    items = tuple(QA(f"Where was author {i} born?", f"In city {i}.", perturbed_answers=(f"In town {i}.", "Nowhere."))
                  for i in range(6))  # fmt: skip
    forget_set = ForgetSet("test", forget=items, retain=(QA("What is 2 + 2?", "4."),), forget_eval=items)
    guarded = GuardedModel(tiny_llama, tiny_tokenizer, classifier=None)
    reference = [0.2, 0.5, 0.9, 1.1, 1.4, 2.0]
    config = EvalConfig(flags="all", max_new_tokens=None, progress=False, splits=("forget",), seed=3)
    report = evaluate(guarded, forget_set, config, reference_ratios=reference)
    spread = report.forget_quality_seeds
    assert spread.seeds == (3, 4, 5, 6, 7) and len(spread.p_values) == len(spread.ks_statistics) == 5
    assert report.forget_quality == spread.median == pytest.approx(float(np.median(spread.p_values)))
    assert all(0.0 <= p <= 1.0 for p in spread.p_values) and all(0.0 <= d <= 1.0 for d in spread.ks_statistics)
    summary = report.to_dict()
    assert summary["forget_quality_over_seeds"]["min"] == min(spread.p_values)
    assert "median of 5 noise seeds" in forget_quality_text(summary) and "KS D" in forget_quality_text(summary)
    plain = evaluate(guarded, forget_set, replace(config, flags="none"), reference_ratios=reference)
    assert plain.forget_quality_seeds.seeds == (3,)  # no corrupted row: one test says all
    assert readable(1.2340177116496064e-07) == "1.23e-07" and readable(0.79263) == "0.7926" and readable(None) == "n/a"
