"""LambdaFunction: one Python Lambda with its own role, log group and dead-letter queue.

Used by Orchestration (validator, router, lock, plan, small date, audit gate, publish) and
Dashboard (API, refresh). Every function:
- runs ``python3.11`` on x86_64 unless told otherwise (the small-date function needs
  ``python3.12`` for DuckDB: see ``components.packaging.LAYERS``);
- ships the same code archive (:func:`code_archive`: ``handlers/`` + ``ecomlake/`` + ``sql/``,
  and the SQL the code renders, rendered when it is packaged: ``sqlcache/``)
  and is pointed at its entry point by module path, e.g. ``handlers.file_validator.handler``;
- has its own IAM role holding only the statements its caller passes, plus writing to its
  own log group, its dead-letter queue and X-Ray;
- logs as JSON to a pre-created, KMS-encrypted log group with the stack's retention;
- traces with X-Ray (active), and sends events that failed every async retry to an SQS DLQ;
- runs with the AWS-managed Powertools layer for its runtime (``components.powertools``),
  added after the function's own layers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from components import iam, naming, powertools
from components.packaging import lambda_sources
from ecomlake.pipeline import PIPELINE, LambdaStep, PipelineFunction

RUNTIME: Final = "python3.11"  # the project's Python (Glue 5.0 runs 3.11 too)
ARCHITECTURE: Final = "x86_64"
DLQ_RETENTION_SECONDS: Final = 14 * 24 * 3600  # SQS maximum: two weeks to replay failures

# A pipeline function ends (and reports its own error) before its state's TimeoutSeconds would.
STATE_TIMEOUT_MARGIN_SECONDS: Final = 5
LAMBDA_MAX_TIMEOUT_SECONDS: Final = 900


def function_timeout(function: PipelineFunction, stack_timeout_seconds: int) -> int:
    """A pipeline function's Lambda timeout: the stack's, but inside its shortest step's TimeoutSeconds.

    Otherwise the state would time out first (``States.Timeout``) while the invocation runs on,
    unseen; this way the function's own timeout error reaches the state's retriers and Catch.
    """
    steps = [s.timeout_seconds for s in PIPELINE.walk() if isinstance(s, LambdaStep) and s.function is function]
    return min(stack_timeout_seconds, min(steps) - STATE_TIMEOUT_MARGIN_SECONDS)


def code_archive(repo_root: Path, rendered: Mapping[str, Path]) -> pulumi.AssetArchive:
    """The Lambda code: one ``FileAsset`` per shipped file (caches and tests excluded), and
    ``rendered``, the SQL rendered for it (``components.packaging.rendered_sql``)."""
    files = {**lambda_sources(repo_root), **rendered}
    return pulumi.AssetArchive({name: pulumi.FileAsset(str(path)) for name, path in sorted(files.items())})


@dataclass(frozen=True)
class LambdaFunctionArgs:
    function_name: str  # physical name, components.naming.resource_name(...)
    description: str
    handler: str  # module path: "handlers.<module>.handler"
    code: pulumi.Archive
    account_id: str
    region: str
    partition: str
    kms_key_arn: pulumi.Input[str]
    log_retention_days: int
    memory_mb: int
    timeout_seconds: int
    log_level: str
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # Extra IAM statements (resolved at deploy time) for what the handler itself does.
    statements: pulumi.Input[Sequence[dict[str, Any]]] = ()
    layers: Sequence[pulumi.Input[str]] = ()
    reserved_concurrency: int = -1
    runtime: str = RUNTIME
    ephemeral_storage_mb: int = 512  # /tmp; Lambda's default and minimum


def handler_file(handler: str) -> str:
    """The file a handler path points at: ``handlers.api.handler`` -> ``handlers/api.py``."""
    module, _, function = handler.rpartition(".")
    if not module or not function:
        raise ValueError(f"handler must be '<module path>.<function>', got {handler!r}")
    return module.replace(".", "/") + ".py"


class LambdaFunction(pulumi.ComponentResource):
    """Role + log group + DLQ + function."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    dead_letter_queue: aws.sqs.Queue
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: LambdaFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ecomlake:index:LambdaFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        fn = args.function_name
        entry = handler_file(args.handler)
        if isinstance(args.code, pulumi.AssetArchive) and entry not in args.code.assets:
            # Fail the preview, not the first invocation.
            raise FileNotFoundError(f"{fn}: handler {args.handler!r} needs {entry}, which is not in the code archive")

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=naming.log_group_name("aws/lambda", fn),
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{fn}-dlq",
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            name=fn,
            description=f"Execution role of the {fn} Lambda function",
            assume_role_policy=json.dumps(iam.assume_role_policy("lambda"), sort_keys=True),
            opts=child,
        )

        def render(values: list[Any]) -> str:
            log_group_arn, dlq_arn, extra = values
            return json.dumps(
                iam.document(
                    iam.logs_write("WriteOwnLogs", [log_group_arn]),
                    iam.sqs_send("SendToOwnDeadLetterQueue", [dlq_arn]),
                    iam.xray_write(),
                    *list(extra or ()),
                ),
                sort_keys=True,
            )

        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            name=f"{fn}-policy",
            role=self.role.id,
            policy=pulumi.Output.all(self.log_group.arn, self.dead_letter_queue.arn, args.statements).apply(render),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=fn,
            description=args.description,
            runtime=args.runtime,
            architectures=[ARCHITECTURE],
            handler=args.handler,
            code=args.code,
            role=self.role.arn,
            memory_size=args.memory_mb,
            ephemeral_storage=aws.lambda_.FunctionEphemeralStorageArgs(size=args.ephemeral_storage_mb),
            timeout=args.timeout_seconds,
            reserved_concurrent_executions=args.reserved_concurrency,
            layers=[*args.layers, powertools.layer_arn(args.partition, args.region, args.runtime, ARCHITECTURE)],
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.environment)),
            dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(target_arn=self.dead_letter_queue.arn),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON",
                log_group=self.log_group.name,
                application_log_level=_lambda_level(args.log_level),
                system_log_level="WARN",
            ),
            # The role must hold its policy (DLQ, logs) before Lambda validates the function.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy, self.log_group]),
        )
        self.memory_mb: int = args.memory_mb
        self.function_arn: pulumi.Output[str] = self.function.arn
        self.function_name: pulumi.Output[str] = self.function.name
        self.register_outputs(
            {
                "functionArn": self.function.arn,
                "functionName": self.function.name,
                "roleArn": self.role.arn,
                "deadLetterQueueArn": self.dead_letter_queue.arn,
            }
        )


def _lambda_level(level: str) -> str:
    """Lambda's application log levels use WARN where Python's logging says WARNING."""
    return {"WARNING": "WARN"}.get(level, level)


def dependency_layer(
    name: str, *, layer_name: str, directory: Path, runtime: str, parent: pulumi.Resource | None = None
) -> aws.lambda_.LayerVersion:
    """A Lambda layer from a directory built by ``components.packaging.layer_build_command``."""
    return aws.lambda_.LayerVersion(
        name,
        layer_name=layer_name,
        description=f"Pinned third-party packages ({directory.name})",
        code=pulumi.FileArchive(str(directory)),
        compatible_runtimes=[runtime],
        compatible_architectures=[ARCHITECTURE],
        opts=pulumi.ResourceOptions(parent=parent),
    )
