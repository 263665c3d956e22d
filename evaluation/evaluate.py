"""One entry point: evaluate a (guarded) model on a ForgetSet the way TOFU does.

>>> report = evaluate(guarded, load_forget_set("demo"), EvalConfig(flags="classifier"))
>>> report.to_dict()["model_utility"]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from rich.progress import Progress

from evaluation import quantities as q
from evaluation.result import EvalReport, ForgetQualitySeeds, SplitReport
from evaluation.scoring import FLAG_MODES, FlagMode, QAScorer, Scorer
from evaluation.splits import METRICS, SPLITS, metric_names, score_split
from guards.guarded_model import GuardedModel

if TYPE_CHECKING:
    from evaluation.forget_set import QA, ForgetSet

UTILITY_SPLITS = ("retain", "real_authors", "world_facts")


@dataclass(frozen=True)
class EvalConfig:
    """How an evaluation runs.

    ``flags``: which rows are corrupted (``classifier``, ``all`` or ``none``; see ``QAScorer``).
    ``seed``: the corruption noise seed. ``noise_seeds``: forget quality is measured under this many
    noise seeds (``seed``, ``seed + 1``, ...; truth ratios only, no generation) and reported as
    their median, with the range. ``max_new_tokens``: TOFU's generation budget (200);
    None skips generation and ROUGE (the slow part). ``score_eos``: score the EOS token after each
    answer, as TOFU and open-unlearning do. ``splits``: which of SPLITS to evaluate.
    """

    flags: FlagMode = "classifier"
    seed: int | None = 0
    noise_seeds: int = 5
    batch_size: int = 16
    max_new_tokens: int | None = 200
    score_eos: bool = True
    splits: tuple[str, ...] = ("forget", "retain", "real_authors", "world_facts")
    progress: bool = True

    def __post_init__(self) -> None:
        if self.flags not in FLAG_MODES:
            raise ValueError(f"`flags` must be one of {', '.join(FLAG_MODES)}, not `{self.flags}`")
        unknown = [s for s in self.splits if s not in SPLITS]
        if unknown:
            raise ValueError(f"`splits` has unknown names {unknown}; valid: {', '.join(SPLITS)}")
        if self.noise_seeds < 1:
            raise ValueError(f"`noise_seeds` must be at least 1, not {self.noise_seeds}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError("`max_new_tokens` must be >= 1, or None to skip ROUGE")


def forget_set_splits(forget_set: ForgetSet) -> dict[str, tuple[QA, ...]]:
    """The TOFU evaluation splits of a ForgetSet (forget and retain with their perturbations)."""
    return {
        "forget": forget_set.forget_eval or forget_set.forget,
        "retain": forget_set.retain_eval or forget_set.retain,
        "real_authors": forget_set.real_authors,
        "world_facts": forget_set.world_facts,
    }


def evaluate(
    guarded: GuardedModel,
    forget_set: ForgetSet,
    config: EvalConfig | None = None,
    *,
    reference_ratios: Sequence[float] | None = None,
) -> EvalReport:
    """Evaluate ``guarded`` on ``forget_set``; forget quality needs the reference's per-question R."""
    config = config or EvalConfig()

    def scorer(seed: int | None) -> QAScorer:
        return QAScorer(guarded, flags=config.flags, seed=seed, batch_size=config.batch_size,
                        score_eos=config.score_eos)  # fmt: skip

    splits = forget_set_splits(forget_set)
    report = evaluate_splits(scorer(config.seed), splits, config, reference_ratios=reference_ratios)
    forget, first = report.splits.get("forget"), report.forget_quality_seeds
    if first is None or forget is None or not forget.flagged or config.flags == "none" or config.seed is None:
        return report  # no corrupted forget row: the noise seed changes nothing
    seeds, tests = list(first.seeds), list(zip(first.ks_statistics, first.p_values, strict=True))
    for seed in range(config.seed + 1, config.seed + config.noise_seeds):
        scores = score_split(scorer(seed), SPLITS["forget"], splits["forget"], max_new_tokens=None)
        ratios = METRICS.get("truth_ratio")(scores, SPLITS["forget"]).per_item
        seeds.append(seed)
        tests.append(q.ks_test(ratios, reference_ratios))
    spread = ForgetQualitySeeds(tuple(seeds), tuple(p for _, p in tests), tuple(d for d, _ in tests))
    return replace(report, forget_quality_seeds=spread)


def evaluate_splits(
    scorer: Scorer,
    splits: Mapping[str, Sequence[QA]],
    config: EvalConfig,
    *,
    reference_ratios: Sequence[float] | None = None,
) -> EvalReport:
    """Evaluate with any ``Scorer``; empty splits are skipped."""
    reports: dict[str, SplitReport] = {}
    names = [n for n in config.splits if splits.get(n)]
    with Progress(transient=True, disable=not config.progress) as progress:
        task = progress.add_task("evaluating", total=len(names))
        for name in names:
            progress.update(task, description=f"evaluating {name}")
            spec, items = SPLITS[name], splits[name]
            scores = score_split(scorer, spec, items, max_new_tokens=config.max_new_tokens)
            metrics = {m: METRICS.get(m)(scores, spec) for m in metric_names(spec, scores)}
            reports[name] = SplitReport(name, len(items), sum(scores.flags), metrics)
            progress.advance(task)
    inputs = utility_inputs(reports)
    utility = q.harmonic_mean(list(inputs.values())) if inputs else None
    quality = None
    forget = reports.get("forget")
    if reference_ratios is not None and forget is not None and forget.truth_ratios:
        statistic, p_value = q.ks_test(forget.truth_ratios, reference_ratios)
        quality = ForgetQualitySeeds((config.seed,), (p_value,), (statistic,))
    return EvalReport(reports, utility, inputs, config.flags, quality)


def utility_inputs(reports: Mapping[str, SplitReport]) -> dict[str, float]:
    """{split}/{prob, rougeL, truth_ratio} for the utility splits present: up to TOFU's 9 numbers."""
    inputs: dict[str, float] = {}
    for name in UTILITY_SPLITS:
        report = reports.get(name)
        if report is None:
            continue
        for key, value in (("prob", report.prob), ("rougeL", report.rougeL), ("truth_ratio", report.truth_ratio)):
            if value is not None:
                inputs[f"{name}/{key}"] = value
    return inputs
