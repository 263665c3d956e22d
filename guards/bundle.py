"""The guard bundle: ``eco_guard.json`` + the classifier folder + ``manifest.json`` of sha256s.

>>> path = save_bundle(config, Path("out/guard"), classifier_dir=trained_dir)
>>> bundle = load_bundle(path)          # verifies every checksum and the schema
>>> guarded = bundle.guarded_model(device="cpu")
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from guards.atomic import atomic_directory
from guards.config import GuardConfig
from guards.errors import BundleError, GuardConfigError
from guards.manifest import verify_manifest, write_manifest

CONFIG_FILE = "eco_guard.json"


@dataclass(frozen=True)
class GuardBundle:
    """A verified bundle on disk."""

    path: Path
    config: GuardConfig
    checksums: dict[str, str]

    @property
    def classifier_path(self) -> Path:
        return self.path / self.config.classifier_dir

    def classifier(self, device: str = "cpu", batch_size: int = 64):
        from guards.classifier import PromptClassifier

        return PromptClassifier(
            self.classifier_path,
            device=device,
            max_length=self.config.classifier_max_length,
            batch_size=batch_size,
        )

    def guarded_model(
        self,
        device: str = "cpu",
        dtype: str = "auto",
        model=None,
        tokenizer=None,
        *,
        verified_base: bool = False,
        embeddings_only: bool = False,
    ):
        """The GuardedModel this bundle describes; loads the base model unless one is given.

        ``verified_base``: the base weights were just checked (an artifact manifest), so they are
        not hashed again. ``embeddings_only``: load the input embeddings alone, for a front that
        hands corrupted prompts to another engine (``prompt_embeddings`` works, ``generate`` not).
        """
        from guards.base_model import load_base_model, load_embeddings_only, resolve_device
        from guards.guarded_model import GuardedModel

        device = resolve_device(device)  # "auto" means the same device for the model and the classifier
        if model is None or tokenizer is None:
            load = load_embeddings_only if embeddings_only else load_base_model
            model, tokenizer = load(
                self.config.base_model, device=device, dtype=dtype, relative_to=self.path, verified=verified_base
            )
        return GuardedModel.from_config(model, tokenizer, classifier=self.classifier(device), config=self.config)


def save_bundle(
    config: GuardConfig,
    dest: Path,
    *,
    classifier_dir: Path | None,
    overwrite: bool = False,
    known: Mapping[str, str] | None = None,
    classifier_files: Mapping[str, str] | None = None,
) -> Path:
    """Write a bundle atomically (its manifest is ``read_manifest(dest)``). ``classifier_dir`` is an HF
    save_pretrained folder (safetensors); ``known`` holds digests of its files already computed
    (keys relative to ``classifier_dir``), so they are not hashed again. ``classifier_files`` (name:
    text) replace or join the copied classifier's files: a build ships the whole forget text there,
    and every forget fact, where training kept back what it measured on (``packager.classifier.shipped``)."""
    dest = Path(dest)
    replaced = dict(classifier_files or {})
    with atomic_directory(dest, overwrite=overwrite) as tmp:
        if classifier_dir is not None:
            source = Path(classifier_dir)
            if any(source.rglob("*.bin")) or any(source.rglob("*.pt")) or any(source.rglob("*.pkl")):
                raise BundleError(f"{source} holds pickled weights; save with safetensors", str(source))
            shutil.copytree(source, tmp / config.classifier_dir)
            for name, text in replaced.items():
                (tmp / config.classifier_dir / name).write_text(text)
        (tmp / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n")
        prefix = f"{config.classifier_dir}/"
        write_manifest(tmp, {prefix + rel: digest for rel, digest in (known or {}).items() if rel not in replaced})
    return dest


def load_bundle(path: Path | str, *, hash_files: bool = True) -> GuardBundle:
    """Verify and parse a bundle; every failure names the file or field at fault.

    ``hash_files=False``: the caller verified these bytes a moment ago (the artifact's manifest
    lists the bundle's files, or the build just wrote them), so only the file list is checked.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path} is not a directory holding a guard bundle", str(path))
    checksums = verify_manifest(path, hash_files=hash_files)
    config_path = path / CONFIG_FILE
    if CONFIG_FILE not in checksums:
        raise BundleError(f"{config_path} is missing from the bundle", str(config_path))
    try:
        data = json.loads(config_path.read_text())
    except ValueError as exc:
        raise BundleError(f"{config_path} is not valid JSON ({exc})", str(config_path)) from None
    try:
        config = GuardConfig.from_dict(data)
    except GuardConfigError as exc:
        raise BundleError(f"{config_path}: {exc}", str(config_path)) from None
    return GuardBundle(path=path, config=config, checksums=checksums)
