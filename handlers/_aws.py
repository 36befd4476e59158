"""Lambda plumbing the handlers share: a structured JSON logger and the boto3 side.

The shape follows Powertools for AWS Lambda (a ``Logger`` with ``inject_lambda_context``,
one JSON object per log line, service name from ``POWERTOOLS_SERVICE_NAME``, level from
``LOG_LEVEL``) without depending on it: the handful of features used are small enough to
own, and the deployment package stays small.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ecomlake.contract import ZONE_BUCKET_ENV, EnvVar, Zone
from ecomlake.exceptions import InvalidKeyError
from ecomlake.storage import S3Storage

if TYPE_CHECKING:
    import boto3

Handler = TypeVar("Handler", bound=Callable[..., Any])

_cold_start = True


class Logger:
    """Structured logger: each call writes one JSON line to stdout (CloudWatch Logs keeps it whole)."""

    def __init__(self, service: str | None = None, level: str | None = None) -> None:
        self.service = service or os.environ.get(EnvVar.SERVICE_NAME) or "ecomlake"
        name = (level or os.environ.get(EnvVar.LOG_LEVEL) or "INFO").upper()
        self.level = logging.getLevelName(name) if isinstance(logging.getLevelName(name), int) else logging.INFO
        self._keys: dict[str, Any] = {}

    def append_keys(self, **keys: Any) -> None:
        """Keys added to every following line (until the invocation ends)."""
        self._keys.update(keys)

    def _emit(self, level: int, message: str, fields: Mapping[str, Any], exc: BaseException | None = None) -> None:
        if level < self.level:
            return
        line: dict[str, Any] = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": logging.getLevelName(level),
            "service": self.service,
            "message": message,
            **self._keys,
            **fields,
        }
        if exc is not None:
            line["exception_name"] = type(exc).__name__
            line["exception"] = "".join(traceback.format_exception(exc)).rstrip()
        # sys.stdout is looked up on each call so test capture and the Lambda runtime both see it.
        sys.stdout.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")

    def debug(self, message: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._emit(logging.INFO, message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._emit(logging.WARNING, message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit(logging.ERROR, message, fields)

    def exception(self, message: str, exc: BaseException, **fields: Any) -> None:
        self._emit(logging.ERROR, message, fields, exc)

    def inject_lambda_context(self, handler: Handler) -> Handler:
        """Decorator: tag every line of an invocation with the request id and cold start."""

        @functools.wraps(handler)
        def wrapper(event: Any, context: Any) -> Any:
            global _cold_start
            saved = dict(self._keys)
            self.append_keys(
                function_name=getattr(context, "function_name", None),
                function_request_id=getattr(context, "aws_request_id", None),
                cold_start=_cold_start,
            )
            _cold_start = False
            try:
                return handler(event, context)
            except Exception as exc:
                self.exception("invocation failed", exc)
                raise
            finally:
                self._keys = saved

        return wrapper  # type: ignore[return-value]


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
