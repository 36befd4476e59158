"""``ecomlake cloud-check``: prove that a deployed stack answers like the laptop.

One check, end to end, on a real AWS account:

1. deploy the stack, or reuse it when it is already up (Pulumi Automation API, behind the
   small :class:`StackDeployer` protocol so the rest is tested without Pulumi or AWS);
2. generate a small data set and land it in the stack's raw bucket, as a sender would
   (``raw/<dataset>/date=D/<file>``); the validator and router take it from there;
3. wait for the Step Functions execution of every landed date to succeed (the router
   starts one per complete date), and read from each execution's history which way its
   ``small_enough`` Choice sent it (the small-date Lambda or the Glue jobs);
4. run every ``sql/*.sql`` on Athena, with exactly the parameter values the local run
   bound, and compare each answer with the same query on a local lake built from the same
   files by the local pipeline (DuckDB): same columns, same rows (as a multiset; numbers
   to 6 decimal places);
5. estimate what the run cost (``ecomlake.cost``) from what AWS reports: Athena bytes
   scanned per query, Glue job runs (time x DPUs), Lambda duration and invocations
   (CloudWatch), Step Functions state transitions (execution history), S3 PUTs landed;
6. with ``destroy``, tear the stack down.

It needs the Pulumi CLI, AWS credentials and a bucket-name-free account; it could not be
run against a real account where it was written (no credentials there): its logic is
unit-tested offline with moto (S3, Step Functions, Athena) and a fake deployer.
Local-only tool: never shipped to AWS.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Protocol

from ecomlake.contract import EXECUTION_INPUT_DATES, PARTITION_KEY, Zone
from ecomlake.cost import CostEstimate, GlueRun, RunUsage, estimate, lambda_gb_seconds, load_prices
from ecomlake.exceptions import EcomlakeError
from ecomlake.queries import QueryResult

TERMINAL_FAILURES: Final = ("FAILED", "TIMED_OUT", "ABORTED")
DECIMALS: Final = 6  # numbers compare to 6 places (engines round floating sums differently)
SHOWN_ROWS: Final = 5


class CloudCheckError(EcomlakeError):
    """The check could not finish (deployment, a failed execution, a failed query, a timeout)."""


# --------------------------------------------------------------------------- the stack


class StackDeployer(Protocol):
    """What the check needs from Pulumi (the real one: :class:`PulumiStack`)."""

    name: str

    def outputs(self) -> Mapping[str, Any]:
        """The stack's outputs; empty when it was never deployed."""

    def up(self) -> Mapping[str, Any]:
        """Deploy (create or update) and return the outputs."""

    def destroy(self) -> None: ...

    def region(self) -> str: ...


class PulumiStack:
    """The Automation API on the project in ``work_dir`` (needs the Pulumi CLI and AWS credentials)."""

    def __init__(self, stack: str, work_dir: Path, *, on_output: Callable[[str], None] = print) -> None:
        try:
            from pulumi import automation
        except ImportError:
            raise CloudCheckError(
                "cloud-check needs the Pulumi SDK: pip install -c constraints.txt -e '.[infra]'"
            ) from None
        self.name = stack
        self._on_output = on_output
        try:
            self._stack = automation.create_or_select_stack(stack_name=stack, work_dir=str(work_dir))
        except FileNotFoundError:
            raise CloudCheckError(
                "the Pulumi CLI (`pulumi`) is not on PATH: install it and log in (README, Cloud deployment)"
            ) from None
        except Exception as err:  # not logged in, a broken project...
            raise CloudCheckError(f"cannot open Pulumi stack {stack!r} in {work_dir}: {err}") from None

    def outputs(self) -> Mapping[str, Any]:
        return {k: v.value for k, v in self._stack.outputs().items()}

    def up(self) -> Mapping[str, Any]:
        result = self._stack.up(on_output=self._on_output)
        return {k: v.value for k, v in result.outputs.items()}

    def destroy(self) -> None:
        self._stack.destroy(on_output=self._on_output)

    def region(self) -> str:
        return self._stack.get_config("aws:region").value


@dataclass(frozen=True)
class CloudStack:
    """The stack outputs the check uses (``__main__.py``'s ``OUTPUTS``)."""

    raw_bucket: str
    state_machine_arn: str
    workgroup: str
    database: str
    functions: dict[str, str]
    glue_jobs: dict[str, str]

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any], stack: str) -> CloudStack:
        try:
            return cls(
                raw_bucket=str(outputs["buckets"][Zone.RAW.value]),
                state_machine_arn=str(outputs["stateMachineArn"]),
                workgroup=str(outputs["athenaWorkgroup"]),
                database=str(outputs["glueDatabase"]),
                functions={str(k): str(v) for k, v in dict(outputs["functions"]).items()},
                glue_jobs={str(k): str(v) for k, v in dict(outputs["glueJobs"]).items()},
            )
        except (KeyError, TypeError) as err:
            raise CloudCheckError(f"stack {stack!r} has no output {err}; is it this project's stack?") from None


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class DataSet:
    """The generated data the check lands: small, so a dev stack runs it in minutes."""

    days: int = 2
    start: str = "2025-01-01"
    transactions: int = 400
    products: int = 40
    clickstream: int = 400
    reviews: int = 60
    seed: int = 7

    def generate(self, out_dir: Path) -> list[str]:
        from ecomlake.generate import generate

        generate(
            out_dir,
            days=self.days,
            start=self.start,
            transactions=self.transactions,
            products=self.products,
            clickstream=self.clickstream,
            reviews=self.reviews,
            seed=self.seed,
            bad_rate=0.0,
        )
        first = date.fromisoformat(self.start)
        return [(first + timedelta(days=i)).isoformat() for i in range(self.days)]


def raw_files(src_dir: Path) -> dict[str, Path]:
    """``{raw key: file}`` of a generator tree ``<dataset>/date=D/<file>`` (manifest.json left out)."""
    files = {}
    for path in sorted(src_dir.glob(f"*/{PARTITION_KEY}=*/*")):
        if path.is_file() and not path.name.startswith((".", "_")):
            files[f"{Zone.RAW.value}/{path.relative_to(src_dir).as_posix()}"] = path
    if not files:
        raise CloudCheckError(f"no generated files under {src_dir}")
    return files


def land_raw(s3: Any, bucket: str, files: Mapping[str, Path]) -> list[str]:
    """Put each file at its key in the raw bucket (the landing a sender does); the keys, in order."""
    for key, path in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    return list(files)


# --------------------------------------------------------------------------- the pipeline


@dataclass(frozen=True)
class Execution:
    arn: str
    name: str
    status: str
    dates: tuple[str, ...]
    started: datetime
    error: str | None = None
    cause: str | None = None


def executions_since(sfn: Any, state_machine_arn: str, since: datetime) -> list[Execution]:
    """Executions of the machine started at or after ``since``, with their dates (from their input)."""
    import json

    found = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        for item in page["executions"]:
            if item["startDate"] < since:
                continue
            described = sfn.describe_execution(executionArn=item["executionArn"])
            try:
                dates = tuple(json.loads(described.get("input") or "{}").get(EXECUTION_INPUT_DATES) or ())
            except (ValueError, AttributeError):
                dates = ()
            found.append(
                Execution(
                    arn=item["executionArn"],
                    name=item["name"],
                    status=described["status"],
                    dates=dates,
                    started=item["startDate"],
                    error=described.get("error"),
                    cause=described.get("cause"),
                )
            )
    return sorted(found, key=lambda e: e.started)


def wait_for_dates(
    sfn: Any,
    state_machine_arn: str,
    dates: Sequence[str],
    since: datetime,
    *,
    timeout_seconds: float,
    poll_seconds: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    progress: Callable[[str], None] = lambda _msg: None,
) -> list[Execution]:
    """Wait until the latest execution of every date succeeded; fail on the first that did not."""
    deadline = clock() + timeout_seconds
    while True:
        runs = executions_since(sfn, state_machine_arn, since)
        latest: dict[str, Execution] = {}
        for run in runs:
            for day in run.dates:
                latest[day] = run
        for day in dates:
            run = latest.get(day)
            if run is not None and run.status in TERMINAL_FAILURES:
                raise CloudCheckError(
                    f"execution {run.name} for {day} {run.status}: {run.error or 'no error name'}"
                    f" -- {run.cause or 'no cause given'}"
                )
        waiting = [d for d in dates if d not in latest or latest[d].status != "SUCCEEDED"]
        if not waiting:
            return sorted({r.arn: r for r in latest.values() if r.dates}.values(), key=lambda r: r.started)
        if clock() >= deadline:
            states = ", ".join(f"{d}: {latest[d].status if d in latest else 'not started'}" for d in waiting)
            raise CloudCheckError(f"timed out after {timeout_seconds:.0f} s waiting for the pipeline ({states})")
        progress(f"waiting for {len(waiting)} date(s): {', '.join(waiting)}")
        sleep(poll_seconds)


# --------------------------------------------------------------------------- the answers


@dataclass(frozen=True)
class AthenaAnswer:
    query_id: str
    columns: list[str]
    types: list[str]
    rows: list[tuple[str | None, ...]]
    bytes_scanned: int


def run_athena(
    athena: Any,
    sql: str,
    *,
    workgroup: str,
    database: str,
    poll_seconds: float = 1.0,
    timeout_seconds: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> AthenaAnswer:
    """Run one statement in the workgroup (its enforced, encrypted result location) and read every row."""
    query_id = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": database}, WorkGroup=workgroup
    )["QueryExecutionId"]
    deadline = clock() + timeout_seconds
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if state == "SUCCEEDED":
            break
        if state in ("FAILED", "CANCELLED"):
            reason = execution["Status"].get("StateChangeReason", "no reason given")
            raise CloudCheckError(f"Athena query {query_id} {state}: {reason}")
        if clock() >= deadline:
            raise CloudCheckError(f"Athena query {query_id} still {state} after {timeout_seconds:.0f} s")
        sleep(poll_seconds)
    columns: list[str] = []
    types: list[str] = []
    rows: list[tuple[str | None, ...]] = []
    first = True
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        if not columns:
            info = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
            columns, types = [c["Name"] for c in info], [c["Type"] for c in info]
        for row in page["ResultSet"]["Rows"]:
            values = tuple(cell.get("VarCharValue") for cell in row["Data"])
            if first and list(values) == columns:
                first = False  # a SELECT's first row repeats the column names
                continue
            first = False
            rows.append(values)
    scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes") or 0)
    return AthenaAnswer(query_id, columns, types, rows, scanned)


def cell(value: Any) -> str | None:
    """One value as comparable text: numbers to 6 places, dates ISO, booleans lowercase, NULL None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        number = float(value)
        if math.isnan(number):
            return "nan"
        return f"{round(number, DECIMALS) + 0.0:.{DECIMALS}f}"
    if isinstance(value, datetime | date):
        return value.isoformat().replace("T", " ")
    return str(value)


def cloud_cell(value: str | None, athena_type: str) -> str | None:
    """An Athena result string under the same rules (Athena returns every value as text)."""
    if value is None:
        return None
    kind = athena_type.lower()
    if kind in ("tinyint", "smallint", "integer", "int", "bigint", "real", "float", "double") or kind.startswith(
        "decimal"
    ):
        return cell(float(value))
    if kind == "boolean":
        return value.lower()
    if kind.startswith("timestamp"):
        return value.replace("T", " ").rstrip("0").rstrip(".") if "." in value else value.replace("T", " ")
    return value


@dataclass(frozen=True)
class QueryComparison:
    name: str
    params: dict[str, str | None]
    local_rows: int
    cloud_rows: int
    bytes_scanned: int
    column_mismatch: tuple[list[str], list[str]] | None = None
    only_local: list[tuple[str | None, ...]] = field(default_factory=list)
    only_cloud: list[tuple[str | None, ...]] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return self.column_mismatch is None and not self.only_local and not self.only_cloud

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.name,
            "same": self.same,
            "params": self.params,
            "local_rows": self.local_rows,
            "cloud_rows": self.cloud_rows,
            "bytes_scanned": self.bytes_scanned,
            "columns": None
            if self.column_mismatch is None
            else {"local": self.column_mismatch[0], "cloud": self.column_mismatch[1]},
            "only_local": [list(r) for r in self.only_local[:SHOWN_ROWS]],
            "only_cloud": [list(r) for r in self.only_cloud[:SHOWN_ROWS]],
        }


def compare(local: QueryResult, cloud: AthenaAnswer) -> QueryComparison:
    """Same columns and the same rows (a multiset: row order is not part of an answer)."""
    base = {
        "name": local.name,
        "params": local.params_text(),
        "local_rows": len(local.rows),
        "cloud_rows": len(cloud.rows),
        "bytes_scanned": cloud.bytes_scanned,
    }
    if [c.lower() for c in local.columns] != [c.lower() for c in cloud.columns]:
        return QueryComparison(**base, column_mismatch=(list(local.columns), list(cloud.columns)))
    mine = Counter(tuple(cell(v) for v in row) for row in local.rows)
    theirs = Counter(tuple(cloud_cell(v, t) for v, t in zip(row, cloud.types, strict=True)) for row in cloud.rows)
    only_local = sorted((mine - theirs).elements(), key=repr)
    only_cloud = sorted((theirs - mine).elements(), key=repr)
    return QueryComparison(**base, only_local=only_local, only_cloud=only_cloud)


def local_answers(src_dir: Path, dates: Sequence[str], lake: Path, names: Iterable[str]) -> dict[str, QueryResult]:
    """Land the same files in a local lake, run the local pipeline (DuckDB), run each query."""
    from ecomlake.ingest import land_tree
    from ecomlake.local.runner import run_pipeline
    from ecomlake.queries import run_query

    land_tree(lake, src_dir)
    record = run_pipeline(lake, list(dates), engine="duckdb")
    if not record.succeeded:
        raise CloudCheckError(
            f"the local pipeline run {record.run_id} {record.status} at {record.failed_step}: {record.error}"
        )
    return {name: run_query(name, lake) for name in names}


# --------------------------------------------------------------------------- the cost


def glue_runs_since(glue: Any, job_names: Iterable[str], since: datetime) -> list[GlueRun]:
    """The jobs' runs started at or after ``since``: their billed time and capacity."""
    runs = []
    for job in job_names:
        for page in glue.get_paginator("get_job_runs").paginate(JobName=job):
            for run in page.get("JobRuns", []):
                if run.get("StartedOn") and run["StartedOn"] >= since:
                    seconds = float(run.get("ExecutionTime") or 0)
                    if run.get("DPUSeconds"):  # auto-scaling / flex runs report what they used
                        runs.append(GlueRun(seconds=seconds, dpus=float(run["DPUSeconds"]) / max(seconds, 1.0)))
                    else:
                        runs.append(GlueRun.of_workers(seconds, run["WorkerType"], int(run["NumberOfWorkers"])))
    return runs


# The first state of each branch of the pipeline's ``small_enough`` Choice (ecomlake.pipeline).
PATH_STATES: Final = {"small_date": "small_date", "etl": "glue"}


def execution_path(sfn: Any, execution: Execution) -> str | None:
    """Which way the execution's Choice went: ``small_date``, ``glue``, or None (neither state entered)."""
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution.arn):
        for event in page["events"]:
            name = event.get("stateEnteredEventDetails", {}).get("name")
            if name in PATH_STATES:
                return PATH_STATES[name]
    return None


def state_transitions(sfn: Any, executions: Iterable[Execution]) -> int:
    """State transitions of the executions (what standard workflows bill): states entered."""
    total = 0
    for execution in executions:
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution.arn):
            total += sum(1 for e in page["events"] if e["type"].endswith("StateEntered"))
    return total


def lambda_usage(
    cloudwatch: Any, lam: Any, functions: Iterable[str], start: datetime, end: datetime
) -> tuple[float, int]:
    """(GB-seconds, invocations) of the functions in the window, from CloudWatch's Duration/Invocations."""
    gb_seconds, invocations = 0.0, 0
    for fn in functions:
        memory = int(lam.get_function_configuration(FunctionName=fn)["MemorySize"])
        for metric in ("Duration", "Invocations"):
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName=metric,
                Dimensions=[{"Name": "FunctionName", "Value": fn}],
                StartTime=start,
                EndTime=end,
                Period=60,
                Statistics=["Sum"],
            )["Datapoints"]
            total = sum(p["Sum"] for p in points)
            if metric == "Duration":
                gb_seconds += lambda_gb_seconds(total, memory)
            else:
                invocations += int(total)
    return gb_seconds, invocations


# --------------------------------------------------------------------------- the check


@dataclass
class CheckReport:
    stack: str
    dates: list[str]
    landed: int
    executions: list[Execution]
    comparisons: list[QueryComparison]
    cost: CostEstimate | None = None
    deployed: bool = False
    destroyed: bool = False
    paths: dict[str, str | None] = field(default_factory=dict)  # execution name -> small_date / glue

    @property
    def ok(self) -> bool:
        return all(c.same for c in self.comparisons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "ok": self.ok,
            "deployed": self.deployed,
            "destroyed": self.destroyed,
            "dates": self.dates,
            "files_landed": self.landed,
            "executions": [
                {"name": e.name, "status": e.status, "dates": list(e.dates), "path": self.paths.get(e.name)}
                for e in self.executions
            ],
            "queries": [c.to_dict() for c in self.comparisons],
            "cost": None if self.cost is None else self.cost.to_dict(),
        }


@dataclass(frozen=True)
class CheckOptions:
    data: DataSet = field(default_factory=DataSet)
    timeout_seconds: float = 3600.0
    poll_seconds: float = 15.0
    destroy: bool = False
    deploy: bool = True  # deploy when the stack has no outputs (else: reuse it as it is)


LocalAnswers = Callable[[Path, Sequence[str], Path, Iterable[str]], Mapping[str, QueryResult]]


def run_check(
    deployer: StackDeployer,
    session: Any,
    options: CheckOptions | None = None,
    *,
    local: LocalAnswers = local_answers,
    query_names: Sequence[str] | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CheckReport:
    """The whole check (see the module docstring); ``session`` is a boto3 session in the stack's region."""
    from ecomlake.queries import query_names as all_queries

    options = options or CheckOptions()
    names = list(query_names or all_queries())
    outputs = dict(deployer.outputs())
    deployed = False
    if not outputs:
        if not options.deploy:
            raise CloudCheckError(f"stack {deployer.name!r} is not deployed (run `pulumi up` or drop --no-deploy)")
        progress(f"deploying stack {deployer.name} (pulumi up)")
        outputs, deployed = dict(deployer.up()), True
    stack = CloudStack.from_outputs(outputs, deployer.name)
    report = CheckReport(deployer.name, [], 0, [], [], deployed=deployed)
    try:
        with tempfile.TemporaryDirectory(prefix="ecomlake-cloud-check-") as tmp:
            src, lake = Path(tmp) / "generated", Path(tmp) / "lake"
            report.dates = options.data.generate(src)
            progress(f"generated {options.data.days} day(s) from {options.data.start}; running the local pipeline")
            answers = local(src, report.dates, lake, names)
            started = now() - timedelta(seconds=5)  # the executions start after the landing below
            s3, sfn, athena = session.client("s3"), session.client("stepfunctions"), session.client("athena")
            report.landed = len(land_raw(s3, stack.raw_bucket, raw_files(src)))
            progress(f"landed {report.landed} file(s) in s3://{stack.raw_bucket}/raw/; waiting for the pipeline")
            report.executions = wait_for_dates(
                sfn,
                stack.state_machine_arn,
                report.dates,
                started,
                timeout_seconds=options.timeout_seconds,
                poll_seconds=options.poll_seconds,
                sleep=sleep,
                progress=progress,
            )
            report.paths = {e.name: execution_path(sfn, e) for e in report.executions}
            for name in names:
                progress(f"running {name} on Athena")
                cloud = run_athena(
                    athena, answers[name].athena_sql, workgroup=stack.workgroup, database=stack.database, sleep=sleep
                )
                report.comparisons.append(compare(answers[name], cloud))
        ended = now()
        gb_seconds, invocations = lambda_usage(
            session.client("cloudwatch"), session.client("lambda"), stack.functions.values(), started, ended
        )
        usage = RunUsage(
            athena_query_bytes=tuple(c.bytes_scanned for c in report.comparisons),
            glue_runs=tuple(glue_runs_since(session.client("glue"), stack.glue_jobs.values(), started)),
            lambda_gb_seconds=gb_seconds,
            lambda_invocations=invocations,
            state_transitions=state_transitions(sfn, report.executions),
            s3_put_requests=report.landed,
        )
        report.cost = estimate(usage, load_prices())
    finally:
        if options.destroy:
            progress(f"destroying stack {deployer.name} (pulumi destroy)")
            deployer.destroy()
            report.destroyed = True
    return report
