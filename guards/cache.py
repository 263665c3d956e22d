"""The one cache folder eco-pack uses for trained models, build work and fetched artifacts."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$ECO_PACK_CACHE``, else ``~/.cache/eco-pack``."""
    return Path(os.environ.get("ECO_PACK_CACHE") or Path.home() / ".cache" / "eco-pack").expanduser()
