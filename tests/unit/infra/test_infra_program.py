"""The whole Pulumi program, run offline for the dev and prod stacks (see conftest.py).

Here: its structure, its outputs, and what differs between stacks.

Each test reads what the program registered (resource inputs as the provider would
receive them) and checks it against the stack file, the contract and the schemas. The other
``test_infra_program_*`` files do the same, one area each.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from infra_harness import ACCOUNT, ProgramRun, run_program
from program_helpers import (
    BUCKET,
    COMPONENTS,
    FUNCTION_PURPOSES,
    LOG_GROUP,
    PROGRAM_MARKS,
    function,
    glue_job,
)
from pulumi.runtime import rpc

from components.dashboard import MIN_TLS_CUSTOM_DOMAIN
from components.lake import BUCKET_ZONES
from components.naming import slug
from ecomlake.contract import (
    EnvVar,
    Job,
    glue_database,
)

pytestmark = PROGRAM_MARKS


# --------------------------------------------------------------------------- structure


def test_component_type_tokens_and_counts(run: ProgramRun) -> None:
    found: dict[str, int] = {}
    for r in run.resources:
        if r.typ.startswith("ecomlake:"):
            found[r.typ] = found.get(r.typ, 0) + 1
    assert found == COMPONENTS


def test_every_aws_resource_is_a_child_of_a_component(run: ProgramRun) -> None:
    # The mock engine's URN type is "<parent type>$<type>" (the stack's type at top level).
    orphans, components = [], []
    for urn in run.urns:
        chain, name = urn.split("::")[-2:]
        parent, _, typ = chain.rpartition("$")
        if typ.startswith("ecomlake:index:"):
            components.append(typ)
        elif typ.startswith("aws:") and parent == "pulumi:pulumi:Stack":
            orphans.append(name)
        elif typ.startswith("aws:"):
            assert parent.startswith("ecomlake:index:"), urn
    # The dependency layers are shared by two components and live at stack level on purpose.
    assert sorted(orphans) == ["layer-duckdb-etl", "layer-sqlglot"]
    assert len(components) == sum(COMPONENTS.values())


def test_stack_outputs(run: ProgramRun) -> None:
    out = run.outputs
    assert set(out["buckets"]) == {slug(z) for z in BUCKET_ZONES}
    assert out["glueDatabase"] == glue_database(run.stack)
    assert out["stateMachineArn"] == f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:ecomlake-{run.stack}-pipeline"
    assert out["athenaWorkgroup"] == f"ecomlake-{run.stack}-analytics"
    assert out["dashboardUrl"].startswith("https://")
    assert out["dashboardUrl"].endswith(".cloudfront.net")
    assert set(out["glueJobs"]) == {str(j) for j in Job}
    assert set(out["functions"]) == set(FUNCTION_PURPOSES)
    assert out["lockTable"] == f"ecomlake-{run.stack}-run-lock"


# --------------------------------------------------------------------------- stacks differ


def test_dev_and_prod_differ_where_they_should(programs: dict[str, ProgramRun]) -> None:
    dev, prod = programs["dev"], programs["prod"]
    assert all(b.inputs["forceDestroy"] is True for b in dev.of_type(BUCKET))
    assert all(b.inputs["forceDestroy"] is False for b in prod.of_type(BUCKET))
    retention = {r.stack: r.of_type(LOG_GROUP)[0].inputs["retentionInDays"] for r in (dev, prod)}
    assert retention["dev"] < retention["prod"]
    workers = {r.stack: glue_job(r, Job.MASTER_DATA_MERGE)["numberOfWorkers"] for r in (dev, prod)}
    assert workers["dev"] < workers["prod"]
    assert dev.outputs["buckets"]["raw"] != prod.outputs["buckets"]["raw"]


def test_custom_domain_and_secret_webhook(layers_dir: Path) -> None:
    """Optional settings: a custom domain (TLSv1.2_2021 minimum) and a secret HTTPS alert endpoint."""
    cert = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
    run = run_program(
        "prod",
        layers_dir,
        overrides={"ecomlake:dashboardDomain": "dashboard.example.com", "ecomlake:dashboardCertificateArn": cert},
        secrets={"ecomlake:alertsHttpsEndpoint": "https://hooks.example.com/T0KEN"},
    )
    (dist,) = run.of_type("aws:cloudfront/distribution:Distribution")
    assert dist.inputs["viewerCertificate"] == {
        "acmCertificateArn": cert,
        "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": MIN_TLS_CUSTOM_DOMAIN,
    }
    assert dist.inputs["aliases"] == ["dashboard.example.com"]
    assert run.outputs["dashboardUrl"] == "https://dashboard.example.com"
    assert function(run, "api").inputs["environment"]["variables"][EnvVar.DASHBOARD_ORIGIN] == (
        "https://dashboard.example.com"
    )
    subs = {
        s.inputs["protocol"]: s.inputs["endpoint"] for s in run.of_type("aws:sns/topicSubscription:TopicSubscription")
    }
    # The endpoint reaches the engine as a secret (so it is encrypted in the stack's state).
    assert subs["https"] == {rpc._special_sig_key: rpc._special_secret_sig, "value": "https://hooks.example.com/T0KEN"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_preview_of_a_new_stack_registers_the_same_resources(
    stack: str, layers_dir: Path, programs: dict[str, ProgramRun]
) -> None:
    """As in ``pulumi preview`` before anything exists: every ARN, URL and domain is unknown.

    The program must not need any of them to decide *what* to create (only ``apply``
    callbacks may use them), so the same resources are registered either way.
    """
    preview = run_program(stack, layers_dir, preview=True)
    assert sorted((r.typ, r.name) for r in preview.resources) == sorted(
        (r.typ, r.name) for r in programs[stack].resources
    )
