"""Write a directory under a temporary name and rename it into place only when complete."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from guards.errors import BundleError


@contextmanager
def atomic_directory(dest: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty sibling temp dir; on clean exit it replaces ``dest``, on any error it is removed.

    A KeyboardInterrupt is an error too, so a Ctrl-C never leaves a half-written ``dest``.
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise BundleError(f"{dest} already exists; pass --force (overwrite=True) to replace it", str(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        yield tmp
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
