"""``wmdp:bio|chem|cyber`` and ``mmlu-subset:economics|law|physics``: the ECO paper's multiple-choice
settings, read from the Hub (``cais/wmdp``, ``cais/mmlu``) or from local snapshots of those repos.

- ``wmdp:<area>``: forget = WMDP's ``wmdp-<area>`` questions; retain = the MMLU subjects closest to
  that area (``WMDP_RETAIN``), which unlearning methods are known to damage; general = the other MMLU
  subjects.
- ``mmlu-subset:<name>``: the ECO paper's split (its ``MMLUEconomics`` and friends): forget and retain
  subjects as in ``MMLU_SUBSETS``, general = every other MMLU subject.

General topics keep ``GENERAL_PER_SUBJECT`` questions per subject (the first ones), so the
classifier and the evaluation see every subject without MMLU's 14k questions in each build.

Offline, pass ``--data-dir DIR`` (or ``$ECO_PACK_DATA_DIR``) where ``DIR/wmdp`` and ``DIR/mmlu`` are
``hf download cais/wmdp --repo-type dataset --local-dir DIR/wmdp`` (and ``cais/mmlu``) snapshots: the
Hub layout, ``<config>/test-*.parquet``.
"""

from __future__ import annotations

import os
from pathlib import Path

from evaluation.forget_set import QA, ForgetSet, ForgetSetError
from packager.sources.base import SOURCES
from packager.sources.general import everyday_prompts
from packager.sources.tofu import DATA_DIR_ENV

WMDP_HUB, MMLU_HUB = "cais/wmdp", "cais/mmlu"
WMDP_RETAIN = {
    "bio": ("college_biology", "virology"),
    "chem": ("college_chemistry", "high_school_chemistry"),
    "cyber": ("computer_security", "college_computer_science"),
}
MMLU_SUBSETS = {  # name -> (forget subjects, retain subjects), as the ECO reference code splits them
    "economics": (("high_school_macroeconomics", "high_school_microeconomics"), ("econometrics",)),
    "law": (("international_law", "professional_law"), ("jurisprudence",)),
    "physics": (("college_physics", "conceptual_physics", "high_school_physics"),
                ("college_mathematics", "high_school_mathematics")),
}  # fmt: skip
MMLU_SUBJECTS = (
    "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge", "college_biology",
    "college_chemistry", "college_computer_science", "college_mathematics", "college_medicine", "college_physics",
    "computer_security", "conceptual_physics", "econometrics", "electrical_engineering", "elementary_mathematics",
    "formal_logic", "global_facts", "high_school_biology", "high_school_chemistry", "high_school_computer_science",
    "high_school_european_history", "high_school_geography", "high_school_government_and_politics",
    "high_school_macroeconomics", "high_school_mathematics", "high_school_microeconomics", "high_school_physics",
    "high_school_psychology", "high_school_statistics", "high_school_us_history", "high_school_world_history",
    "human_aging", "human_sexuality", "international_law", "jurisprudence", "logical_fallacies", "machine_learning",
    "management", "marketing", "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
    "philosophy", "prehistory", "professional_accounting", "professional_law", "professional_medicine",
    "professional_psychology", "public_relations", "security_studies", "sociology", "us_foreign_policy", "virology",
    "world_religions",
)  # fmt: skip
GENERAL_PER_SUBJECT = 20


def _rows(hub_id: str, config: str, root: Path | None) -> list[dict]:
    """The ``test`` split of one config, from ``root`` (a snapshot of ``hub_id``) or from the Hub."""
    from datasets import disable_progress_bars, load_dataset

    disable_progress_bars()  # one bar per MMLU subject is noise; the build shows its own progress
    if root is not None:
        files = sorted((root / config).glob("test-*.parquet"))
        if not files:
            raise ForgetSetError(
                f"no {hub_id} `{config}` test split under {root}: expected {root / config}/test-*.parquet; "
                f"fill it with `hf download {hub_id} --repo-type dataset --local-dir {root}`"
            )
        return [dict(r) for r in load_dataset("parquet", data_files=[str(f) for f in files], split="train")]
    try:
        return [dict(r) for r in load_dataset(hub_id, config, split="test")]
    except Exception as exc:  # offline, Hub error: the same two fixes
        raise ForgetSetError(
            f"cannot load {hub_id} `{config}`: no local data directory was given and the Hub failed "
            f"({type(exc).__name__}). Fix: on a machine with network run `hf download {hub_id} --repo-type "
            f"dataset --local-dir DIR/{hub_id.split('/')[1]}`, then pass `--data-dir DIR` (or set "
            f"${DATA_DIR_ENV}), or allow network access to the Hub"
        ) from None


def _qa(row: dict, topic: str) -> QA:
    choices = tuple(str(c) for c in row["choices"])
    return QA(question=str(row["question"]).strip(), answer=choices[int(row["answer"])], choices=choices, topic=topic)


def _root(data_dir: Path | None, name: str) -> Path | None:
    env = os.environ.get(DATA_DIR_ENV)
    base = data_dir if data_dir is not None else (Path(env) if env else None)
    return base / name if base is not None else None


def _mmlu(subjects, root: Path | None, limit: int | None = None) -> tuple[QA, ...]:
    return tuple(_qa(row, subject) for subject in subjects for row in _rows(MMLU_HUB, subject, root)[:limit])


def _forget_set(name: str, forget: tuple[QA, ...], retain_subjects, excluded, data_dir: Path | None) -> ForgetSet:
    mmlu = _root(data_dir, "mmlu")
    general = [s for s in MMLU_SUBJECTS if s not in excluded]
    return ForgetSet(
        name=name,
        kind="mc",
        forget=forget,
        retain=_mmlu(retain_subjects, mmlu),
        world_facts=_mmlu(general, mmlu, GENERAL_PER_SUBJECT),
        general=everyday_prompts(),
    )


def _choose(arg: str, options, source: str) -> str:
    if arg not in options:
        raise ForgetSetError(f"unknown `{source}:{arg}`; valid: {', '.join(f'{source}:{o}' for o in options)}")
    return arg


@SOURCES.register("wmdp")
def _wmdp_source(arg: str, data_dir: Path | None, seed: int) -> ForgetSet:
    area = _choose(arg or "bio", WMDP_RETAIN, "wmdp")
    forget = tuple(_qa(row, f"wmdp-{area}") for row in _rows(WMDP_HUB, f"wmdp-{area}", _root(data_dir, "wmdp")))
    return _forget_set(f"wmdp:{area}", forget, WMDP_RETAIN[area], WMDP_RETAIN[area], data_dir)


@SOURCES.register("mmlu-subset")
def _mmlu_subset_source(arg: str, data_dir: Path | None, seed: int) -> ForgetSet:
    name = _choose(arg or "economics", MMLU_SUBSETS, "mmlu-subset")
    forget_subjects, retain_subjects = MMLU_SUBSETS[name]
    forget = _mmlu(forget_subjects, _root(data_dir, "mmlu"))
    return _forget_set(f"mmlu-subset:{name}", forget, retain_subjects, forget_subjects + retain_subjects, data_dir)
