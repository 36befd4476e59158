"""One hardened S3 bucket: the resources every bucket in the stack gets, in one place.

Each bucket gets default encryption (SSE-KMS with the given key and S3 Bucket Keys, which
cut KMS request costs by ~99%), versioning, a full public access block, object ownership
"bucket owner enforced" (ACLs off), server access logging, lifecycle rules and -- through
:func:`attach_policy`, which callers invoke once they know every statement -- a bucket
policy that refuses non-TLS requests.

The one exception to SSE-KMS is the server-access-log bucket: S3 log delivery cannot
write to a bucket whose default encryption is SSE-KMS, so that bucket uses SSE-S3 (AES256).

Protection (``BucketSpec.protect``, prod's lake): the bucket *and every hardening resource*
get Pulumi ``protect`` and ``retain_on_delete``. Retaining only the bucket would be worse
than nothing: a destroy would keep the data but delete its public access block, default
encryption, TLS-only policy and lifecycle rules.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import iam


@dataclass(frozen=True)
class BucketSpec:
    """What differs between buckets; everything else is the same hardening."""

    logical_name: str  # Pulumi resource name (prefix of the child resources' names)
    bucket_name: str  # physical, globally unique name (components.naming.bucket_name)
    kms_key_arn: pulumi.Input[str] | None  # None only for the access-log bucket (SSE-S3)
    force_destroy: bool
    lifecycle_rules: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgs] = ()
    access_log_bucket: pulumi.Input[str] | None = None
    eventbridge_notifications: bool = False
    protect: bool = False  # Pulumi protect + retain_on_delete on the bucket and its hardening


def protection(protect: bool, **options: Any) -> pulumi.ResourceOptions:
    """``options`` plus what keeps a resource through ``pulumi destroy`` (both ``False`` when not protected).

    ``protect`` makes Pulumi refuse to delete or replace the resource; ``retain_on_delete``
    leaves it in AWS even if someone unprotects it and deletes it from the stack.
    """
    return pulumi.ResourceOptions(protect=protect, retain_on_delete=protect, **options)


@dataclass
class SecureBucket:
    """The created resources; ``name`` and ``arn`` are what other components use."""

    spec: BucketSpec
    bucket: aws.s3.Bucket
    public_access_block: aws.s3.BucketPublicAccessBlock
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    versioning: aws.s3.BucketVersioning
    extras: list[pulumi.Resource] = field(default_factory=list)

    @property
    def name(self) -> pulumi.Output[str]:
        return self.bucket.bucket

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.bucket.arn


def secure_bucket(spec: BucketSpec, parent: pulumi.Resource) -> SecureBucket:
    """Create the bucket and its hardening resources as children of ``parent``."""
    opts = protection(spec.protect, parent=parent)
    n = spec.logical_name
    bucket = aws.s3.Bucket(n, bucket=spec.bucket_name, force_destroy=spec.force_destroy, opts=opts)
    child = protection(spec.protect, parent=parent, depends_on=[bucket])

    if spec.kms_key_arn is None:
        default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="AES256"
        )
        rule = aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(apply_server_side_encryption_by_default=default)
    else:
        default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms", kms_master_key_id=spec.kms_key_arn
        )
        rule = aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=default, bucket_key_enabled=True
        )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{n}-encryption", bucket=bucket.id, rules=[rule], opts=child
    )
    versioning = aws.s3.BucketVersioning(
        f"{n}-versioning",
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        opts=child,
    )
    pab = aws.s3.BucketPublicAccessBlock(
        f"{n}-public-access-block",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    ownership = aws.s3.BucketOwnershipControls(
        f"{n}-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=child,
    )
    extras: list[pulumi.Resource] = [ownership]
    if spec.lifecycle_rules:
        # Lifecycle rules on noncurrent versions need versioning in place first.
        extras.append(
            aws.s3.BucketLifecycleConfiguration(
                f"{n}-lifecycle",
                bucket=bucket.id,
                rules=list(spec.lifecycle_rules),
                opts=protection(spec.protect, parent=parent, depends_on=[versioning]),
            )
        )
    if spec.access_log_bucket is not None:
        extras.append(
            aws.s3.BucketLogging(
                f"{n}-access-logging",
                bucket=bucket.id,
                target_bucket=spec.access_log_bucket,
                target_prefix=f"{spec.bucket_name}/",
                opts=child,
            )
        )
    if spec.eventbridge_notifications:
        # Every object event goes to EventBridge; rules there pick what to route where.
        extras.append(aws.s3.BucketNotification(f"{n}-eventbridge", bucket=bucket.id, eventbridge=True, opts=child))
    return SecureBucket(spec, bucket, pab, encryption, versioning, extras)


def attach_policy(
    secure: SecureBucket,
    parent: pulumi.Resource,
    extra_statements: pulumi.Input[Sequence[dict[str, Any]]] = (),
) -> aws.s3.BucketPolicy:
    """The bucket's one policy: TLS-only, plus ``extra_statements`` (resolved at deploy time)."""

    def render(args: list[Any]) -> str:
        arn, extra = args
        return json.dumps(iam.bucket_policy(arn, list(extra or ())), sort_keys=True)

    policy = pulumi.Output.all(secure.arn, extra_statements).apply(render)
    # Written after the public access block so the two calls never race on the bucket.
    return aws.s3.BucketPolicy(
        f"{secure.spec.logical_name}-policy",
        bucket=secure.bucket.id,
        policy=policy,
        opts=protection(secure.spec.protect, parent=parent, depends_on=[secure.public_access_block]),
    )


def lifecycle_rule(
    rule_id: str,
    *,
    noncurrent_days: int,
    transitions: Sequence[tuple[int, str]] = (),
    expiration_days: int | None = None,
    abort_multipart_days: int = 7,
) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """A whole-bucket lifecycle rule: transitions, optional expiry, old versions, stale uploads."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id=rule_id,
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        transitions=[
            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=days, storage_class=cls)
            for days, cls in transitions
        ]
        or None,
        expiration=(
            aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=expiration_days)
            if expiration_days is not None
            else None
        ),
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=noncurrent_days
        ),
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=abort_multipart_days
        ),
    )
