"""The artifact's layout, laid out from the stages that made its parts, with the digests those
stages computed: the bento is built from it and the published artifact is it."""

from __future__ import annotations

import shutil
from pathlib import Path

from packager.pipeline.stages.bundle import BASE_DIR, GUARD_DIR, BundleResult
from packager.pipeline.stages.card import CardResult
from packager.pipeline.stages.probe import ProbeResult


def lay_out(bundle: BundleResult, card: CardResult, probe: ProbeResult, dest: Path) -> dict[str, str]:
    """Copy guard/, base/ (when local), the card's files and probe.json into ``dest``; return their sha256s."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(bundle.file(GUARD_DIR), dest / GUARD_DIR)
    if bundle.has_base:
        shutil.copytree(bundle.file(BASE_DIR), dest / BASE_DIR)
    for result in (card, probe):
        for rel in result.checksums:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(result.file(rel), dest / rel)
    return bundle.checksums | card.checksums | probe.checksums
