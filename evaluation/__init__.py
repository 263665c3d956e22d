"""The evaluation library: the forget-set data model, answer formatting and the TOFU /
open-unlearning metrics over a GuardedModel (docs/metrics.md). It imports ``guards`` and nothing
else of ours, so the packager, the benchmarks and the tests all measure with one implementation.

Its names load on first use (lazy_loader): the forget-set data model alone does not import the
metrics (torch, rouge-score, nltk)."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "answers": ["answer_continuation", "answer_text"],
    "evaluate": ["EvalConfig", "evaluate", "evaluate_splits", "forget_set_splits"],
    "forget_set": ["QA", "ForgetSet", "ForgetSetError"],
    "multiple_choice": ["MCItem", "load_mc_jsonl", "multiple_choice_accuracy"],
    "result": ["EvalReport", "MetricResult", "SplitReport"],
    "scoring": ["FlagMode", "QAScorer", "Scorer"],
    "splits": ["METRICS", "SPLITS", "SplitScores", "SplitSpec", "score_split"],
})  # fmt: skip
