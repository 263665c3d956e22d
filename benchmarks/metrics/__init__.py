"""TOFU / open-unlearning metrics over a GuardedModel (see docs/metrics.md)."""

from benchmarks.metrics.evaluate import EvalConfig, evaluate, evaluate_splits, forget_set_splits
from benchmarks.metrics.multiple_choice import MCItem, load_mc_jsonl, multiple_choice_accuracy
from benchmarks.metrics.result import EvalReport, MetricResult, SplitReport
from benchmarks.metrics.scoring import FlagMode, QAScorer, Scorer, answer_continuation
from benchmarks.metrics.splits import METRICS, SPLITS, SplitScores, SplitSpec, score_split

__all__ = [
    "METRICS",
    "SPLITS",
    "EvalConfig",
    "EvalReport",
    "FlagMode",
    "MCItem",
    "MetricResult",
    "QAScorer",
    "Scorer",
    "SplitReport",
    "SplitScores",
    "SplitSpec",
    "answer_continuation",
    "evaluate",
    "evaluate_splits",
    "forget_set_splits",
    "load_mc_jsonl",
    "multiple_choice_accuracy",
    "score_split",
]
