"""Semantic versions for artifacts: validate a given one, or bump the newest published patch."""

from __future__ import annotations

import re
from pathlib import Path

from guards.errors import GuardConfigError

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+][0-9A-Za-z.-]+)?$")
FIRST_VERSION = "0.1.0"


def check_version(version: str) -> str:
    if not SEMVER.match(version):
        raise GuardConfigError(f"`--version` {version!r} is not a semantic version such as 1.0.0")
    return version


def next_version(out: Path, name: str) -> str:
    """One patch above the highest ``<name>-<x.y.z>`` already in ``out``; 0.1.0 if there is none."""
    found = []
    for entry in Path(out).glob(f"{name}-*"):
        match = SEMVER.match(entry.name[len(name) + 1 :])
        if entry.is_dir() and match and not entry.name.startswith("."):
            found.append(tuple(int(g) for g in match.groups()))
    if not found:
        return FIRST_VERSION
    major, minor, patch = max(found)
    return f"{major}.{minor}.{patch + 1}"
