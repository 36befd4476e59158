"""Pure helpers of the infrastructure program: naming, IAM builders, settings, packaging."""

from __future__ import annotations

import json
import re
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
from infra_harness import REPO_ROOT, stack_config
from parliament import analyze_policy_string, enhance_finding

from components import iam, naming
from components.analytics import sql_files
from components.catalog import table_definition, table_location, table_parameters
from components.dashboard import function_url_host, site_files
from components.etl import default_arguments
from components.functions import function_timeout, handler_file
from components.orchestration import REJECTED_ALERT_PATHS, file_rejected_pattern, rejected_alert_template
from components.packaging import (
    DUCKDB_ETL_PRUNE,
    LAYERS,
    LOCAL_ONLY_PACKAGE,
    build_zip,
    built_layer,
    check_size,
    collect,
    lambda_sources,
    package_sources,
    pinned,
    pip_arguments,
    prune_layer,
    tree_size,
)
from components.settings import (
    MAX_DQ_GLUE_TIMEOUT_MINUTES,
    MAX_GLUE_TIMEOUT_MINUTES,
    SettingsError,
    load_settings,
)
from ecomlake import schemas
from ecomlake.contract import Job, Table, Zone
from ecomlake.dq.rules import Thresholds
from ecomlake.pipeline import PIPELINE, GlueJobStep, PipelineFunction

ACCOUNT = "123456789012"

# --------------------------------------------------------------------------- naming


def test_resource_names() -> None:
    assert naming.resource_name("ecomlake", "dev", "transaction_etl") == "ecomlake-dev-transaction-etl"
    assert naming.slug(Zone.REPORTS) == "reports"
    assert naming.slug(Zone.ATHENA_RESULTS) == "athena-results"
    with pytest.raises(ValueError, match="cannot build"):
        naming.resource_name("ecomlake", "", "x")
    with pytest.raises(ValueError, match="limit is 64"):
        naming.resource_name("ecomlake", "dev", "x" * 60)


def test_bucket_names_are_unique_per_account_and_region_and_valid() -> None:
    name = naming.bucket_name("ecomlake", "prod", "athena-results", ACCOUNT, "ap-southeast-2")
    assert name == "ecomlake-prod-athena-results-123456789012-ap-southeast-2"
    assert len(name) <= 63
    with pytest.raises(ValueError, match="12 digits"):
        naming.bucket_name("ecomlake", "prod", "raw", "1234", "us-east-1")
    with pytest.raises(ValueError, match="length"):
        naming.bucket_name("ecomlake", "prod", "a-very-long-purpose-name-here", ACCOUNT, "ap-southeast-2")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ab", "length"),
        ("My-Bucket", "lowercase"),
        ("my.bucket.name", "lowercase letters, digits and hyphens"),
        ("192.168.1.10", "lowercase letters, digits and hyphens"),
        ("xn--bucket", "must not start"),
        ("bucket-s3alias", "must not end"),
        ("bucket--name", "consecutive"),
        ("-bucket", "starting and ending"),
    ],
)
def test_bucket_name_rules(name: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        naming.validate_bucket_name(name)


def test_uris_and_log_groups() -> None:
    assert naming.s3_uri("b") == "s3://b"
    assert naming.s3_uri("b", "/glue/scripts/x.py") == "s3://b/glue/scripts/x.py"
    assert naming.log_group_name("/aws/lambda/", "fn") == "/aws/lambda/fn"


# --------------------------------------------------------------------------- IAM


def lint(doc: dict[str, Any]) -> list[tuple[str, str]]:
    policy = analyze_policy_string(json.dumps(doc))
    out = []
    for finding in policy.findings:
        enhance_finding(finding)
        out.append((finding.issue, finding.severity))
    return out


def test_statement_refuses_star_actions_and_empty_lists() -> None:
    with pytest.raises(ValueError, match="bare"):
        iam.statement("All", ["*"], "*")
    with pytest.raises(ValueError, match="no actions"):
        iam.statement("None", [], ["arn:aws:s3:::b"])
    with pytest.raises(ValueError, match="no resources"):
        iam.statement("None", ["s3:GetObject"], [])
    st = iam.statement("Read", ["s3:GetObject", "s3:GetObject"], ["arn:aws:s3:::b/*"])
    assert st == {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}


def test_allows_everything_detects_the_forbidden_shape() -> None:
    bad = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert iam.allows_everything(bad) == bad["Statement"]
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    assert iam.allows_everything(deny) == []
    assert iam.allows_everything(iam.document(iam.xray_write())) == []


def test_prefix_scoped_s3_access() -> None:
    read = iam.s3_read("Raw", "arn:aws:s3:::b", ["raw/"])
    assert read[0]["Resource"] == "arn:aws:s3:::b/raw*"
    assert read[1]["Condition"] == {"StringLike": {"s3:prefix": ["raw*"]}}
    whole = iam.s3_read_write("All", "arn:aws:s3:::b", delete=True)
    assert "s3:DeleteObject" in whole[0]["Action"]
    assert whole[1]["Action"] == ["s3:GetBucketLocation", "s3:ListBucket"]
    assert lint(iam.document(*read, *whole)) == []


def test_role_policies_lint_clean() -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    glue = iam.glue_job_policy(
        read_buckets=["arn:aws:s3:::raw"],
        write_buckets=["arn:aws:s3:::processed", "arn:aws:s3:::curated"],
        artifacts_bucket="arn:aws:s3:::artifacts",
        code_prefixes=["glue/scripts/", "glue/libs/"],
        temp_prefix="glue/tmp/",
        key_arn=key,
        log_group_arns=[
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws-glue/jobs/x/{s}" for s in ("error", "output")
        ],
        metric_namespaces=["Glue", "Ecomlake/Pipeline"],
    )
    sfn = iam.state_machine_policy(
        job_arns=[f"arn:aws:glue:us-east-1:{ACCOUNT}:job/j"],
        function_arns=[f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"],
        topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:t",
        key_arn=key,
    )
    athena = iam.document(
        *iam.athena_query_statements(
            partition="aws",
            region="us-east-1",
            account_id=ACCOUNT,
            workgroup_arn=f"arn:aws:athena:us-east-1:{ACCOUNT}:workgroup/wg",
            database="db",
            data_bucket_arns=["arn:aws:s3:::curated"],
            results_bucket_arn="arn:aws:s3:::results",
            results_prefix="athena-results/",
            key_arn=key,
        )
    )
    for doc in (glue, sfn, athena):
        assert lint(doc) == []
        sids = [s["Sid"] for s in doc["Statement"]]
        assert len(sids) == len(set(sids))


def test_key_policies_have_only_the_accepted_low_finding() -> None:
    for doc in (
        iam.lake_key_policy("aws", "us-east-1", ACCOUNT),
        iam.lake_key_policy("aws", "us-east-1", ACCOUNT, alerts_topic_arn=TOPIC),
        iam.site_key_policy("aws", ACCOUNT, f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1"),
    ):
        assert {f for f in lint(doc)} == {("RESOURCE_STAR", "LOW")}
    logs = iam.lake_key_policy("aws", "us-east-1", ACCOUNT)["Statement"][1]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"
    }


TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:ecomlake-dev-alerts"
RULE = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/ecomlake-dev-raw-file-rejected"


def test_eventbridge_key_grant_is_pinned_to_the_topic_and_optional() -> None:
    plain = iam.lake_key_policy("aws", "us-east-1", ACCOUNT)["Statement"]
    with_topic = iam.lake_key_policy("aws", "us-east-1", ACCOUNT, alerts_topic_arn=TOPIC)["Statement"]
    assert with_topic[:-1] == plain
    assert with_topic[-1] == {
        "Sid": "EventBridgePublishToEncryptedTopic",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": TOPIC}},
    }


def test_topic_policy_admits_event_rules_only_when_given() -> None:
    plain = iam.topic_policy(TOPIC, ACCOUNT)
    assert [s["Sid"] for s in plain["Statement"]] == ["AllowAlarmPublishing", "DenyInsecureTransport"]
    doc = iam.topic_policy(TOPIC, ACCOUNT, event_rule_arns=[RULE])
    assert [s["Sid"] for s in doc["Statement"]] == [
        "AllowAlarmPublishing",
        "AllowEventRulePublishing",
        "DenyInsecureTransport",
    ]
    events = doc["Statement"][1]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Action"] == "sns:Publish"
    assert events["Resource"] == TOPIC
    assert events["Condition"] == {"ArnEquals": {"aws:SourceArn": [RULE]}}
    assert lint(doc) == []


def test_router_statements_lint_clean_and_scoped() -> None:
    machine = "ecomlake-dev-pipeline"
    executions = iam.state_machine_executions_arns("aws", "us-east-1", ACCOUNT, machine)
    assert executions == [
        f"arn:aws:states:us-east-1:{ACCOUNT}:execution:{machine}:*",
        f"arn:aws:states:us-east-1:{ACCOUNT}:express:{machine}:*:*",
    ]
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    found = iam.router_statements(
        state_machine_arn=f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{machine}",
        executions_arns=executions,
        raw_bucket_arn="arn:aws:s3:::raw",
        raw_prefix="raw/",
        reports_bucket_arn="arn:aws:s3:::reports",
        reports_prefix="_reports/validation",
        key_arn=key,
    )
    by_sid = {s["Sid"]: s for s in found}
    assert by_sid["ListRawPartitions"]["Condition"] == {"StringLike": {"s3:prefix": ["raw/*"]}}
    assert by_sid["ReadValidationReports"]["Resource"] == "arn:aws:s3:::reports/_reports/validation/*"
    assert by_sid["DecryptLakeKey"]["Action"] == "kms:Decrypt"  # reads only: no data keys
    # Nothing writes, deletes or reads raw objects.
    actions = {a for s in found for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert actions == {
        "states:StartExecution",
        "states:DescribeExecution",
        "s3:ListBucket",
        "s3:GetObject",
        "kms:Decrypt",
    }
    assert lint(iam.document(*found)) == []


def test_arn_helpers() -> None:
    assert iam.arn_scope(TOPIC) == ("aws", "us-east-1", ACCOUNT)
    assert iam.arn_scope("arn:aws-cn:sns:cn-north-1:1:t") == ("aws-cn", "cn-north-1", "1")
    assert iam.event_rule_arn(*iam.arn_scope(TOPIC), "ecomlake-dev-raw-file-rejected") == RULE
    assert iam.topic_arn("aws", "us-east-1", ACCOUNT, "ecomlake-dev-alerts") == TOPIC
    with pytest.raises(ValueError, match="not an ARN"):
        iam.arn_scope("ecomlake-dev-alerts")


def test_rejected_alert_template_is_quoted_text_lines() -> None:
    text = rejected_alert_template("ecomlake", "dev", "q-bucket", "r-bucket")
    lines = text.split("\n")
    assert lines[0] == '"ecomlake dev: a raw file was rejected. It is quarantined and left out of the pipeline."'
    assert '"Quarantined copy: s3://q-bucket/<quarantine>"' in lines
    assert '"Validation report: s3://r-bucket/<report>"' in lines
    assert set(re.findall(r"<([a-z_]+)>", text)) == set(REJECTED_ALERT_PATHS)
    # A double quote would end the line's string early and break the message.
    with pytest.raises(ValueError, match="double quote"):
        rejected_alert_template("ecomlake", 'd"v', "q", "r")
    assert file_rejected_pattern() == {"source": ["ecomlake.ingestion"], "detail-type": ["Raw File Rejected"]}


def test_trust_policy_conditions_are_opt_in() -> None:
    (plain,) = iam.assume_role_policy("lambda")["Statement"]
    assert plain == {
        "Sid": "AssumeFromService",
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }


def test_trust_policy_pins_the_account() -> None:
    doc = iam.assume_role_policy("states", ACCOUNT, source_arn_like="arn:aws:states:us-east-1:1:stateMachine:x")
    (st,) = doc["Statement"]
    assert st["Principal"] == {"Service": "states.amazonaws.com"}
    assert st["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": "arn:aws:states:us-east-1:1:stateMachine:x"},
    }


# --------------------------------------------------------------------------- settings


class FakeConfig:
    """``pulumi.Config`` over a stack file's values."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def get_secret(self, key: str) -> Any:
        return self.values.get(key)

    def get_object(self, key: str) -> Any:
        raw = self.values.get(key)
        return None if raw is None else json.loads(raw)


def project_values(stack: str) -> dict[str, str]:
    return {k.split(":", 1)[1]: v for k, v in stack_config(stack).items() if k.startswith("ecomlake:")}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_load(stack: str) -> None:
    config = stack_config(stack)
    s = load_settings(
        FakeConfig(project_values(stack)),
        stack=stack,
        region=config["aws:region"],
        default_tags=json.loads(config["aws:defaultTags"]),
    )
    assert s.stage == stack
    assert s.default_tags == {"Project": "ecomlake", "Stage": stack, "ManagedBy": "pulumi"}
    assert s.lake.force_destroy is (stack == "dev")
    assert s.lake.protect_data is (stack == "prod")
    assert s.cost.budget_alert_percent == 80
    assert s.cost.monthly_budget_usd == {"dev": 50.0, "prod": 1000.0}[stack]
    assert s.cost.prices.athena_per_tb_scanned == 5.0  # no override in the stack files: list prices
    # The stack files write the DQ thresholds out at their defaults.
    assert s.data_quality.thresholds == Thresholds()
    assert (s.data_quality.worker_type, s.data_quality.number_of_workers) == ("G.1X", 2)
    assert s.alerts.https_endpoint is None  # secrets are never in the stack files


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("logRetentionDays", "10", "CloudWatch's values"),
        ("rawGlacierDays", "40", "rawInfrequentAccessDays \\+ 30"),
        ("glueWorkerType", "G.025X", "must be one of"),
        ("glueNumberOfWorkers", "1", ">= 2"),
        ("forceDestroy", "yes", "true or false"),
        ("protectData", "true", "cannot also have forceDestroy true"),
        ("protectData", "1", "true or false"),
        ("monthlyBudgetUsd", "0", "must be > 0"),
        ("monthlyBudgetUsd", "lots", "must be a number of US dollars"),
        ("budgetAlertPercent", "0", ">= 1"),
        ("prices", '{"athena_per_tb": 5}', "unknown price\\(s\\) athena_per_tb"),
        ("prices", '{"glue_per_dpu_hour": -1}', "glue_per_dpu_hour must be a number >= 0"),
        ("athenaBytesScannedCutoff", "1000", ">= 10485760"),
        ("pandasLayerArn", "arn:aws:lambda:eu-west-1:336392948345:layer:AWSSDKPandas-Python311:1", "region"),
        ("alertEmail", "not-an-email", "email"),
        ("glueTimeoutMinutes", "56", "<= 55"),
        ("glueTimeoutMinutes", "120", "<= 55"),
        ("dqGlueTimeoutMinutes", "26", "<= 25"),
        ("dqGlueWorkerType", "G.025X", "must be one of"),
        ("dqGlueNumberOfWorkers", "1", ">= 2"),
        ("dqThresholds", '{"quarantine_critical": 0.1}', "unknown DQ thresholds \\['quarantine_critical'\\]"),
        ("dqThresholds", '{"quarantine_warning_above": 0.5}', "quarantine_warning_above must not exceed"),
        ("dqThresholds", '{"orphan_critical_above": 2}', "must be a number from 0 to 1, got 2.0"),
        ("dqThresholds", "[0.1]", "must be an object"),
        ("stage", "Dev", "lowercase"),
    ],
)
def test_invalid_settings_name_the_key(key: str, value: str, message: str) -> None:
    values = project_values("dev") | {key: value}
    with pytest.raises(SettingsError, match=message) as err:
        load_settings(FakeConfig(values), stack="dev", region="us-east-1")
    assert f"ecomlake:{key} in Pulumi.dev.yaml" in str(err.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ()),
        ("", ()),
        ("reviews, Transactions ,reviews", ("transactions", "reviews")),
        ("clickstream,products,reviews,transactions", ("transactions", "products", "clickstream", "reviews")),
    ],
)
def test_required_datasets_setting(value: str | None, expected: tuple[str, ...]) -> None:
    values = project_values("dev")
    values.pop("requiredDatasets", None)
    if value is not None:
        values["requiredDatasets"] = value
    s = load_settings(FakeConfig(values), stack="dev", region="us-east-1")
    assert s.functions.required_datasets == expected


@pytest.mark.parametrize(
    ("value", "message"), [("transactions,orders", "unknown dataset 'orders'"), (" , ", "names no")]
)
def test_invalid_required_datasets_name_the_key(value: str, message: str) -> None:
    values = project_values("dev") | {"requiredDatasets": value}
    with pytest.raises(SettingsError, match=message) as err:
        load_settings(FakeConfig(values), stack="dev", region="us-east-1")
    assert "ecomlake:requiredDatasets in Pulumi.dev.yaml" in str(err.value)


def test_missing_setting_and_half_a_custom_domain() -> None:
    values = project_values("dev")
    del values["glueTimeoutMinutes"]
    with pytest.raises(SettingsError, match=r"glueTimeoutMinutes.*required"):
        load_settings(FakeConfig(values), stack="dev", region="us-east-1")
    values = project_values("dev") | {"dashboardDomain": "d.example.com"}
    with pytest.raises(SettingsError, match="set together"):
        load_settings(FakeConfig(values), stack="dev", region="us-east-1")


# --------------------------------------------------------------------------- packaging


def test_lambda_sources_ship_code_and_sql_but_no_caches() -> None:
    files = lambda_sources(REPO_ROOT)
    assert "handlers/api.py" in files
    assert "ecomlake/contract.py" in files
    assert {f"sql/{f.name}.sql" for f in sql_files(REPO_ROOT / "sql")} <= set(files)
    assert not any("__pycache__" in k or k.endswith(".pyc") for k in files)
    assert not any(k.startswith("tests/") for k in files)


def test_local_only_tools_never_ship_to_aws(tmp_path: Path) -> None:
    """``ecomlake/local/`` (runner, demo, bench, server) is on disk but in neither package."""
    on_disk = sorted(p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "ecomlake" / "local").glob("*.py"))
    assert {"ecomlake/local/runner.py", "ecomlake/local/server.py", "ecomlake/local/demo.py"} <= set(on_disk)
    assert LOCAL_ONLY_PACKAGE == "ecomlake/local/"
    for name, files in (("lambda", lambda_sources(REPO_ROOT)), ("glue", package_sources(REPO_ROOT))):
        assert [k for k in files if k.startswith("ecomlake/local")] == [], name
        # The rest of the package does ship (the filter is not simply dropping ecomlake/).
        assert {"ecomlake/contract.py", "ecomlake/etl/jobs.py", "ecomlake/queries.py"} <= set(files), name
    # The Glue zip as uploaded (components.etl builds it from package_sources).
    with zipfile.ZipFile(build_zip(package_sources(REPO_ROOT), tmp_path / "glue.zip")) as z:
        names = z.namelist()
    assert "ecomlake/etl/jobs.py" in names
    assert not any(n.startswith("ecomlake/local/") for n in names)


def test_zip_is_reproducible(tmp_path: Path) -> None:
    src = tmp_path / "pkg"
    (src / "mod" / "__pycache__").mkdir(parents=True)
    (src / "mod" / "__init__.py").write_text("X = 1\n")
    (src / "mod" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    files = collect(tmp_path, "pkg", (".py", ".pyc"))
    assert list(files) == ["pkg/mod/__init__.py"]
    a = build_zip(files, tmp_path / "a.zip").read_bytes()
    (src / "mod" / "__init__.py").touch()  # a new mtime must not change the bytes
    b = build_zip(files, tmp_path / "b.zip").read_bytes()
    assert a == b
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        assert z.namelist() == ["pkg/mod/__init__.py"]
        assert z.read("pkg/mod/__init__.py") == b"X = 1\n"


def test_layers_use_the_pinned_versions_and_say_how_to_build(tmp_path: Path) -> None:
    pins = pinned(REPO_ROOT / "pyproject.toml", LAYERS["duckdb-etl"].distributions)
    # Direct dependencies from pyproject.toml, sqlframe's own from constraints.txt.
    assert pins == [
        "duckdb==2.0.1",
        "sqlframe==4.10.0",
        "sqlglot==30.29.0",
        "pyarrow==25.0.1",
        "numpy==2.4.6",
        "more-itertools==11.2.1",
        "prettytable==3.18.0",
        "wcwidth==0.9.4",
        "typing_extensions==4.16.0",
    ]
    assert pinned(REPO_ROOT / "pyproject.toml", ["sqlglot"]) == ["sqlglot==30.29.0"]
    with pytest.raises(ValueError, match="no exact pin for left-pad"):
        pinned(REPO_ROOT / "pyproject.toml", ["left-pad"])
    with pytest.raises(FileNotFoundError, match=r"--no-compile .*--python-version 3\.12 .*duckdb=="):
        built_layer(tmp_path, LAYERS["duckdb-etl"], REPO_ROOT / "pyproject.toml")
    for package in ("duckdb", "sqlframe", "sqlglot", "pyarrow"):
        (tmp_path / "duckdb-etl" / "python" / package).mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no numpy in"):
        built_layer(tmp_path, LAYERS["duckdb-etl"], REPO_ROOT / "pyproject.toml")
    (tmp_path / "duckdb-etl" / "python" / "numpy").mkdir()
    assert built_layer(tmp_path, LAYERS["duckdb-etl"], REPO_ROOT / "pyproject.toml") == tmp_path / "duckdb-etl"
    # The API's layer keeps its .pyc files; the DuckDB engine's has no room for them.
    assert "--no-compile" not in pip_arguments(LAYERS["sqlglot"], ["sqlglot==30.29.0"], tmp_path)
    assert LAYERS["duckdb-etl"].platform == "manylinux_2_28_x86_64"


def test_the_duckdb_layer_is_pruned_of_what_the_code_never_loads(tmp_path: Path) -> None:
    """The layer as pip lays it out, in miniature: pruning keeps every library lib.so links."""
    root = tmp_path / "duckdb-etl" / "python"
    keep = [
        "pyarrow/__init__.py",
        "pyarrow/lib.cpython-312-x86_64-linux-gnu.so",
        "pyarrow/libarrow.so.2500",
        "pyarrow/libarrow_python.so.2500",  # the soname the loader asks for
        "pyarrow/libarrow_substrait.so.2500",  # NEEDED by lib.so
        "pyarrow/libarrow_dataset.so.2500",
        "pyarrow/dataset.py",  # DuckDB scans Arrow tables through pyarrow.dataset
        "pyarrow/_dataset.cpython-312-x86_64-linux-gnu.so",
        "numpy/__init__.py",
        "numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so",
        "duckdb/__init__.py",
    ]
    gone = [
        "pyarrow/include/arrow/api.h",
        "pyarrow/src/arrow/python/common.cc",
        "pyarrow/tests/test_array.py",
        "pyarrow/flight.py",
        "pyarrow/_flight.cpython-312-x86_64-linux-gnu.so",
        "pyarrow/libarrow_flight.so.2500",
        "pyarrow/libarrow_python_flight.so.2500.1.0",
        "pyarrow/libarrow_python.so",
        "pyarrow/libarrow_python.so.2500.1.0",
        "pyarrow/lib.pyx",
        "pyarrow/includes/libarrow.pxd",
        "pyarrow/lib.pxi",
        "numpy/_core/tests/test_api.py",
        "numpy/linalg/tests/test_linalg.py",
    ]
    for name in (*keep, *gone):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x" * 10)
    removed = prune_layer(tmp_path / "duckdb-etl", DUCKDB_ETL_PRUNE)
    left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert left == sorted(keep)
    assert "pyarrow/include" in removed
    assert "numpy/_core/tests" in removed
    assert tree_size(tmp_path / "duckdb-etl") == 10 * len(keep)


def test_a_layer_that_would_not_fit_lambda_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "duckdb-etl"
    (out / "python").mkdir(parents=True)
    limit = 262_144_000 - 16 * 1024 * 1024  # Lambda's 250 MiB, less the code and Powertools allowance
    with open(out / "python" / "big.so", "wb") as f:
        f.truncate(limit)  # sparse: the size counts, nothing is written
    assert check_size(LAYERS["duckdb-etl"], out) == limit
    with open(out / "python" / "one-more", "wb") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match=r"262,144,000-byte limit: prune more .* or ship the function as a container"):
        check_size(LAYERS["duckdb-etl"], out)


def test_powertools_layer_matches_the_tested_library() -> None:
    from components import powertools

    dev = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert f"aws-lambda-powertools[tracer]=={powertools.POWERTOOLS_VERSION}" in dev
    constraints = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    assert f"aws-lambda-powertools=={powertools.POWERTOOLS_VERSION}" in constraints
    assert (powertools.POWERTOOLS_VERSION, powertools.LAYER_VERSION) == ("3.23.0", 27)
    assert powertools.layer_arn("aws", "eu-west-1", "python3.12", "arm64") == (
        "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:27"
    )
    with pytest.raises(ValueError, match="partition 'aws-cn'"):
        powertools.layer_arn("aws-cn", "cn-north-1", "python3.11", "x86_64")
    with pytest.raises(ValueError, match="architecture"):
        powertools.layer_arn("aws", "us-east-1", "python3.11", "sparc")


def test_handler_file() -> None:
    assert handler_file("handlers.file_validator.handler") == "handlers/file_validator.py"
    with pytest.raises(ValueError, match="module path"):
        handler_file("handler")


# --------------------------------------------------------------------------- component helpers


def test_tables_have_no_partition_projection_and_dimensions_start_at_an_empty_folder() -> None:
    """Registered partitions, switched by the publish step: projection would read every version."""
    parquet = {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "SNAPPY"}
    assert table_parameters(schemas.table_schema(Table.FACT_SALES)) == parquet
    assert table_parameters(schemas.table_schema(Table.DIM_CUSTOMERS)) == parquet
    assert table_location("bkt", schemas.table_schema(Table.FACT_SALES)) == "s3://bkt/curated/fact_sales/"
    assert (
        table_location("bkt", schemas.table_schema(Table.DIM_CUSTOMERS))
        == "s3://bkt/curated/dim_customers/_unpublished/"
    )
    fact = table_definition("bkt", schemas.table_schema(Table.FACT_SALES))
    assert fact["PartitionKeys"] == [
        {"Name": "date", "Type": "date", "Comment": "Business date (partition, YYYY-MM-DD)"}
    ]
    assert "PartitionKeys" not in table_definition("bkt", schemas.table_schema(Table.DIM_CUSTOMERS))


def test_glue_timeout_leaves_the_state_timeout_to_glue() -> None:
    # The ETL task states time out at 3600 s, the audit job's at 1800 s; Glue must end a run first
    # (TIMEOUT -> TaskFailed -> one retry), so each job's own timeout is its state's minus 5 minutes.
    timeouts = {s.job: s.timeout_seconds for s in PIPELINE.walk() if isinstance(s, GlueJobStep)}
    assert timeouts == {**{j: 3600 for j in Job if j is not Job.DATA_QUALITY}, Job.DATA_QUALITY: 1800}
    assert (MAX_GLUE_TIMEOUT_MINUTES, MAX_DQ_GLUE_TIMEOUT_MINUTES) == (55, 25)
    for stack in ("dev", "prod"):
        s = load_settings(FakeConfig(project_values(stack)), stack=stack, region="us-east-1")
        assert s.etl.timeout_minutes <= 55
        assert s.data_quality.timeout_minutes == 25


def test_pipeline_function_timeouts_end_inside_their_states() -> None:
    assert function_timeout(PipelineFunction.RUN_LOCK, 900) == 55  # lock steps: 60 s
    assert function_timeout(PipelineFunction.PLAN, 900) == 115  # 120 s
    assert function_timeout(PipelineFunction.PUBLISH, 900) == 295  # 300 s
    assert function_timeout(PipelineFunction.DATA_QUALITY, 900) == 115  # the audit gate: 120 s
    assert function_timeout(PipelineFunction.DASHBOARD_REFRESH, 900) == 295  # 300 s
    assert function_timeout(PipelineFunction.PUBLISH, 60) == 60  # a shorter stack setting wins


def test_glue_default_arguments_never_carry_dates() -> None:
    buckets = {z: f"b-{z}" for z in Zone}
    args = default_arguments(zone_buckets=buckets, artifacts_bucket="art", log_group_prefix="/aws-glue/jobs/x")
    assert args["--custom-logGroup-prefix"] == "/aws-glue/jobs/x"
    assert args["--raw_uri"] == "s3://b-raw"
    assert args["--reports_uri"] == "s3://b-_reports"
    assert "--dates" not in args


def test_site_files_replace_config_js() -> None:
    files = {f.key: f for f in site_files(REPO_ROOT / "dashboard")}
    assert files["config.js"].path is None
    assert 'apiBase: "/api"' in (files["config.js"].content or "")
    assert files["index.html"].content_type == "text/html; charset=utf-8"
    assert files["vendor/chart-4.6.1.umd.min.js"].cache_control.endswith("immutable")
    assert function_url_host("https://abc.lambda-url.eu-west-1.on.aws/") == "abc.lambda-url.eu-west-1.on.aws"
