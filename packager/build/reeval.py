"""``eco-pack eval``: re-measure a built artifact the way the build measured it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.metrics.evaluate import EvalConfig, evaluate
from guards.base_model import load_base_model
from guards.bundle import load_bundle
from guards.guarded_model import GuardedModel
from guards.manifest import verify_manifest
from packager.models import resolve_model
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
) -> dict[str, Any]:
    """Scores of the unguarded, guarded and (when known) retain models on the artifact's forget set."""
    verify_manifest(artifact)
    bundle = load_bundle(Path(artifact) / "guard")
    meta = bundle.config.metadata
    fs = load_forget_set(forget or meta["forget_set"], data_dir=data_dir, seed=seed)
    guarded = bundle.guarded_model(device=device, dtype=dtype)
    reference_ref = resolve_model(retain_model).subject if retain_model else None
    if reference_ref is None and meta.get("model"):
        reference_ref = resolve_model(meta["model"], fs.name, data_dir=data_dir).retain
    scores: dict[str, Any] = {"forget_set": fs.name}
    reference = None
    if reference_ref is not None:
        r_model, r_tok = load_base_model(reference_ref, device=device, dtype=dtype)
        plain = GuardedModel(r_model, r_tok, classifier=None, prompt_format=bundle.config.prompt_format)
        report = evaluate(plain, fs, EvalConfig(flags="none", seed=seed, max_new_tokens=max_new_tokens))
        reference = report.splits["forget"].truth_ratios
        scores["retain"] = report.to_dict()
    for key, flags in (("unguarded", "none"), ("guarded", "classifier")):
        config = EvalConfig(flags=flags, seed=seed, max_new_tokens=max_new_tokens)
        scores[key] = evaluate(guarded, fs, config, reference_ratios=reference).to_dict()
    if write_to is not None:
        Path(write_to).write_text(json.dumps(scores, indent=2) + "\n")
    return scores


def render_scores(scores: dict[str, Any], console: Console | None = None) -> None:
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
            table.add_row(
                key,
                *(
                    f"{v:.4g}" if isinstance(v, float) else str(v)
                    for v in (
                        scores[key]["forget_quality"],
                        scores[key]["model_utility"],
                        forget.get("truth_ratio"),
                        forget.get("rougeL"),
                    )
                ),
            )
    (console or Console()).print(table)
