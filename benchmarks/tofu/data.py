"""The TOFU data a run reads: the mirror itself, or a small nested subset of it for ``--quick``, or
(``--exchangeable-holdout``) the mirror with some of ``full``'s authors set aside as the holdout.

TOFU lists 200 authors x 20 QA; forget10/05/01 are the last 20/10/2 authors. The quick subset
keeps a few retain authors plus the 20th, 10th, 2nd and last author from the end (180, 190, 198 and
199 of TOFU's 200, wherever the forget splits' authors begin), so its forget10 holds 4 authors,
forget05 3 and forget01 2, nested as in TOFU, and every file is filtered consistently by question.

TOFU's own holdout authors were written apart from ``full``'s, and a model that learned neither
finds them harder than the forget authors (docs/sigma.md), so a surrogate that reads its target on
them aims off. Set aside, authors of ``full`` are exchangeable with the forget authors: written the
same way, learned by no model of the run.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from guards.errors import EcoPackError

QA_PER_AUTHOR = 20
QUICK_FORGET_FROM_END = (20, 10, 2, 1)  # the forget authors the quick subset keeps, counted from the last
FULL_FILES = ("full", "forget01", "forget05", "forget10", "retain90", "retain95", "retain99",
              "forget01_perturbed", "forget05_perturbed", "forget10_perturbed", "retain_perturbed")
OTHER_FILES = ("holdout01", "holdout05", "holdout10", "real_authors_perturbed", "world_facts_perturbed")


class BenchmarkDataError(EcoPackError):
    """The TOFU mirror is missing or incomplete; the message names the option to fix."""


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_mirror(data_dir: Path | None) -> Path:
    """``data_dir`` if it holds every TOFU file the benchmark reads."""
    if data_dir is None:
        raise BenchmarkDataError("no TOFU data: pass `--data-dir DIR` or set $ECO_PACK_DATA_DIR")
    missing = [n for n in FULL_FILES + OTHER_FILES if not (Path(data_dir) / f"{n}.jsonl").is_file()]
    if missing:
        raise BenchmarkDataError(f"`--data-dir` {data_dir} lacks {', '.join(m + '.jsonl' for m in missing)}")
    return Path(data_dir)


def fingerprint(data_dir: Path) -> str:
    """sha256 over the files the benchmark reads, so changed data re-runs every stage."""
    digest = hashlib.sha256()
    for name in FULL_FILES + OTHER_FILES:
        digest.update(name.encode())
        digest.update(hashlib.sha256((Path(data_dir) / f"{name}.jsonl").read_bytes()).digest())
    return digest.hexdigest()


def write_exchangeable_holdout(data_dir: Path, out: Path, seed: int) -> dict[str, object]:
    """Write ``data_dir`` into ``out`` with as many of ``full``'s authors as forget10 holds, drawn with
    ``seed`` from those in no forget split and not in ``retain_perturbed`` (model utility's questions),
    taken out of every training file and written as the holdout: holdout10 all of them, holdout05 and
    holdout01 the first as many as forget05 and forget01 hold. Returns the authors and records per file."""
    files = {name: _read(data_dir / f"{name}.jsonl") for name in FULL_FILES + OTHER_FILES}
    full = files["full"]
    author_of = {r["question"]: i // QA_PER_AUTHOR for i, r in enumerate(full)}
    sizes = {n: len({author_of[r["question"]] for r in files[f"forget{n}"]}) for n in ("01", "05", "10")}
    busy = {author_of.get(r["question"]) for name in ("forget10", "retain_perturbed") for r in files[name]}
    free = sorted(set(author_of.values()) - busy)
    if len(free) < sizes["10"]:
        raise BenchmarkDataError(f"`--exchangeable-holdout` needs {sizes['10']} authors of full outside forget10 and "
                                 f"retain_perturbed; {data_dir} has {len(free)}: run without it")
    reserved = random.Random(seed).sample(free, sizes["10"])
    rank = {author: i for i, author in enumerate(reserved)}
    held = sorted((r for r in full if author_of[r["question"]] in rank), key=lambda r: rank[author_of[r["question"]]])
    for name in ("full", "retain90", "retain95", "retain99"):
        files[name] = [r for r in files[name] if author_of[r["question"]] not in rank]
    for n, authors in sizes.items():
        files[f"holdout{n}"] = [{"question": r["question"], "answer": r["answer"]}
                                for r in held[: authors * QA_PER_AUTHOR]]
    for name, records in files.items():
        (out / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return {"authors": sorted(reserved), "files": {name: len(records) for name, records in files.items()}}


def write_quick_subset(data_dir: Path, out: Path, retain_authors: int = 4, other: int = 20) -> dict[str, int]:
    """Write the quick subset of ``data_dir`` into ``out``; returns records per file."""
    full = _read(data_dir / "full.jsonl")
    last = len(full) // QA_PER_AUTHOR
    authors = set(range(retain_authors)) | {last - k for k in QUICK_FORGET_FROM_END}
    keep = {r["question"] for i, r in enumerate(full) if i // QA_PER_AUTHOR in authors}
    counts = {}
    for name in FULL_FILES + OTHER_FILES:
        records = _read(data_dir / f"{name}.jsonl")
        if name in FULL_FILES:
            records = [r for r in records if r["question"] in keep]
        else:  # holdout and general-knowledge files: their first records
            records = records[: (2 * QA_PER_AUTHOR if name.startswith("holdout") else other)]
        (out / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        counts[name] = len(records)
    return counts
