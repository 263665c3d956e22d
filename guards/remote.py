"""Fetch an artifact or bundle from ``hf://`` or ``s3://`` and use it only once every sha256 checks out.

>>> path = fetch("s3://models/guards/tofu-guard/1.0.0", Path("artifacts/tofu-guard"))
>>> bundle = load_remote_bundle("hf://org/tofu-guard@v1")     # cached under $ECO_PACK_CACHE/remote

URLs:
  ``hf://org/name[@revision]``                 a Hub model repo (revision: branch, tag or commit)
  ``s3://bucket/prefix/<name>/<version>``      one pushed version
  ``s3://bucket/prefix/<name>[/latest]``       the version the ``latest`` pointer names

A download is written to a temp folder, checked against its ``manifest.json``, retried a bounded
number of times when a file does not match, and only then renamed into place. boto3 is imported
inside the S3 functions only: the runtime never needs it for Hub or local bundles.

Run as ``python -m guards.remote URL DEST`` (the Kubernetes init container does).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from guards.atomic import atomic_directory
from guards.cache import cache_root
from guards.errors import BundleError, EcoPackError
from guards.manifest import MANIFEST, sha256_file, verify_manifest

LATEST = "latest"
DEFAULT_ATTEMPTS = 3


class RemoteError(EcoPackError):
    """A remote location is malformed, missing or unreachable; the message names the fix."""


@dataclass(frozen=True)
class HubURL:
    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"hf://{self.repo_id}" + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class S3URL:
    bucket: str
    prefix: str = ""

    def join(self, *parts: str) -> str:
        """The object key of ``parts`` under this prefix."""
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def parse_url(url: str) -> HubURL | S3URL:
    """Parse ``hf://org/name[@rev]`` or ``s3://bucket[/prefix]``; anything else names the valid forms."""
    if url.startswith("hf://"):
        repo, _, revision = url[len("hf://") :].partition("@")
        parts = repo.strip("/").split("/")
        if len(parts) != 2 or not all(parts) or (_ and not revision):
            raise RemoteError(f"`{url}` is not a Hub URL; use hf://org/name or hf://org/name@revision")
        return HubURL("/".join(parts), revision or None)
    if url.startswith("s3://"):
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise RemoteError(f"`{url}` names no bucket; use s3://bucket/prefix")
        return S3URL(bucket, prefix.strip("/"))
    raise RemoteError(f"`{url}` is not a remote URL; use hf://org/name[@revision] or s3://bucket/prefix")


def s3_client(endpoint: str | None = None):
    """A boto3 S3 client: credentials from boto3's standard chain, endpoint from the argument or AWS_ENDPOINT_URL."""
    import boto3
    import botocore.session
    from botocore.config import Config

    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL") or None
    # Self-hosted stores (SeaweedFS, MinIO, Ceph) want path-style addressing behind a custom endpoint.
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5, "mode": "standard"})
    # A fresh session resolves the credential chain now (boto3's default session caches it forever);
    # sharing the loader keeps the parsed service models, which cost ~0.5 s per session otherwise.
    session = botocore.session.get_session()
    session.register_component("data_loader", _botocore_loader())
    return boto3.session.Session(botocore_session=session).client("s3", endpoint_url=endpoint, config=config)


@functools.cache
def _botocore_loader():
    import botocore.loaders

    return botocore.loaders.create_loader()


def hub_endpoint() -> str:
    """HF_ENDPOINT as set now (huggingface_hub reads it once at import)."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _safe_relpath(rel: str) -> str:
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BundleError(f"{MANIFEST} lists `{rel}`, a path outside the artifact: refusing it", rel)
    return rel


@dataclass(frozen=True)
class Source:
    """Where one version's files come from: ``download(rel, dest)`` copies one file to a local path.

    ``manifest_sha256`` is set when a pointer recorded it (S3 ``latest``), so the manifest is checked too.
    """

    download: Callable[[str, Path], None]
    manifest_sha256: str | None = None


def _s3_source(url: S3URL, endpoint: str | None) -> Source:
    from botocore.exceptions import ClientError

    client = s3_client(endpoint)

    def exists(key: str) -> bool:
        try:
            client.head_object(Bucket=url.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise RemoteError(f"cannot read s3://{url.bucket}/{key}: {exc}") from None

    def follow(pointer_key: str) -> tuple[S3URL, str | None]:
        data = json.loads(client.get_object(Bucket=url.bucket, Key=pointer_key)["Body"].read())
        parent = pointer_key.rpartition("/")[0]
        return S3URL(url.bucket, "/".join(p for p in (parent, data["version"]) if p)), data.get("manifest_sha256")

    target, expected = url, None
    if url.prefix.rpartition("/")[2] == LATEST:
        target, expected = follow(url.prefix)
    elif not exists(url.join(MANIFEST)):
        if not exists(url.join(LATEST)):
            raise RemoteError(f"no published version at {url}: no {MANIFEST} and no `{LATEST}` pointer there")
        target, expected = follow(url.join(LATEST))

    def download(rel: str, dest: Path) -> None:
        try:
            client.download_file(target.bucket, target.join(rel), str(dest))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            raise RemoteError(
                f"cannot download s3://{target.bucket}/{target.join(rel)} ({code}); "
                "the version is incomplete or your credentials lack s3:GetObject"
            ) from None

    return Source(download, expected)


def _hub_source(url: HubURL) -> Source:
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    endpoint = hub_endpoint()
    try:
        # Pin one commit so that every file comes from the same snapshot, even if the branch moves.
        meta = get_hf_file_metadata(hf_hub_url(url.repo_id, MANIFEST, revision=url.revision, endpoint=endpoint))
    except Exception as exc:  # huggingface_hub raises many types (HTTP, offline mode, not found)
        raise RemoteError(
            f"cannot read {MANIFEST} from {url} at {endpoint} ({type(exc).__name__}); check the repo, "
            "the revision, HF_TOKEN for private repos, and that HF_HUB_OFFLINE is not set"
        ) from None
    revision = meta.commit_hash or url.revision

    def download(rel: str, dest: Path) -> None:
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".hf-") as cache:
            try:
                path = hf_hub_download(url.repo_id, rel, revision=revision, cache_dir=cache, endpoint=endpoint)
            except Exception as exc:  # HTTP, not found, offline: one readable error, no token in it
                raise RemoteError(f"cannot download `{rel}` from {url} ({type(exc).__name__})") from None
            shutil.move(Path(path).resolve(), dest)

    return Source(download)


def open_source(url: str, *, s3_endpoint: str | None = None) -> Source:
    parsed = parse_url(url)
    return _s3_source(parsed, s3_endpoint) if isinstance(parsed, S3URL) else _hub_source(parsed)


def _download_all(source: Source, into: Path) -> None:
    source.download(MANIFEST, into / MANIFEST)
    if source.manifest_sha256 and sha256_file(into / MANIFEST) != source.manifest_sha256:
        raise BundleError(f"the remote {MANIFEST} does not match the sha256 its pointer recorded", MANIFEST)
    try:
        files = json.loads((into / MANIFEST).read_text())["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"the remote {MANIFEST} is not a valid manifest ({exc})", MANIFEST) from None
    targets = {rel: into / _safe_relpath(rel) for rel in files}
    for target in targets.values():
        target.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(source.download, targets, targets.values()))


def fetch(
    url: str,
    dest: Path,
    *,
    overwrite: bool = False,
    attempts: int = DEFAULT_ATTEMPTS,
    s3_endpoint: str | None = None,
    source: Source | None = None,
) -> Path:
    """Download ``url`` into ``dest`` atomically; a checksum mismatch is retried, then refused.

    Nothing appears at ``dest`` unless every file matches the downloaded ``manifest.json``.
    """
    if attempts < 1:
        raise ValueError("`attempts` must be at least 1")
    source = source or open_source(url, s3_endpoint=s3_endpoint)
    with atomic_directory(Path(dest), overwrite=overwrite) as tmp:
        staging = tmp / "download"
        for attempt in range(1, attempts + 1):
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            try:
                _download_all(source, staging)
                verify_manifest(staging)
                break
            except BundleError as exc:
                if attempt == attempts:
                    raise BundleError(
                        f"refused {url}: still corrupt after {attempts} download attempts ({exc}); "
                        "nothing was published. Re-push the artifact or check the store",
                        exc.path,
                    ) from None
        for entry in staging.iterdir():
            os.replace(entry, tmp / entry.name)
        staging.rmdir()
    return Path(dest)


def remote_cache() -> Path:
    return cache_root() / "remote"


def load_remote(url: str, *, cache_dir: Path | None = None, s3_endpoint: str | None = None) -> Path:
    """A verified local copy of ``url``; the cache is keyed by the remote manifest's sha256.

    A moving URL (``latest``, a branch) is resolved on every call; an unchanged version is reused
    only after its files are re-verified.
    """
    source = open_source(url, s3_endpoint=s3_endpoint)
    root = Path(cache_dir or remote_cache())
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".manifest-") as tmp:
        source.download(MANIFEST, Path(tmp) / MANIFEST)
        path = root / sha256_file(Path(tmp) / MANIFEST)[:32]
    if path.is_dir():
        try:
            verify_manifest(path)
            return path
        except BundleError:
            pass  # a tampered or partial cache entry is replaced below, never used
    return fetch(url, path, overwrite=True, source=source)


def load_remote_bundle(url: str, *, cache_dir: Path | None = None, s3_endpoint: str | None = None):
    """The verified GuardBundle at ``url``: an artifact (its ``guard/`` folder) or a bare bundle."""
    from guards.bundle import load_bundle

    root = load_remote(url, cache_dir=cache_dir, s3_endpoint=s3_endpoint)
    return load_bundle(root / "guard" if (root / "guard").is_dir() else root)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m guards.remote URL DEST", file=sys.stderr)
        return 2
    try:
        print(fetch(args[0], Path(args[1]), overwrite=True))
    except EcoPackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
