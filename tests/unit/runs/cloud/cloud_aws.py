"""The cloud side of runs in moto: constants and real Step Functions executions in every state."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/ecomlake-test-pipeline"
LOCK_TABLE = "ecomlake-test-run-lock"
SFN_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}}


class Executions:
    """Real executions in moto: one still running, or one that ended FAILED / ABORTED / SUCCEEDED."""

    def __init__(self) -> None:
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.machines: dict[str, str] = {}

    def _machine(self, kind: str, first: dict[str, Any]) -> str:
        if kind not in self.machines:
            definition = {"StartAt": "only", "States": {"only": first}}
            self.machines[kind] = self.sfn.create_state_machine(
                name=f"ecomlake-test-{kind}", definition=json.dumps(definition), roleArn=ROLE
            )["stateMachineArn"]
        return self.machines[kind]

    def _start(self, machine: str, name: str) -> str:
        return self.sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]

    def wait(self, arn: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while (described := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "execution did not end"
            time.sleep(0.02)
        return described

    def running(self, name: str) -> str:
        return self._start(self._machine("waits", {"Type": "Wait", "Seconds": 3600, "End": True}), name)

    def failed(self, name: str) -> str:
        arn = self._start(self._machine("fails", {"Type": "Fail", "Error": "Boom", "Cause": "test"}), name)
        assert self.wait(arn)["status"] == "FAILED"
        return arn

    def succeeded(self, name: str) -> str:
        arn = self._start(self._machine("passes", {"Type": "Pass", "End": True}), name)
        assert self.wait(arn)["status"] == "SUCCEEDED"
        return arn

    def aborted(self, name: str) -> str:
        arn = self.running(name)
        self.sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
        assert self.wait(arn)["status"] == "ABORTED"
        return arn

    def stopped_at(self, arn: str) -> Any:
        return self.sfn.describe_execution(executionArn=arn)["stopDate"]
