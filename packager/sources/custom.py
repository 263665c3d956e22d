"""``custom:<path>``: a user's forget set from JSON Lines or CSV (format: docs/forget-sets.md).

``<path>`` is one ``.jsonl``/``.csv`` file whose rows carry a ``split`` column, or a directory
holding ``forget.jsonl`` (or ``.csv``) and ``retain.jsonl``, plus optional ``holdout`` and
``general`` files, where the file name gives the split.

Rows with ``text`` (a passage) make a text corpus (``text``): each passage is split into its first
sentence (the prefix) and the rest, or takes explicit ``prefix`` and ``continuation``; ``topic`` names
its book or document; ``question``/``answer`` rows in such a set are questions about the corpus.
Rows with ``choices`` make a multiple-choice (``mc``) set: ``answer`` is then the correct option's
index (0-based), its letter or its text, ``topic`` names what it is about, and ``general`` rows
with choices are the general topics' questions (without, everyday prompts as in a ``qa`` set).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from evaluation.forget_set import MAX_CHOICES, QA, ForgetSet, ForgetSetError
from evaluation.multiple_choice import LETTERS
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
        if not reader.fieldnames or not {"question", "text", "prefix"} & set(reader.fieldnames):
            raise ForgetSetError(f"{path}: the CSV header needs a `question` column (or `text` for passages)")
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


def _choices(path: Path, number: int, row: Row) -> tuple[str, ...]:
    """A row's options: a JSON list (in a CSV cell too); none when the row has no ``choices``."""
    value = row.get("choices")
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_CHOICES or not all(str(c).strip() for c in value):
        raise ForgetSetError(
            f"{path}:{number}: `choices` must be a list of 2-{MAX_CHOICES} non-empty options "
            '(in a CSV cell, as JSON: ["first", "second", ...])'
        )
    return tuple(str(c).strip() for c in value)


def _mc_answer(path: Path, number: int, row: Row, choices: tuple[str, ...]) -> str:
    """The correct option's text from ``answer``: its index (0-based), its letter or its text."""
    value = row.get("answer")
    text = str(value).strip() if value is not None else ""
    if text in choices:
        return text
    if text.isdigit() and int(text) < len(choices):
        return choices[int(text)]
    if len(text) == 1 and text.upper() in LETTERS[: len(choices)]:
        return choices[LETTERS.index(text.upper())]
    raise ForgetSetError(
        f"{path}:{number}: `answer` {value!r} is not one of the {len(choices)} `choices`; give the correct "
        f"option's index (0 to {len(choices) - 1}), its letter (A to {LETTERS[len(choices) - 1]}) or its text"
    )


def split_passage(text: str) -> tuple[str, str]:
    """(prefix, continuation): the first sentence and the rest, or the first half of the words when
    the first sentence is most of the passage."""
    words = text.split()
    first = re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)
    if len(first) == 2 and len(first[0].split()) <= len(words) // 2:
        return first[0], first[1]
    half = max(1, len(words) // 2)
    return " ".join(words[:half]), " ".join(words[half:])


def _passage(path: Path, number: int, row: Row) -> QA:
    text, prefix, continuation = (_optional(row, k) for k in ("text", "prefix", "continuation"))
    if prefix is None and text is not None:
        prefix, continuation = split_passage(text)
    if not prefix or not continuation:
        raise ForgetSetError(
            f"{path}:{number}: a passage needs `text` of at least two words (or both `prefix` and `continuation`)"
        )
    return QA(question=prefix, answer=continuation, topic=_optional(row, "topic"), entity=_optional(row, "entity"))


def _to_qa(path: Path, number: int, row: Row) -> QA:
    question = _optional(row, "question")
    if question is None:
        raise ForgetSetError(f"{path}:{number} has no `question`; every row needs one")
    choices = _choices(path, number, row)
    if choices:
        return QA(question=question, answer=_mc_answer(path, number, row, choices), choices=choices,
                  topic=_optional(row, "topic"), entity=_optional(row, "entity"))  # fmt: skip
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


Rows = dict[str, list[tuple[str, QA]]]  # split -> (row kind: qa, mc or text; the row)


def _collect(root: Path) -> tuple[Rows, dict[int, str]]:
    """The rows by split with their kinds, and where each came from (``id(qa)`` -> "file:line")."""
    splits: Rows = {name: [] for name in SPLIT_NAMES}
    where: dict[int, str] = {}
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
            is_passage = any(_optional(row, k) for k in ("text", "prefix"))
            qa = _passage(path, number, row) if is_passage else _to_qa(path, number, row)
            kind = "text" if is_passage else ("mc" if qa.choices else "qa")
            splits[_split_of(path, number, row, default)].append((kind, qa))
            where[id(qa)] = f"{path}:{number}"
    return splits, where


def _kind_of(splits: Rows, where: dict[int, str]) -> str:
    """``text`` when rows carry passages, ``mc`` when they carry ``choices``, else ``qa``; not both."""
    rows = [(kind, qa) for split in splits.values() for kind, qa in split]
    passage = next((qa for kind, qa in rows if kind == "text"), None)
    choice = next((qa for kind, qa in rows if kind == "mc"), None)
    if passage is not None and choice is not None:
        raise ForgetSetError(
            f"{where[id(choice)]}: this set has passages (`text`, e.g. {where[id(passage)]}) and multiple-choice rows; "
            "a set is one kind: put them in two sets"
        )
    return "text" if passage is not None else ("mc" if choice is not None else "qa")


def _require(kind: str, splits: Rows, where: dict[int, str], needed: tuple[str, ...], what: str) -> None:
    """Every row of the ``needed`` splits is of ``kind``; the first that is not is named."""
    for split in needed:
        odd = next((qa for row_kind, qa in splits[split] if row_kind != kind), None)
        if odd is not None:
            raise ForgetSetError(
                f"{where[id(odd)]}: this set is {what} but this {split} row is not; give every "
                f"{' and '.join(needed)} row its {'`choices` and `answer`' if kind == 'mc' else '`text`'}"
            )


def custom_forget_set(path: Path) -> ForgetSet:
    """Read a user's forget set; rows with paraphrases or perturbed answers also form the eval sets,
    rows with ``choices`` make it a multiple-choice set, rows with ``text`` a text corpus."""
    splits, where = _collect(path)
    kind = _kind_of(splits, where)
    rows = {split: [qa for _, qa in items] for split, items in splits.items()}
    of_kind = {split: [qa for row_kind, qa in items if row_kind == kind] for split, items in splits.items()}
    others = {split: [qa for row_kind, qa in items if row_kind != kind] for split, items in splits.items()}
    everyday = [qa.question for qa in others["general"]] if kind != "qa" else [qa.question for qa in rows["general"]]
    if kind == "text":  # a general passage is an everyday prompt, whole
        everyday += [f"{qa.question} {qa.answer}" for qa in of_kind["general"]]
    common = dict(
        name=f"custom:{path}",
        kind=kind,
        general=tuple(dict.fromkeys(everyday + list(everyday_prompts()))),
        entities=tuple(dict.fromkeys(qa.entity for qa in rows["forget"] if qa.entity)),
    )
    if kind == "mc":
        _require("mc", splits, where, ("forget", "retain"), "multiple-choice (other rows have `choices`)")
        return ForgetSet(forget=tuple(rows["forget"]), retain=tuple(rows["retain"]), holdout=tuple(rows["holdout"]),
                         world_facts=tuple(of_kind["general"]), **common)  # fmt: skip
    if kind == "text":
        _require("text", splits, where, ("holdout",), "a text corpus (other rows have `text`)")
        return ForgetSet(forget=tuple(of_kind["forget"]), retain=tuple(of_kind["retain"]),
                         holdout=tuple(of_kind["holdout"]), forget_eval=tuple(others["forget"]),
                         retain_eval=tuple(others["retain"]), **common)  # fmt: skip

    def evaluable(items: list[QA]) -> tuple[QA, ...]:
        return tuple(qa for qa in items if qa.paraphrased_question or qa.perturbed_answers)

    return ForgetSet(
        forget=tuple(rows["forget"]),
        retain=tuple(rows["retain"]),
        forget_eval=evaluable(rows["forget"]),
        retain_eval=evaluable(rows["retain"]),
        holdout=tuple(rows["holdout"]),
        **common,
    )


@SOURCES.register("custom")
def _custom_source(arg: str, data_dir: Path | None, seed: int) -> ForgetSet:
    if not arg:
        raise ForgetSetError("`custom` needs a path: `custom:path/to/forget_set.jsonl` (or .csv, or a dir)")
    return custom_forget_set(Path(arg).expanduser())
