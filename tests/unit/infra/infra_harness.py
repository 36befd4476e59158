"""Harness: run the whole Pulumi program offline with ``pulumi.runtime.set_mocks``.

No Pulumi CLI, engine or provider plugin is involved: the mocks stand in for the engine,
record every resource the program registers (type, name, resolved inputs) and answer
with realistic outputs (ARNs, bucket domains, function URLs), so the IAM documents the
program renders contain real-shaped ARNs that the policy linter can check.

Configuration comes from the stack files themselves (``Pulumi.<stack>.yaml``), passed the
way the engine passes it (``PULUMI_CONFIG``: JSON of ``namespace:key`` -> string).
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as pulumi_settings

REPO_ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "123456789012"
STACKS = ("dev", "prod")


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    urn_parent: str | None = None
    # Resource options as the engine receives them (None: not set by the program).
    protect: bool | None = None
    retain_on_delete: bool | None = None
    ignore_changes: list[str] = field(default_factory=list)


@dataclass
class ProgramRun:
    """What one run of the program produced."""

    stack: str
    config: dict[str, str]
    resources: list[Registered]
    outputs: dict[str, Any]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    components: dict[str, Any] = field(default_factory=dict)
    urns: list[str] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: str) -> Registered:
        found = [r for r in self.resources if r.typ == typ and r.name == name]
        assert len(found) == 1, f"{typ} {name}: found {len(found)}"
        return found[0]

    def by_id(self, typ: str, resource_id: str) -> Registered:
        found = [r for r in self.of_type(typ) if r.state.get("id") == resource_id or r.state.get("name") == resource_id]
        assert found, f"no {typ} with id {resource_id}"
        return found[0]


def _digest(text: str, n: int = 12) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


class RecordingMocks(pulumi.runtime.Mocks):
    """Engine stand-in: records registrations and returns outputs shaped like AWS's."""

    def __init__(self, region: str, *, computed: bool = True) -> None:
        self.region = region
        # computed=False: answer with the inputs only, as a preview does before anything
        # exists, so every computed output (ARNs, domains, URLs) is unknown to the program.
        self.computed = computed
        self.resources: list[Registered] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
                "userId": "AIDAEXAMPLE",
                "id": ACCOUNT,
            }
        if args.token == "aws:index/getPartition:getPartition":
            return {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
                "id": "aws",
            }
        if args.token == "aws:cloudfront/getCachePolicy:getCachePolicy":
            return {"id": f"cache-policy-{args.args.get('name')}", "name": args.args.get("name")}
        raise AssertionError(f"unexpected provider call {args.token}")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        state = dict(inputs)
        if not self.computed:
            self.resources.append(Registered(args.typ, args.name, inputs, state))
            return "", state
        region, acct = self.region, ACCOUNT
        typ = args.typ
        name = inputs.get("name") or args.name
        rid = f"{args.name}-id"
        if typ == "aws:s3/bucket:Bucket":
            bucket = inputs["bucket"]
            rid = bucket
            state.update(
                arn=f"arn:aws:s3:::{bucket}",
                bucketRegionalDomainName=f"{bucket}.s3.{region}.amazonaws.com",
                bucketDomainName=f"{bucket}.s3.amazonaws.com",
            )
        elif typ == "aws:kms/key:Key":
            rid = f"{_digest(args.name, 8)}-1234-4abc-8def-{_digest(args.name + 'k', 12)}"
            state.update(keyId=rid, arn=f"arn:aws:kms:{region}:{acct}:key/{rid}")
        elif typ == "aws:glue/job:Job":
            state["arn"] = f"arn:aws:glue:{region}:{acct}:job/{name}"
            rid = name
        elif typ == "aws:glue/catalogDatabase:CatalogDatabase":
            state["arn"] = f"arn:aws:glue:{region}:{acct}:database/{name}"
        elif typ == "aws:lambda/function:Function":
            state.update(
                arn=f"arn:aws:lambda:{region}:{acct}:function:{name}",
                invokeArn=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
                f"arn:aws:lambda:{region}:{acct}:function:{name}/invocations",
            )
            rid = name
        elif typ == "aws:lambda/layerVersion:LayerVersion":
            state["arn"] = f"arn:aws:lambda:{region}:{acct}:layer:{inputs['layerName']}:1"
        elif typ == "aws:lambda/functionUrl:FunctionUrl":
            state["functionUrl"] = f"https://{_digest(args.name, 32)}.lambda-url.{region}.on.aws/"
        elif typ == "aws:sqs/queue:Queue":
            state.update(
                arn=f"arn:aws:sqs:{region}:{acct}:{name}", url=f"https://sqs.{region}.amazonaws.com/{acct}/{name}"
            )
            rid = state["url"]
        elif typ == "aws:sns/topic:Topic":
            state["arn"] = f"arn:aws:sns:{region}:{acct}:{name}"
            rid = state["arn"]
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = f"arn:aws:logs:{region}:{acct}:log-group:{name}"
            rid = name
        elif typ == "aws:iam/role:Role":
            state["arn"] = f"arn:aws:iam::{acct}:role/{name}"
            rid = name
        elif typ == "aws:sfn/stateMachine:StateMachine":
            state["arn"] = f"arn:aws:states:{region}:{acct}:stateMachine:{name}"
            rid = state["arn"]
        elif typ == "aws:cloudfront/distribution:Distribution":
            rid = "E" + _digest(args.name, 13).upper()
            state.update(
                arn=f"arn:aws:cloudfront::{acct}:distribution/{rid}", domainName=f"d{_digest(rid, 13)}.cloudfront.net"
            )
        elif typ == "aws:athena/workgroup:Workgroup":
            state["arn"] = f"arn:aws:athena:{region}:{acct}:workgroup/{name}"
            rid = name
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            state["arn"] = f"arn:aws:events:{region}:{acct}:rule/{name}"
            rid = name
        elif typ == "aws:glue/securityConfiguration:SecurityConfiguration":
            rid = name
        elif typ == "aws:dynamodb/table:Table":
            state["arn"] = f"arn:aws:dynamodb:{region}:{acct}:table/{name}"
            rid = name
        elif typ == "aws:lambda/invocation:Invocation":
            state["result"] = json.dumps({"action": "sync_catalog", "snapshot": 0})
        state["id"] = rid
        self.resources.append(Registered(typ, args.name, inputs, state))
        return rid, state


class OptionsMonitor(pulumi.runtime.mocks.MockMonitor):
    """The mock engine, also keeping the resource options of each registration request.

    ``MockResourceArgs`` carries no options, but the ``RegisterResourceRequest`` the SDK
    sends does (``protect``, ``retainOnDelete``): exactly what a real engine would act on.
    """

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.options: dict[tuple[str, str], tuple[bool | None, bool | None, list[str]]] = {}

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method name
        protect = request.protect if request.HasField("protect") else None
        retain = request.retainOnDelete if request.HasField("retainOnDelete") else None
        self.options[(request.type, request.name)] = (protect, retain, list(request.ignoreChanges))
        return super().RegisterResource(request)


def stack_config(stack: str) -> dict[str, str]:
    """``Pulumi.<stack>.yaml`` as the engine hands it to a program: every value a string."""
    data = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
    out = {}
    for key, value in data["config"].items():
        if isinstance(value, dict | list):
            out[key] = json.dumps(value)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def fake_layers(root: Path) -> Path:
    """Stand-ins for the built dependency layers (the real ones come from pip, before deploying)."""
    from components.packaging import LAYERS

    for spec in LAYERS.values():
        for package in spec.import_names:
            pkg = root / spec.name / "python" / package
            pkg.mkdir(parents=True, exist_ok=True)
            (pkg / "__init__.py").write_text("# test stand-in\n")
    return root


def run_program(
    stack: str,
    layers_dir: Path,
    *,
    overrides: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    preview: bool = False,
) -> ProgramRun:
    """Run ``__main__.py`` for ``stack`` under the mocks and resolve its outputs.

    ``preview=True`` runs it as ``pulumi preview`` of a new stack: no computed output is known.
    """
    config = stack_config(stack)
    config.update(overrides or {})
    config.update(secrets or {})
    region = config["aws:region"]
    mocks = RecordingMocks(region, computed=not preview)
    saved = {k: os.environ.get(k) for k in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS", "ECOMLAKE_LAYERS_DIR")}
    os.environ["PULUMI_CONFIG"] = json.dumps(config)
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(sorted(secrets or {}))
    os.environ["ECOMLAKE_LAYERS_DIR"] = str(layers_dir)
    pulumi.runtime.config.set_all_config({}, [])  # nothing cached from a previous run
    pulumi_settings.ROOT.set(None)  # a fresh root Stack for this run
    monitor = OptionsMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="ecomlake", stack=stack, preview=preview, monitor=monitor)
    result: dict[str, Any] = {}
    sys.path.insert(0, str(REPO_ROOT))
    try:

        @pulumi.runtime.test
        def program() -> pulumi.Output[Any]:
            module = runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="ecomlake_program")
            result["module"] = module
            return pulumi.Output.from_input(module["OUTPUTS"]).apply(lambda o: result.update(outputs=o))

        program()
        urns = list(pulumi_settings.SETTINGS.monitor.resources)
    finally:
        sys.path.remove(str(REPO_ROOT))
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    module = result["module"]
    components = {
        k: module[k]
        for k in ("lake", "catalog", "alerts", "etl", "analytics", "dashboard", "orchestration", "observability")
    }
    for r in mocks.resources:
        r.protect, r.retain_on_delete, r.ignore_changes = monitor.options.get((r.typ, r.name), (None, None, []))
    outputs = result.get("outputs", {})  # unknown in a preview
    return ProgramRun(stack, config, mocks.resources, outputs, mocks.calls, components, urns)
