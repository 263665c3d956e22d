"""Stage 8: results.json, the plots and the unlearning model card (README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guards.facts import FactMatcher
from guards.forget_text import ForgetText
from guards.manifest import tree_digests
from packager.card.model_card import build_model_card
from packager.card.plots import (
    classifier_score_plot,
    sigma_trace_plot,
    topic_accuracy_plot,
    truth_ratio_histogram,
    verbmem_histogram,
)
from packager.pipeline.stage import Stage
from packager.pipeline.stages.bundle import BundleResult
from packager.pipeline.stages.calibration import CalibrationResult
from packager.pipeline.stages.classifier import ClassifierResult
from packager.pipeline.stages.data import DataResult
from packager.pipeline.stages.evaluation import EvaluationResult
from packager.pipeline.stages.model import ModelResult
from packager.pipeline.stages.probe import ProbeResult
from packager.pipeline.stages.sigma import SigmaStageResult
from packager.pipeline.typed import StageResult, to_jsonable

RESULTS_FILE, CARD_FILE, PLOTS_DIR = "results.json", "README.md", "plots"
LABELS = {"unguarded": "unguarded subject", "guarded": "guarded subject", "retain": "retain reference"}


@dataclass(frozen=True)
class CardInputs:
    data: DataResult
    model: ModelResult
    classifier: ClassifierResult
    calibration: CalibrationResult
    sigma: SigmaStageResult
    bundle: BundleResult
    evaluation: EvaluationResult
    probe: ProbeResult
    name: str
    version: str


@dataclass(frozen=True, kw_only=True)
class CardResult(StageResult):
    checksums: dict[str, str]  # sha256 of results.json, README.md and the plots, relative to the stage folder


def results(inputs: CardInputs) -> dict[str, Any]:
    """The artifact's scores, as ``results.json`` holds them."""
    sigma = to_jsonable(inputs.sigma)
    sigma["final_objective"] = sigma.pop("objective")
    return {
        "forget_set": inputs.data.name,
        "kind": inputs.data.kind,
        "models": inputs.evaluation.models,
        "classifier": {"decision": to_jsonable(inputs.calibration.decision), "report": inputs.calibration.report},
        "sigma": sigma,
        "probe": {"recall": inputs.probe.report["recall"], "fpr": inputs.probe.report["fpr"]},
    }


def _plots(inputs: CardInputs, plots: Path) -> None:
    plots.mkdir()
    sigma_trace_plot(list(inputs.sigma.trace), inputs.sigma.sigma, plots / "sigma_search.png",
                     inputs.sigma.question_spread)
    reports = json.loads(inputs.evaluation.file(inputs.evaluation.reports_file).read_text())
    if inputs.data.kind == "mc":
        roles = reports["unguarded"]["roles"]
        role_of = {topic: role for role, r in roles.items() for topic in r["topics"]}
        accuracy = {LABELS[k]: {t: a for r in m["roles"].values() for t, a in r["topics"].items()}
                    for k, m in reports.items()}  # fmt: skip
        topic_accuracy_plot(accuracy, role_of, roles["forget"]["chance"], plots / "topic_accuracy.png")
    elif inputs.data.kind == "text":
        series = {f"{LABELS[k]}, forget": r["verbmem"]["forget"]["per_item"] for k, r in reports.items()}
        series["unguarded subject, holdout"] = reports["unguarded"]["verbmem"]["holdout"]["per_item"]
        verbmem_histogram(series, plots / "verbmem.png")
    else:
        series = {LABELS[k]: r["splits"]["forget"]["truth_ratios"]
                  for k, r in reports.items() if "forget" in r["splits"]}  # fmt: skip
        truth_ratio_histogram(series, plots / "truth_ratio.png")
    scores = json.loads(inputs.calibration.file(inputs.calibration.scores_file).read_text())
    classifier_score_plot(scores, inputs.calibration.decision.threshold, plots / "classifier_scores.png")


def _run(inputs: CardInputs, out: Path, session) -> CardResult:
    data = results(inputs)
    (out / RESULTS_FILE).write_text(json.dumps(data, indent=2) + "\n")
    _plots(inputs, out / PLOTS_DIR)
    guard = json.loads((inputs.bundle.guard_dir / "eco_guard.json").read_text())
    served_dir = inputs.bundle.guard_dir / guard["classifier_dir"]
    shipped = ForgetText.load(served_dir)  # what the served guard quotes
    facts = FactMatcher.load(served_dir).facts  # and the facts it matches
    report = inputs.calibration.report
    rows = {
        "paraphrase recall": report["recall"]["paraphrase"]["rate"],
        "held-out forget recall": report["recall"]["heldout_forget"]["rate"],
        **{f"false-positive rate, {name}": rate["rate"] for name, rate in report["fpr"].items()},
        "latency per prompt (ms)": report["ms_per_prompt"],
    }
    sigma = inputs.sigma
    card = build_model_card(
        data,
        name=inputs.name,
        version=inputs.version,
        base_model=inputs.model.card_name,
        forget_set=inputs.data.name,
        kind=inputs.data.kind,
        guard=guard,
        classifier={"backbone": inputs.classifier.backbone, "encoder_layers": inputs.classifier.encoder_layers,
                    "backbone_layers": inputs.classifier.backbone_layers,
                    "forget_facts": len(facts),
                    "profile": inputs.classifier.profile, "entities": inputs.classifier.entities, "report": rows,
                    "forget_prompts": shipped.prompt_count, "forget_runs": len(shipped.runs)},
        sigma={"optimizer": sigma.optimiser, "reference": sigma.reference, "distance": sigma.distance,
               "noise_seeds": sigma.noise_seeds, "evaluations": sigma.evaluations, "objective": sigma.objective,
               "question_spread": sigma.question_spread},
        probe=inputs.probe.report,
    )  # fmt: skip
    card.save(out / CARD_FILE)
    return CardResult(checksums=tree_digests(out))


STAGE = Stage("card", "Model card", CardResult, _run,
              code=("packager.pipeline.stages.card", "packager.card", "guards.forget_text", "guards.facts"))
