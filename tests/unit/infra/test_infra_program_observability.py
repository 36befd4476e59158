"""The program's analytics, observability and dashboard: Athena, alarms, the CloudWatch dashboard, the
budget, CloudFront and the site (see test_infra_program.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from infra_harness import REPO_ROOT, ProgramRun, run_program
from program_helpers import (
    ALARM,
    POLICY,
    PROGRAM_MARKS,
    bucket_name,
    cfg,
    cost_section,
    for_bucket,
    function,
    statements,
)

from components import iam
from components.analytics import sql_files
from components.dashboard import CONTENT_SECURITY_POLICY
from components.naming import slug
from components.observability import freshness_tables
from ecomlake.contract import (
    METRICS_NAMESPACE,
    EnvVar,
    Job,
    Metric,
    Zone,
    glue_database,
)

pytestmark = PROGRAM_MARKS


# --------------------------------------------------------------------------- analytics


def test_athena_workgroup_enforces_encrypted_results_and_a_cutoff(run: ProgramRun) -> None:
    (wg,) = run.of_type("aws:athena/workgroup:Workgroup")
    conf = wg.inputs["configuration"]
    assert conf["enforceWorkgroupConfiguration"] is True
    assert conf["bytesScannedCutoffPerQuery"] == int(cfg(run, "athenaBytesScannedCutoff"))
    assert (
        conf["resultConfiguration"]["outputLocation"] == f"s3://{bucket_name(run, Zone.ATHENA_RESULTS)}/athena-results/"
    )
    assert conf["resultConfiguration"]["encryptionConfiguration"] == {
        "encryptionOption": "SSE_KMS",
        "kmsKeyArn": run.outputs["kmsKeyArn"],
    }
    assert conf["engineVersion"]["selectedEngineVersion"] == "Athena engine version 3"


def test_named_queries_are_the_sql_files(run: ProgramRun) -> None:
    files = {f.name: f.text for f in sql_files(REPO_ROOT / "sql")}
    queries = {q.inputs["name"]: q.inputs for q in run.of_type("aws:athena/namedQuery:NamedQuery")}
    assert files
    assert set(queries) == set(files)
    for name, q in queries.items():
        assert q["query"] == files[name]
        assert q["database"] == glue_database(run.stack)
        assert q["workgroup"] == run.outputs["athenaWorkgroup"]


# --------------------------------------------------------------------------- observability


def test_alerts_topic_and_subscription(run: ProgramRun) -> None:
    (topic,) = run.of_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == run.outputs["kmsKeyArn"]
    subs = run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert [(s.inputs["protocol"], s.inputs["endpoint"]) for s in subs] == [("email", cfg(run, "alertEmail"))]


# Alarms that alert (the topic on ALARM and OK); every other alarm is a signal with no action, so a
# failed run is announced once -- by the pipeline's failure notification.
ALERTING = {
    "pipeline-executionstimedout",
    "validator-errors",
    "router-errors",
    "api-errors",
    "invalid-events",
    "data-freshness",
}
SIGNALS = {
    "pipeline-executionsfailed",
    "dq-critical-failed",
    "run-lock-errors",
    "plan-errors",
    "small-date-errors",
    "data-quality-errors",
    "publish-errors",
    "dashboard-refresh-errors",
}


def test_alarms(run: ProgramRun) -> None:
    alarms = {a.name.removeprefix("observability-"): a.inputs for a in run.of_type(ALARM)}
    topic = run.outputs["alertsTopicArn"]
    dead_letters = {k for k in alarms if k.endswith("-dead-letters")}
    assert len(dead_letters) == 10  # 9 functions + the events queue: each alerts
    assert set(alarms) == ALERTING | SIGNALS | dead_letters
    for name in ALERTING | dead_letters:
        assert (alarms[name]["alarmActions"], alarms[name]["okActions"]) == ([topic], [topic]), name
        assert alarms[name]["actionsEnabled"] is True, name
    for name in SIGNALS:
        assert (alarms[name]["alarmActions"], alarms[name]["okActions"]) == ([], []), name
        assert alarms[name]["actionsEnabled"] is False, name
    assert alarms["dq-critical-failed"]["alarmDescription"] == (
        "A critical data-quality check failed and the run published nothing. Signal only: the run's "
        "failure notification names the checks."
    )
    assert alarms["data-quality-errors"]["alarmDescription"] == (
        "The data-quality function raised errors. Signal only: a pipeline step's errors end in the run's "
        "failure notification."
    )
    failed = alarms["pipeline-executionsfailed"]
    assert (failed["namespace"], failed["metricName"]) == ("AWS/States", "ExecutionsFailed")
    assert failed["dimensions"] == {"StateMachineArn": run.outputs["stateMachineArn"]}
    dq = alarms["dq-critical-failed"]
    assert (dq["namespace"], dq["metricName"]) == (METRICS_NAMESPACE, str(Metric.DQ_CRITICAL_FAILED))
    assert dq["dimensions"] == {"Stage": run.stack}
    invalid = alarms["invalid-events"]
    assert (invalid["namespace"], invalid["metricName"], invalid["statistic"]) == (
        METRICS_NAMESPACE,
        "InvalidEvents",
        "Sum",
    )
    assert invalid["dimensions"] == {"Stage": run.stack}
    assert (invalid["threshold"], invalid["comparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    for purpose, fn in run.outputs["functions"].items():
        errors = alarms[f"{purpose}-errors"]
        assert errors["dimensions"] == {"FunctionName": fn}
        assert errors["threshold"] == int(cfg(run, "lambdaErrorsThreshold"))
    fresh = alarms["data-freshness"]
    assert fresh["threshold"] == int(cfg(run, "freshnessHoursThreshold"))
    assert fresh["treatMissingData"] == (
        "breaching" if cfg(run, "freshnessAlarmOnMissingData") == "true" else "notBreaching"
    )
    tables = [q["metric"]["dimensions"]["Dataset"] for q in fresh["metricQueries"] if "metric" in q]
    assert tables == freshness_tables()
    assert fresh["metricQueries"][-1]["expression"] == "MAX([t0, t1, t2, t3, t4])"


def test_cloudwatch_dashboard_names_the_real_resources(run: ProgramRun) -> None:
    (dash,) = run.of_type("aws:cloudwatch/dashboard:Dashboard")
    body = dash.inputs["dashboardBody"]
    assert run.outputs["stateMachineArn"] in body
    assert all(job in body for job in run.outputs["glueJobs"].values())
    assert run.outputs["athenaWorkgroup"] in body
    assert len(json.loads(body)["widgets"]) == 8 + 4  # the pipeline, then the cost section


def test_cost_section_converts_raw_metrics_with_metric_math(run: ProgramRun) -> None:
    section = cost_section(run)
    assert all(w["y"] == 25 and w["properties"]["period"] == 86400 for w in section.values())
    wg = run.outputs["athenaWorkgroup"]
    athena = section["Athena data scanned (GiB) and its price"]["properties"]["metrics"]
    assert athena[0][0]["expression"] == (
        f'SEARCH(\'{{AWS/Athena,QueryState,QueryType,WorkGroup}} WorkGroup="{wg}" '
        "MetricName=\"ProcessedBytes\"', 'Sum', 86400)"
    )
    assert athena[1] == [{"expression": "SUM(scanned)/1073741824", "id": "gib", "label": "GiB scanned"}]
    assert athena[2] == [{"expression": "SUM(scanned)/1099511627776*5.0", "id": "athenausd", "label": "USD at 5.0/TB"}]
    # Glue: wall time (ms) of each job's runs x that job's DPUs (workers x DPUs per worker type):
    # the ETL jobs 2 x G.1X = 2 (dev) or 10 x G.2X = 20 (prod); the audit job 2 x G.1X = 2 in both.
    etl_dpus = {"dev": "2", "prod": "20"}[run.stack]
    glue = section["Glue DPU-seconds per job (largest run of the day)"]["properties"]["metrics"]
    jobs = list(run.outputs["glueJobs"].values())
    assert jobs == [f"ecomlake-{run.stack}-{slug(j)}" for j in Job]
    assert [m[3] for m in glue[0::2]] == jobs
    assert [m[-1] for m in glue[0::2]] == [{"id": f"elapsed{i}", "stat": "Maximum", "visible": False} for i in range(5)]
    dpus = [etl_dpus] * 4 + ["2"]
    assert [m[0] for m in glue[1::2]] == [
        {"expression": f"elapsed{i}/1000*{dpus[i]}", "id": f"dpus{i}", "label": job} for i, job in enumerate(jobs)
    ]
    # Lambda: summed Duration (ms) x memory (MB) / 1024 = GB-seconds, per function (the small-date
    # function has its own memory, sized from the threshold).
    memory = cfg(run, "lambdaMemoryMb")
    lam = section["Lambda GB-seconds per function"]["properties"]["metrics"]
    functions = sorted(run.outputs["functions"].values())
    assert [m[3] for m in lam[0::2]] == functions
    small = {"dev": "2048", "prod": "4096"}[run.stack]
    memories = [small if fn.endswith("-small-date") else memory for fn in functions]
    assert [m[0]["expression"] for m in lam[1::2]] == [f"ms{i}/1000*{m}/1024" for i, m in enumerate(memories)]


def test_monthly_budget_alerts_the_topic_at_the_configured_threshold(run: ProgramRun) -> None:
    (budget,) = run.of_type("aws:budgets/budget:Budget")
    b = budget.inputs
    topic = run.outputs["alertsTopicArn"]
    assert (b["name"], b["budgetType"], b["timeUnit"]) == (f"ecomlake-{run.stack}-monthly-cost", "COST", "MONTHLY")
    assert (b["limitAmount"], b["limitUnit"]) == ({"dev": "50.00", "prod": "1000.00"}[run.stack], "USD")
    assert b["costFilters"] == [{"name": "TagKeyValue", "values": [f"user:Stage${run.stack}"]}]
    assert b["notifications"] == [
        {
            "comparisonOperator": "GREATER_THAN",
            "threshold": 80,
            "thresholdType": "PERCENTAGE",
            "notificationType": "ACTUAL",
            "subscriberSnsTopicArns": [topic],
        },
        {
            "comparisonOperator": "GREATER_THAN",
            "threshold": 100,
            "thresholdType": "PERCENTAGE",
            "notificationType": "FORECASTED",
            "subscriberSnsTopicArns": [topic],
        },
    ]
    assert run.outputs["budgetName"] == f"ecomlake-{run.stack}-monthly-cost"


def test_functions_get_the_stack_prices(run: ProgramRun, layers_dir: Path) -> None:
    env = function(run, "data-quality").inputs["environment"]["variables"]
    assert json.loads(env[EnvVar.PRICES])["glue_per_dpu_hour"] == 0.44
    cheaper = run_program(run.stack, layers_dir, overrides={"ecomlake:prices": '{"athena_per_tb_scanned": 6.25}'})
    env = function(cheaper, "validator").inputs["environment"]["variables"]
    assert json.loads(env[EnvVar.PRICES])["athena_per_tb_scanned"] == 6.25
    athena = cost_section(cheaper)["Athena data scanned (GiB) and its price"]["properties"]["metrics"]
    assert athena[2][0]["expression"] == "SUM(scanned)/1099511627776*6.25"


# --------------------------------------------------------------------------- dashboard / CloudFront


def test_cloudfront_uses_origin_access_control_and_https(run: ProgramRun) -> None:
    (dist,) = run.of_type("aws:cloudfront/distribution:Distribution")
    d = dist.inputs
    oacs = {o.state["id"]: o.inputs for o in run.of_type("aws:cloudfront/originAccessControl:OriginAccessControl")}
    assert {o["originAccessControlOriginType"] for o in oacs.values()} == {"s3", "lambda"}
    assert all(o["signingProtocol"] == "sigv4" and o["signingBehavior"] == "always" for o in oacs.values())
    origins = {o["originId"]: o for o in d["origins"]}
    assert oacs[origins["site"]["originAccessControlId"]]["originAccessControlOriginType"] == "s3"
    assert oacs[origins["api"]["originAccessControlId"]]["originAccessControlOriginType"] == "lambda"
    assert origins["site"]["domainName"] == f"{run.outputs['dashboardBucket']}.s3.us-east-1.amazonaws.com"
    assert "s3OriginConfig" not in origins["site"]  # OAC, not a legacy origin access identity
    assert origins["api"]["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert origins["api"]["domainName"].endswith(".lambda-url.us-east-1.on.aws")
    behaviors = [d["defaultCacheBehavior"], *d["orderedCacheBehaviors"]]
    assert all(b["viewerProtocolPolicy"] == "redirect-to-https" for b in behaviors)
    assert d["orderedCacheBehaviors"][0]["pathPattern"] == "/api/*"
    assert d["defaultRootObject"] == "index.html"
    assert d["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    (headers,) = run.of_type("aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy")
    sec = headers.inputs["securityHeadersConfig"]
    assert sec["strictTransportSecurity"]["accessControlMaxAgeSec"] >= 31536000
    assert sec["contentSecurityPolicy"]["contentSecurityPolicy"] == CONTENT_SECURITY_POLICY
    assert sec["frameOptions"]["frameOption"] == "DENY"
    assert all(b["responseHeadersPolicyId"] == headers.state["id"] for b in behaviors)


def test_api_is_reachable_only_through_cloudfront(run: ProgramRun) -> None:
    (url,) = run.of_type("aws:lambda/functionUrl:FunctionUrl")
    assert url.inputs["authorizationType"] == "AWS_IAM"
    assert url.inputs["functionName"] == f"ecomlake-{run.stack}-api"
    (dist,) = run.of_type("aws:cloudfront/distribution:Distribution")
    cf = [
        p.inputs
        for p in run.of_type("aws:lambda/permission:Permission")
        if p.inputs["principal"] == "cloudfront.amazonaws.com"
    ]
    assert sorted(p["action"] for p in cf) == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
    assert all(p["sourceArn"] == dist.state["arn"] for p in cf)
    site = run.outputs["dashboardBucket"]
    (pol,) = for_bucket(run, POLICY, site)
    assert iam.cloudfront_read(f"arn:aws:s3:::{site}", dist.state["arn"]) in statements(
        json.loads(pol.inputs["policy"])
    )
    (key_policy,) = run.of_type("aws:kms/keyPolicy:KeyPolicy")
    decrypt = statements(json.loads(key_policy.inputs["policy"]))[1]
    assert decrypt["Condition"] == {"StringEquals": {"AWS:SourceArn": dist.state["arn"]}}


def test_site_files_and_deployed_config(run: ProgramRun) -> None:
    objects = {
        o.inputs["key"]: o.inputs
        for o in run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
        if o.inputs["bucket"] == run.outputs["dashboardBucket"]
    }
    scripts = {"app.js", "js/core.js", "js/panels-sales.js", "js/panels-customers.js"}
    assert {"index.html", "config.js", "vendor/chart-4.6.1.umd.min.js", *scripts} <= set(objects)
    assert objects["index.html"]["contentType"] == "text/html; charset=utf-8"
    assert {objects[k]["contentType"] for k in scripts} == {"text/javascript; charset=utf-8"}
    assert {objects[k]["cacheControl"] for k in scripts} == {"public, max-age=300"}
    assert 'apiBase: "/api"' in objects["config.js"]["content"]
    assert not any(k.startswith("data/") for k in objects)
