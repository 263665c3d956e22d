"""The evaluation library: the forget-set data model, answer formatting and the TOFU /
open-unlearning metrics over a GuardedModel (docs/metrics.md). It imports ``guards`` and nothing
else of ours, so the packager, the benchmarks and the tests all measure with one implementation."""

from evaluation.answers import answer_continuation, answer_text
from evaluation.evaluate import EvalConfig, evaluate, evaluate_splits, forget_set_splits
from evaluation.forget_set import QA, ForgetSet, ForgetSetError
from evaluation.multiple_choice import MCItem, load_mc_jsonl, multiple_choice_accuracy
from evaluation.result import EvalReport, MetricResult, SplitReport
from evaluation.scoring import FlagMode, QAScorer, Scorer
from evaluation.splits import METRICS, SPLITS, SplitScores, SplitSpec, score_split

__all__ = [
    "METRICS",
    "QA",
    "SPLITS",
    "EvalConfig",
    "EvalReport",
    "ForgetSet",
    "ForgetSetError",
    "FlagMode",
    "MCItem",
    "MetricResult",
    "QAScorer",
    "Scorer",
    "SplitReport",
    "SplitScores",
    "SplitSpec",
    "answer_continuation",
    "answer_text",
    "evaluate",
    "evaluate_splits",
    "forget_set_splits",
    "load_mc_jsonl",
    "multiple_choice_accuracy",
    "score_split",
]
