"""PNG plots for the model card: where a picture beats a table."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from packager.sigma.trace import QuestionSpread


@contextmanager
def _figure(path: Path, title: str, xlabel: str, ylabel: str, legend_size: int = 8) -> Iterator[Axes]:
    """One labelled axes, saved to ``path`` as PNG when the block ends. matplotlib loads here, on the
    first plot, not with the module: every eco-pack command imports this one, few of them plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    try:
        yield ax
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=legend_size)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)


def sigma_trace_plot(trace: Sequence[Mapping[str, float]], chosen: float, path: Path,
                     spread: QuestionSpread | None = None) -> Path:
    """Objective against sigma (log x) for every evaluation of the search, numbered in search order;
    ``spread`` shades where the crossing moves with the questions drawn again."""
    with _figure(path, "Sigma search", "sigma (noise strength)", "objective (lower is better)") as ax:
        if spread is not None:
            ax.axvspan(spread.low, spread.high, color="tab:orange", alpha=0.15,
                       label=f"{spread.level:.0%} of question resamples cross here")
        sigmas = [t["sigma"] for t in trace]
        objectives = [t["objective"] for t in trace]
        ax.plot(sigmas, objectives, "o", color="tab:blue", alpha=0.7, label="evaluations")
        for order, (s, o) in enumerate(zip(sigmas, objectives, strict=True), start=1):
            ax.annotate(str(order), (s, o), fontsize=6, xytext=(2, 2), textcoords="offset points")
        ax.axvline(chosen, color="tab:red", linestyle="--", label=f"chosen sigma = {chosen:.3g}")
        ax.set_xscale("log")
    return path


def _histograms(series: Mapping[str, Sequence[float]], path: Path, title: str, xlabel: str, ylabel: str) -> Path:
    """One histogram per series on shared bins."""
    values = [v for vs in series.values() for v in vs]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    bins = [lo + (hi - lo) * i / 20 for i in range(21)] if hi > lo else 20
    with _figure(path, title, xlabel, ylabel) as ax:
        for label, vs in series.items():
            ax.hist(list(vs), bins=bins, alpha=0.5, label=label)
    return path


def truth_ratio_histogram(series: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Per-question truth ratio on the forget split, one histogram per model."""
    return _histograms(series, path, "Forget split: truth ratio, guarded against reference",
                       "truth ratio R = P(perturbed) / P(paraphrased answer)", "questions")  # fmt: skip


def verbmem_histogram(series: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Per-passage VerbMem (ROUGE-L F1 of the continuation), one histogram per model and corpus."""
    return _histograms(series, path, "VerbMem per passage: forget corpus against holdout passages",
                       "ROUGE-L F1 of the continuation given the prefix", "passages")  # fmt: skip


def classifier_score_plot(scores: Mapping[str, Sequence[float]], threshold: float, path: Path) -> Path:
    """p(forget) distributions for forget prompts against every other kind of prompt."""
    with _figure(path, "Prompt classifier scores", "classifier p(forget)", "prompts (log)", legend_size=7) as ax:
        bins = [i / 40 for i in range(41)]
        for label, vs in scores.items():
            ax.hist(list(vs), bins=bins, alpha=0.5, label=f"{label} (n={len(vs)})")
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold = {threshold:.3f}")
        ax.set_yscale("log")
    return path


def topic_accuracy_plot(
    accuracy: Mapping[str, Mapping[str, float]], role_of: Mapping[str, str], chance: float, path: Path
) -> Path:
    """Multiple-choice accuracy per topic (grouped bars, one colour per model), topics labelled with
    their role, and chance as a line: the forget topics should sit on it, the others should not move."""
    topics = list(role_of)
    width = 0.8 / max(1, len(accuracy))
    with _figure(path, "Accuracy per topic", "topic (role)", "accuracy") as ax:
        for k, (label, by_topic) in enumerate(accuracy.items()):
            xs = [i + (k - (len(accuracy) - 1) / 2) * width for i in range(len(topics))]
            ax.bar(xs, [by_topic.get(t, 0.0) for t in topics], width=width, alpha=0.8, label=label)
        ax.axhline(chance, color="black", linestyle="--", label=f"chance = {chance:.2f}")
        ax.set_xticks(range(len(topics)), [f"{t}\n({role_of[t]})" for t in topics], fontsize=6)
        ax.set_ylim(0, 1)
    return path
