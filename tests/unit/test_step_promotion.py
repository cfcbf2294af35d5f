"""Promote after a success, with moto-backed adapters: the state table and Step Functions.

The pipeline is the tests' own: ``demo-web`` in ``dev`` then ``prod`` (each test says how
``prod`` receives images).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from bluegreen.adapters.stepfunctions import Executions
from bluegreen.adapters.store import StateTable
from bluegreen.config import ServiceCatalog
from bluegreen.domain.digest import short_digest
from bluegreen.domain.messages import failure_of, outcome_of
from bluegreen.domain.promotion import EnvironmentRun
from bluegreen.errors import ConfigurationInvalid
from bluegreen.models import DeploymentProgress, DeploymentState, Provenance, StepError
from bluegreen.steps.promotion import promote

from tests.unit.builders import NOW, Aws, create_pass_machine, create_state_table, image, state

DEV = """
[services.demo-web.environments.dev]
cluster = "demo-dev"
service = "web"
method = "rolling"
approvers = []
"""
STAGING = """
[services.demo-web.environments.staging]
cluster = "demo-staging"
service = "web"
method = "rolling"
approvers = []
"""


def pipeline(promotion: str = "automatic", staging: bool = False) -> ServiceCatalog:
    """``demo-web``: dev (then staging, if asked) then prod, which takes images ``promotion``."""
    return ServiceCatalog.parse(
        f"""
[services.demo-web]
repository = "demo-web"
container = "web"
container_port = 8080
{DEV}{STAGING if staging else ""}
[services.demo-web.environments.prod]
promotion = "{promotion}"
cluster = "demo"
service = "web"
codedeploy_application = "demo-web"
deployment_group = "demo-web"
test_url = "http://demo-web.test/health"
approvers = ["approver@example.com"]
""",
        "the tests' pipeline",
    )


FINISHED = NOW + timedelta(minutes=3)


def succeeded_in(environment: str, catalog: ServiceCatalog | None = None, **changes: Any) -> Any:
    """The state of a deployment of ``demo-web`` that succeeded in ``environment``."""
    service = (catalog or pipeline()).named("demo-web", environment)
    pushed = image().model_copy(update={"pushed_at": NOW - timedelta(hours=1)})
    done = DeploymentProgress(deployment_id="d-DEV", succeeded=True, finished_at=FINISHED)
    return state(service, pushed, deployment=done).model_copy(update=changes)


@dataclass
class Promoter:
    aws: Aws
    table: StateTable
    machine: str
    catalog_reads: int = 0

    def promote(
        self,
        deployed: DeploymentState,
        catalog: ServiceCatalog | None = None,
        at: Any = NOW + timedelta(minutes=5),
    ) -> Any:
        def read() -> ServiceCatalog:
            self.catalog_reads += 1
            return catalog or pipeline()

        executions = Executions(self.aws.client("stepfunctions"), self.machine)
        return promote(deployed, read, self.table, executions, at)

    def started(self) -> dict[str, DeploymentState]:
        sfn = self.aws.client("stepfunctions")
        found = {}
        for listed in sfn.list_executions(stateMachineArn=self.machine)["executions"]:
            described = sfn.describe_execution(executionArn=listed["executionArn"])
            found[listed["name"]] = DeploymentState.model_validate(json.loads(described["input"]))
        return found


@pytest.fixture
def promoter(aws: Aws) -> Promoter:
    table = StateTable(aws.client("dynamodb"), create_state_table(aws.client("dynamodb")))
    return Promoter(aws, table, create_pass_machine(aws.client("stepfunctions")))


def test_a_success_in_dev_starts_prod_with_the_same_digest(promoter: Promoter) -> None:
    labelled = Provenance(revision="3f2c1e9", source="https://github.com/acme/web")
    deployed = succeeded_in("dev", provenance=labelled, pushed_by="ci@acme")

    after = promoter.promote(deployed)

    name = f"demo-web-prod-{short_digest(deployed.image.digest)}"
    assert after.promotion.outcome == "started"
    assert after.promotion.to == "prod"
    assert after.promotion.execution_name == name
    started = promoter.started()[name]
    assert started.service == pipeline().named("demo-web", "prod")
    assert started.image == deployed.image  # the digest, its tag and its push time
    assert (started.source, started.promoted_from) == ("promotion", "dev")
    assert started.provenance == labelled
    assert started.pushed_by == "ci@acme"


def test_a_repeated_promotion_starts_nothing_new(promoter: Promoter) -> None:
    """A retried Promote names the same execution: one deployment. (Started again with the
    very same input, Step Functions answers as it did the first time: also one execution.)"""
    deployed = succeeded_in("dev")

    first = promoter.promote(deployed)
    again = promoter.promote(deployed, at=NOW + timedelta(minutes=7))

    assert (first.promotion.outcome, again.promotion.outcome) == ("started", "duplicate")
    assert again.promotion.execution_name == first.promotion.execution_name
    assert list(promoter.started()) == [first.promotion.execution_name]


def test_a_manual_next_environment_starts_nothing_and_says_how(promoter: Promoter) -> None:
    after = promoter.promote(succeeded_in("dev"), pipeline("manual"))

    assert (after.promotion.outcome, after.promotion.to) == ("manual", "prod")
    assert "bluegreen promote demo-web --to prod" in after.promotion.detail
    assert promoter.started() == {}


def test_what_the_environment_runs_is_recorded_since_its_deployment_finished(
    promoter: Promoter,
) -> None:
    deployed = succeeded_in("dev", pushed_by="ci@acme")

    promoter.promote(deployed, pipeline("manual"))

    (run,) = promoter.table.runs("demo-web")
    assert (run.environment, run.execution, run.since) == ("dev", deployed.execution_name, FINISHED)
    assert run.image == deployed.image
    assert run.pushed_by == "ci@acme"


def test_the_last_environment_promotes_nothing_and_reads_no_configuration(
    promoter: Promoter,
) -> None:
    after = promoter.promote(succeeded_in("prod"))

    assert after.promotion.outcome == "last"
    assert promoter.catalog_reads == 0
    assert promoter.started() == {}
    assert [r.environment for r in promoter.table.runs("demo-web")] == ["prod"]


def test_a_rollback_is_recorded_but_never_promoted(promoter: Promoter) -> None:
    from bluegreen.models import RollbackRequest

    rollback = succeeded_in(
        "dev",
        source="rollback",
        rollback_request=RollbackRequest(requested_by="arn:aws:iam::1:user/o"),
    )

    after = promoter.promote(rollback)

    assert after.promotion.outcome == "rollback"
    assert promoter.started() == {}
    assert promoter.catalog_reads == 0
    assert [r.environment for r in promoter.table.runs("demo-web")] == ["dev"]


def test_the_pipeline_as_configured_now_decides_where_the_image_goes(promoter: Promoter) -> None:
    """Started when dev promoted to prod; staging was put in between since."""
    after = promoter.promote(succeeded_in("dev"), pipeline(staging=True))

    assert after.promotion.to == "staging"
    assert list(promoter.started()) == [f"demo-web-staging-{short_digest(image().digest)}"]


def test_an_environment_no_longer_configured_promotes_nothing_and_says_why(
    promoter: Promoter,
) -> None:
    gone = ServiceCatalog.parse(
        f'[services.demo-web]\nrepository = "demo-web"\ncontainer = "web"\n'
        f"container_port = 8080\n{STAGING}",
        "a pipeline without dev",
    )

    after = promoter.promote(succeeded_in("dev"), gone)

    assert after.promotion.outcome == "not_configured"
    assert "no environment 'dev'" in after.promotion.detail
    assert promoter.started() == {}


def test_an_invalid_configuration_fails_the_step(promoter: Promoter, aws: Aws) -> None:
    """Nothing to retry: the state machine's Catch makes it a promotion that failed."""
    sfn = Executions(aws.client("stepfunctions"), promoter.machine)

    def broken() -> ServiceCatalog:
        raise ConfigurationInvalid("SSM parameter /bluegreen/services", ["not valid TOML"])

    with pytest.raises(ConfigurationInvalid):
        promote(succeeded_in("dev"), broken, promoter.table, sfn, NOW)


def test_a_late_record_never_replaces_what_a_later_deployment_recorded(
    promoter: Promoter,
) -> None:
    later = EnvironmentRun.of(succeeded_in("dev"), NOW).model_copy(
        update={"since": FINISHED + timedelta(minutes=10), "execution": "demo-web-dev-later"}
    )
    assert promoter.table.record_run(later)

    promoter.promote(succeeded_in("dev"), pipeline("manual"))  # finished before `later`

    assert [r.execution for r in promoter.table.runs("demo-web")] == ["demo-web-dev-later"]


def test_a_promotion_that_failed_needs_attention_and_says_how_to_promote_by_hand() -> None:
    cause = json.dumps({"errorType": "AwsUnavailable", "errorMessage": "Step Functions is down"})
    failed = succeeded_in("dev", promotion_error=StepError(Error="AwsUnavailable", Cause=cause))

    failure = failure_of(failed)

    assert outcome_of(failed) == "needs_attention"
    assert failure is not None
    assert failure.error == "PromotionFailed"
    assert "is deployed to dev" in failure.cause
    assert "AwsUnavailable: Step Functions is down" in failure.cause
    assert failure.cause.endswith("bluegreen promote demo-web --to prod")
