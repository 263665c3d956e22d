"""Push an artifact to S3 as ``prefix/<name>/<version>/...``, publishing it atomically.

Readers see a version only once its ``manifest.json`` exists, so the order is: every other object
first (multipart above ``multipart_threshold``), then ``manifest.json``, then the ``latest`` pointer.
A version whose manifest exists is never overwritten. Credentials come from boto3's standard chain
(env, shared files, SSO, instance roles); eco-pack never takes keys as arguments, so they never reach
a log or a file.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.progress import Progress

from guards.errors import EcoPackError
from guards.manifest import MANIFEST, sha256_file
from guards.remote import LATEST, S3URL, s3_client
from packager.distribution.artifact import Artifact

MiB = 1 << 20


@dataclass(frozen=True)
class S3PushResult:
    url: str          # s3://bucket/prefix/<name>/<version>
    objects: int      # objects written, manifest and pointer included


def _exists(client, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise EcoPackError(f"cannot read s3://{bucket}/{key} ({exc.response['Error'].get('Code')}); "
                           "check the bucket name, --s3-endpoint and your AWS credentials") from None


def _upload(client, path: Path, bucket: str, key: str, config) -> None:
    client.upload_file(str(path), bucket, key, Config=config)


def push_to_s3(
    artifact: Artifact, url: S3URL, *, endpoint: str | None = None, bento: Path | None = None,
    multipart_threshold: int = 64 * MiB, workers: int = 8,
) -> S3PushResult:
    """Upload ``artifact`` (plus an exported ``bento`` file, if given) as a new version under ``url``."""
    from boto3.s3.transfer import TransferConfig

    client = s3_client(endpoint)
    version = S3URL(url.bucket, url.join(artifact.name, artifact.version))
    if _exists(client, url.bucket, version.join(MANIFEST)):
        raise EcoPackError(f"{version} already exists and is never overwritten; bump the artifact's version")
    files = {rel: artifact.path / rel for rel in artifact.files}
    if bento is not None:
        files[f"bento/{Path(bento).name}"] = Path(bento)
    manifest = {"algorithm": "sha256", "files": {rel: sha256_file(p) for rel, p in sorted(files.items())}}
    chunk = max(8 * MiB, multipart_threshold // 8)
    config = TransferConfig(multipart_threshold=multipart_threshold, multipart_chunksize=chunk)
    written: list[str] = []

    def upload(item: tuple[str, Path]) -> int:
        rel, path = item
        _upload(client, path, url.bucket, version.join(rel), config)
        written.append(version.join(rel))
        return path.stat().st_size

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task(f"uploading to {version}", total=sum(p.stat().st_size for p in files.values()))
            for size in pool.map(upload, sorted(files.items())):
                progress.advance(task, size)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        # Nothing is visible without the manifest; removing the orphans is only housekeeping.
        for key in written:
            client.delete_object(Bucket=url.bucket, Key=key)
        raise
    finally:
        pool.shutdown(wait=True)
    body = (json.dumps(manifest, indent=2) + "\n").encode()
    # If-None-Match: a concurrent push of the same version loses instead of overwriting.
    client.put_object(Bucket=url.bucket, Key=version.join(MANIFEST), Body=body, ContentType="application/json",
                      IfNoneMatch="*")
    pointer = {"version": artifact.version, "manifest_sha256": hashlib.sha256(body).hexdigest()}
    client.put_object(Bucket=url.bucket, Key=url.join(artifact.name, LATEST), Body=json.dumps(pointer).encode(),
                      ContentType="application/json")
    return S3PushResult(url=str(version), objects=len(written) + 2)
