"""Build the artifact's bento: service code + guards runtime + the artifact, CUDA image spec.

>>> tag = build_bento(Path("dist/demo-0.1.0"), version="0.1.0")     # -> "eco_guard:0.1.0"
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from guards.bundle import load_bundle
from guards.manifest import verify_manifest, write_manifest

BENTOFILE = Path(__file__).with_name("bentofile.yaml")
SOURCE_ROOT = Path(__file__).resolve().parents[1]
SKIP = ("bento", "manifest.json")  # the artifact's exported bento is built from this, not inside it


def _stage(artifact: Path, ctx: Path) -> None:
    """Copy the code and the artifact (minus its own bento) into a clean build context."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("bentos", "guards"):
        shutil.copytree(SOURCE_ROOT / package, ctx / package, ignore=ignore)
    shutil.copy(BENTOFILE, ctx / "bentofile.yaml")
    target = ctx / "artifact"
    target.mkdir()
    for entry in artifact.iterdir():
        if entry.name in SKIP:
            continue
        (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, target / entry.name)
    # The copy's manifest lists the same files with the hashes verified just before.
    write_manifest(target)


def build_bento(artifact: Path, *, version: str | None = None, name: str = "eco_guard") -> str:
    """Verify ``artifact``, build its bento into the BentoML store ($BENTOML_HOME) and return the tag.

    ``version`` defaults to a fresh BentoML-generated one. Offline: packages are not locked
    (``lock_packages: false``), so nothing is resolved now.
    """
    import bentoml

    artifact = Path(artifact).resolve()
    verify_manifest(artifact)
    bundle = load_bundle(artifact / "guard")
    with tempfile.TemporaryDirectory(prefix="eco-bento-") as tmp:
        ctx = Path(tmp)
        _stage(artifact, ctx)
        bento = bentoml.bentos.build_bentofile(
            str(ctx / "bentofile.yaml"),
            name=name,
            version=version,
            labels={"eco-guard": bundle.config.name, "guard-version": bundle.config.version},
            build_ctx=str(ctx),
        )
    return str(bento.tag)
