"""Alerts (SNS) and Observability (alarms + a CloudWatch dashboard).

Two components because of construction order, not ownership: the state machine and the
data-quality function publish to the alerts topic, and the alarms watch the state machine
and the functions. ``Alerts`` is created first (topic, policy, subscriptions) and
``Observability`` last, with the real names and ARNs of what it watches -- no name is
guessed.

Two grants name a resource before it exists, by its deterministic name
(``components.naming``), because a reference would be a cycle: the lake key's policy lets
EventBridge use the key for the alerts topic (the topic is encrypted with that key), and
the topic policy lets EventBridge publish for the "Raw File Rejected" rule, which
Orchestration creates later with the same name (it targets the topic, so it comes after).
The rule is the topic's sibling: same partition, region and account, read off the topic's ARN.

One alert per failure. A failed run is announced once, by the pipeline's own failure
notification (``notify_failure``: the failed step, its error and cause -- for a critical
data-quality failure, the checks that failed); the signals that fire on the same failure
stay signals, with no alarm actions, for the dashboard and the console:

- pipeline: ``ExecutionsTimedOut`` >= 1 in 5 minutes **alerts** (no Catch sees an execution
  timeout, so no notification is sent); ``ExecutionsFailed`` is a signal only (every failed
  execution has already sent its notification);
- functions: Lambda ``Errors`` >= the stack's threshold in 5 minutes, per function. The
  functions the state machine invokes (``ObservabilityArgs.pipeline_functions``: lock, plan,
  small path, audit gate, publish, dashboard refresh) are signals only: their errors are
  retried or end the run in its failure notification, and some are expected
  (``DataQualityError`` from the audit gate, ``RunLockBusyError`` while an execution queues).
  The event-driven functions (validator, router, API) **alert**;
- dead letters: any message visible in a function's DLQ (an event that failed every retry) **alerts**;
- data quality: ``DQCriticalFailed`` (``contract.Metric``, dimension Stage) >= 1 is a signal
  only (the run's failure notification names the checks);
- invalid events: ``InvalidEvents`` (dimension Stage) >= 1 **alerts** -- an event a handler could
  not read is answered without a retry (so it never reaches a DLQ); this alarm is how it is seen;
- freshness: ``DataFreshnessHours`` above the stack's threshold **alerts**; in prod a day with
  no DQ run at all also alarms (missing data = breaching), in dev it does not.

Alerting alarms notify the topic on ALARM and on OK; signal-only alarms have no actions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from components import iam, naming
from components.settings import AlertSettings, CostSettings
from ecomlake.contract import METRICS_NAMESPACE, Job, Metric, MetricDimension
from ecomlake.cost import Prices
from ecomlake.dq.rules import RULES, Kind

FIVE_MINUTES: Final = 300
ONE_DAY: Final = 86400


@dataclass(frozen=True)
class AlertsArgs:
    project: str
    stage: str
    account_id: str
    kms_key_arn: pulumi.Input[str]
    settings: AlertSettings


class Alerts(pulumi.ComponentResource):
    """KMS-encrypted SNS topic, its policy (alarms; the rejected-files rule), and the email /
    HTTPS subscriptions from config."""

    topic: aws.sns.Topic

    def __init__(self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ecomlake:index:Alerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=naming.resource_name(args.project, args.stage, naming.ALERTS_TOPIC),
            display_name=f"{args.project} {args.stage} alerts",
            kms_master_key_id=args.kms_key_arn,
            opts=child,
        )
        rejected_rule = naming.resource_name(args.project, args.stage, naming.FILE_REJECTED_RULE)
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=self.topic.arn,
            policy=self.topic.arn.apply(
                lambda arn: json.dumps(
                    iam.topic_policy(
                        arn,
                        args.account_id,
                        event_rule_arns=[iam.event_rule_arn(*iam.arn_scope(arn), rejected_rule)],
                        budgets_partition=iam.arn_scope(arn)[0],
                    ),
                    sort_keys=True,
                )
            ),
            opts=child,
        )
        s = args.settings
        if s.email:
            # The recipient confirms by email; until then SNS holds the subscription pending.
            aws.sns.TopicSubscription(
                f"{name}-email", topic=self.topic.arn, protocol="email", endpoint=s.email, opts=child
            )
        if s.https_endpoint is not None:
            # A webhook URL carries its token: it is a Pulumi secret and stays one in state.
            aws.sns.TopicSubscription(
                f"{name}-https",
                topic=self.topic.arn,
                protocol="https",
                endpoint=pulumi.Output.secret(s.https_endpoint),
                endpoint_auto_confirms=True,
                opts=child,
            )
        self.topic_arn: pulumi.Output[str] = self.topic.arn
        self.register_outputs({"topicArn": self.topic.arn})


@dataclass(frozen=True)
class ObservabilityArgs:
    project: str
    stage: str
    region: str
    settings: AlertSettings
    topic_arn: pulumi.Input[str]
    state_machine_arn: pulumi.Input[str]
    function_names: Mapping[str, pulumi.Input[str]]  # purpose -> Lambda function name
    dead_letter_queue_names: Mapping[str, pulumi.Input[str]]  # purpose -> SQS queue name
    job_names: Mapping[Job, pulumi.Input[str]]
    workgroup_name: pulumi.Input[str]
    cost: CostSettings
    function_memory_mb: Mapping[str, int]  # purpose -> memory size (for Lambda GB-seconds)
    glue_dpus: Mapping[Job, float]  # job -> workers x DPUs per worker (for Glue DPU-seconds)
    # Purposes of the functions the state machine invokes: their errors end in the run's
    # failure notification, so their error alarms are signals, not alerts.
    pipeline_functions: frozenset[str] = frozenset()


class Observability(pulumi.ComponentResource):
    """CloudWatch alarms and the pipeline dashboard."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ecomlake:index:Observability", name, None, opts)
        self._args = args
        self._name = name
        self.alarms = {}
        unknown = sorted(args.pipeline_functions - set(args.function_names))
        if unknown:
            raise ValueError(f"pipeline functions without a deployed function: {', '.join(unknown)}")
        s = args.settings
        prefix = f"{args.project}-{args.stage}"

        for metric, description, alerts in (
            (
                "ExecutionsFailed",
                "A pipeline execution failed. Signal only: the run's failure notification already alerted.",
                False,
            ),
            (
                "ExecutionsTimedOut",
                "A pipeline execution hit its timeout, which no Catch sees: no failure notification was sent.",
                True,
            ),
        ):
            self._alarm(
                f"pipeline-{naming.slug(metric)}",
                f"{prefix} pipeline {metric}",
                description,
                namespace="AWS/States",
                metric_name=metric,
                dimensions={"StateMachineArn": args.state_machine_arn},
                statistic="Sum",
                threshold=1,
                period=FIVE_MINUTES,
                alerts=alerts,
            )
        for purpose, fn in sorted(args.function_names.items()):
            in_pipeline = purpose in args.pipeline_functions
            signal = " Signal only: a pipeline step's errors end in the run's failure notification."
            self._alarm(
                f"{purpose}-errors",
                f"{prefix} {purpose} Lambda errors",
                f"The {purpose} function raised errors." + (signal if in_pipeline else ""),
                namespace="AWS/Lambda",
                metric_name="Errors",
                dimensions={"FunctionName": fn},
                statistic="Sum",
                threshold=s.lambda_errors_threshold,
                period=FIVE_MINUTES,
                alerts=not in_pipeline,
            )
        for purpose, queue in sorted(args.dead_letter_queue_names.items()):
            self._alarm(
                f"{purpose}-dead-letters",
                f"{prefix} {purpose} dead letters",
                f"Events for {purpose} failed every retry and wait in its dead-letter queue.",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": queue},
                statistic="Maximum",
                threshold=1,
                period=FIVE_MINUTES,
            )
        stage_dim = {str(MetricDimension.STAGE): args.stage}
        self._alarm(
            "dq-critical-failed",
            f"{prefix} data quality critical failure",
            "A critical data-quality check failed and the run published nothing. Signal only: the run's "
            "failure notification names the checks.",
            namespace=METRICS_NAMESPACE,
            metric_name=str(Metric.DQ_CRITICAL_FAILED),
            dimensions=stage_dim,
            statistic="Maximum",
            threshold=1,
            period=FIVE_MINUTES,
            alerts=False,
        )
        self._alarm(
            "invalid-events",
            f"{prefix} invalid events",
            "A Lambda handler received an event it could not read (logged with the reason; not retried).",
            namespace=METRICS_NAMESPACE,
            metric_name=str(Metric.INVALID_EVENTS),
            dimensions=stage_dim,
            statistic="Sum",
            threshold=1,
            period=FIVE_MINUTES,
        )
        self._alarm(
            "data-freshness",
            f"{prefix} data freshness",
            f"The newest checked data is older than {s.freshness_hours_threshold} hours"
            + (", or no data-quality run reported in a day." if s.freshness_alarm_on_missing_data else "."),
            namespace=METRICS_NAMESPACE,
            metric_name=str(Metric.DATA_FRESHNESS_HOURS),
            dimensions=None,
            per_table=freshness_tables(),
            statistic="Maximum",
            threshold=s.freshness_hours_threshold,
            period=ONE_DAY,
            comparison="GreaterThanThreshold",
            missing="breaching" if s.freshness_alarm_on_missing_data else "notBreaching",
        )

        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{prefix}-pipeline",
            dashboard_body=pulumi.Output.all(
                args.state_machine_arn,
                args.workgroup_name,
                pulumi.Output.all(*args.function_names.values()),
                pulumi.Output.all(*args.job_names.values()),
            ).apply(
                lambda v: json.dumps(
                    {
                        "widgets": dashboard_body(args.stage, args.region, v[0], v[1], v[2], v[3])["widgets"]
                        + cost_widgets(
                            args.region,
                            v[1],
                            {name: args.glue_dpus[job] for job, name in zip(args.job_names, v[3], strict=True)},
                            {fn: args.function_memory_mb[p] for p, fn in zip(args.function_names, v[2], strict=True)},
                            args.cost.prices,
                            top=COST_SECTION_TOP,
                        )
                    }
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.budget = monthly_budget(name, args, parent=self)
        self.register_outputs(
            {
                "dashboardName": self.dashboard.dashboard_name,
                "alarms": [a.name for a in self.alarms.values()],
                "budgetName": self.budget.name,
            }
        )

    def _alarm(
        self,
        key: str,
        alarm_name: str,
        description: str,
        *,
        namespace: str,
        metric_name: str,
        dimensions: Mapping[str, pulumi.Input[str]] | None,
        statistic: str,
        threshold: float,
        period: int,
        comparison: str = "GreaterThanOrEqualToThreshold",
        missing: str = "notBreaching",
        per_table: Sequence[str] = (),
        alerts: bool = True,
    ) -> None:
        a = self._args
        actions = [a.topic_arn] if alerts else []
        common: dict[str, Any] = {
            "name": alarm_name,
            "alarm_description": description,
            "comparison_operator": comparison,
            "evaluation_periods": 1,
            "threshold": threshold,
            "treat_missing_data": missing,
            "actions_enabled": alerts,
            "alarm_actions": actions,
            "ok_actions": actions,
        }
        if per_table:
            # The freshness gauge is published per table (dimension Dataset): alarm on the
            # worst one. (Alarms cannot use SEARCH, so the tables are listed.)
            queries = [
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=f"t{i}",
                    return_data=False,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=namespace,
                        metric_name=metric_name,
                        dimensions={str(MetricDimension.STAGE): a.stage, str(MetricDimension.DATASET): table},
                        period=period,
                        stat=statistic,
                    ),
                )
                for i, table in enumerate(per_table)
            ]
            ids = ", ".join(q.id for q in queries)
            queries.append(
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="worst", expression=f"MAX([{ids}])", label=f"worst {metric_name}", return_data=True
                )
            )
            self.alarms[key] = aws.cloudwatch.MetricAlarm(
                f"{self._name}-{key}", metric_queries=queries, **common, opts=pulumi.ResourceOptions(parent=self)
            )
            return
        self.alarms[key] = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{key}",
            namespace=namespace,
            metric_name=metric_name,
            dimensions=dict(dimensions or {}),
            statistic=statistic,
            period=period,
            **common,
            opts=pulumi.ResourceOptions(parent=self),
        )


def monthly_budget(name: str, args: ObservabilityArgs, *, parent: pulumi.Resource) -> aws.budgets.Budget:
    """An AWS Budgets cost budget on the resources tagged with this stack's ``Stage``.

    Two alerts go to the alerts topic: the month's actual cost passing the configured
    percentage of the limit, and the forecast passing the limit itself. The ``Stage`` tag
    is on every resource (``aws:defaultTags``); Billing only sees it once it is activated
    as a cost allocation tag (docs/infrastructure.md).
    """
    c = args.cost
    notify = [args.topic_arn]
    return aws.budgets.Budget(
        f"{name}-budget",
        name=f"{args.project}-{args.stage}-monthly-cost",
        budget_type="COST",
        time_unit="MONTHLY",
        limit_amount=f"{c.monthly_budget_usd:.2f}",
        limit_unit="USD",
        cost_filters=[aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:Stage${args.stage}"])],
        notifications=[
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                threshold=c.budget_alert_percent,
                threshold_type="PERCENTAGE",
                notification_type="ACTUAL",
                subscriber_sns_topic_arns=notify,
            ),
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                threshold=100,
                threshold_type="PERCENTAGE",
                notification_type="FORECASTED",
                subscriber_sns_topic_arns=notify,
            ),
        ],
        opts=pulumi.ResourceOptions(parent=parent),
    )


COST_SECTION_TOP: Final = 24  # below the eight pipeline widgets (4 rows of height 6)
GIB: Final = 1024**3
TIB: Final = 1024**4


def glue_elapsed_metric(job: str, options: dict[str, Any]) -> list[Any]:
    """A dashboard metric row: the wall time (ms) of ``job``'s runs, across all of its runs."""
    return ["Glue", "glue.driver.aggr.elapsedTime", "JobName", job, "JobRunId", "ALL", "Type", "count", options]


def athena_scanned_query(workgroup: str) -> str:
    """The metric search for the bytes the workgroup's queries scanned (every query state and type)."""
    return f'{{AWS/Athena,QueryState,QueryType,WorkGroup}} WorkGroup="{workgroup}" MetricName="ProcessedBytes"'


def cost_widgets(
    region: str,
    workgroup: str,
    job_dpus: Mapping[str, float],
    function_memory_mb: Mapping[str, int],
    prices: Prices,
    *,
    top: int,
) -> list[dict[str, Any]]:
    """The dashboard's cost-drivers section: Athena bytes scanned, Glue DPU-seconds, Lambda GB-seconds.

    None of the three is published in those units, so metric math converts what is:
    Athena ``ProcessedBytes`` (bytes) -> GiB and list-price USD; Glue
    ``glue.driver.aggr.elapsedTime`` (ms, the run's wall time) x the job's DPUs (``job_dpus``:
    job name -> workers x DPUs per worker; the audit job has its own capacity) -> DPU-seconds
    (exact for these fixed-capacity jobs; the 1-minute billing minimum is not applied);
    Lambda ``Duration`` (ms, summed) x memory -> GB-seconds. Daily periods; prices from the
    stack (``ecomlake:prices``).
    """

    def metric_widget(title: str, metrics: list[list[Any]], x: int, y: int, *, label: str) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 8,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "view": "timeSeries",
                "stat": "Sum",
                "period": 86400,
                "metrics": metrics,
                "yAxis": {"left": {"label": label, "showUnits": False}},
            },
        }

    y = top + 1
    header = {
        "type": "text",
        "x": 0,
        "y": top,
        "width": 24,
        "height": 1,
        "properties": {
            "markdown": "## Cost drivers (per day, list prices from the stack config; estimates, not the bill)"
        },
    }
    athena_query = athena_scanned_query(workgroup)
    athena = [
        [{"expression": f"SEARCH('{athena_query}', 'Sum', 86400)", "id": "scanned", "visible": False}],
        [{"expression": f"SUM(scanned)/{GIB}", "id": "gib", "label": "GiB scanned"}],
        [
            {
                "expression": f"SUM(scanned)/{TIB}*{prices.athena_per_tb_scanned}",
                "id": "athenausd",
                "label": f"{prices.currency} at {prices.athena_per_tb_scanned}/TB",
            }
        ],
    ]
    glue: list[list[Any]] = []
    for i, (job, dpus) in enumerate(job_dpus.items()):
        glue.append(glue_elapsed_metric(job, {"id": f"elapsed{i}", "stat": "Maximum", "visible": False}))
        glue.append([{"expression": f"elapsed{i}/1000*{dpus:g}", "id": f"dpus{i}", "label": job}])
    lambdas: list[list[Any]] = []
    for i, (fn, memory) in enumerate(sorted(function_memory_mb.items())):
        lambdas.append(["AWS/Lambda", "Duration", "FunctionName", fn, {"id": f"ms{i}", "visible": False}])
        lambdas.append([{"expression": f"ms{i}/1000*{memory}/1024", "id": f"gbs{i}", "label": fn}])
    return [
        header,
        metric_widget("Athena data scanned (GiB) and its price", athena, 0, y, label="GiB / USD"),
        metric_widget("Glue DPU-seconds per job (largest run of the day)", glue, 8, y, label="DPU-seconds"),
        metric_widget("Lambda GB-seconds per function", lambdas, 16, y, label="GB-seconds"),
    ]


def freshness_tables() -> list[str]:
    """Tables the DQ step publishes ``DataFreshnessHours`` for (its freshness rules)."""
    return sorted({rule.table for rule in RULES if rule.kind == Kind.FRESHNESS})


def dashboard_body(
    stage: str,
    region: str,
    state_machine_arn: str,
    workgroup: str,
    function_names: Sequence[str],
    job_names: Sequence[str],
) -> dict[str, Any]:
    """CloudWatch dashboard JSON: pipeline health, DQ, rows, Glue durations, Lambda, Athena bytes."""

    def widget(title: str, metrics: list[list[Any]], x: int, y: int, *, stat: str = "Sum", period: int = 3600) -> dict:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "view": "timeSeries",
                "stat": stat,
                "period": period,
                "metrics": metrics,
            },
        }

    def search(title: str, query: str, x: int, y: int, *, stat: str = "Sum", period: int = 86400) -> dict:
        return widget(title, [[{"expression": f"SEARCH('{query}', '{stat}', {period})", "id": "e1"}]], x, y)

    sfn = [
        ["AWS/States", m, "StateMachineArn", state_machine_arn]
        for m in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")
    ]
    duration = [["AWS/States", "ExecutionTime", "StateMachineArn", state_machine_arn, {"stat": "Maximum"}]]
    glue = [glue_elapsed_metric(job, {"stat": "Maximum"}) for job in job_names]
    lambdas = [["AWS/Lambda", m, "FunctionName", fn] for fn in function_names for m in ("Invocations", "Errors")]
    ns, st, ds = METRICS_NAMESPACE, MetricDimension.STAGE, MetricDimension.DATASET
    dq = (
        f'{{{ns},{st}}} {st}="{stage}" '
        f'(MetricName="{Metric.DQ_CHECKS_FAILED}" OR MetricName="{Metric.DQ_CRITICAL_FAILED}")'
    )
    rows = (
        f'{{{ns},{st},{ds}}} {st}="{stage}" (MetricName="{Metric.ROWS_IN}" '
        f'OR MetricName="{Metric.ROWS_OUT}" OR MetricName="{Metric.ROWS_QUARANTINED}")'
    )
    fresh = f'{{{ns},{st},{ds}}} {st}="{stage}" MetricName="{Metric.DATA_FRESHNESS_HOURS}"'
    athena = athena_scanned_query(workgroup)
    return {
        "widgets": [
            widget("Pipeline executions", sfn, 0, 0, period=86400),
            widget("Pipeline duration (ms)", duration, 12, 0, stat="Maximum", period=86400),
            search("Data-quality failures", dq, 0, 6, stat="Maximum"),
            search("Rows in / out / quarantined", rows, 12, 6),
            widget("Glue job duration (ms)", glue, 0, 12, stat="Maximum", period=86400),
            search("Data freshness (hours)", fresh, 12, 12, stat="Maximum"),
            widget("Lambda invocations and errors", lambdas, 0, 18, period=3600),
            search("Athena bytes scanned", athena, 12, 18),
        ]
    }
