"""sha256 manifests: how bundles and artifacts prove that no file was changed, added or lost."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from guards.errors import BundleError

MANIFEST = "manifest.json"
_CHUNK = 1 << 20


@dataclass
class HashTally:
    """Files, bytes and seconds spent hashing in this process, so a build can report its cost."""

    files: int = 0
    bytes: int = 0
    seconds: float = 0.0


TALLY = HashTally()


def sha256_file(path: Path) -> str:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
            TALLY.bytes += len(chunk)
    TALLY.files += 1
    TALLY.seconds += time.perf_counter() - started
    return digest.hexdigest()


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p != root / MANIFEST)


def tree_digests(root: Path, known: Mapping[str, str] | None = None) -> dict[str, str]:
    """sha256 of every file under ``root`` (the top-level manifest aside), by relative path.

    ``known`` maps relative paths to digests the caller computed when it wrote or copied those
    files; they are taken as given, so a build hashes each file once.
    """
    known = known or {}
    return {rel: known[rel] if rel in known else sha256_file(root / rel) for rel in _files(root)}


def write_manifest(root: Path, known: Mapping[str, str] | None = None) -> dict[str, str]:
    """Hash every file under ``root`` (``tree_digests``) into ``root/manifest.json``, written
    through a rename so a reader never sees half a manifest."""
    files = tree_digests(root, known)
    tmp = root / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps({"algorithm": "sha256", "files": files}, indent=2) + "\n")
    os.replace(tmp, root / MANIFEST)
    return files


def read_manifest(root: Path) -> dict[str, str]:
    path = root / MANIFEST
    if not path.is_file():
        raise BundleError(f"{path} is missing: not a bundle, or an incomplete copy", str(path))
    try:
        data = json.loads(path.read_text())
        return dict(data["files"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{path} is not a valid manifest ({exc})", str(path)) from None


def verify_manifest(root: Path, *, hash_files: bool = True) -> dict[str, str]:
    """Check every listed file's sha256 and refuse files the manifest does not list.

    ``hash_files=False`` checks only that the listed files, and no others, are there: for a caller
    that has just verified these bytes through an enclosing manifest, or written them itself.
    """
    expected = read_manifest(root)
    for rel, digest in expected.items():
        path = root / rel
        if not path.is_file():
            raise BundleError(f"{path} is listed in {MANIFEST} but missing", str(path))
        if hash_files and sha256_file(path) != digest:
            raise BundleError(f"{path} does not match its sha256 in {MANIFEST}: tampered or corrupt", str(path))
    extra = sorted(set(_files(root)) - set(expected))
    if extra:
        raise BundleError(
            f"{root / extra[0]} is not listed in {MANIFEST}: refusing an altered bundle", str(root / extra[0])
        )
    return expected
