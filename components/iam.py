"""Pure IAM policy builders: plain strings in, JSON-ready policy documents out.

No Pulumi import: the components resolve ARNs (``Output.all(...).apply``) and call these
functions with strings, and the unit tests call them directly. Rules every builder keeps:

- no statement allows ``*`` actions, and no statement pairs a wildcard action with ``*``;
- ``"Resource": "*"`` appears only for actions that have no resource-level permissions
  (X-Ray, CloudWatch ``PutMetricData`` -- narrowed by namespace --, and the CloudWatch Logs
  delivery APIs Step Functions needs), and in KMS key policies, where ``*`` means "this key";
- in resource policies, service principals are pinned to this account (``aws:SourceAccount``)
  or to one resource (``aws:SourceArn``), so another account's resources cannot borrow the
  grant (confused deputy); trust policies: see :func:`assume_role_policy`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

VERSION: Final = "2012-10-17"

Statement = dict[str, Any]
Document = dict[str, Any]

# S3 object actions, split by what a role needs to do with the data.
S3_READ: Final = ("s3:GetObject", "s3:GetObjectVersion")
S3_WRITE: Final = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
S3_DELETE: Final = ("s3:DeleteObject",)
S3_LIST: Final = ("s3:ListBucket", "s3:GetBucketLocation")
# SSE-KMS: reading needs Decrypt; writing needs GenerateDataKey (and Decrypt for multipart).
KMS_S3_READ: Final = ("kms:Decrypt",)
KMS_S3_WRITE: Final = ("kms:Decrypt", "kms:GenerateDataKey")
XRAY_WRITE: Final = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


def document(*statements: Statement) -> Document:
    """A policy document holding ``statements`` (empty groups are dropped by the callers)."""
    return {"Version": VERSION, "Statement": list(statements)}


def statement(
    sid: str,
    actions: Iterable[str],
    resources: Iterable[str] | str,
    *,
    effect: str = "Allow",
    principal: Mapping[str, Any] | str | None = None,
    conditions: Mapping[str, Mapping[str, Any]] | None = None,
) -> Statement:
    """One statement; actions are sorted and de-duplicated so documents are stable across runs."""
    acts = sorted(set(actions))
    if not acts:
        raise ValueError(f"statement {sid!r} has no actions")
    if "*" in acts:
        raise ValueError(f"statement {sid!r}: a bare '*' action is never allowed")
    res: list[str] | str = resources if isinstance(resources, str) else list(dict.fromkeys(resources))
    if not res:
        raise ValueError(f"statement {sid!r} has no resources")
    stmt: Statement = {"Sid": sid, "Effect": effect}
    if principal is not None:
        stmt["Principal"] = principal
    stmt["Action"] = acts[0] if len(acts) == 1 else acts
    stmt["Resource"] = res[0] if isinstance(res, list) and len(res) == 1 else res
    if conditions:
        stmt["Condition"] = {op: dict(values) for op, values in conditions.items()}
    return stmt


# --------------------------------------------------------------------------- ARN helpers


def bucket_arn(partition: str, bucket: str) -> str:
    return f"arn:{partition}:s3:::{bucket}"


def objects_arn(bucket_arn_: str, prefix: str = "") -> str:
    """ARN of the objects under ``prefix`` in a bucket.

    The trailing slash is dropped so Hadoop-style directory markers (``<dir>_$folder$``)
    that Spark writes beside a prefix are covered too.
    """
    prefix = prefix.strip("/")
    return f"{bucket_arn_}/{prefix}*"


def log_group_arn(partition: str, region: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:logs:{region}:{account_id}:log-group:{name}"


def log_streams_arn(group_arn: str) -> str:
    """Log-stream resources of a group: the form ``CreateLogStream``/``PutLogEvents`` check."""
    group_arn = group_arn.removesuffix(":*")
    return f"{group_arn}:log-stream:*"


def topic_arn(partition: str, region: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:sns:{region}:{account_id}:{name}"


def event_rule_arn(partition: str, region: str, account_id: str, name: str) -> str:
    """ARN of a rule on the account's default event bus."""
    return f"arn:{partition}:events:{region}:{account_id}:rule/{name}"


def state_machine_executions_arns(partition: str, region: str, account_id: str, state_machine_name: str) -> list[str]:
    """Every execution of one state machine: the resources ``states:DescribeExecution`` checks.

    The first form is what a STANDARD machine's executions are. The service authorization
    reference lists the express form as a second required resource type of the action, so
    it is named too (it matches no execution of a STANDARD machine, and policy linters
    such as parliament expect both).
    """
    states = f"arn:{partition}:states:{region}:{account_id}"
    return [f"{states}:execution:{state_machine_name}:*", f"{states}:express:{state_machine_name}:*:*"]


def arn_scope(arn: str) -> tuple[str, str, str]:
    """``(partition, region, account)`` of an ARN, to name a sibling resource in the same place."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not all(parts[1:3]):
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[1], parts[3], parts[4]


def root_principal(partition: str, account_id: str) -> dict[str, str]:
    return {"AWS": f"arn:{partition}:iam::{account_id}:root"}


def service_principal(service: str) -> dict[str, str]:
    return {"Service": service if "." in service else f"{service}.amazonaws.com"}


# --------------------------------------------------------------------------- trust policies


def assume_role_policy(service: str, account_id: str | None = None, *, source_arn_like: str | None = None) -> Document:
    """Trust policy letting one AWS service assume a role.

    ``account_id`` / ``source_arn_like`` add confused-deputy conditions, for services that
    put ``aws:SourceAccount``/``aws:SourceArn`` in their AssumeRole request (Step Functions
    does). Execution roles of Lambda and Glue get none: those services do not reliably send
    the keys when assuming an execution role, and such a role cannot be handed to another
    account's resource anyway (``iam:PassRole`` works within an account only).
    (Trust policies name no ``Resource``; IAM linters built for identity policies, such as
    parliament, report them as malformed, so the tests check their shape directly.)
    """
    conditions: dict[str, dict[str, Any]] = {}
    if account_id:
        conditions["StringEquals"] = {"aws:SourceAccount": account_id}
    if source_arn_like:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn_like}
    stmt: Statement = {
        "Sid": "AssumeFromService",
        "Effect": "Allow",
        "Principal": service_principal(service),
        "Action": "sts:AssumeRole",
    }
    if conditions:
        stmt["Condition"] = conditions
    return {"Version": VERSION, "Statement": [stmt]}


# --------------------------------------------------------------------------- resource policies


def deny_insecure_transport(bucket_arn_: str) -> Statement:
    """Refuse every request that does not use TLS (``aws:SecureTransport`` false)."""
    return statement(
        "DenyInsecureTransport",
        ["s3:*"],
        [bucket_arn_, f"{bucket_arn_}/*"],
        effect="Deny",
        principal="*",
        conditions={"Bool": {"aws:SecureTransport": "false"}},
    )


def bucket_policy(bucket_arn_: str, extra: Sequence[Statement] = ()) -> Document:
    """Bucket policy: TLS only, plus any grants the bucket needs (CloudFront, log delivery)."""
    return document(deny_insecure_transport(bucket_arn_), *extra)


def access_log_delivery(log_bucket_arn: str, account_id: str, source_bucket_arn_pattern: str) -> Statement:
    """Let S3 server access logging write into the log bucket, only for this account's buckets."""
    return statement(
        "AllowS3ServerAccessLogDelivery",
        ["s3:PutObject"],
        [objects_arn(log_bucket_arn)],
        principal=service_principal("logging.s3.amazonaws.com"),
        conditions={
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": source_bucket_arn_pattern},
        },
    )


def cloudfront_read(bucket_arn_: str, distribution_arn: str) -> Statement:
    """Origin Access Control: only this CloudFront distribution may read the site's objects."""
    return statement(
        "AllowCloudFrontOriginAccessControl",
        ["s3:GetObject"],
        [objects_arn(bucket_arn_)],
        principal=service_principal("cloudfront.amazonaws.com"),
        conditions={"StringEquals": {"AWS:SourceArn": distribution_arn}},
    )


def key_admin(partition: str, account_id: str) -> Statement:
    """The account keeps full control of its key (AWS's default; without it a key can be orphaned).

    In a key policy ``"Resource": "*"`` means "this key"; IAM policies in the account then
    decide who may use it.
    """
    return statement("AccountAdministersKey", ["kms:*"], "*", principal=root_principal(partition, account_id))


def lake_key_policy(partition: str, region: str, account_id: str, *, alerts_topic_arn: str | None = None) -> Document:
    """Key policy of the lake's KMS key.

    Besides the account, AWS services use the key on their own behalf:
    CloudWatch Logs (encrypted log groups: Lambda, Step Functions, Glue) -- limited by the
    encryption context to this account's log groups in this region --, CloudWatch
    alarms, which publish to the KMS-encrypted SNS alerts topic, and (with
    ``alerts_topic_arn``) EventBridge, which delivers "Raw File Rejected" events to it, and
    AWS Budgets, which sends the budget alerts there (:func:`budgets_topic_key_use`).
    """
    logs_arns = f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
    extra = [budgets_topic_key_use(partition, account_id)]
    if alerts_topic_arn:
        extra.append(eventbridge_topic_key_use(alerts_topic_arn))
    return document(
        key_admin(partition, account_id),
        statement(
            "CloudWatchLogsEncryptLogGroups",
            [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
            ],
            "*",
            principal=service_principal(f"logs.{region}.amazonaws.com"),
            conditions={"StringLike": {"kms:EncryptionContext:aws:logs:arn": logs_arns}},
        ),
        # AWS documents this grant without conditions; who may publish is decided by the
        # topic policy, which admits only this account's alarms (see topic_policy).
        statement(
            "CloudWatchAlarmsPublishToEncryptedTopic",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            "*",
            principal=service_principal("cloudwatch.amazonaws.com"),
        ),
        *extra,
    )


def eventbridge_topic_key_use(topic_arn_: str) -> Statement:
    """Key-policy grant letting EventBridge publish to one KMS-encrypted SNS topic.

    SNS asks KMS for the topic's data key on the publisher's behalf, so the publishing
    service needs ``kms:GenerateDataKey*`` and ``kms:Decrypt`` on the key. The grant is
    pinned with the encryption context SNS puts on every such request (the topic's ARN):
    EventBridge may use the key for this topic's messages and nothing else the key
    protects. ``aws:SourceArn``/``aws:SourceAccount`` are not used here: AWS does not
    document them in the KMS request of an EventBridge delivery to a topic, and a
    condition on an absent key fails closed -- every alert would be dropped. Which rules
    may publish at all is decided by the topic policy (see :func:`topic_policy`).
    """
    return statement(
        "EventBridgePublishToEncryptedTopic",
        ["kms:GenerateDataKey*", "kms:Decrypt"],
        "*",
        principal=service_principal("events.amazonaws.com"),
        conditions={"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic_arn_}},
    )


def budgets_source_conditions(partition: str, account_id: str) -> dict[str, dict[str, str]]:
    """What AWS Budgets sends, pinned to this account's budgets (a budget ARN has no region)."""
    return {
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnLike": {"aws:SourceArn": f"arn:{partition}:budgets::{account_id}:*"},
    }


def budgets_topic_key_use(partition: str, account_id: str) -> Statement:
    """Key-policy grant letting AWS Budgets publish its alerts to the KMS-encrypted alerts topic.

    As AWS documents for budget notifications to an encrypted topic: the Budgets service
    principal may generate a data key and decrypt, only on behalf of this account's budgets
    (``aws:SourceAccount`` and ``aws:SourceArn``, which Budgets sends).
    """
    return statement(
        "BudgetsPublishToEncryptedTopic",
        ["kms:GenerateDataKey*", "kms:Decrypt"],
        "*",
        principal=service_principal("budgets.amazonaws.com"),
        conditions=budgets_source_conditions(partition, account_id),
    )


def site_key_policy(partition: str, account_id: str, distribution_arn: str) -> Document:
    """Key policy of the dashboard site's key: CloudFront (this distribution only) may decrypt."""
    return document(
        key_admin(partition, account_id),
        statement(
            "CloudFrontDecryptSiteObjects",
            ["kms:Decrypt"],
            "*",
            principal=service_principal("cloudfront.amazonaws.com"),
            conditions={"StringEquals": {"AWS:SourceArn": distribution_arn}},
        ),
    )


def topic_policy(
    topic_arn: str,
    account_id: str,
    publishers: Iterable[str] = ("cloudwatch.amazonaws.com",),
    *,
    event_rule_arns: Sequence[str] = (),
    budgets_partition: str | None = None,
) -> Document:
    """SNS topic policy: this account's CloudWatch alarms may publish, and so may EventBridge
    for exactly ``event_rule_arns`` (``aws:SourceArn``) and, with ``budgets_partition``, AWS
    Budgets for this account's budgets; no plain-HTTP publishing."""
    budgets = (
        [
            statement(
                "AllowBudgetsPublishing",
                ["sns:Publish"],
                [topic_arn],
                principal=service_principal("budgets.amazonaws.com"),
                conditions=budgets_source_conditions(budgets_partition, account_id),
            )
        ]
        if budgets_partition
        else []
    )
    rules = [
        statement(
            "AllowEventRulePublishing",
            ["sns:Publish"],
            [topic_arn],
            principal=service_principal("events.amazonaws.com"),
            conditions={"ArnEquals": {"aws:SourceArn": sorted(event_rule_arns)}},
        )
    ]
    return document(
        statement(
            "AllowAlarmPublishing",
            ["sns:Publish"],
            [topic_arn],
            principal={"Service": sorted(publishers)},
            conditions={"StringEquals": {"aws:SourceAccount": account_id}},
        ),
        *(rules if event_rule_arns else []),
        *budgets,
        statement(
            "DenyInsecureTransport",
            ["sns:Publish"],
            [topic_arn],
            effect="Deny",
            principal="*",
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        ),
    )


def queue_policy(queue_arn: str, rule_arns: Sequence[str]) -> Document:
    """SQS policy for an EventBridge dead-letter queue: only the given rules may send."""
    return document(
        statement(
            "AllowEventBridgeDeadLetters",
            ["sqs:SendMessage"],
            [queue_arn],
            principal=service_principal("events.amazonaws.com"),
            conditions={"ArnEquals": {"aws:SourceArn": list(rule_arns)}},
        ),
        statement(
            "DenyInsecureTransport",
            ["sqs:SendMessage"],
            [queue_arn],
            effect="Deny",
            principal="*",
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        ),
    )


# --------------------------------------------------------------------------- identity policy pieces


def s3_read(sid: str, bucket_arn_: str, prefixes: Sequence[str] = ("",)) -> list[Statement]:
    """Read objects under ``prefixes`` and list only those prefixes."""
    return [
        statement(f"{sid}Objects", S3_READ, [objects_arn(bucket_arn_, p) for p in prefixes]),
        _list(sid, bucket_arn_, prefixes),
    ]


def s3_read_write(
    sid: str, bucket_arn_: str, prefixes: Sequence[str] = ("",), *, delete: bool = False
) -> list[Statement]:
    """Read, write (and optionally delete, for partition overwrites) under ``prefixes``."""
    actions = (*S3_READ, *S3_WRITE, *(S3_DELETE if delete else ()))
    return [
        statement(f"{sid}Objects", actions, [objects_arn(bucket_arn_, p) for p in prefixes]),
        _list(sid, bucket_arn_, prefixes),
    ]


def s3_write_only(sid: str, bucket_arn_: str, prefixes: Sequence[str]) -> list[Statement]:
    """Put objects under ``prefixes`` without being able to read or list the bucket."""
    return [statement(f"{sid}Objects", S3_WRITE, [objects_arn(bucket_arn_, p) for p in prefixes])]


def _list(sid: str, bucket_arn_: str, prefixes: Sequence[str]) -> Statement:
    if any(not p for p in prefixes):
        return statement(f"{sid}List", S3_LIST, [bucket_arn_])
    patterns = sorted({f"{p.strip('/')}*" for p in prefixes})
    # GetBucketLocation takes no s3:prefix, so listing and locating are split.
    return statement(f"{sid}List", ["s3:ListBucket"], [bucket_arn_], conditions={"StringLike": {"s3:prefix": patterns}})


def _list_raw_partitions(raw_bucket_arn: str, raw_prefix: str) -> Statement:
    """List the raw partitions (``<raw_prefix>/*``); reading raw objects is a separate grant."""
    return statement(
        "ListRawPartitions",
        ["s3:ListBucket"],
        [raw_bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{raw_prefix.strip('/')}/*"]}},
    )


def _table_versions(table_zones: Sequence[tuple[str, str]], actions: Sequence[str]) -> list[Statement]:
    """``actions`` on the objects of each table zone (bucket ARN, zone prefix), and listing that zone."""
    statements: list[Statement] = []
    for i, (arn, prefix) in enumerate(table_zones):
        zone = f"{prefix.strip('/')}/"
        statements += [
            statement(f"TableVersions{i}Objects", actions, [objects_arn(arn, zone)]),
            _list(f"TableVersions{i}", arn, [zone]),
        ]
    return statements


def kms_use(sid: str, key_arn: str, *, write: bool = True, extra: Iterable[str] = ()) -> Statement:
    actions = [*(KMS_S3_WRITE if write else KMS_S3_READ), *extra]
    return statement(sid, actions, [key_arn])


def logs_write(sid: str, log_group_arns: Sequence[str]) -> Statement:
    """Write to pre-created log groups (no CreateLogGroup: Pulumi owns the groups)."""
    return statement(
        sid,
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [log_streams_arn(arn) for arn in log_group_arns],
    )


def xray_write(sid: str = "XRayTraces") -> Statement:
    # X-Ray has no resource-level permissions for these actions.
    return statement(sid, XRAY_WRITE, "*")


def put_metrics(sid: str, namespaces: Sequence[str]) -> Statement:
    """``cloudwatch:PutMetricData`` has no resource ARN; the namespace condition narrows it."""
    return statement(
        sid,
        ["cloudwatch:PutMetricData"],
        "*",
        conditions={"StringEquals": {"cloudwatch:namespace": sorted(namespaces)}},
    )


def sqs_send(sid: str, queue_arns: Sequence[str]) -> Statement:
    return statement(sid, ["sqs:SendMessage"], list(queue_arns))


def sns_publish(sid: str, topic_arn: str) -> Statement:
    return statement(sid, ["sns:Publish"], [topic_arn])


def router_statements(
    *,
    state_machine_arn: str,
    executions_arns: Sequence[str],
    raw_bucket_arn: str,
    raw_prefix: str,
    reports_bucket_arn: str,
    reports_prefix: str,
    key_arn: str,
) -> list[Statement]:
    """The file router (handlers/file_router.py): start the pipeline once a date is complete.

    - start this state machine, and look at its executions first (a running execution
      answers a repeated identical start with success, so "already started" is read, not
      inferred);
    - list the raw partitions (``raw_prefix``; raw objects themselves are never read);
    - read the validator's reports. ``s3:ListBucket`` on the reports bucket is not for
      listing: without it S3 answers a report that does not exist yet with 403, not 404.
      That check carries no ``s3:prefix``, so the grant cannot be narrowed by prefix;
    - decrypt with the lake key (the buckets are SSE-KMS encrypted).
    """
    return [
        statement("StartPipeline", ["states:StartExecution"], [state_machine_arn]),
        statement("DescribePipelineExecutions", ["states:DescribeExecution"], executions_arns),
        _list_raw_partitions(raw_bucket_arn, raw_prefix),
        statement("ListReportsBucket", ["s3:ListBucket"], [reports_bucket_arn]),
        statement("ReadValidationReports", ["s3:GetObject"], [f"{reports_bucket_arn}/{reports_prefix.strip('/')}/*"]),
        kms_use("DecryptLakeKey", key_arn, write=False),
    ]


def dynamodb_table_arn(partition: str, region: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:dynamodb:{region}:{account_id}:table/{name}"


def glue_catalog_arns(partition: str, region: str, account_id: str, database: str) -> list[str]:
    """The catalog, one database and its tables: the resources Glue's table and partition APIs check."""
    glue = f"arn:{partition}:glue:{region}:{account_id}"
    return [f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/*"]


def run_lock_statements(
    *, table_arn: str, executions_arns: Sequence[str], key_arn: str, region: str
) -> list[Statement]:
    """The run lock (handlers/run_lock.py): one item of one table, and a look at the holder's execution.

    - read, write and delete the lease item (conditional writes need no more than PutItem / DeleteItem);
    - ``states:DescribeExecution`` on the pipeline's executions, to tell a live holder from a dead one;
    - the table is encrypted with the lake key: DynamoDB may use it on the function's behalf,
      and only DynamoDB in this Region (``kms:ViaService``).
    """
    return [
        statement("LockItem", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], [table_arn]),
        statement("DescribeHolderExecution", ["states:DescribeExecution"], executions_arns),
        statement(
            "LockTableKey",
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            [key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}},
        ),
    ]


# The Glue calls of the catalog switch (ecomlake.runs.glue_catalog).
GLUE_CATALOG_SYNC: Final = (
    "glue:GetTable",
    "glue:GetTables",
    "glue:UpdateTable",
    "glue:GetPartitions",
    "glue:BatchCreatePartition",
    "glue:BatchUpdatePartition",
    "glue:BatchDeletePartition",
)


def run_step_statements(
    *,
    raw_bucket_arn: str,
    raw_prefix: str,
    table_zones: Sequence[tuple[str, str]],
    reports_bucket_arn: str,
    reports_prefixes: Sequence[str],
    catalog_arns: Sequence[str],
    key_arn: str,
) -> list[Statement]:
    """The plan and publish steps (ecomlake.runs.cloud_steps): snapshot, journal, versions, catalog.

    - list the raw partitions (the plan sums the run's raw bytes from the listing; raw objects
      are never read);
    - list, read and delete versions in the processed / curated / quarantine zones (``table_zones``:
      bucket ARN and zone prefix of each): the plan
      checks the published versions are there, and publishing (or finishing an interrupted
      publication, which the plan does) deletes versions no reader can reach;
    - read and write the snapshot (``_catalog/``, whose old history entries are pruned), the run
      folders (``_runs/``) and the published data-quality reports (``_reports/dq/``), and list
      the reports bucket (so a key not written yet reads as absent, not as access denied);
    - switch the Glue tables and partitions of the stack's database;
    - the lake key, for the SSE-KMS buckets.
    """
    statements = [
        _list_raw_partitions(raw_bucket_arn, raw_prefix),
        *_table_versions(table_zones, [*S3_READ, *S3_DELETE]),
        statement(
            "RunRecordsObjects",
            [*S3_READ, *S3_WRITE, *S3_DELETE],
            [objects_arn(reports_bucket_arn, p) for p in reports_prefixes],
        ),
        # Not only for listing: without ListBucket S3 answers a key that does not exist yet (the
        # first snapshot, a plan, a verdict) with 403 instead of 404, and that check carries no
        # s3:prefix, so it cannot be narrowed by prefix (as for the router's reports).
        statement("RunRecordsList", ["s3:ListBucket"], [reports_bucket_arn]),
    ]
    statements.append(statement("SwitchCatalog", GLUE_CATALOG_SYNC, list(catalog_arns)))
    statements.append(kms_use("UseLakeKey", key_arn))
    return statements


# Where the small-date function reads and writes in the reports bucket (ecomlake.runs.small_date).
SMALL_DATE_READ_PREFIXES: Final = ("_catalog/", "_runs/", "_reports/validation/")
SMALL_DATE_WRITE_PREFIXES: Final = ("_runs/", "_reports/validation/")


def small_date_statements(
    *,
    raw_bucket_arn: str,
    raw_prefix: str,
    table_zones: Sequence[tuple[str, str]],
    reports_bucket_arn: str,
    key_arn: str,
) -> list[Statement]:
    """The small-date function (handlers/small_date.py): stage what a run reads, upload what it wrote.

    - read (and list) raw objects under ``raw_prefix``: the run's raw files;
    - in each table zone (``table_zones``: bucket ARN and zone prefix) read the published
      versions and write the run's own; delete too, because a retried invocation replaces its
      own version folders exactly (a part file of an earlier attempt must not stay beside the
      new ones) -- what the ETL role may do there;
    - in the reports bucket read the snapshot, the run records and the validation reports;
      write only the run records (journal, reports, verdict) and validation reports (a file
      landed without one is validated on the way); ``s3:ListBucket`` unconditioned, so a key
      not written yet reads as absent (404), not denied;
    - the lake key, for the SSE-KMS buckets. No Glue, no Step Functions: it only moves and
      computes data.
    """
    statements = [
        statement("ReadRawObjects", S3_READ, [objects_arn(raw_bucket_arn, raw_prefix)]),
        _list_raw_partitions(raw_bucket_arn, raw_prefix),
        *_table_versions(table_zones, [*S3_READ, *S3_WRITE, *S3_DELETE]),
        statement("ReadRunRecords", S3_READ, [objects_arn(reports_bucket_arn, p) for p in SMALL_DATE_READ_PREFIXES]),
        statement("WriteRunRecords", S3_WRITE, [objects_arn(reports_bucket_arn, p) for p in SMALL_DATE_WRITE_PREFIXES]),
        statement("ListReportsBucket", ["s3:ListBucket"], [reports_bucket_arn]),
        kms_use("UseLakeKey", key_arn),
    ]
    return statements


# --------------------------------------------------------------------------- role policies


def glue_job_policy(
    *,
    read_buckets: Sequence[str],
    write_buckets: Sequence[str],
    artifacts_bucket: str,
    code_prefixes: Sequence[str],
    temp_prefix: str,
    key_arn: str,
    log_group_arns: Sequence[str],
    metric_namespaces: Sequence[str],
) -> Document:
    """Glue ETL role: read raw, read/write/delete the zones it produces, read its code.

    Delete is needed because a re-run overwrites the date's partitions (idempotency).
    Logs: only the job's two pre-created groups (``components.etl``: ``<prefix>/error`` and
    ``<prefix>/output``). ``CreateLogGroup`` is granted on exactly those names because the
    Glue runtime may ask for the group before writing; the group exists, so nothing is created.
    """
    statements: list[Statement] = []
    for i, arn in enumerate(read_buckets):
        statements += s3_read(f"ReadInput{i}", arn)
    for i, arn in enumerate(write_buckets):
        statements += s3_read_write(f"WriteOutput{i}", arn, delete=True)
    statements += s3_read("ReadCode", artifacts_bucket, code_prefixes)
    statements += s3_read_write("TempDir", artifacts_bucket, [temp_prefix], delete=True)
    statements.append(kms_use("UseLakeKey", key_arn, extra=["kms:Encrypt"]))
    statements.append(statement("GlueLogGroups", ["logs:CreateLogGroup"], list(log_group_arns)))
    statements.append(logs_write("GlueLogStreams", log_group_arns))
    statements.append(put_metrics("PublishMetrics", metric_namespaces))
    return document(*statements)


# Where the audit job reads and writes in the reports bucket (ecomlake.runs.audit,
# ecomlake.dq.glue_job): the snapshot, the run journals and plans, the validation reports;
# it writes only each run's reports and verdict.
AUDIT_READ_PREFIXES: Final = ("_catalog/", "_runs/", "_reports/validation/")
AUDIT_WRITE_PATTERNS: Final = ("_runs/*/dq/*", "_runs/*/audit.json")


def glue_audit_policy(
    *,
    table_buckets: Sequence[str],
    reports_bucket: str,
    artifacts_bucket: str,
    code_prefixes: Sequence[str],
    temp_prefix: str,
    key_arn: str,
    log_group_arns: Sequence[str],
) -> Document:
    """The audit job's role (``glue_jobs/data_quality.py``): read the tables, write one run's verdict.

    - read (and list) the processed, curated and quarantine buckets (``table_buckets``): the
      rules read the run's view of every table, quarantine for the reasons; never raw, and no
      write to a data bucket;
    - in the reports bucket read ``_catalog/``, ``_runs/`` and ``_reports/validation/``, and
      write only ``_runs/*/dq/*`` (the reports) and ``_runs/*/audit.json`` (the verdict);
      ``s3:ListBucket`` on it unconditioned, so a verdict or plan not written yet reads as
      absent (404), not denied (that check carries no ``s3:prefix``);
    - its code, its temp dir, the lake key, the jobs' two log groups and Glue's own metrics,
      as the ETL jobs have them.
    """
    statements: list[Statement] = []
    for i, arn in enumerate(table_buckets):
        statements += s3_read(f"ReadTables{i}", arn)
    statements += [
        statement("ReadRunRecords", S3_READ, [objects_arn(reports_bucket, p) for p in AUDIT_READ_PREFIXES]),
        statement("WriteAuditResults", S3_WRITE, [f"{reports_bucket}/{p}" for p in AUDIT_WRITE_PATTERNS]),
        statement("ListReportsBucket", S3_LIST, [reports_bucket]),
    ]
    statements += s3_read("ReadCode", artifacts_bucket, code_prefixes)
    statements += s3_read_write("TempDir", artifacts_bucket, [temp_prefix], delete=True)
    statements.append(kms_use("UseLakeKey", key_arn))
    statements.append(statement("GlueLogGroups", ["logs:CreateLogGroup"], list(log_group_arns)))
    statements.append(logs_write("GlueLogStreams", log_group_arns))
    statements.append(put_metrics("PublishMetrics", ["Glue"]))
    return document(*statements)


def audit_gate_statements(*, reports_bucket_arn: str, topic_arn: str, key_arn: str) -> list[Statement]:
    """The audit gate (handlers/data_quality.py): read a run's verdict and reports, warn on the topic.

    - read ``_runs/*`` in the reports bucket (the verdict and the per-date reports), and list the
      bucket so a missing verdict reads as absent (the gate then says "no audit verdict") rather
      than as access denied;
    - publish to the alerts topic (the warnings-only message);
    - decrypt with the lake key (the bucket is SSE-KMS), and generate data keys only for the
      alerts topic: SNS asks KMS on the publisher's behalf with the topic's ARN as encryption
      context, so the grant cannot encrypt anything else;
    - its metrics are EMF log lines in its own log group (every function may write there).
    """
    return [
        statement("ReadRunRecords", S3_READ, [objects_arn(reports_bucket_arn, "_runs/")]),
        statement("ListReportsBucket", ["s3:ListBucket"], [reports_bucket_arn]),
        sns_publish("WarnAlerts", topic_arn),
        statement("DecryptLakeObjects", ["kms:Decrypt"], [key_arn]),
        statement(
            "EncryptForAlertsTopic",
            ["kms:GenerateDataKey"],
            [key_arn],
            conditions={"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic_arn}},
        ),
    ]


def state_machine_policy(
    *,
    job_arns: Sequence[str],
    function_arns: Sequence[str],
    topic_arn: str,
    key_arn: str,
) -> Document:
    """Step Functions role: run these Glue jobs, invoke these functions, publish to this topic.

    The ``logs:*Delivery``/``*ResourcePolicy``/``DescribeLogGroups`` actions are what
    Step Functions needs to deliver execution logs to CloudWatch Logs; AWS documents them
    with ``Resource: "*"`` because they support no resource-level permissions.
    """
    return document(
        statement(
            "RunGlueJobs",
            ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
            list(job_arns),
        ),
        statement(
            "InvokePipelineFunctions",
            ["lambda:InvokeFunction"],
            [*function_arns, *(f"{arn}:*" for arn in function_arns)],
        ),
        sns_publish("NotifyAlerts", topic_arn),
        # The alerts topic is KMS-encrypted: publishing needs a data key.
        kms_use("UseAlertsTopicKey", key_arn),
        statement(
            "DeliverExecutionLogs",
            [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            "*",
        ),
        statement("XRayTracing", [*XRAY_WRITE, "xray:GetSamplingRules", "xray:GetSamplingTargets"], "*"),
    )


def allows_everything(doc: Mapping[str, Any]) -> list[Statement]:
    """Statements that allow a ``*`` action on a ``*`` resource (what no policy here may hold)."""
    found = []
    for stmt in _statements(doc):
        if stmt.get("Effect") != "Allow":
            continue
        actions = _as_list(stmt.get("Action", []))
        resources = _as_list(stmt.get("Resource", []))
        if "*" in actions and ("*" in resources or not resources):
            found.append(stmt)
    return found


def _statements(doc: Mapping[str, Any]) -> list[Statement]:
    return _as_list(doc.get("Statement", []))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def athena_query_statements(
    *,
    partition: str,
    region: str,
    account_id: str,
    workgroup_arn: str,
    database: str,
    data_bucket_arns: Sequence[str],
    results_bucket_arn: str,
    results_prefix: str,
    key_arn: str,
) -> list[Statement]:
    """Run read-only queries in one workgroup over one Glue database.

    Athena acts with the caller's permissions: it reads the catalog and the data buckets
    and writes results to the workgroup's (enforced) output location.
    """
    glue = f"arn:{partition}:glue:{region}:{account_id}"
    statements = [
        statement(
            "RunQueriesInWorkgroup",
            [
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:StopQueryExecution",
                "athena:GetWorkGroup",
            ],
            [workgroup_arn],
        ),
        statement(
            "ReadCatalog",
            ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"],
            [f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/*"],
        ),
    ]
    for i, arn in enumerate(data_bucket_arns):
        statements += s3_read(f"ReadTableData{i}", arn)
    statements += s3_read_write("QueryResults", results_bucket_arn, [results_prefix])
    statements.append(
        statement("ResultsBucketLocation", ["s3:GetBucketLocation"], [results_bucket_arn]),
    )
    statements.append(kms_use("UseLakeKey", key_arn))
    return statements
