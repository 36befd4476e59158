"""Fixtures for the cloud side of runs: moto with Step Functions executing, the lock table, executions."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from cloud_aws import LOCK_TABLE, REGION, SFN_CONFIG, Executions
from moto import mock_aws

from handlers import _aws


@pytest.fixture
def aws() -> Iterator[None]:
    """moto for everything; Step Functions really executes definitions (to get FAILED executions)."""
    _aws.reset_clients()
    with mock_aws(config=SFN_CONFIG):
        yield
    _aws.reset_clients()


@pytest.fixture
def lock_table(aws: None) -> str:
    """The lock table as components/orchestration.py declares it: one string key, ``lake``."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=LOCK_TABLE,
        KeySchema=[{"AttributeName": "lake", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lake", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return LOCK_TABLE


@pytest.fixture
def executions(aws: None) -> Iterator[Executions]:
    made = Executions()
    yield made
    for machine in made.machines.values():  # stop the waiting ones, so moto's threads end
        for execution in made.sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
            made.sfn.stop_execution(executionArn=execution["executionArn"])
