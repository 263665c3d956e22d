"""``custom:<path>``: a user's forget set from JSON Lines or CSV (format: docs/forget-sets.md).

``<path>`` is one ``.jsonl``/``.csv`` file whose rows carry a ``split`` column, or a directory
holding ``forget.jsonl`` (or ``.csv``) and ``retain.jsonl``, plus optional ``holdout`` and
``general`` files, where the file name gives the split.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from evaluation.forget_set import QA, ForgetSet, ForgetSetError
from packager.sources.base import SOURCES
from packager.sources.general import everyday_prompts

SPLIT_NAMES = ("forget", "retain", "holdout", "general")
SUFFIXES = (".jsonl", ".csv")
Row = dict[str, object]


def _read_rows(path: Path) -> list[tuple[int, Row]]:
    """(line number, row) pairs; any read or parse failure names the file and line."""
    if not path.is_file():
        raise ForgetSetError(f"forget-set file {path} does not exist; check the path after `custom:`")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ForgetSetError(f"cannot read {path} ({exc}); save it as UTF-8 text") from None
    if path.suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "question" not in reader.fieldnames:
            raise ForgetSetError(f"{path}: the CSV header needs a `question` column")
        return [(number, dict(row)) for number, row in enumerate(reader, start=2)]
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ForgetSetError(f"{path}:{number} is not valid JSON ({exc.msg}); fix that line") from None
        if not isinstance(row, dict):
            raise ForgetSetError(f"{path}:{number} must be a JSON object with a `question` field")
        rows.append((number, row))
    return rows


def _perturbed(row: Row) -> tuple[str, ...]:
    listed = row.get("perturbed_answers", row.get("perturbed_answer"))
    if isinstance(listed, list):
        return tuple(str(a) for a in listed if str(a).strip())
    if isinstance(listed, str) and listed.strip():
        return (listed,)
    numbered = sorted(k for k in row if k.startswith("perturbed_answer_"))  # CSV columns
    return tuple(str(row[k]) for k in numbered if row[k] and str(row[k]).strip())


def _optional(row: Row, key: str) -> str | None:
    value = row.get(key)
    return str(value).strip() if value not in (None, "") and str(value).strip() else None


def _to_qa(path: Path, number: int, row: Row) -> QA:
    question = _optional(row, "question")
    if question is None:
        raise ForgetSetError(f"{path}:{number} has no `question`; every row needs one")
    return QA(
        question=question,
        answer=_optional(row, "answer") or "",
        paraphrased_question=_optional(row, "paraphrased_question"),
        paraphrased_answer=_optional(row, "paraphrased_answer"),
        perturbed_answers=_perturbed(row),
        entity=_optional(row, "entity"),
    )


def _split_of(path: Path, number: int, row: Row, default: str | None) -> str:
    split = _optional(row, "split") or default
    if split not in SPLIT_NAMES:
        raise ForgetSetError(f"{path}:{number}: `split` must be one of {', '.join(SPLIT_NAMES)}, not {split!r}")
    return split


def _collect(root: Path) -> dict[str, list[QA]]:
    splits: dict[str, list[QA]] = {name: [] for name in SPLIT_NAMES}
    if root.is_dir():
        files = [(root / f"{name}{suffix}", name) for name in SPLIT_NAMES for suffix in SUFFIXES]
        files = [(path, name) for path, name in files if path.is_file()]
        if not any(name == "forget" for _, name in files):
            raise ForgetSetError(f"{root} has no forget.jsonl or forget.csv; add the forget prompts there")
    elif root.suffix in SUFFIXES:
        files = [(root, None)]
    elif not root.exists():
        raise ForgetSetError(f"forget-set path {root} does not exist; check the path after `custom:`")
    else:
        raise ForgetSetError(f"{root}: a custom forget set is a .jsonl or .csv file, or a directory")
    for path, default in files:
        for number, row in _read_rows(path):
            splits[_split_of(path, number, row, default)].append(_to_qa(path, number, row))
    return splits


def custom_forget_set(path: Path) -> ForgetSet:
    """Read a user's forget set; rows with paraphrases or perturbed answers also form the eval sets."""
    splits = _collect(path)

    def evaluable(rows: list[QA]) -> tuple[QA, ...]:
        return tuple(qa for qa in rows if qa.paraphrased_question or qa.perturbed_answers)

    forget = tuple(splits["forget"])
    return ForgetSet(
        name=f"custom:{path}",
        forget=forget,
        retain=tuple(splits["retain"]),
        forget_eval=evaluable(splits["forget"]),
        retain_eval=evaluable(splits["retain"]),
        holdout=tuple(splits["holdout"]),
        general=tuple(dict.fromkeys([qa.question for qa in splits["general"]] + list(everyday_prompts()))),
        entities=tuple(dict.fromkeys(qa.entity for qa in forget if qa.entity)),
    )


@SOURCES.register("custom")
def _custom_source(arg: str, data_dir: Path | None, seed: int) -> ForgetSet:
    if not arg:
        raise ForgetSetError("`custom` needs a path: `custom:path/to/forget_set.jsonl` (or .csv, or a dir)")
    return custom_forget_set(Path(arg).expanduser())
