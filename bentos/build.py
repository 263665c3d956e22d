"""Build the artifact's bento: service code + guards runtime + the artifact, CUDA image spec.

>>> tag = build_bento(Path("dist/demo-0.1.0"), version="0.1.0")     # -> "eco_guard:0.1.0"
>>> digest = export_bento_file(tag, Path("dist/demo-0.1.0.bento.tar"))  # sha256 of the written file

A pipeline that has just hashed the artifact passes its manifest as ``checksums=`` so nothing is
hashed twice; the bento carries that manifest and the service verifies it at start-up.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bentos.settings import ENGINES
from guards.bundle import load_bundle
from guards.config import GuardConfig
from guards.errors import BundleError, GuardConfigError
from guards.manifest import MANIFEST, read_manifest, sha256_file, verify_manifest, write_manifest

BENTOFILE = Path(__file__).with_name("bentofile.yaml")
VLLM_SETUP = "bentos/vllm_setup.sh"  # in the build context; run as the image is built
VLLM_PREFIX = "/opt/vllm"  # the image's vLLM environment (vllm_setup.sh makes it)
SOURCE_ROOT = Path(__file__).resolve().parents[1]
SKIP = ("bento", MANIFEST)  # the artifact's exported bento is built from this, not inside it
GUARD_DIR = "guard"


def _trusted(artifact: Path, checksums: Mapping[str, str]) -> dict[str, str]:
    """Accept the caller's digests if they are the artifact's manifest and list exactly its files.

    Nothing is hashed: a file changed after the caller hashed it is caught when the bento's
    service verifies the manifest at start-up. A map that disagrees with the manifest on disk, or
    a file that the manifest does not list (or lists but is missing), is refused here.
    """
    given = dict(checksums)
    if read_manifest(artifact) != given:
        raise BundleError(f"the checksums given do not match {artifact / MANIFEST}", str(artifact / MANIFEST))
    return verify_manifest(artifact, hash_files=False)


def _guard_config(artifact: Path, checksums: Mapping[str, str]) -> GuardConfig:
    """The guard's config, its bundle manifest checked against the artifact's digests (no hashing)."""
    guard = artifact / GUARD_DIR
    prefix = f"{GUARD_DIR}/"
    inner = {rel[len(prefix) :]: digest for rel, digest in checksums.items() if rel.startswith(prefix)}
    inner.pop(MANIFEST, None)
    if read_manifest(guard) != inner:
        raise BundleError(f"{guard / MANIFEST} disagrees with {artifact / MANIFEST}", str(guard / MANIFEST))
    return load_bundle(guard, hash_files=False).config


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link (BentoML copies the build context into its store, so links never reach the bento)."""
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dst)


def bentofile(engine: str = "hf") -> dict:
    """The bento's build options. ``vllm``: the image also holds vLLM (CUDA) in its own environment,
    /opt/vllm, made by ``bentos/vllm_setup.sh`` at image build time (its pins clash with ours), and
    the service starts it on loopback (``ECO_ENGINE=vllm``) and serves through it."""
    import yaml

    if engine not in ENGINES:
        raise GuardConfigError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
    options = yaml.safe_load(BENTOFILE.read_text())
    if engine == "vllm":
        options["include"].append(VLLM_SETUP)
        options["docker"]["setup_script"] = VLLM_SETUP
        options["envs"] = [{"name": "ECO_ENGINE", "value": "vllm"},
                           {"name": "ECO_VLLM_PYTHON", "value": f"{VLLM_PREFIX}/bin/python"}]
    return options


def _stage(artifact: Path, ctx: Path, checksums: Mapping[str, str], engine: str) -> None:
    """Lay out the code and the artifact (minus its own bento) in a clean build context."""
    import yaml

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("bentos", "guards"):
        shutil.copytree(SOURCE_ROOT / package, ctx / package, ignore=ignore)
    (ctx / "bentofile.yaml").write_text(yaml.safe_dump(bentofile(engine), sort_keys=False))
    target = ctx / "artifact"
    target.mkdir()
    for entry in artifact.iterdir():
        if entry.name in SKIP:
            continue
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(entry), str(target / entry.name))
    write_manifest(target, checksums)  # the same files, less bento/: their digests are the artifact's


def build_bento(
    artifact: Path,
    *,
    version: str | None = None,
    name: str = "eco_guard",
    checksums: Mapping[str, str] | None = None,
    engine: str = "hf",
) -> str:
    """Build ``artifact``'s bento into the BentoML store ($BENTOML_HOME) and return the tag.

    Without ``checksums`` every file is verified against the artifact's manifest (one hash each).
    With ``checksums`` (the manifest the caller just computed and wrote) nothing is hashed: the
    map must equal ``artifact/manifest.json`` and list exactly the files present, and the bento's
    service verifies every digest at start-up anyway.

    ``version`` defaults to a fresh BentoML-generated one. Offline: packages are not locked
    (``lock_packages: false``), so nothing is resolved now.
    """
    import bentoml

    artifact = Path(artifact).resolve()
    checksums = verify_manifest(artifact) if checksums is None else _trusted(artifact, checksums)
    config = _guard_config(artifact, checksums)
    with tempfile.TemporaryDirectory(prefix="eco-bento-") as tmp:
        ctx = Path(tmp)
        _stage(artifact, ctx, checksums, engine)
        # BentoML reads `docker.setup_script` relative to the working directory, not the build context
        with contextlib.chdir(ctx):
            bento = bentoml.bentos.build_bentofile(
                str(ctx / "bentofile.yaml"),
                name=name,
                version=version,
                labels={"eco-guard": config.name, "guard-version": config.version, "engine": engine},
                build_ctx=str(ctx),
            )
    return str(bento.tag)


def export_bento_file(tag: str, dest: Path) -> str:
    """Export bento ``tag`` from the BentoML store to ``dest`` as an uncompressed tar and return its
    sha256 (``bentoml import DEST`` reads it back).

    ``bentoml export``'s default ``.bento`` is tar + xz, which spends about a minute on 2 cores
    compressing model weights that barely compress (104 MB to 94 MB). The file appears at ``dest``
    only once complete, and is hashed once, here.
    """
    import bentoml

    dest = Path(dest)
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        written = Path(bentoml.export_bento(tag, str(partial), output_format="tar"))
        digest = sha256_file(written)
        os.replace(written, dest)
    except BaseException:
        for leftover in dest.parent.glob(f".{dest.name}.partial*"):
            leftover.unlink(missing_ok=True)
        raise
    return digest
