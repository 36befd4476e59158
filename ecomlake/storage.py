"""One small storage adapter over the local lake directory and S3.

Keys are always written the same way -- ``<zone>/<name>/date=YYYY-MM-DD/<file>`` (see
``ecomlake.contract``) -- so the logic that reads and writes them does not care where the
lake lives. Locally a key is a path under the lake directory; in AWS the zone picks the
bucket (one bucket per zone) and the whole key is the object key.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from ecomlake.contract import DEFAULT_LAKE_DIR, ZONE_BUCKET_ENV, EnvVar, Zone
from ecomlake.exceptions import InvalidKeyError, LakeNotFoundError

if TYPE_CHECKING:
    import boto3


def resolve_lake(path: str | os.PathLike[str] | None = None) -> Path:
    """The local lake directory: the argument, else ``$ECOMLAKE_LAKE``, else ``./.lake``."""
    chosen = path or os.environ.get(EnvVar.LAKE) or DEFAULT_LAKE_DIR
    return Path(chosen).expanduser().resolve()


def require_lake(path: str | os.PathLike[str] | None = None) -> Path:
    """Like ``resolve_lake`` but the lake must already exist (commands that only read it)."""
    lake = resolve_lake(path)
    if not lake.is_dir():
        raise LakeNotFoundError(f"no lake at {lake}; run `ecomlake demo` or `ecomlake ingest` first")
    return lake


def zone_of(key: str) -> Zone:
    head = key.split("/", 1)[0]
    try:
        return Zone(head)
    except ValueError:
        raise InvalidKeyError(f"key {key!r} does not start with a known zone") from None


# The error codes S3 answers for a key that holds no object (GetObject, HeadObject).
_MISSING: Final = frozenset({"404", "NoSuchKey", "NotFound"})


class Storage(Protocol):
    """What the pipeline needs from a store: whole-object reads and writes, and listing."""

    def read_bytes(self, key: str) -> bytes: ...

    def read_optional(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none: one request, and no gap between asking and reading."""
        ...

    def write_bytes(self, key: str, data: bytes) -> None: ...

    def create_bytes(self, key: str, data: bytes) -> bool: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def uri(self, key: str) -> str: ...


def _walk_files(folder: str, prefix: str, found: list[str]) -> None:
    """Append the keys (``prefix`` + relative path) of the files under ``folder``, dot-named files left out.

    What ``Path.rglob("*")`` filtered by ``is_file()`` gives -- symbolic links to directories
    are not followed, a link to a file counts as the file -- from the directory entries' own
    types, without a ``stat`` per path: listing a lake's versions is the part of planning a
    run that grows with its history.
    """
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _walk_files(entry.path, f"{prefix}{entry.name}/", found)
            elif not entry.name.startswith(".") and entry.is_file():
                found.append(prefix + entry.name)


class LocalStorage:
    """The lake as a directory tree with the same key layout as the buckets."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if key.startswith("/") or ".." in Path(key).parts:
            raise InvalidKeyError(f"key {key!r} escapes the lake")
        return self.root / key

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def read_optional(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None  # as ``exists``: only a file is an object

    def write_bytes(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file.
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)

    def create_bytes(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if it does not exist yet; False (nothing written) when it does.

        The whole file appears at once or not at all: it is written aside, then hard-linked
        into place, which fails atomically when the name is taken.
        """
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.new")
        tmp.write_bytes(data)
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self.path(prefix.rstrip("/")) if prefix else self.root
        if base.is_file():
            return [prefix]
        if not base.is_dir():
            return []
        found: list[str] = []
        _walk_files(str(base), base.relative_to(self.root).as_posix() + "/" if base != self.root else "", found)
        return sorted(found)

    def delete_prefix(self, prefix: str) -> int:
        if not prefix.strip("/"):
            raise InvalidKeyError("refusing to delete the whole lake")
        base = self.path(prefix.rstrip("/"))
        if not base.exists():
            return 0
        count = sum(1 for p in base.rglob("*") if p.is_file()) if base.is_dir() else 1
        if base.is_dir():
            shutil.rmtree(base)
        else:
            base.unlink()
        return count

    def uri(self, key: str) -> str:
        return str(self.path(key))


def shared_buckets(buckets: Mapping[Zone, str]) -> dict[Zone, str]:
    """``buckets`` plus the zones that share a bucket with one of them (``contract.ZONE_BUCKET_ENV``).

    ``_runs`` and ``_catalog`` live in the reports bucket: a caller that names only the
    reports bucket (a Glue job gets ``--reports_uri``) can still read the run journal and
    the published snapshot.
    """
    out = dict(buckets)
    for zone, var in ZONE_BUCKET_ENV.items():
        if zone in out:
            continue
        for other, other_var in ZONE_BUCKET_ENV.items():
            if other_var == var and other in buckets:
                out[zone] = buckets[other]
                break
    return out


class S3Storage:
    """The lake as one S3 bucket per zone. ``boto3_session`` is injectable for tests."""

    def __init__(self, buckets: Mapping[Zone, str], boto3_session: boto3.Session | None = None) -> None:
        import boto3  # deferred: the local CLI never needs it

        self.buckets = shared_buckets(buckets)
        self.client = (boto3_session or boto3.Session()).client("s3")
        # Object sizes seen by the last listings: raw_bytes-style callers list, then ask sizes.
        self._sizes: dict[tuple[str, str], int] = {}

    def bucket(self, key: str) -> str:
        zone = zone_of(key)
        try:
            return self.buckets[zone]
        except KeyError:
            raise InvalidKeyError(f"no bucket configured for zone {zone!s}") from None

    def read_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket(key), Key=key)["Body"].read()

    def read_optional(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self.read_bytes(key)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise

    def write_bytes(self, key: str, data: bytes) -> None:
        # Buckets enforce SSE-KMS by default encryption; nothing to set per object.
        self.client.put_object(Bucket=self.bucket(key), Key=key, Body=data)

    def create_bytes(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if it does not exist yet (S3 conditional write, ``If-None-Match: *``)."""
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket(key), Key=key, Body=data, IfNoneMatch="*")
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in {"PreconditionFailed", "ConditionalRequestConflict"}:
                return False
            raise
        return True

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket(key), Key=key)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        bucket = self.bucket(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                self._sizes[(bucket, obj["Key"])] = int(obj.get("Size", 0))
                yield obj["Key"]

    def size(self, key: str) -> int:
        """Bytes of one object: from the listing that found it, else one ``HeadObject``."""
        bucket = self.bucket(key)
        known = self._sizes.get((bucket, key))
        if known is not None:
            return known
        return int(self.client.head_object(Bucket=bucket, Key=key)["ContentLength"])

    def list(self, prefix: str) -> list[str]:
        return sorted(self._iter_keys(prefix))

    def delete_prefix(self, prefix: str) -> int:
        if not prefix.strip("/"):
            raise InvalidKeyError("refusing to delete a whole bucket")
        keys = self.list(prefix)
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket(prefix), Delete={"Objects": chunk})
        return len(keys)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket(key)}/{key}"
