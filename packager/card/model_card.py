"""Build the unlearning model card from ``ModelCardData`` + ``EvalResult`` + a jinja template."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from evaluation.probe import rate_text
from evaluation.result import forget_quality_text, readable

TEMPLATE = Path(__file__).with_name("model_card.md.j2")
MODEL_LABELS = {"unguarded": "subject (unguarded)", "guarded": "subject + ECO guard", "retain": "retain reference"}
SPLIT_LABELS = {"forget": "forget", "retain": "retain", "real_authors": "real authors", "world_facts": "world facts"}


def _eval_results(results: Mapping[str, Any], dataset: str, dataset_name: str) -> list[EvalResult]:
    guarded = results["models"]["guarded"]
    out = []
    for metric in ("forget_quality", "model_utility"):
        if guarded.get(metric) is not None:
            out.append(
                EvalResult(
                    task_type="text-generation",
                    task_name="unlearning",
                    dataset_type=dataset,
                    dataset_name=dataset_name,
                    metric_type=metric,
                    metric_name=metric.replace("_", " "),
                    metric_value=float(guarded[metric]),
                )
            )
    return out


def build_model_card(
    results: Mapping[str, Any],
    *,
    name: str,
    version: str,
    base_model: str,
    forget_set: str,
    guard: Mapping[str, Any],
    classifier: Mapping[str, Any],
    sigma: Mapping[str, Any],
    probe: Mapping[str, Any] | None = None,
    license: str | None = None,
) -> ModelCard:
    """The card for one artifact.

    ``results`` is the artifact's ``results.json``; ``guard`` its ``eco_guard.json``;
    ``classifier`` holds ``backbone``, ``forget_facts`` and ``entities`` (how many), ``profile`` (the
    augmentation profile) and ``report`` (measure -> value);
    ``sigma`` the search summary; ``probe`` the attack report (``evaluation.probe``).
    """
    dataset = "locuslab/TOFU" if forget_set.startswith("tofu") else f"eco-pack/{forget_set.split(':')[0]}"
    card_data = ModelCardData(
        model_name=f"{name}-{version}",
        base_model=base_model,
        datasets=[dataset],
        tags=["unlearning", "eco", "guardrail", "eco-pack"],
        license=license or "other",
        library_name="transformers",
        eval_results=_eval_results(results, dataset, f"{forget_set} (guarded)"),
    )
    models = results["models"]
    summary_rows = [
        {
            "model": MODEL_LABELS[key],
            "forget_quality": forget_quality_text(m),
            "model_utility": readable(m.get("model_utility")),
            "truth_ratio": readable(m["splits"].get("forget", {}).get("truth_ratio")),
            "rougeL": readable(m["splits"].get("forget", {}).get("rougeL")),
            "prob": readable(m["splits"].get("forget", {}).get("prob")),
        }
        for key, m in models.items()
    ]
    split_tables = [
        {
            "name": SPLIT_LABELS.get(split, split),
            "rows": [
                {
                    "model": MODEL_LABELS[key],
                    **{k: readable(m["splits"][split].get(k)) for k in ("prob", "rougeL", "truth_ratio")},
                }
                for key, m in models.items()
                if split in m["splits"]
            ],
        }
        for split in SPLIT_LABELS
        if any(split in m["splits"] for m in models.values())
    ]
    reference_note = (
        "Forget quality is measured against the retain reference (a model fine-tuned without the forget set)."
        if "retain" in models
        else "No retain reference was available, so forget quality is not reported."
    )
    return ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        name=name,
        version=version,
        base_model=base_model,
        forget_set=forget_set,
        corruption=guard["corruption"],
        selection=guard["selection"]["method"],
        decision=guard["decision"],
        classifier={k: classifier.get(k) for k in ("backbone", "forget_facts", "profile", "entities")},
        classifier_rows=[(k, readable(v)) for k, v in classifier["report"].items()],
        probe_rows=[(family, rate_text(probe["recall"][family]), rate_text(probe["fpr"][family]))
                    for family in probe["recall"]]
        if probe else [],
        sigma=sigma,
        summary_rows=summary_rows,
        split_tables=split_tables,
        reference_note=reference_note,
        artifact_dir=f"dist/{name}-{version}",
        eco_pack_version=package_version("eco-pack"),
    )
