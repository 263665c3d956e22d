"""The local artifact being pushed: its identity (name, version) and its verified file list."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from guards.errors import BundleError
from guards.manifest import verify_manifest

_DIR_NAME = re.compile(r"^(?P<name>.+?)-(?P<version>v?\d[\w.+]*)$")
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class Artifact:
    """A verified ``dist/<name>-<version>/`` folder."""

    path: Path
    name: str
    version: str
    files: dict[str, str]  # relative path -> sha256, from manifest.json

    @property
    def has_base(self) -> bool:
        return any(rel.startswith("base/") for rel in self.files)


def read_artifact(path: Path) -> Artifact:
    """Verify every checksum, then name the artifact from build.json or its ``<name>-<version>`` folder.

    Pushing refuses a tampered artifact rather than publishing it.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path} is not an artifact folder; build one with `eco-pack build`", str(path))
    files = verify_manifest(path)
    build = path / "build.json"
    meta = json.loads(build.read_text()) if build.is_file() else {}
    match = _DIR_NAME.match(path.name)
    name = meta.get("name") or (match and match["name"])
    version = meta.get("version") or (match and match["version"])
    if not name or not version:
        raise BundleError(
            f"{path}: cannot tell the artifact's name and version; name the folder `<name>-<version>` "
            "or set `name` and `version` in build.json", str(path))
    for field, value in (("name", name), ("version", version)):
        if not _SAFE.match(str(value)):
            raise BundleError(f"{path}: artifact `{field}` {value!r} must be letters, digits, `._+-`", str(path))
    return Artifact(path, str(name), str(version), files)
