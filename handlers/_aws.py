"""The handlers' AWS side: one boto3 session per execution environment, and the lake's buckets.

Logging, tracing and metrics are Powertools' (``handlers/_powertools.py``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ecomlake.contract import ZONE_BUCKET_ENV, Zone
from ecomlake.exceptions import InvalidKeyError
from ecomlake.storage import S3Storage

if TYPE_CHECKING:
    import boto3


# --------------------------------------------------------------------------- boto3


@functools.cache
def boto3_session() -> boto3.Session:
    """One session per execution environment, reused across invocations."""
    import boto3

    return boto3.Session()


@functools.cache
def aws_client(service: str) -> Any:
    return boto3_session().client(service)


def reset_clients() -> None:
    """Forget cached session and clients (tests start each case with fresh mocks)."""
    aws_client.cache_clear()
    boto3_session.cache_clear()


class LakeS3(S3Storage):
    """The lake's buckets, plus the calls the validator needs beyond ``S3Storage``.

    ``pinned`` maps object keys to the bucket an event says they are in: a landed object
    is always read from the bucket it landed in, even when its key is outside the layout.
    """

    def __init__(
        self,
        buckets: Mapping[Zone, str],
        boto3_session: boto3.Session | None = None,
        pinned: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(buckets, boto3_session)
        self.pinned = dict(pinned or {})

    def bucket(self, key: str) -> str:
        if key in self.pinned:
            return self.pinned[key]
        try:
            return super().bucket(key)
        except InvalidKeyError:
            raise InvalidKeyError(f"no bucket for key {key!r}") from None

    def size(self, key: str) -> int:
        return int(self.client.head_object(Bucket=self.bucket(key), Key=key)["ContentLength"])

    def copy(self, src: str, dst: str) -> None:
        # Managed copy: server side, multipart beyond the transfer threshold (objects over 5 GB too).
        self.client.copy({"Bucket": self.bucket(src), "Key": src}, self.bucket(dst), dst)

    def delete(self, key: str) -> bool:
        if not self.exists(key):
            return False
        self.client.delete_object(Bucket=self.bucket(key), Key=key)
        return True


def lake_buckets(environ: Mapping[str, str] | None = None) -> dict[Zone, str]:
    """Zone -> bucket from the ``ECOMLAKE_*_BUCKET`` variables the stack sets on each function."""
    env = os.environ if environ is None else environ
    return {zone: env[var] for zone, var in ZONE_BUCKET_ENV.items() if env.get(var)}


def lake_storage(landed_bucket: str | None = None, key: str | None = None) -> LakeS3:
    """Storage for one invocation; the landed object (``key``) is read from ``landed_bucket``."""
    buckets = lake_buckets()
    if landed_bucket and Zone.RAW not in buckets:
        buckets[Zone.RAW] = landed_bucket
    pinned = {key: landed_bucket} if key and landed_bucket else None
    return LakeS3(buckets, boto3_session(), pinned)
