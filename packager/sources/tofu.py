"""``tofu:forget01|forget05|forget10``: TOFU, from a local JSON Lines mirror or from the Hub.

Local files are named like the Hub subsets (``forget10.jsonl``). The directory comes from the
``data_dir`` argument (``--data-dir``) or ``$ECO_PACK_DATA_DIR``; without either, the subsets are
read from the Hub with ``datasets.load_dataset("locuslab/TOFU", subset)``.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from evaluation.forget_set import QA, ForgetSet, ForgetSetError
from packager.sources.base import SOURCES
from packager.sources.general import everyday_prompts

HUB_ID = "locuslab/TOFU"
DATA_DIR_ENV = "ECO_PACK_DATA_DIR"
SPLITS = {
    "forget01": ("retain99", "holdout01"),
    "forget05": ("retain95", "holdout05"),
    "forget10": ("retain90", "holdout10"),
}
QA_PER_AUTHOR = 20  # TOFU lists its authors one after the other, 20 QA each

Record = dict[str, object]


def _read_jsonl(path: Path) -> list[Record]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ForgetSetError(
            f"cannot read TOFU file {path}: {exc.strerror}; check `--data-dir`"
        ) from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ForgetSetError(
                f"{path}:{number} is not valid JSON ({exc.msg}); re-download the file"
            ) from None
    return records


def _local_reader(root: Path) -> Callable[[str], list[Record]]:
    if not root.is_dir():
        raise ForgetSetError(
            f"TOFU data directory {root} does not exist; fix `--data-dir` or ${DATA_DIR_ENV}"
        )

    def read(subset: str) -> list[Record]:
        path = root / f"{subset}.jsonl"
        if not path.is_file():
            raise ForgetSetError(
                f"TOFU subset `{subset}` is missing: no file {path}; "
                f"copy {subset}.jsonl there or point `--data-dir` at a complete mirror"
            )
        return _read_jsonl(path)

    return read


def _hub_read(subset: str) -> list[Record]:
    try:
        from datasets import load_dataset

        return [dict(row) for row in load_dataset(HUB_ID, subset, split="train")]
    except Exception as exc:  # offline, missing package, Hub error: all end in the same two fixes
        raise ForgetSetError(
            f"cannot load TOFU subset `{subset}`: no local data directory was given and the "
            f"Hub ({HUB_ID}) failed ({type(exc).__name__}). Fix: pass `--data-dir DIR` (or set "
            f"${DATA_DIR_ENV}) to a folder of TOFU JSON Lines files, or allow network access "
            "to the Hub"
        ) from None


def _qa(record: Record, entity: str | None = None) -> QA:
    perturbed = record.get("perturbed_answer") or ()
    return QA(
        question=str(record["question"]),
        answer=str(record.get("answer", "")),
        paraphrased_question=record.get("paraphrased_question"),  # type: ignore[arg-type]
        paraphrased_answer=record.get("paraphrased_answer"),  # type: ignore[arg-type]
        perturbed_answers=tuple(str(a) for a in perturbed),  # type: ignore[union-attr]
        entity=entity,
    )


_NAME = re.compile(
    r"[A-Z][\w'\-.]*(?:\s+(?:[A-Z][\w'\-.]*|al|bin|de|del|da|van|von|el))*\s+[A-Z][\w'\-]+"
)
_NOT_NAME = {
    "What",
    "Who",
    "How",
    "Did",
    "Does",
    "Do",
    "Is",
    "Can",
    "Could",
    "In",
    "Has",
    "Have",
    "Which",
    "Where",
    "When",
    "Why",
    "The",
    "Are",
    "Was",
    "Were",
    "Would",
    "Will",
    "Besides",
    "Apart",
    "Aside",
    "Beyond",
    "As",
    "Given",
    "Considering",
    "From",
    "For",
    "On",
    "With",
    "Of",
    "To",
    "Other",
    "Being",
    "Author",
    "Writer",
    "Please",
    "Tell",
    "Name",
    "Also",
}


def _candidates(text: str) -> list[str]:
    found = []
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        while words and words[0] in _NOT_NAME:
            words.pop(0)
        for end, word in enumerate(words):  # a possessive ends the name: "Ji-Yeon Park's Seoul"
            if word.endswith(("'s", "'")):
                words = words[: end + 1]
                break
        name = re.sub(r"'s?$", "", " ".join(words)).rstrip(".")
        if len(name.split()) >= 2:
            found.append(name)
    return found


def author_names(questions: list[str]) -> list[str]:
    """The author of each block of 20 questions: its most frequent capitalised multi-word name."""
    names = []
    for start in range(0, len(questions), QA_PER_AUTHOR):
        counts = Counter(
            c for q in questions[start : start + QA_PER_AUTHOR] for c in _candidates(q)
        )
        if counts:
            names.append(max(counts, key=lambda n: (counts[n], len(n))))
    return names


def _with_entities(records: list[Record]) -> tuple[QA, ...]:
    questions = [str(r["question"]) for r in records]
    if len(records) % QA_PER_AUTHOR:
        return tuple(_qa(r) for r in records)
    names = author_names(questions)
    if len(names) != len(records) // QA_PER_AUTHOR:
        return tuple(_qa(r) for r in records)
    return tuple(_qa(r, names[i // QA_PER_AUTHOR]) for i, r in enumerate(records))


def tofu_forget_set(split: str = "forget10", data_dir: Path | None = None) -> ForgetSet:
    """Read a TOFU forget split with its paired retain, holdout and evaluation subsets."""
    if split not in SPLITS:
        raise ForgetSetError(
            f"unknown TOFU subset `{split}`; valid: {', '.join(f'tofu:{s}' for s in SPLITS)}"
        )
    env_dir = os.environ.get(DATA_DIR_ENV)
    root = data_dir if data_dir is not None else (Path(env_dir) if env_dir else None)
    read = _local_reader(root) if root is not None else _hub_read
    retain_name, holdout_name = SPLITS[split]
    forget = _with_entities(read(split))
    by_question = {qa.question: qa.entity for qa in forget}
    return ForgetSet(
        name=f"tofu:{split}",
        forget=forget,
        retain=_with_entities(read(retain_name)),
        forget_eval=tuple(
            _qa(r, by_question.get(str(r["question"]))) for r in read(f"{split}_perturbed")
        ),
        retain_eval=tuple(_qa(r) for r in read("retain_perturbed")),
        holdout=_with_entities(read(holdout_name)),
        real_authors=tuple(_qa(r) for r in read("real_authors_perturbed")),
        world_facts=tuple(_qa(r) for r in read("world_facts_perturbed")),
        general=everyday_prompts(),
        entities=tuple(dict.fromkeys(qa.entity for qa in forget if qa.entity)),
    )


@SOURCES.register("tofu")
def _tofu_source(arg: str, data_dir: Path | None, seed: int) -> ForgetSet:
    return tofu_forget_set(arg or "forget10", data_dir)
