"""`python -m bench --scale`, tiny: two services, two pushes each, run to the end.

The benchmark starts its local stack in this process (as `make bench-scale` does). The first
service, `demo-web`, is a pipeline (dev, then prod); the second has production only. What it
must get right is that the run ends and that its figures add up, environment by environment;
the safety counts are its output, and the flow's own tests assert what they must be.
"""

from __future__ import annotations

import pytest

from bench.scale import Scale, run

pytestmark = pytest.mark.e2e


def test_a_tiny_run_pushes_approves_and_counts_to_the_end() -> None:
    result = run(Scale(services=2, pushes=2), timeout=180)

    assert result.finished
    assert (result.failed_pushes, result.approval_errors) == ([], [])
    # One execution per pushed image, in its service's first environment; then one in
    # production for each image development deployed (its success promotes it).
    promoted = result.deployments_by_environment.get("dev", 0)
    assert promoted >= 1
    assert result.executions_by_source == {"ecr-push": 4, "promotion": promoted}
    assert result.executions_by_environment == {"dev": 2, "local": 2, "prod": promoted}
    assert result.executions_started == 4 + promoted
    assert sum(result.executions_by_status.values()) == result.executions_started
    assert "RUNNING" not in result.executions_by_status
    # Every service took at least one of its images in production, each approved through
    # the page; ECS's rollouts in dev are no CodeDeploy deployments.
    assert result.deployments_by_environment.get("prod", 0) >= 1
    assert result.deployments_by_environment.get("local", 0) >= 1
    assert result.deployments_done == sum(
        n for env, n in result.deployments_by_environment.items() if env != "dev"
    )
    assert result.deployments_by_status.get("Succeeded") == result.deployments_done
    assert result.approvals_accepted >= result.deployments_done
    assert result.lambda_invocations > 0
    assert result.peak_total_rss_mb >= result.peak_rss_mb > 0
