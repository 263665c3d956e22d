"""The TOFU data a run reads: the mirror itself, or a small nested subset of it for ``--quick``.

TOFU lists 200 authors x 20 QA; forget10/05/01 are the last 20/10/2 authors. The quick subset
keeps a few retain authors plus authors 180, 190, 198 and 199, so its forget10 holds 4 authors,
forget05 3 and forget01 2, nested as in TOFU, and every file is filtered consistently by question.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from guards.errors import EcoPackError

QA_PER_AUTHOR = 20
QUICK_FORGET_AUTHORS = (180, 190, 198, 199)
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


def write_quick_subset(data_dir: Path, out: Path, retain_authors: int = 4, other: int = 20) -> dict[str, int]:
    """Write the quick subset of ``data_dir`` into ``out``; returns records per file."""
    full = _read(data_dir / "full.jsonl")
    authors = set(range(retain_authors)) | set(QUICK_FORGET_AUTHORS)
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
