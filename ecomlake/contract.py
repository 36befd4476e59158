"""Names shared by the infrastructure (Pulumi) and the runtime (handlers, Glue jobs, CLI).

Everything that both sides must spell the same way lives here, once: zones, the key
layout, dataset and table names, environment variables, Glue job arguments, metric
names. Nothing in this module imports Pulumi, boto3 or Spark, so it is safe to import
from a Lambda, a Glue job, the Pulumi program and the tests alike.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Final

from ecomlake.exceptions import InvalidArgumentError, InvalidDateError, UnknownDatasetError

PROJECT: Final = "ecomlake"

# --------------------------------------------------------------------------- zones


class Zone(StrEnum):
    """Storage zones. In AWS each zone is its own bucket; locally each is a folder of the lake."""

    RAW = "raw"
    PROCESSED = "processed"
    CURATED = "curated"
    QUARANTINE = "quarantine"
    # Operational zones: run summaries, DQ reports, run records, query results.
    REPORTS = "_reports"
    RUNS = "_runs"
    # The published snapshot: which version of every table partition readers see.
    CATALOG = "_catalog"
    ATHENA_RESULTS = "athena-results"
    ARTIFACTS = "artifacts"


DATA_ZONES: Final = (Zone.RAW, Zone.PROCESSED, Zone.CURATED, Zone.QUARANTINE)

# --------------------------------------------------------------------------- datasets and tables


class Dataset(StrEnum):
    """The four sources landed in the raw zone."""

    TRANSACTIONS = "transactions"
    PRODUCTS = "products"
    CLICKSTREAM = "clickstream"
    REVIEWS = "reviews"


DATASETS: Final = tuple(Dataset)

# Raw file name each dataset arrives as (the seed's formats).
RAW_FILE_NAMES: Final[dict[Dataset, str]] = {
    Dataset.TRANSACTIONS: "transactions.csv",
    Dataset.PRODUCTS: "products.json",
    Dataset.CLICKSTREAM: "clickstream.json",
    Dataset.REVIEWS: "reviews.csv",
}


class Table(StrEnum):
    """Tables registered in the catalog (Glue in AWS, DuckDB views locally).

    Processed tables carry the dataset names; curated tables are the analytics marts.
    All live in one database per stack, so SQL files use unqualified names.
    """

    # processed zone: cleaned, typed, deduplicated, one partition per business date
    TRANSACTIONS = "transactions"
    PRODUCTS = "products"
    CLICKSTREAM = "clickstream"
    REVIEWS = "reviews"
    SESSIONS = "sessions"
    # curated zone: analytics-ready
    FACT_SALES = "fact_sales"
    PRODUCT_ACTIVITY = "product_activity"
    DIM_PRODUCTS = "dim_products"
    DIM_CUSTOMERS = "dim_customers"
    FCT_SESSIONS = "fct_sessions"
    DAILY_KPIS = "daily_kpis"
    BASKET_PAIRS = "basket_pairs"


PROCESSED_TABLES: Final = (Table.TRANSACTIONS, Table.PRODUCTS, Table.CLICKSTREAM, Table.REVIEWS, Table.SESSIONS)
CURATED_TABLES: Final = (
    Table.FACT_SALES,
    Table.PRODUCT_ACTIVITY,
    Table.DIM_PRODUCTS,
    Table.DIM_CUSTOMERS,
    Table.FCT_SESSIONS,
    Table.DAILY_KPIS,
    Table.BASKET_PAIRS,
)


def table_zone(table: Table | str) -> Zone:
    """The zone a catalog table's data lives in."""
    return Zone.PROCESSED if Table(table) in PROCESSED_TABLES else Zone.CURATED


def parse_dataset(name: str) -> Dataset:
    """Dataset from its name, or a clear error listing the known ones."""
    try:
        return Dataset(name.strip().lower())
    except ValueError:
        known = ", ".join(DATASETS)
        raise UnknownDatasetError(f"unknown dataset {name!r}; expected one of: {known}") from None


# --------------------------------------------------------------------------- partitions and keys

PARTITION_KEY: Final = "date"
DATE_FORMAT: Final = "%Y-%m-%d"
_DATE_RE: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")  # ASCII digits only, as keys are written


def parse_date(value: str) -> str:
    """Validate a business date written YYYY-MM-DD and return it unchanged."""
    _checked_date(value)
    return str(value).strip()


def to_date(value: str) -> date:
    return _checked_date(value)


def _checked_date(value: str) -> date:
    # ``date.fromisoformat`` after the pattern: a planned run parses every published partition's
    # date, and ``strptime`` took 8 us a call for what this does in a fraction of one.
    text = str(value).strip()
    if not _DATE_RE.match(text):
        raise InvalidDateError(f"invalid date {value!r}; expected YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidDateError(f"invalid date {value!r}; no such calendar day") from None


def partition_prefix(zone: Zone | str, name: str, day: str) -> str:
    """Key prefix of one partition: ``<zone>/<dataset-or-table>/date=YYYY-MM-DD/``.

    The zone stays in the key even though every zone has its own bucket in AWS, so a
    key reads the same in S3 and in the local lake and the router can parse it alone.
    """
    return f"{Zone(zone)}/{name}/{PARTITION_KEY}={parse_date(day)}/"


def table_prefix(zone: Zone | str, name: str) -> str:
    return f"{Zone(zone)}/{name}/"


def raw_key(dataset: Dataset | str, day: str, file_name: str) -> str:
    return partition_prefix(Zone.RAW, Dataset(dataset), day) + file_name


# raw/<dataset>/date=YYYY-MM-DD/<file> -- the only shape the router accepts.
RAW_KEY_RE: Final = re.compile(r"^raw/(?P<dataset>[a-z_]+)/date=(?P<date>\d{4}-\d{2}-\d{2})/(?P<file>[^/]+)$")

# Quarantine: a whole file is copied beside a reason document; bad rows go to rows.parquet.
QUARANTINE_REASON_SUFFIX: Final = ".reason.json"
QUARANTINE_ROWS_FILE: Final = "rows.parquet"
QUARANTINE_REASON_COLUMN: Final = "_reason"
QUARANTINE_DETAIL_COLUMN: Final = "_detail"
# The date a duplicate_key row's key first landed on (the same date for a duplicate within a date).
QUARANTINE_FIRST_DATE_COLUMN: Final = "_first_date"
SOURCE_LINE_COLUMN: Final = "_line"
SOURCE_FILE_COLUMN: Final = "_file"

# --------------------------------------------------------------------------- operational records


def run_summary_key(job: str, day: str) -> str:
    """Where an ETL job writes its row-conservation summary for one date."""
    return f"{Zone.REPORTS}/etl/{job}/{PARTITION_KEY}={parse_date(day)}.json"


VALIDATION_PREFIX: Final = f"{Zone.REPORTS}/validation/"


def validation_report_key(dataset: Dataset | str, day: str, file_name: str) -> str:
    """Where the validator writes its per-file report (row faults, schema drift)."""
    return f"{VALIDATION_PREFIX}{Dataset(dataset)}/{PARTITION_KEY}={parse_date(day)}/{file_name}.json"


def dq_report_key(day: str, ext: str = "json") -> str:
    return f"{Zone.REPORTS}/dq/{PARTITION_KEY}={parse_date(day)}.{ext}"


def run_record_key(run_id: str) -> str:
    return f"{Zone.RUNS}/{run_id}.json"


# --------------------------------------------------------------------------- versions and snapshots

# A run never writes where readers look: every table partition it writes is a new version,
# ``<zone>/<table>/date=D/run=<run_id>/`` (``<zone>/<table>/run=<run_id>/`` unpartitioned), and
# readers resolve which version is current through the published snapshot (SNAPSHOT_KEY).
RUN_KEY: Final = "run"
_RUN_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
SNAPSHOT_KEY: Final = f"{Zone.CATALOG}/current.json"
SNAPSHOT_HISTORY_PREFIX: Final = f"{Zone.CATALOG}/history/"


def parse_run_id(value: str) -> str:
    """A run id as it may appear in a key: letters, digits, ``_ . -``; at most 80 characters."""
    text = str(value).strip()
    if not _RUN_ID_RE.match(text):
        raise InvalidArgumentError(
            f"invalid run id {value!r}; use letters, digits, '_', '.' and '-' (at most 80, not starting with a symbol)"
        )
    return text


def unit_name(zone: Zone | str, name: str) -> str:
    """A versioned unit of the lake: a table (``processed/transactions``) or quarantine rows of a dataset."""
    return f"{Zone(zone)}/{name}"


def version_path(run_id: str, day: str | None = None) -> str:
    """A run's version folder inside a unit: ``date=D/run=R``, or ``run=R`` for an unpartitioned unit."""
    run = f"{RUN_KEY}={parse_run_id(run_id)}"
    return run if day is None else f"{PARTITION_KEY}={parse_date(day)}/{run}"


def version_prefix(unit: str, run_id: str, day: str | None = None) -> str:
    """Where one run's version of a unit's partition (or of an unpartitioned unit) lives."""
    return f"{unit}/{version_path(run_id, day)}/"


def snapshot_history_key(seq: int) -> str:
    return f"{SNAPSHOT_HISTORY_PREFIX}{seq:010d}.json"


def run_prefix(run_id: str) -> str:
    """A run's own folder: its plan, the outputs each job wrote, its reports before publication."""
    return f"{Zone.RUNS}/{parse_run_id(run_id)}/"


def run_output_key(run_id: str, job: str) -> str:
    """What one job of a run wrote (units and partitions), read by the later steps and by publish."""
    return f"{run_prefix(run_id)}outputs/{job}.json"


# --------------------------------------------------------------------------- jobs


class Job(StrEnum):
    """Glue jobs (one script each in glue_jobs/): the four ETL jobs and the run's audit."""

    TRANSACTION_ETL = "transaction_etl"
    PRODUCT_ENRICHMENT = "product_enrichment"
    CLICKSTREAM_AGGREGATION = "clickstream_aggregation"
    MASTER_DATA_MERGE = "master_data_merge"
    # Every data-quality check on the run's unpublished view; writes reports and the verdict
    # under _runs/<run_id>/ and nothing else (ecomlake.dq.glue_job).
    DATA_QUALITY = "data_quality"


# The per-dataset jobs that run in parallel, and the raw datasets each reads.
JOB_INPUTS: Final[dict[Job, tuple[Dataset, ...]]] = {
    Job.TRANSACTION_ETL: (Dataset.TRANSACTIONS,),
    Job.PRODUCT_ENRICHMENT: (Dataset.PRODUCTS, Dataset.REVIEWS),
    Job.CLICKSTREAM_AGGREGATION: (Dataset.CLICKSTREAM,),
    Job.MASTER_DATA_MERGE: (),
}
PARALLEL_ETL_JOBS: Final = (Job.TRANSACTION_ETL, Job.PRODUCT_ENRICHMENT, Job.CLICKSTREAM_AGGREGATION)


class JobArg(StrEnum):
    """Glue job argument keys (passed as ``--<key> value``; read with getResolvedOptions)."""

    JOB_NAME = "JOB_NAME"
    DATES = "dates"  # comma-separated YYYY-MM-DD list: one date, or a backfill
    RUN_ID = "run_id"  # the run the job belongs to (its versions are named after it)
    RAW_URI = "raw_uri"  # root URI of each zone: s3://bucket or a local directory
    PROCESSED_URI = "processed_uri"
    CURATED_URI = "curated_uri"
    QUARANTINE_URI = "quarantine_uri"
    REPORTS_URI = "reports_uri"
    # data_quality only, optional: the stack's thresholds, a JSON object (ecomlake.dq.rules.Thresholds)
    DQ_THRESHOLDS = "dq_thresholds"


def job_arguments(dates: list[str] | tuple[str, ...], uris: dict[JobArg, str]) -> dict[str, str]:
    """Glue ``--key value`` arguments for a run over ``dates``."""
    args = {f"--{JobArg.DATES}": ",".join(parse_date(d) for d in dates)}
    args.update({f"--{k}": v for k, v in uris.items()})
    return args


# --------------------------------------------------------------------------- environment


class EnvVar(StrEnum):
    """Environment variables the Lambda handlers and the CLI read."""

    STAGE = "ECOMLAKE_STAGE"
    LAKE = "ECOMLAKE_LAKE"  # local lake directory (CLI)
    RAW_BUCKET = "ECOMLAKE_RAW_BUCKET"
    PROCESSED_BUCKET = "ECOMLAKE_PROCESSED_BUCKET"
    CURATED_BUCKET = "ECOMLAKE_CURATED_BUCKET"
    QUARANTINE_BUCKET = "ECOMLAKE_QUARANTINE_BUCKET"
    REPORTS_BUCKET = "ECOMLAKE_REPORTS_BUCKET"
    ATHENA_RESULTS_BUCKET = "ECOMLAKE_ATHENA_RESULTS_BUCKET"
    GLUE_DATABASE = "ECOMLAKE_GLUE_DATABASE"
    ATHENA_WORKGROUP = "ECOMLAKE_ATHENA_WORKGROUP"
    STATE_MACHINE_ARN = "ECOMLAKE_STATE_MACHINE_ARN"
    ALERTS_TOPIC_ARN = "ECOMLAKE_ALERTS_TOPIC_ARN"
    METRICS_NAMESPACE = "ECOMLAKE_METRICS_NAMESPACE"
    MAX_FILE_BYTES = "ECOMLAKE_MAX_FILE_BYTES"
    LOG_LEVEL = "LOG_LEVEL"
    SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    DUCKDB_MEMORY_LIMIT = "ECOMLAKE_DUCKDB_MEMORY_LIMIT"  # local ETL engine's memory cap, e.g. "4GB"
    DASHBOARD_ORIGIN = "ECOMLAKE_DASHBOARD_ORIGIN"  # https://<cloudfront domain>: the API's only CORS origin
    API_CACHE_SECONDS = "ECOMLAKE_API_CACHE_SECONDS"  # TTL of the API's in-memory and CloudFront cache
    DASHBOARD_BUCKET = "ECOMLAKE_DASHBOARD_BUCKET"  # the dashboard site bucket (cloud dashboard refresh writes there)
    LOCK_TABLE = "ECOMLAKE_LOCK_TABLE"  # DynamoDB table of the lake's run lock (cloud pipeline's lock step)
    # Glue workers a local run's cost estimate prices its jobs on, TYPE:COUNT (ecomlake.local.run_cost).
    GLUE_WORKERS = "ECOMLAKE_GLUE_WORKERS"
    # Data-quality thresholds (JSON object, see ecomlake.dq.rules.Thresholds), per stack.
    DQ_THRESHOLDS = "ECOMLAKE_DQ_THRESHOLDS"
    # Comma list of datasets a date needs (an accepted file each) before the router starts the pipeline.
    REQUIRED_DATASETS = "ECOMLAKE_REQUIRED_DATASETS"
    # Prices ecomlake.cost estimates a run with: a JSON object (stack config ecomlake:prices), or a JSON file.
    PRICES = "ECOMLAKE_PRICES"
    PRICES_FILE = "ECOMLAKE_PRICES_FILE"
    # Local runs: the small-date threshold the pipeline's Choice compares the plan's estimate with
    # (bytes, or "none"); in AWS it is the stack's smallDateMaxBytes, written into the definition.
    SMALL_DATE_MAX_BYTES = "ECOMLAKE_SMALL_DATE_MAX_BYTES"
    # Where rendered SQL is cached between processes (ecomlake.sqlcache), or "off".
    SQL_CACHE = "ECOMLAKE_SQL_CACHE"


# Which bucket variable holds each zone (reports share the processed bucket in AWS
# unless a stack gives them their own; see components/lake.py).
ZONE_BUCKET_ENV: Final[dict[Zone, EnvVar]] = {
    Zone.RAW: EnvVar.RAW_BUCKET,
    Zone.PROCESSED: EnvVar.PROCESSED_BUCKET,
    Zone.CURATED: EnvVar.CURATED_BUCKET,
    Zone.QUARANTINE: EnvVar.QUARANTINE_BUCKET,
    Zone.REPORTS: EnvVar.REPORTS_BUCKET,
    Zone.RUNS: EnvVar.REPORTS_BUCKET,
    Zone.CATALOG: EnvVar.REPORTS_BUCKET,
    Zone.ATHENA_RESULTS: EnvVar.ATHENA_RESULTS_BUCKET,
}

DEFAULT_LAKE_DIR: Final = ".lake"
DEFAULT_MAX_FILE_BYTES: Final = 512 * 1024 * 1024  # larger raw files must be split upstream

# --------------------------------------------------------------------------- catalog and metrics


def glue_database(stage: str) -> str:
    """One Glue database per stack; Glue names allow lowercase letters, digits and underscores."""
    return f"{PROJECT}_{re.sub(r'[^a-z0-9_]', '_', stage.lower())}"


LOCAL_DATABASE: Final = glue_database("local")

METRICS_NAMESPACE: Final = "Ecomlake/Pipeline"


class Metric(StrEnum):
    """CloudWatch metric names (namespace METRICS_NAMESPACE)."""

    DQ_CHECKS_FAILED = "DQChecksFailed"
    DQ_CRITICAL_FAILED = "DQCriticalFailed"
    ROWS_IN = "RowsIn"
    ROWS_OUT = "RowsOut"
    ROWS_QUARANTINED = "RowsQuarantined"
    FILES_REJECTED = "FilesRejected"
    INVALID_EVENTS = "InvalidEvents"  # events a Lambda handler could not read (answered, never retried)
    DATA_FRESHNESS_HOURS = "DataFreshnessHours"


class MetricDimension(StrEnum):
    STAGE = "Stage"
    DATASET = "Dataset"
    CHECK = "Check"


# --------------------------------------------------------------------------- pipeline events

# EventBridge source and detail-type of the event the router emits once a file is accepted.
EVENT_SOURCE: Final = "ecomlake.ingestion"
EVENT_FILE_ACCEPTED: Final = "Raw File Accepted"
EVENT_FILE_REJECTED: Final = "Raw File Rejected"

# Step Functions execution input: {"dates": [...], "datasets": [...]} -- see ecomlake.pipeline.
EXECUTION_INPUT_DATES: Final = "dates"
EXECUTION_INPUT_DATASETS: Final = "datasets"
# The raw object that set a run off ({"key", "bucket", "etag", "size", "version_id"}); informational.
EXECUTION_INPUT_TRIGGER: Final = "trigger"
