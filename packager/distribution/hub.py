"""Push an artifact to a Hugging Face Hub model repo in one commit.

Without ``include_base`` the base weights stay out of the upload: the card's ``base_model`` names the
base instead, and the uploaded ``manifest.json`` is rewritten to list exactly what was uploaded, so a
pull verifies cleanly. The token comes from huggingface_hub's own chain (HF_TOKEN, ``hf auth login``);
eco-pack never takes it as an argument, so it never reaches a log, a file or the card.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from guards.errors import EcoPackError
from guards.manifest import write_manifest
from guards.remote import HubURL, hub_endpoint
from packager.distribution.artifact import Artifact

CARD = "README.md"


@dataclass(frozen=True)
class HubPushResult:
    url: str          # hf://org/name@revision
    commit_url: str
    included_base: bool


def base_model_name(artifact: Artifact) -> str:
    """The Hub id of the base model: the card's ``base_model``, else the guard's hub reference."""
    from huggingface_hub import metadata_load

    card_path = artifact.path / CARD
    card = (metadata_load(card_path) or {}) if card_path.is_file() else {}
    if isinstance(card.get("base_model"), str) and card["base_model"]:
        return card["base_model"]
    guard = json.loads((artifact.path / "guard" / "eco_guard.json").read_text())["base_model"]
    if guard.get("source") == "hub":
        return guard["name_or_path"]
    raise EcoPackError(
        f"{artifact.path}: the base model is local-only and the card names no `base_model`; "
        "push it with --include-base, or set `base_model: org/name` in the card")


def _stage_without_base(artifact: Artifact, into: Path) -> None:
    """Copy everything but base/, point the card at the base model, and re-hash what is left."""
    name = base_model_name(artifact)
    for rel in artifact.files:
        if not rel.startswith("base/"):
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(artifact.path / rel, into / rel)
    from huggingface_hub import metadata_load, metadata_save

    card = into / CARD
    if not card.is_file():
        card.write_text(f"# {artifact.name}\n")
    metadata_save(card, {**(metadata_load(card) or {}), "base_model": name})
    write_manifest(into)


def push_to_hub(artifact: Artifact, url: HubURL, *, private: bool = False, include_base: bool = False) -> HubPushResult:
    """Create the repo if missing (private when asked) and upload the artifact as one commit."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_endpoint())
    api.create_repo(url.repo_id, private=private, exist_ok=True, repo_type="model")
    if url.revision:
        api.create_branch(url.repo_id, branch=url.revision, exist_ok=True)
    message = f"eco-pack push {artifact.name} {artifact.version}"
    with tempfile.TemporaryDirectory(prefix="eco-pack-hub-") as tmp:
        folder = artifact.path
        if artifact.has_base and not include_base:
            folder = Path(tmp)
            _stage_without_base(artifact, folder)
        commit = api.upload_folder(repo_id=url.repo_id, folder_path=folder, revision=url.revision,
                                   commit_message=message, repo_type="model")
    included = include_base or not artifact.has_base
    return HubPushResult(url=str(url), commit_url=str(commit.commit_url), included_base=included)
