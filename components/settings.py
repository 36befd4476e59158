"""Typed stack settings, read once from the stack's Pulumi configuration.

``__main__.py`` calls :func:`load_settings` exactly once; every component then receives
plain, validated values through its ``*Args`` dataclass and never touches ``pulumi.Config``.
Every setting is *required* in the stack file (``Pulumi.<stack>.yaml``) except the few
marked optional, so each stack file is the complete description of that stack and there
are no defaults hidden in code.

Secrets are never in stack files: the only secret setting (``alertsHttpsEndpoint``, an
HTTPS webhook whose URL embeds a token) is set with ``pulumi config set --secret`` and
stays a secret ``Output`` all the way to the SNS subscription.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from ecomlake.contract import DATASETS, PROJECT, Job, parse_dataset
from ecomlake.cost import Prices
from ecomlake.dq.rules import Thresholds
from ecomlake.exceptions import InvalidArgumentError, UnknownDatasetError
from ecomlake.pipeline import PIPELINE, GlueJobStep

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS: Final = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192)
# Glue 5.0 Spark worker types (G.025X is streaming-only).
GLUE_WORKER_TYPES: Final = ("G.1X", "G.2X", "G.4X", "G.8X", "R.1X", "R.2X", "R.4X", "R.8X")
STATE_MACHINE_LOG_LEVELS: Final = ("ALL", "ERROR", "FATAL", "OFF")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
PRICE_CLASSES: Final = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
ATHENA_MIN_CUTOFF_BYTES: Final = 10 * 1024 * 1024  # Athena's minimum per-query data usage limit
# A Glue job's own timeout must fire before its state's TimeoutSeconds: Glue then ends the run
# TIMEOUT, the task fails with States.TaskFailed and the spec's one job-run retry applies
# (a state timeout is States.Timeout, which that retrier does not match). The margin covers
# Glue's start-up (before the timeout clock) and stopping the run.
GLUE_TIMEOUT_MARGIN_MINUTES: Final = 5
# The ETL jobs share one capacity and timeout; the audit job (Job.DATA_QUALITY) has its own.
ETL_JOBS: Final = tuple(j for j in Job if j is not Job.DATA_QUALITY)


def glue_state_timeout_minutes(jobs: tuple[Job, ...]) -> int:
    """The shortest ``TimeoutSeconds`` of the pipeline's task states running any of ``jobs``, in minutes."""
    return min(s.timeout_seconds for s in PIPELINE.walk() if isinstance(s, GlueJobStep) and s.job in jobs) // 60


MAX_GLUE_TIMEOUT_MINUTES: Final = glue_state_timeout_minutes(ETL_JOBS) - GLUE_TIMEOUT_MARGIN_MINUTES
MAX_DQ_GLUE_TIMEOUT_MINUTES: Final = glue_state_timeout_minutes((Job.DATA_QUALITY,)) - GLUE_TIMEOUT_MARGIN_MINUTES
_EMAIL_RE: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LAYER_ARN_RE: Final = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
_ACM_ARN_RE: Final = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]+$")


class ConfigReader(Protocol):
    """The subset of ``pulumi.Config`` the loader uses (tests pass a fake)."""

    def get(self, key: str) -> str | None: ...

    def get_secret(self, key: str) -> Any: ...

    def get_object(self, key: str) -> Any: ...


class SettingsError(ValueError):
    """A stack setting is missing or invalid; the message names the key and the stack file."""


@dataclass(frozen=True)
class LakeSettings:
    force_destroy: bool
    # Pulumi ``protect`` + ``retain_on_delete`` on the lake key and the lake's buckets: a
    # ``pulumi destroy`` (or a change that would replace them) stops instead of deleting data.
    protect_data: bool
    kms_deletion_window_days: int
    raw_infrequent_access_days: int
    raw_glacier_days: int
    noncurrent_version_expiration_days: int
    athena_results_expiration_days: int
    quarantine_expiration_days: int
    access_logs_expiration_days: int


@dataclass(frozen=True)
class EtlSettings:
    worker_type: str
    number_of_workers: int
    timeout_minutes: int
    max_concurrent_runs: int


@dataclass(frozen=True)
class DataQualitySettings:
    """The audit job (``glue_jobs/data_quality.py``): its own small capacity, timeout and thresholds."""

    worker_type: str
    number_of_workers: int
    timeout_minutes: int  # below its task state's 30 minutes, like the ETL jobs' below theirs
    thresholds: Thresholds  # ``--dq_thresholds``; absent from the stack file: the defaults

    @property
    def thresholds_json(self) -> str:
        """The thresholds as the job argument (every field, so a run's settings are explicit)."""
        return json.dumps(self.thresholds.to_dict(), sort_keys=True)


# The small-date function's /tmp holds what a run stages and what it writes (about as much
# again), plus room for DuckDB to spill; Lambda allows 512-10240 MB of ephemeral storage.
SMALL_DATE_SPACE_FACTOR: Final = 2
SMALL_DATE_SPILL_MB: Final = 512
# 4 MB of memory per MB staged (DuckDB holds a run's tables in memory and parses raw text
# several times its size), at least 2048 MB; Lambda gives 1 vCPU per 1769 MB, up to 6.
SMALL_DATE_MEMORY_PER_MB: Final = 4
SMALL_DATE_MIN_MEMORY_MB: Final = 2048
LAMBDA_MAX_MB: Final = 10240
MAX_SMALL_DATE_BYTES: Final = (LAMBDA_MAX_MB - SMALL_DATE_SPILL_MB) // SMALL_DATE_SPACE_FACTOR * 1024 * 1024


def small_date_sizing(max_bytes: int) -> tuple[int, int]:
    """(memory MB, ephemeral storage MB) of the small-date function for a threshold of ``max_bytes`` staged."""
    mib = -(-max_bytes // (1024 * 1024))  # rounded up
    ephemeral = min(LAMBDA_MAX_MB, max(512, mib * SMALL_DATE_SPACE_FACTOR + SMALL_DATE_SPILL_MB))
    memory = min(LAMBDA_MAX_MB, max(SMALL_DATE_MIN_MEMORY_MB, mib * SMALL_DATE_MEMORY_PER_MB))
    return memory, ephemeral


@dataclass(frozen=True)
class SmallDateSettings:
    """The small-date path: runs staging at most ``max_bytes`` run in one Lambda on DuckDB."""

    max_bytes: int

    @property
    def memory_mb(self) -> int:
        return small_date_sizing(self.max_bytes)[0]

    @property
    def ephemeral_storage_mb(self) -> int:
        return small_date_sizing(self.max_bytes)[1]

    @property
    def duckdb_memory_limit(self) -> str:
        """DuckDB's cap, below the function's memory, so it spills to /tmp instead of being killed."""
        return f"{self.memory_mb * 7 // 10}MB"


@dataclass(frozen=True)
class FunctionSettings:
    memory_mb: int
    timeout_seconds: int
    validator_reserved_concurrency: int  # -1: no reservation (use the account's shared pool)
    pandas_layer_arn: str  # AWS SDK for pandas managed layer (awswrangler, pandas, pyarrow) for the API
    max_file_bytes: int
    log_level: str
    # Datasets a date needs before the router starts it (ECOMLAKE_REQUIRED_DATASETS);
    # empty: the variable is not set and the router requires all of them.
    required_datasets: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineSettings:
    state_machine_log_level: str


@dataclass(frozen=True)
class AnalyticsSettings:
    bytes_scanned_cutoff: int


@dataclass(frozen=True)
class AlertSettings:
    email: str | None
    https_endpoint: Any  # pulumi.Output[str] (secret) or None
    lambda_errors_threshold: int
    freshness_hours_threshold: int
    freshness_alarm_on_missing_data: bool


@dataclass(frozen=True)
class CostSettings:
    monthly_budget_usd: float  # AWS Budgets limit for this stack's tagged cost
    budget_alert_percent: int  # alert (SNS) when the month's actual cost passes this % of the limit
    prices: Prices  # list prices for cost estimates and the dashboard's cost widgets


@dataclass(frozen=True)
class DashboardSettings:
    price_class: str
    domain_name: str | None = None
    certificate_arn: str | None = None


@dataclass(frozen=True)
class StackSettings:
    project: str
    stage: str
    region: str
    log_retention_days: int
    lake: LakeSettings
    etl: EtlSettings
    data_quality: DataQualitySettings
    small_date: SmallDateSettings
    functions: FunctionSettings
    pipeline: PipelineSettings
    analytics: AnalyticsSettings
    alerts: AlertSettings
    dashboard: DashboardSettings
    cost: CostSettings
    default_tags: dict[str, str] = field(default_factory=dict)


class _Reader:
    """Typed accessors over a config that report the exact key on any problem."""

    def __init__(self, config: ConfigReader, stack: str) -> None:
        self._config = config
        self._stack = stack

    def error(self, key: str, problem: str) -> SettingsError:
        return SettingsError(f"ecomlake:{key} in Pulumi.{self._stack}.yaml: {problem}")

    def text(self, key: str) -> str:
        value = self._config.get(key)
        if value is None or not str(value).strip():
            raise self.error(key, "is required (pulumi config set " + key + " <value>)")
        return str(value).strip()

    def optional_text(self, key: str) -> str | None:
        value = self._config.get(key)
        return str(value).strip() if value is not None and str(value).strip() else None

    def integer(self, key: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        raw = self.text(key)
        try:
            value = int(raw)
        except ValueError:
            raise self.error(key, f"must be an integer, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be <= {maximum}, got {value}")
        return value

    def boolean(self, key: str) -> bool:
        raw = self.text(key).lower()
        if raw not in ("true", "false"):
            raise self.error(key, f"must be true or false, got {raw!r}")
        return raw == "true"

    def choice(self, key: str, allowed: tuple[Any, ...]) -> str:
        value = self.text(key)
        if value not in allowed:
            raise self.error(key, f"must be one of {', '.join(map(str, allowed))}; got {value!r}")
        return value


def load_settings(config: ConfigReader, *, stack: str, region: str | None, default_tags: Any = None) -> StackSettings:
    """Read and validate every stack setting (``config`` is ``pulumi.Config("ecomlake")``)."""
    r = _Reader(config, stack)
    if not region:
        raise SettingsError(f"aws:region in Pulumi.{stack}.yaml: is required")
    stage = r.text("stage")
    if not re.fullmatch(r"[a-z][a-z0-9]{1,9}", stage):
        raise r.error("stage", f"must be 2-10 lowercase letters/digits starting with a letter, got {stage!r}")

    retention = r.integer("logRetentionDays")
    if retention not in LOG_RETENTION_DAYS:
        raise r.error("logRetentionDays", f"must be one of CloudWatch's values {LOG_RETENTION_DAYS}, got {retention}")

    lake = LakeSettings(
        force_destroy=r.boolean("forceDestroy"),
        protect_data=r.boolean("protectData"),
        kms_deletion_window_days=r.integer("kmsDeletionWindowDays", minimum=7, maximum=30),
        raw_infrequent_access_days=r.integer("rawInfrequentAccessDays", minimum=30),
        raw_glacier_days=r.integer("rawGlacierDays", minimum=1),
        noncurrent_version_expiration_days=r.integer("noncurrentVersionExpirationDays", minimum=1),
        athena_results_expiration_days=r.integer("athenaResultsExpirationDays", minimum=1),
        quarantine_expiration_days=r.integer("quarantineExpirationDays", minimum=1),
        access_logs_expiration_days=r.integer("accessLogsExpirationDays", minimum=1),
    )
    if lake.protect_data and lake.force_destroy:
        raise r.error("protectData", "a protected lake cannot also have forceDestroy true (set one of them false)")
    # S3 requires objects to spend 30 days in STANDARD_IA before a later transition.
    if lake.raw_glacier_days < lake.raw_infrequent_access_days + 30:
        raise r.error(
            "rawGlacierDays",
            f"must be at least rawInfrequentAccessDays + 30 ({lake.raw_infrequent_access_days + 30}), "
            f"got {lake.raw_glacier_days}",
        )

    etl = EtlSettings(
        worker_type=r.choice("glueWorkerType", GLUE_WORKER_TYPES),
        number_of_workers=r.integer("glueNumberOfWorkers", minimum=2, maximum=299),
        timeout_minutes=r.integer("glueTimeoutMinutes", minimum=1, maximum=MAX_GLUE_TIMEOUT_MINUTES),
        max_concurrent_runs=r.integer("glueMaxConcurrentRuns", minimum=1, maximum=100),
    )

    data_quality = DataQualitySettings(
        worker_type=r.choice("dqGlueWorkerType", GLUE_WORKER_TYPES),
        number_of_workers=r.integer("dqGlueNumberOfWorkers", minimum=2, maximum=299),
        timeout_minutes=r.integer("dqGlueTimeoutMinutes", minimum=1, maximum=MAX_DQ_GLUE_TIMEOUT_MINUTES),
        thresholds=_dq_thresholds(r, config),
    )

    small_date = SmallDateSettings(max_bytes=r.integer("smallDateMaxBytes", minimum=0, maximum=MAX_SMALL_DATE_BYTES))

    pandas_layer = r.text("pandasLayerArn")
    if not _LAYER_ARN_RE.match(pandas_layer):
        raise r.error("pandasLayerArn", f"not a Lambda layer version ARN: {pandas_layer!r}")
    if f":lambda:{region}:" not in pandas_layer:
        raise r.error("pandasLayerArn", f"layer {pandas_layer!r} is not in the stack's region {region}")
    functions = FunctionSettings(
        memory_mb=r.integer("lambdaMemoryMb", minimum=128, maximum=10240),
        timeout_seconds=r.integer("lambdaTimeoutSeconds", minimum=1, maximum=900),
        validator_reserved_concurrency=r.integer("validatorReservedConcurrency", minimum=-1),
        pandas_layer_arn=pandas_layer,
        max_file_bytes=r.integer("maxFileBytes", minimum=1),
        log_level=r.choice("logLevel", LOG_LEVELS),
        required_datasets=_required_datasets(r),
    )

    email = r.optional_text("alertEmail")
    if email is not None and not _EMAIL_RE.match(email):
        raise r.error("alertEmail", f"is not an email address: {email!r}")

    domain = r.optional_text("dashboardDomain")
    certificate = r.optional_text("dashboardCertificateArn")
    if bool(domain) != bool(certificate):
        raise r.error("dashboardDomain", "dashboardDomain and dashboardCertificateArn are set together or not at all")
    if certificate and not _ACM_ARN_RE.match(certificate):
        raise r.error("dashboardCertificateArn", "must be an ACM certificate ARN in us-east-1 (CloudFront's region)")

    budget = r.text("monthlyBudgetUsd")
    try:
        budget_usd = float(budget)
    except ValueError:
        raise r.error("monthlyBudgetUsd", f"must be a number of US dollars, got {budget!r}") from None
    if not budget_usd > 0:
        raise r.error("monthlyBudgetUsd", f"must be > 0, got {budget!r}")
    try:
        prices = Prices.from_mapping(config.get_object("prices") or {}, source="prices")
    except InvalidArgumentError as err:
        raise r.error("prices", str(err).removeprefix("prices: ")) from None
    cost = CostSettings(
        monthly_budget_usd=budget_usd,
        budget_alert_percent=r.integer("budgetAlertPercent", minimum=1, maximum=1000),
        prices=prices,
    )

    return StackSettings(
        project=PROJECT,
        stage=stage,
        region=region,
        log_retention_days=retention,
        lake=lake,
        etl=etl,
        data_quality=data_quality,
        small_date=small_date,
        functions=functions,
        pipeline=PipelineSettings(state_machine_log_level=r.choice("stateMachineLogLevel", STATE_MACHINE_LOG_LEVELS)),
        analytics=AnalyticsSettings(
            bytes_scanned_cutoff=r.integer("athenaBytesScannedCutoff", minimum=ATHENA_MIN_CUTOFF_BYTES),
        ),
        alerts=AlertSettings(
            email=email,
            https_endpoint=config.get_secret("alertsHttpsEndpoint"),
            lambda_errors_threshold=r.integer("lambdaErrorsThreshold", minimum=1),
            freshness_hours_threshold=r.integer("freshnessHoursThreshold", minimum=1),
            freshness_alarm_on_missing_data=r.boolean("freshnessAlarmOnMissingData"),
        ),
        dashboard=DashboardSettings(
            price_class=r.choice("dashboardPriceClass", PRICE_CLASSES),
            domain_name=domain,
            certificate_arn=certificate,
        ),
        cost=cost,
        default_tags=_tags(default_tags),
    )


def _dq_thresholds(r: _Reader, config: ConfigReader) -> Thresholds:
    """Optional ``dqThresholds``: a JSON object of ``ecomlake.dq.rules.Thresholds`` fields.

    Checked here exactly as the audit checks ``--dq_thresholds``, so a typo or a warning tier
    beyond its critical tier fails the preview instead of every audit.
    """
    value = config.get_object("dqThresholds")
    if value is None:
        return Thresholds()
    if not isinstance(value, dict):
        raise r.error("dqThresholds", f"must be an object of threshold fields, got {value!r}")
    try:
        return Thresholds.from_mapping(value)
    except InvalidArgumentError as err:
        raise r.error("dqThresholds", str(err)) from None


def _required_datasets(r: _Reader) -> tuple[str, ...]:
    """Optional ``requiredDatasets``: a comma list of dataset names, in ``contract.DATASETS`` order.

    Checked here as the router checks ``ECOMLAKE_REQUIRED_DATASETS``, so a typo fails the
    preview instead of every router invocation.
    """
    raw = r.optional_text("requiredDatasets")
    if raw is None:
        return ()
    names = [part.strip() for part in raw.split(",") if part.strip()]
    try:
        chosen = {parse_dataset(name) for name in names}
    except UnknownDatasetError as err:
        raise r.error("requiredDatasets", str(err)) from None
    if not chosen:
        raise r.error("requiredDatasets", f"names no dataset: {raw!r}")
    return tuple(str(ds) for ds in DATASETS if ds in chosen)


def _tags(value: Any) -> dict[str, str]:
    """The ``tags`` map of ``aws:defaultTags`` (applied by the provider to every taggable resource)."""
    if isinstance(value, dict) and isinstance(value.get("tags"), dict):
        return {str(k): str(v) for k, v in value["tags"].items()}
    return {}
