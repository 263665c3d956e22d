"""Stage 7: the saved bundle's scores (``evaluation.guard_report``, as ``eco-pack eval`` measures
them): the unguarded subject, the guarded subject and the retain reference, with TOFU's metrics for
a ``qa`` set and accuracy per topic for an ``mc`` set."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.guard_report import evaluate_guard
from evaluation.result import summary_text
from packager.pipeline.stage import Stage
from packager.pipeline.stages.bundle import BundleResult
from packager.pipeline.stages.data import DataResult
from packager.pipeline.stages.model import ModelResult
from packager.pipeline.typed import StageResult

REPORTS_FILE = "reports.json"


@dataclass(frozen=True)
class EvaluationInputs:
    data: DataResult
    model: ModelResult  # the retain reference, when there is one
    bundle: BundleResult  # the guard that is measured, and shipped
    seed: int
    max_new_tokens: int
    fq_seeds: int  # forget quality is read over this many noise seeds


@dataclass(frozen=True, kw_only=True)
class EvaluationResult(StageResult):
    models: dict[str, dict[str, Any]]  # per model: forget quality, model utility, per-split summaries
    evaluated_guard: dict[str, str]  # the checksums of the bundle that was measured
    reports_file: str = REPORTS_FILE  # the full reports (per-question truth ratios, for the card's plot)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    if report.get("kind") == "mc":  # all but the per-question table
        roles = {name: {k: v for k, v in role.items() if k != "correct"} for name, role in report["roles"].items()}
        return report | {"roles": roles}
    if report.get("kind") == "text":
        return report | {metric: {name: {k: v for k, v in role.items() if k != "per_item"}
                                  for name, role in report[metric].items()} for metric in ("verbmem", "knowmem")}
    keep = ("n", "flagged", "prob", "rougeL", "truth_ratio")
    return {
        "forget_quality": report["forget_quality"],
        "forget_quality_over_seeds": report["forget_quality_over_seeds"],
        "model_utility": report["model_utility"],
        "splits": {name: {k: split[k] for k in keep} for name, split in report["splits"].items()},
    }


def _run(inputs: EvaluationInputs, out: Path, session) -> EvaluationResult:
    retain = inputs.model.retain
    reports = evaluate_guard(
        inputs.bundle.guard_dir,
        session.forget_set,
        reference=session.model(retain) if retain is not None else None,
        seed=inputs.seed,
        max_new_tokens=inputs.max_new_tokens,
        noise_seeds=inputs.fq_seeds,
        device=session.device,
        dtype=session.dtype,
        hash_files=False,  # the bundle stage hashed these files a moment ago
        console=session.console,
    )
    as_dicts = {key: report.to_dict() for key, report in reports.items()}
    (out / REPORTS_FILE).write_text(json.dumps(as_dicts) + "\n")
    for key, r in as_dicts.items():
        session.console.print(f"{key:>10}: {summary_text(r)}")
    guard = {k: v for k, v in inputs.bundle.checksums.items() if k.startswith("guard/")}
    return EvaluationResult(models={k: _summary(r) for k, r in as_dicts.items()}, evaluated_guard=guard)


STAGE = Stage("evaluation", "Evaluation", EvaluationResult, _run,
              code=("packager.pipeline.stages.evaluation", "evaluation", "guards"))  # fmt: skip
