"""PNG plots for the model card: where a picture beats a table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def sigma_trace_plot(trace: Sequence[Mapping[str, float]], chosen: float, path: Path) -> Path:
    """Objective against sigma (log x) for every evaluation of the search, in search order."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    sigmas = [t["sigma"] for t in trace]
    objectives = [t["objective"] for t in trace]
    ax.plot(sigmas, objectives, "o", color="tab:blue", alpha=0.7, label="evaluations")
    for order, (s, o) in enumerate(zip(sigmas, objectives, strict=True), start=1):
        ax.annotate(str(order), (s, o), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.axvline(chosen, color="tab:red", linestyle="--", label=f"chosen sigma = {chosen:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("sigma (noise strength)")
    ax.set_ylabel("objective (lower is better)")
    ax.set_title("Sigma search")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def truth_ratio_histogram(series: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Per-question truth ratio on the forget split, one histogram per model."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    values = [v for vs in series.values() for v in vs]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    bins = [lo + (hi - lo) * i / 20 for i in range(21)] if hi > lo else 20
    for label, vs in series.items():
        ax.hist(list(vs), bins=bins, alpha=0.5, label=label)
    ax.set_xlabel("truth ratio R = P(perturbed) / P(paraphrased answer)")
    ax.set_ylabel("questions")
    ax.set_title("Forget split: truth ratio, guarded against reference")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def classifier_score_plot(scores: Mapping[str, Sequence[float]], threshold: float, path: Path) -> Path:
    """p(forget) distributions for forget prompts against every other kind of prompt."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    bins = [i / 40 for i in range(41)]
    for label, vs in scores.items():
        ax.hist(list(vs), bins=bins, alpha=0.5, label=f"{label} (n={len(vs)})")
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold = {threshold:.3f}")
    ax.set_yscale("log")
    ax.set_xlabel("classifier p(forget)")
    ax.set_ylabel("prompts (log)")
    ax.set_title("Prompt classifier scores")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
