"""DataLake: the KMS key and one hardened S3 bucket per zone of ``ecomlake.contract.Zone``.

Zones map to buckets one to one (``_reports`` and ``_runs`` share the reports bucket, as
``contract.ZONE_BUCKET_ENV`` says). Keys inside each bucket keep the zone prefix
(``raw/<dataset>/date=D/<file>``), so a key reads the same in S3 and in the local lake.

Lifecycle, from stack config:
- raw: STANDARD -> STANDARD_IA -> GLACIER_IR. Raw is immutable and never expires; Glacier
  Instant Retrieval keeps old dates readable by a backfill without a restore step.
- athena-results and quarantine: expire after N days (results are re-creatable; quarantined
  files are kept long enough to be inspected and replayed).
- every bucket: noncurrent versions expire after N days; stale multipart uploads are aborted.

Protection (``protectData``, true in prod): the key, its alias, every bucket of the lake
(the access-log bucket too: it is the audit trail) and their hardening resources are
Pulumi-``protect``ed and ``retain_on_delete``: ``pulumi destroy`` stops, and a resource
removed from the program stays in AWS. Otherwise a destroy would schedule the key for
deletion while versioned buckets full of data encrypted with it remain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from components import iam, naming
from components.buckets import BucketSpec, SecureBucket, attach_policy, lifecycle_rule, protection, secure_bucket
from components.settings import LakeSettings
from ecomlake.contract import ZONE_BUCKET_ENV, EnvVar, Zone

# The zones that get a bucket (RUNS and CATALOG live in the reports bucket).
BUCKET_ZONES: Final = (
    Zone.RAW,
    Zone.PROCESSED,
    Zone.CURATED,
    Zone.QUARANTINE,
    Zone.REPORTS,
    Zone.ATHENA_RESULTS,
    Zone.ARTIFACTS,
)
ACCESS_LOGS: Final = "access-logs"


@dataclass(frozen=True)
class DataLakeArgs:
    project: str
    stage: str
    account_id: str
    region: str
    partition: str
    settings: LakeSettings


def bucket_zone(zone: Zone) -> Zone:
    """The zone whose bucket holds ``zone``'s keys (RUNS and CATALOG share the REPORTS bucket)."""
    return Zone.REPORTS if zone in (Zone.RUNS, Zone.CATALOG) else zone


def zone_lifecycle(zone: Zone, s: LakeSettings) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """Lifecycle rules of one zone's bucket."""
    keep = s.noncurrent_version_expiration_days
    if zone == Zone.RAW:
        transitions = [(s.raw_infrequent_access_days, "STANDARD_IA"), (s.raw_glacier_days, "GLACIER_IR")]
        return [lifecycle_rule("raw-tiering", noncurrent_days=keep, transitions=transitions)]
    if zone == Zone.ATHENA_RESULTS:
        return [lifecycle_rule("expire-results", noncurrent_days=1, expiration_days=s.athena_results_expiration_days)]
    if zone == Zone.QUARANTINE:
        return [lifecycle_rule("expire-quarantine", noncurrent_days=keep, expiration_days=s.quarantine_expiration_days)]
    return [lifecycle_rule("noncurrent-versions", noncurrent_days=keep)]


class DataLake(pulumi.ComponentResource):
    """KMS key (rotating) + the zone buckets + the server-access-log bucket."""

    key: aws.kms.Key
    buckets: dict[Zone, SecureBucket]
    access_logs: SecureBucket

    def __init__(self, name: str, args: DataLakeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ecomlake:index:DataLake", name, None, opts)
        s = args.settings

        # The alerts topic is encrypted with this key, so the key exists first and its policy
        # names the topic by its (deterministic) ARN: a reference would be a cycle.
        alerts_topic = iam.topic_arn(
            args.partition,
            args.region,
            args.account_id,
            naming.resource_name(args.project, args.stage, naming.ALERTS_TOPIC),
        )
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.project} {args.stage}: lake data, logs and alerts",
            enable_key_rotation=True,
            deletion_window_in_days=s.kms_deletion_window_days,
            policy=json.dumps(
                iam.lake_key_policy(args.partition, args.region, args.account_id, alerts_topic_arn=alerts_topic),
                sort_keys=True,
            ),
            opts=protection(s.protect_data, parent=self),
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{naming.resource_name(args.project, args.stage, 'lake')}",
            target_key_id=self.key.key_id,
            opts=protection(s.protect_data, parent=self),
        )

        def physical(purpose: str) -> str:
            return naming.bucket_name(args.project, args.stage, purpose, args.account_id, args.region)

        self.access_logs = secure_bucket(
            BucketSpec(
                logical_name=f"{name}-{ACCESS_LOGS}",
                bucket_name=physical(ACCESS_LOGS),
                kms_key_arn=None,  # S3 log delivery supports SSE-S3 only
                force_destroy=s.force_destroy,
                protect=s.protect_data,
                lifecycle_rules=[
                    lifecycle_rule(
                        "expire-access-logs",
                        noncurrent_days=1,
                        expiration_days=s.access_logs_expiration_days,
                    )
                ],
            ),
            parent=self,
        )
        source_pattern = iam.bucket_arn(args.partition, f"{args.project}-{args.stage}-*")
        attach_policy(
            self.access_logs,
            self,
            [
                iam.access_log_delivery(
                    f"arn:{args.partition}:s3:::{physical(ACCESS_LOGS)}", args.account_id, source_pattern
                )
            ],
        )

        self.buckets = {}
        for zone in BUCKET_ZONES:
            purpose = naming.slug(zone)
            secure = secure_bucket(
                BucketSpec(
                    logical_name=f"{name}-{purpose}",
                    bucket_name=physical(purpose),
                    kms_key_arn=self.key.arn,
                    force_destroy=s.force_destroy,
                    protect=s.protect_data,
                    lifecycle_rules=zone_lifecycle(zone, s),
                    access_log_bucket=self.access_logs.name,
                    # Raw object-created events drive the validator through EventBridge.
                    eventbridge_notifications=zone == Zone.RAW,
                ),
                parent=self,
            )
            attach_policy(secure, self)
            self.buckets[zone] = secure

        self.key_arn: pulumi.Output[str] = self.key.arn
        self.bucket_names: dict[Zone, pulumi.Output[str]] = {z: b.name for z, b in self.buckets.items()}
        self.bucket_arns: dict[Zone, pulumi.Output[str]] = {z: b.arn for z, b in self.buckets.items()}
        self.register_outputs(
            {
                "keyArn": self.key.arn,
                "accessLogBucket": self.access_logs.name,
                "buckets": {naming.slug(z): n for z, n in self.bucket_names.items()},
            }
        )

    def bucket_name(self, zone: Zone) -> pulumi.Output[str]:
        return self.bucket_names[bucket_zone(zone)]

    def bucket_arn(self, zone: Zone) -> pulumi.Output[str]:
        return self.bucket_arns[bucket_zone(zone)]

    def bucket_env(self) -> dict[str, pulumi.Output[str]]:
        """Environment variables naming each zone's bucket (``contract.ZONE_BUCKET_ENV``)."""
        env: dict[str, pulumi.Output[str]] = {}
        for zone, var in ZONE_BUCKET_ENV.items():
            env[EnvVar(var).value] = self.bucket_name(zone)
        return env
