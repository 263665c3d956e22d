"""``eco-pack eval``: re-measure a built artifact the way the build measured it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evaluation.guard_report import evaluate_guard
from evaluation.result import forget_quality_text, readable, summary_text
from guards.bundle import load_bundle
from guards.manifest import verify_manifest
from guards.prompt_format import PromptFormat
from packager.models import load_model, resolve_model
from packager.sources import load_forget_set


def reevaluate(
    artifact: Path,
    *,
    forget: str | None,
    retain_model: str | None,
    max_new_tokens: int,
    seed: int,
    device: str,
    dtype: str,
    data_dir: Path | None,
    write_to: Path | None,
    prompt_format: PromptFormat | None = None,
) -> dict[str, Any]:
    """Scores of the unguarded, guarded and (when known) retain models on the artifact's forget set,
    measured by the function the build measured with (``evaluate_guard``).

    ``prompt_format`` overrides the bundle's (``--prompt-format``), e.g. for a base whose format was
    recorded wrongly; the bundle itself is not changed.
    """
    artifact = Path(artifact)
    verify_manifest(artifact)  # the one hash of every file; the bundle and its base are then trusted
    meta = load_bundle(artifact / "guard", hash_files=False).config.metadata
    # ``seed`` is the noise seed; a generated set's own seed is in its name (``demo:3``), so the set is
    # drawn as the build drew it, whatever noise the re-measurement uses
    fs = load_forget_set(forget or meta["forget_set"], data_dir=data_dir, seed=0)
    reference_ref = resolve_model(retain_model).subject if retain_model else None
    if reference_ref is None and meta.get("model"):
        reference_ref = resolve_model(meta["model"], fs.name, data_dir=data_dir, seed=0).retain
    reference = load_model(reference_ref, device=device, dtype=dtype) if reference_ref is not None else None
    reports = evaluate_guard(
        artifact / "guard", fs, reference=reference, seed=seed, max_new_tokens=max_new_tokens, device=device,
        dtype=dtype, hash_files=False, prompt_format=prompt_format,
    )  # fmt: skip
    scores: dict[str, Any] = {"forget_set": fs.name} | {key: report.to_dict() for key, report in reports.items()}
    if write_to is not None:
        Path(write_to).write_text(json.dumps(scores, indent=2) + "\n")
    return scores


def render_scores(scores: dict[str, Any], console: Console | None = None) -> None:
    kind = scores["guarded"].get("kind")
    if kind in ("mc", "text"):
        title = "Multiple-choice accuracy" if kind == "mc" else "Memorisation (VerbMem, KnowMem)"
        table = Table("model", "scores", title=f"{title} on {scores['forget_set']}")
        for key in ("unguarded", "guarded", "retain"):
            if key in scores:
                table.add_row(key, summary_text(scores[key]))
        (console or Console()).print(table)
        return
    table = Table(
        "model",
        "forget quality",
        "model utility",
        "forget truth ratio",
        "forget ROUGE-L",
        title=f"TOFU metrics on {scores['forget_set']}",
    )
    for key in ("unguarded", "guarded", "retain"):
        if key in scores:
            forget = scores[key]["splits"].get("forget", {})
            table.add_row(key, forget_quality_text(scores[key]),
                          *(readable(v) for v in (scores[key]["model_utility"], forget.get("truth_ratio"),
                                                  forget.get("rougeL"))))  # fmt: skip
    (console or Console()).print(table)
