"""Build the unlearning model card from ``ModelCardData`` + ``EvalResult`` + a jinja template."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from evaluation.result import forget_quality_text, rate_text, readable, value_text

TEMPLATE = Path(__file__).with_name("model_card.md.j2")
MODEL_LABELS = {"unguarded": "subject (unguarded)", "guarded": "subject + ECO guard", "retain": "retain reference"}
SPLIT_LABELS = {"forget": "forget", "retain": "retain", "real_authors": "real authors", "world_facts": "world facts"}
DATASETS = {"tofu": "locuslab/TOFU", "wmdp": "cais/wmdp", "mmlu-subset": "cais/mmlu"}  # source -> Hub dataset


def _mc_eval_results(results: Mapping[str, Any], dataset: str, dataset_name: str) -> list[EvalResult]:
    return [
        EvalResult(task_type="multiple-choice", task_name="unlearning", dataset_type=dataset,
                   dataset_name=dataset_name, metric_type="accuracy", metric_name=f"{role} accuracy",
                   metric_value=float(r["accuracy"]))
        for role, r in results["models"]["guarded"]["roles"].items()
    ]  # fmt: skip


def _text_tables(models: Mapping[str, Any]) -> dict[str, Any]:
    """The text section's rows: VerbMem (and KnowMem, where the set has questions) per role and model."""
    columns = [(metric, role) for metric in ("verbmem", "knowmem") for role in models["unguarded"][metric]]
    names = {"verbmem": "VerbMem", "knowmem": "KnowMem"}
    return {
        "text_columns": [f"{role} {names[metric]}" for metric, role in columns],
        "text_rows": [{"model": MODEL_LABELS[k],
                       "values": [value_text(m[metric][role], "value") for metric, role in columns]}
                      for k, m in models.items()],
        "flagged": {r: f"{m['flagged']} of {m['n']}" for r, m in models["guarded"]["verbmem"].items()},
    }  # fmt: skip


def _text_eval_results(results: Mapping[str, Any], dataset: str, dataset_name: str) -> list[EvalResult]:
    guarded = results["models"]["guarded"]
    return [
        EvalResult(task_type="text-generation", task_name="unlearning", dataset_type=dataset,
                   dataset_name=dataset_name, metric_type=metric, metric_name=f"{role} {metric}",
                   metric_value=float(r["value"]))
        for metric in ("verbmem", "knowmem") for role, r in guarded[metric].items()
    ]  # fmt: skip


def _mc_tables(models: Mapping[str, Any]) -> dict[str, Any]:
    """The multiple-choice section's rows: accuracy per role and per topic for each model."""
    roles = list(models["unguarded"]["roles"])
    role_of = {t: role for role in roles for t in models["unguarded"]["roles"][role]["topics"]}
    return {
        "mc_roles": roles,
        "mc_rows": [{"model": MODEL_LABELS[k], "values": [value_text(m["roles"][r]) for r in roles]}
                    for k, m in models.items()],
        "mc_models": [MODEL_LABELS[k] for k in models],
        "topic_rows": [{"topic": t, "role": role_of[t],
                        "values": [readable(m["roles"][role_of[t]]["topics"][t]) for m in models.values()]}
                       for t in role_of],
        "chance": readable(models["unguarded"]["roles"]["forget"]["chance"]),
        "flagged": {r: f"{m['flagged']} of {m['n']}" for r, m in models["guarded"]["roles"].items()},
    }  # fmt: skip


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


EVAL_RESULTS = {"qa": _eval_results, "mc": _mc_eval_results, "text": _text_eval_results}  # by kind


def build_model_card(
    results: Mapping[str, Any],
    *,
    name: str,
    version: str,
    base_model: str,
    forget_set: str,
    guard: Mapping[str, Any],
    kind: str = "qa",
    classifier: Mapping[str, Any],
    sigma: Mapping[str, Any],
    probe: Mapping[str, Any] | None = None,
    license: str | None = None,
) -> ModelCard:
    """The card for one artifact.

    ``results`` is the artifact's ``results.json``; ``guard`` its ``eco_guard.json``;
    ``classifier`` holds ``backbone``, ``forget_facts``, ``entities``, ``forget_prompts`` and
    ``forget_runs`` (how many), ``profile`` (the augmentation profile) and ``report`` (measure -> value);
    ``sigma`` the search summary; ``probe`` the attack report (``evaluation.probe``). ``kind`` is the
    forget set's (``qa``: TOFU's scores; ``mc``: accuracy per topic).
    """
    source = forget_set.split(":")[0]
    dataset = DATASETS.get(source, f"eco-pack/{source}")
    card_data = ModelCardData(
        model_name=f"{name}-{version}",
        base_model=base_model,
        datasets=[dataset],
        tags=["unlearning", "eco", "guardrail", "eco-pack"],
        license=license or "other",
        library_name="transformers",
        eval_results=EVAL_RESULTS[kind](results, dataset, f"{forget_set} (guarded)"),
    )
    models = results["models"]
    common = _common(name, version, base_model, forget_set, guard, classifier, sigma, probe)
    if kind in ("mc", "text"):
        tables = _mc_tables(models) if kind == "mc" else _text_tables(models)
        return ModelCard.from_template(card_data, template_path=str(TEMPLATE), kind=kind, **tables, **common)

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
        kind=kind,
        summary_rows=summary_rows,
        split_tables=split_tables,
        reference_note=reference_note,
        **common,
    )


def _common(name: str, version: str, base_model: str, forget_set: str, guard: Mapping[str, Any],
            classifier: Mapping[str, Any], sigma: Mapping[str, Any], probe: Mapping[str, Any] | None) -> dict[str, Any]:
    """What every kind's card says: the guard, the classifier, the attack report, sigma, how to use it."""
    return dict(
        name=name,
        version=version,
        base_model=base_model,
        forget_set=forget_set,
        corruption=guard["corruption"],
        selection=guard["selection"]["method"],
        decision=guard["decision"],
        classifier={k: classifier.get(k) for k in ("backbone", "encoder_layers", "backbone_layers", "forget_facts",
                                                   "profile", "entities", "forget_prompts", "forget_runs")},
        classifier_rows=[(k, readable(v)) for k, v in classifier["report"].items()],
        probe_rows=[(family, rate_text(probe["recall"][family]), rate_text(probe["fpr"][family]))
                    for family in probe["recall"]]
        if probe else [],
        sigma=sigma,
        artifact_dir=f"dist/{name}-{version}",
        eco_pack_version=package_version("eco-pack"),
    )  # fmt: skip
