"""ecomlake Pulumi program: read the stack's config once, build typed args, compose the components.

Order (each component receives what the earlier ones created, nothing is looked up by name):

    DataLake (KMS key, zone buckets) -> Catalog (Glue tables) -> Alerts (SNS)
      -> Etl (Glue jobs) -> Analytics (Athena) -> Dashboard (site, CDN, API, refresh)
      -> Orchestration (ingestion functions, run lock, plan/publish steps, rules, state machine)
      -> Observability (alarms, dashboard with its cost section, monthly budget)

Run with ``pulumi preview`` / ``pulumi up`` from the repository root (see docs/infrastructure.md).
Before deploying, build the Lambda dependency layers (the error message says how if missing).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import iam, naming
from components.analytics import Analytics, AnalyticsArgs
from components.catalog import Catalog, CatalogArgs
from components.dashboard import Dashboard, DashboardArgs
from components.etl import Etl, EtlArgs
from components.functions import code_archive, dependency_layer
from components.lake import DataLake, DataLakeArgs
from components.observability import Alerts, AlertsArgs, Observability, ObservabilityArgs
from components.orchestration import Orchestration, OrchestrationArgs
from components.packaging import LAMBDA_SQL_CACHE, LAYERS, built_layer, rendered_sql
from components.settings import load_settings
from ecomlake.contract import METRICS_NAMESPACE, PROJECT, EnvVar, Zone, glue_database
from ecomlake.pipeline import PIPELINE, PipelineFunction

REPO_ROOT = Path(__file__).resolve().parent
# Where the Lambda dependency layers are built (components.packaging.layer_build_command).
LAYERS_DIR = Path(os.environ.get("ECOMLAKE_LAYERS_DIR", REPO_ROOT / "build" / "lambda-layers"))
# Where the SQL the functions ship is rendered, once per code version (components.packaging.rendered_sql).
SQL_CACHE_DIR = REPO_ROOT / "build" / "sql-cache"

# --------------------------------------------------------------------------- settings (read once)

aws_config = pulumi.Config("aws")
settings = load_settings(
    pulumi.Config(PROJECT),
    stack=pulumi.get_stack(),
    region=aws_config.get("region"),
    default_tags=aws_config.get_object("defaultTags"),
)
account_id = aws.get_caller_identity().account_id
partition = aws.get_partition().partition
project, stage, region = settings.project, settings.stage, settings.region
database = glue_database(stage)

# --------------------------------------------------------------------------- components

lake = DataLake(
    "lake",
    DataLakeArgs(
        project=project,
        stage=stage,
        account_id=account_id,
        region=region,
        partition=partition,
        settings=settings.lake,
    ),
)
catalog = Catalog(
    "catalog",
    CatalogArgs(
        project=project,
        stage=stage,
        database_name=database,
        zone_buckets={z: lake.bucket_name(z) for z in (Zone.PROCESSED, Zone.CURATED)},
    ),
)
alerts = Alerts(
    "alerts",
    AlertsArgs(project=project, stage=stage, account_id=account_id, kms_key_arn=lake.key_arn, settings=settings.alerts),
)
etl = Etl(
    "etl",
    EtlArgs(
        project=project,
        stage=stage,
        account_id=account_id,
        region=region,
        partition=partition,
        repo_root=REPO_ROOT,
        settings=settings.etl,
        data_quality=settings.data_quality,
        log_retention_days=settings.log_retention_days,
        kms_key_arn=lake.key_arn,
        zone_buckets=lake.bucket_names,
        zone_bucket_arns=lake.bucket_arns,
    ),
)
analytics = Analytics(
    "analytics",
    AnalyticsArgs(
        project=project,
        stage=stage,
        settings=settings.analytics,
        database_name=catalog.database_name,
        results_bucket=lake.bucket_name(Zone.ATHENA_RESULTS),
        kms_key_arn=lake.key_arn,
        sql_dir=REPO_ROOT / "sql",
        force_destroy=settings.lake.force_destroy,
    ),
)

code = code_archive(REPO_ROOT, rendered_sql(REPO_ROOT, SQL_CACHE_DIR))
pyproject = REPO_ROOT / "pyproject.toml"
# Dependency layers belong to no single component: they are stack-level resources.
duckdb_spec, sqlglot_spec = LAYERS["duckdb-etl"], LAYERS["sqlglot"]
duckdb_layer = dependency_layer(
    "layer-duckdb-etl",
    layer_name=f"{project}-{stage}-duckdb-etl",
    directory=built_layer(LAYERS_DIR, duckdb_spec, pyproject),
    runtime=f"python{duckdb_spec.python_version}",
)
sqlglot_layer = dependency_layer(
    "layer-sqlglot",
    layer_name=f"{project}-{stage}-sqlglot",
    directory=built_layer(LAYERS_DIR, sqlglot_spec, pyproject),
    runtime=f"python{sqlglot_spec.python_version}",
)

# Every function knows the stage, every zone's bucket, the database and the metrics namespace.
common_env: dict[str, pulumi.Input[str]] = {
    EnvVar.STAGE.value: stage,
    **lake.bucket_env(),
    EnvVar.GLUE_DATABASE.value: catalog.database_name,
    EnvVar.METRICS_NAMESPACE.value: METRICS_NAMESPACE,
    EnvVar.LOG_LEVEL.value: settings.functions.log_level,
    # The stack's prices, for the run-cost estimates (ecomlake.cost.load_prices).
    EnvVar.PRICES.value: json.dumps(settings.cost.prices.to_dict(), sort_keys=True),
    # The SQL rendered when the code was packaged, shipped with it: read, not rendered, at a cold start.
    EnvVar.SQL_CACHE.value: LAMBDA_SQL_CACHE,
}

query_statements = pulumi.Output.all(
    analytics.workgroup_arn,
    catalog.database_name,
    lake.bucket_arn(Zone.PROCESSED),
    lake.bucket_arn(Zone.CURATED),
    lake.bucket_arn(Zone.ATHENA_RESULTS),
    lake.bucket_arn(Zone.REPORTS),
    lake.key_arn,
).apply(
    lambda v: iam.athena_query_statements(
        partition=partition,
        region=region,
        account_id=account_id,
        workgroup_arn=v[0],
        database=v[1],
        # Reports: the dashboard shows the data-quality status next to the charts.
        data_bucket_arns=[v[2], v[3], v[5]],
        results_bucket_arn=v[4],
        results_prefix=f"{Zone.ATHENA_RESULTS}/",
        key_arn=v[6],
    )
)
dashboard = Dashboard(
    "dashboard",
    DashboardArgs(
        project=project,
        stage=stage,
        account_id=account_id,
        region=region,
        partition=partition,
        settings=settings.dashboard,
        functions=settings.functions,
        force_destroy=settings.lake.force_destroy,
        static_dir=REPO_ROOT / "dashboard",
        access_log_bucket=lake.access_logs.name,
        noncurrent_version_expiration_days=settings.lake.noncurrent_version_expiration_days,
        log_retention_days=settings.log_retention_days,
        lake_key_arn=lake.key_arn,
        code=code,
        api_environment={
            **common_env,
            EnvVar.ATHENA_WORKGROUP.value: analytics.workgroup_name,
        },
        api_statements=query_statements,
        api_layers=[settings.functions.pandas_layer_arn, sqlglot_layer.arn],
    ),
)
orchestration = Orchestration(
    "orchestration",
    OrchestrationArgs(
        project=project,
        stage=stage,
        account_id=account_id,
        region=region,
        partition=partition,
        functions=settings.functions,
        pipeline=settings.pipeline,
        log_retention_days=settings.log_retention_days,
        kms_key_arn=lake.key_arn,
        code=code,
        common_environment=common_env,
        database_name=catalog.database_name,
        catalog_digest=catalog.definition_digest,
        protect_data=settings.lake.protect_data,
        bucket_names=lake.bucket_names,
        bucket_arns=lake.bucket_arns,
        job_names=etl.job_names,
        job_arns=etl.job_arns,
        alerts_topic_arn=alerts.topic_arn,
        small_date=settings.small_date,
        small_date_layers=[duckdb_layer.arn],
        small_date_runtime=f"python{duckdb_spec.python_version}",
        dq_thresholds=settings.data_quality.thresholds_json,
        external_functions={PipelineFunction.DASHBOARD_REFRESH: dashboard.refresh.function_arn},
    ),
)
functions = {**orchestration.functions, "api": dashboard.api, "dashboard-refresh": dashboard.refresh}
observability = Observability(
    "observability",
    ObservabilityArgs(
        project=project,
        stage=stage,
        region=region,
        settings=settings.alerts,
        topic_arn=alerts.topic_arn,
        state_machine_arn=orchestration.state_machine_arn,
        function_names={k: f.function_name for k, f in functions.items()},
        dead_letter_queue_names={
            **{k: f.dead_letter_queue.name for k, f in functions.items()},
            "events": orchestration.events_dlq.name,
        },
        job_names=etl.job_names,
        workgroup_name=analytics.workgroup_name,
        cost=settings.cost,
        function_memory_mb={k: f.memory_mb for k, f in functions.items()},
        glue_dpus=etl.job_dpus,
        # The functions the state machine invokes: their errors end in the run's failure notification.
        pipeline_functions=frozenset(naming.slug(f) for f in PIPELINE.functions),
    ),
)

# --------------------------------------------------------------------------- stack outputs

OUTPUTS: dict[str, object] = {
    "buckets": {naming.slug(z): n for z, n in lake.bucket_names.items()},
    "kmsKeyArn": lake.key_arn,
    "glueDatabase": catalog.database_name,
    "glueJobs": {str(j): n for j, n in etl.job_names.items()},
    "stateMachineArn": orchestration.state_machine_arn,
    "lockTable": orchestration.lock_table_name,
    "alertsTopicArn": alerts.topic_arn,
    "athenaWorkgroup": analytics.workgroup_name,
    "functions": {k: f.function_name for k, f in functions.items()},
    "dashboardUrl": dashboard.url,
    "dashboardBucket": dashboard.site_bucket_name,
    "cloudwatchDashboard": observability.dashboard.dashboard_name,
    "budgetName": observability.budget.name,
}
for output_name, value in OUTPUTS.items():
    pulumi.export(output_name, value)
