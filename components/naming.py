"""Pure naming helpers: every physical name the program gives a resource comes from here.

Names follow ``<project>-<stage>-<purpose>`` so a resource's stack and role read from its
name alone in the console, in bills and in CloudTrail. S3 bucket names are global across
all AWS accounts, so they also carry the account id and region, and are checked against
S3's naming rules before anything is sent to AWS (a bad name should fail the preview, not
the deployment half-way through).
"""

from __future__ import annotations

import re
from typing import Final

# Lowercase letters, digits and single hyphens: valid for every service used here
# (S3, Glue jobs, Lambda, IAM, SNS, SQS, Step Functions, Athena, CloudWatch).
_TOKEN_RE: Final = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_BUCKET_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_IPV4_RE: Final = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
# Prefixes and suffixes S3 reserves for its own features.
_RESERVED_BUCKET_PREFIXES: Final = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES: Final = ("-s3alias", "--ol-s3", "--x-s3", ".mrap", "--table-s3")

MAX_BUCKET_NAME: Final = 63
# Purposes of the resources some policy names before they exist (the KMS key policy is
# written before the alerts topic it grants, and the topic policy before the rule that
# publishes to it): the creator and the policy both build the name from these.
ALERTS_TOPIC: Final = "alerts"
FILE_REJECTED_RULE: Final = "raw-file-rejected"
# Lambda function and IAM role names allow 64 characters; SQS and SNS 80; keep the stricter one.
MAX_RESOURCE_NAME: Final = 64


def slug(text: str) -> str:
    """Lowercase ``text`` and turn every run of other characters into one hyphen.

    ``"_reports"`` -> ``"reports"``, ``"transaction_etl"`` -> ``"transaction-etl"``.
    """
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def resource_name(project: str, stage: str, purpose: str) -> str:
    """``<project>-<stage>-<purpose>``, validated: the one shape of every resource name."""
    name = "-".join(slug(part) for part in (project, stage, purpose))
    if not _TOKEN_RE.match(name) or any(not slug(part) for part in (project, stage, purpose)):
        raise ValueError(f"cannot build a resource name from {project!r}, {stage!r}, {purpose!r}")
    if len(name) > MAX_RESOURCE_NAME:
        raise ValueError(f"resource name {name!r} is {len(name)} characters; the limit is {MAX_RESOURCE_NAME}")
    return name


def bucket_name(project: str, stage: str, purpose: str, account_id: str, region: str) -> str:
    """A globally unique bucket name: ``<project>-<stage>-<purpose>-<account>-<region>``.

    The account id and region make the name unique without random suffixes, so the name
    is known before deployment and stays the same across ``pulumi up`` runs.
    """
    if not re.fullmatch(r"\d{12}", str(account_id)):
        raise ValueError(f"account id must be 12 digits, got {account_id!r}")
    name = "-".join(slug(part) for part in (project, stage, purpose, account_id, region))
    validate_bucket_name(name)
    return name


def validate_bucket_name(name: str) -> str:
    """Raise ``ValueError`` unless ``name`` follows S3's general-purpose bucket naming rules.

    Dots are refused too: they are legal, but break virtual-hosted-style HTTPS (the
    certificate covers one label), which CloudFront and the SDKs use.
    """
    problems = []
    if not 3 <= len(name) <= MAX_BUCKET_NAME:
        problems.append(f"length {len(name)} is outside 3..{MAX_BUCKET_NAME}")
    if not _BUCKET_RE.match(name):
        problems.append("only lowercase letters, digits and hyphens, starting and ending with a letter or digit")
    if "--" in name and not any(name.endswith(s) for s in _RESERVED_BUCKET_SUFFIXES):
        # Double hyphens are legal but collide with reserved suffix patterns; keep names simple.
        problems.append("no consecutive hyphens")
    if _IPV4_RE.match(name):
        problems.append("must not look like an IP address")
    if name.startswith(_RESERVED_BUCKET_PREFIXES):
        problems.append(f"must not start with one of {_RESERVED_BUCKET_PREFIXES}")
    if name.endswith(_RESERVED_BUCKET_SUFFIXES):
        problems.append(f"must not end with one of {_RESERVED_BUCKET_SUFFIXES}")
    if problems:
        raise ValueError(f"invalid S3 bucket name {name!r}: " + "; ".join(problems))
    return name


def log_group_name(service_prefix: str, name: str) -> str:
    """A CloudWatch Logs group name under a service prefix, e.g. ``/aws/lambda/<function>``."""
    prefix = "/" + service_prefix.strip("/")
    return f"{prefix}/{name}"


def s3_uri(bucket: str, key: str = "") -> str:
    """``s3://bucket`` or ``s3://bucket/key`` (no doubled slashes)."""
    key = key.lstrip("/")
    return f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
