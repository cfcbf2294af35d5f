"""Fixtures for the local CodeDeploy, load balancer and sample target, on an in-process moto."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from bluegreen_cli.local.codedeploy import CodeDeploySimulator, Timing
from bluegreen_cli.local.sample import provision_sample
from moto.moto_api import _internal as moto_api

from tests.unit.local.harness import REGION, FakeClock, LocalAws, Stack, free_port


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    # The default AMI catalogue is the slowest part of a fresh EC2 backend, and unused here.
    saved = os.environ.get("MOTO_EC2_LOAD_DEFAULT_AMIS")
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    server = LocalAws()
    yield server
    server.close()
    if saved is None:
        os.environ.pop("MOTO_EC2_LOAD_DEFAULT_AMIS", None)
    else:
        os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = saved


@pytest.fixture(scope="session")
def session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture(scope="session")
def clients(local_aws: LocalAws, session: boto3.session.Session) -> dict[str, Any]:
    # Built once: creating clients is the slow part of these tests.
    return {
        name: session.client(name, region_name=REGION, endpoint_url=local_aws.url)
        for name in ("codedeploy", "ecs", "elbv2", "ecr")
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_stack(
    local_aws: LocalAws,
    session: boto3.session.Session,
    clients: dict[str, Any],
    clock: FakeClock,
) -> Iterator[Callable[..., Stack]]:
    moto_api.moto_api_backend.reset()
    simulators: list[CodeDeploySimulator] = []

    def build(timing: Timing | None = None, real_time: bool = False, **ports: int) -> Stack:
        sample = provision_sample(
            local_aws.url,
            session=session,
            production_port=ports.get("production_port", free_port()),
            test_port=ports.get("test_port", free_port()),
        )
        simulator = CodeDeploySimulator(
            timing=timing or Timing(), clock=time.time if real_time else clock
        )
        simulators.append(simulator)
        local_aws.simulator = simulator
        return Stack(sample=sample, simulator=simulator, clock=clock, **clients)

    yield build
    for simulator in simulators:
        simulator.stop()
    local_aws.simulator = None


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack()
