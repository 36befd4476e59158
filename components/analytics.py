"""Analytics: the Athena workgroup every query runs in, and one named query per ``sql/*.sql``.

The workgroup *enforces* its configuration, so no client can override where results go or
turn encryption off: results land in the athena-results bucket (SSE-KMS with the lake key,
expired by lifecycle), each query is cut off past the stack's bytes-scanned limit (the
number Athena bills on), and query metrics go to CloudWatch (the dashboard's
"Athena bytes scanned" widget).

Named queries are read from ``sql/`` when the program runs (sorted, so the order is
stable); their description is the file's first comment line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pulumi
import pulumi_aws as aws

from components import naming
from components.settings import AnalyticsSettings
from ecomlake.contract import Zone

ENGINE_VERSION: Final = "Athena engine version 3"
NAMED_QUERY_MAX_BYTES: Final = 262_144  # Athena's limit on a named query's text
DESCRIPTION_MAX: Final = 1024


@dataclass(frozen=True)
class SqlFile:
    name: str
    description: str
    text: str


@dataclass(frozen=True)
class AnalyticsArgs:
    project: str
    stage: str
    settings: AnalyticsSettings
    database_name: pulumi.Input[str]
    results_bucket: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    sql_dir: Path
    force_destroy: bool


def sql_files(sql_dir: Path) -> list[SqlFile]:
    """Every ``*.sql`` file in ``sql_dir``, sorted by name, with its header line as description."""
    files = []
    for path in sorted(sql_dir.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        if len(text.encode("utf-8")) > NAMED_QUERY_MAX_BYTES:
            raise ValueError(f"{path}: longer than Athena's {NAMED_QUERY_MAX_BYTES}-byte named-query limit")
        files.append(SqlFile(path.stem, _description(path.stem, text), text))
    return files


def _description(name: str, text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("--"):
            comment = stripped.lstrip("-").strip()
            if comment:
                return comment[:DESCRIPTION_MAX]
        elif stripped:
            break
    return f"ecomlake query {name} (sql/{name}.sql)"


def results_location(bucket: str) -> str:
    return naming.s3_uri(bucket, f"{Zone.ATHENA_RESULTS}/")


class Analytics(pulumi.ComponentResource):
    """Athena workgroup + named queries."""

    workgroup: aws.athena.Workgroup
    named_queries: dict[str, aws.athena.NamedQuery]

    def __init__(self, name: str, args: AnalyticsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ecomlake:index:Analytics", name, None, opts)
        self.workgroup = aws.athena.Workgroup(
            f"{name}-workgroup",
            name=naming.resource_name(args.project, args.stage, "analytics"),
            description=f"{args.project} {args.stage}: dashboard API and analysts",
            state="ENABLED",
            force_destroy=args.force_destroy,
            configuration=aws.athena.WorkgroupConfigurationArgs(
                enforce_workgroup_configuration=True,
                publish_cloudwatch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=args.settings.bytes_scanned_cutoff,
                engine_version=aws.athena.WorkgroupConfigurationEngineVersionArgs(
                    selected_engine_version=ENGINE_VERSION
                ),
                result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                    output_location=pulumi.Output.from_input(args.results_bucket).apply(results_location),
                    encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                        encryption_option="SSE_KMS", kms_key_arn=args.kms_key_arn
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.named_queries = {
            sql.name: aws.athena.NamedQuery(
                f"{name}-query-{naming.slug(sql.name)}",
                name=sql.name,
                description=sql.description,
                database=args.database_name,
                workgroup=self.workgroup.name,
                query=sql.text,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for sql in sql_files(args.sql_dir)
        }
        self.workgroup_name: pulumi.Output[str] = self.workgroup.name
        self.workgroup_arn: pulumi.Output[str] = self.workgroup.arn
        self.register_outputs(
            {"workgroupName": self.workgroup.name, "namedQueries": {n: q.id for n, q in self.named_queries.items()}}
        )
