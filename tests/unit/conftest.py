"""Fixtures of the unit suites: an emulated AWS account, and handlers loaded like Lambda does."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType

import pytest
from moto import mock_aws

from tests.unit.builders import ACCOUNT, REGION, ROOT, Aws


@pytest.fixture(scope="session")
def _aws_clients() -> Aws:
    return Aws()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, _aws_clients: Aws) -> Iterator[Aws]:
    """moto for every AWS call of the test, with Step Functions really running ASL.

    The environment is the one a function sees (region, credentials), minus anything that
    would send a client elsewhere than moto (a profile, an endpoint URL).
    """
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield _aws_clients


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as ``context`` (the fields Powertools reads)."""

    function_name: str = "bluegreen-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/bluegreen-test"
    log_stream_name: str = "2026/03/02/[$LATEST]0123456789abcdef"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """Load ``functions/<dir>/app.py`` as a fresh module, as a cold start would.

    Every handler file is named ``app.py``, so each is loaded by path under its own name.
    Powertools' metric set and cold-start flag are reset the documented way, and the
    per-cold-start caches (settings, adapters) are emptied, so no test sees another's.
    """
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics.provider import cold_start
    from bluegreen import settings, wiring

    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "bluegreen")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "bluegreen")

    def load(directory: str) -> ModuleType:
        metrics = Metrics()
        metrics.clear_metrics()
        metrics.clear_default_dimensions()
        cold_start.is_cold_start = True
        settings.load.cache_clear()
        for cached in vars(wiring).values():
            if hasattr(cached, "cache_clear"):
                cached.cache_clear()
        path = ROOT / "functions" / directory / "app.py"
        spec = importlib.util.spec_from_file_location(f"functions_{directory}_app", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
