"""Approval end to end on moto: request, review (GET), decide (POST), against a real token.

The execution under approval is a state machine waiting for a task token, as
``RequestApproval`` does; the decision is observed where it lands: the execution moves on
(approved) or fails with ``ApprovalRejected``, and the state table records who decided.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bluegreen import pages
from bluegreen.adapters.slack import Posted
from bluegreen.adapters.stepfunctions import TaskCallbacks
from bluegreen.adapters.store import StateTable
from bluegreen.domain.approval import LinkParams
from bluegreen.domain.messages import Email
from bluegreen.domain.promotion import EnvironmentRun
from bluegreen.domain.queue import queued_image
from bluegreen.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    ApprovalLinkInvalid,
    ApproversUnreachable,
    AwsThrottled,
    MailRefused,
    SlackFailed,
    Superseded,
)
from bluegreen.models import ApprovalDecision, ApprovalTask, DeploymentState
from bluegreen.steps import approval

from tests.unit.builders import (
    NOW,
    SIGNING_KEY,
    ApprovalMachine,
    Aws,
    create_state_table,
    demo_service,
    rendered,
    state,
)

BASE_URL = "https://approvals.example.com"
ALICE = "alice@example.com"
BOB = "bob@example.com"


SLACK_LINK = re.compile(r"<(https://[^|>]+)\|Details>")


@dataclass
class Outbox:
    """A mailer and a Slack workspace that keep what they were given."""

    emails: list[Email] = field(default_factory=list)
    slack: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=lambda: {"carol@example.com": "U0CAROL"})

    def send(self, email: Email) -> str:
        self.emails.append(email)
        return f"msg-{len(self.emails)}"

    def post(self, channel: str, message: dict[str, Any], thread_ts: str | None = None) -> Posted:
        self.slack.append({"channel": channel, **message})
        return Posted(channel="C0DEPLOYS", ts=f"1.{len(self.slack)}")

    def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        self.slack.append({"channel": channel, "ts": ts, **message})

    def ephemeral(self, channel: str, user: str, text: str) -> None:
        self.slack.append({"channel": channel, "user": user, "text": text})

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        self.slack.append({"view": view})

    def user_id_by_email(self, email: str) -> str | None:
        return self.users.get(email)

    def link_for(self, recipient: str) -> tuple[str, LinkParams]:
        if recipient == "slack":
            (url,) = SLACK_LINK.findall(json.dumps(self.slack[-1]["blocks"]))
        else:
            (email,) = [e for e in self.emails if e.to == [recipient]]
            (url,) = [w for w in email.text.split() if w.startswith(BASE_URL)]
        split = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        return split.path.rsplit("/", 1)[-1], LinkParams.model_validate(query)


@dataclass
class World:
    store: StateTable
    machine: ApprovalMachine
    callbacks: TaskCallbacks
    outbox: Outbox
    deployment: DeploymentState
    ddb: Any
    execution: str = ""
    token: str = ""
    approval_id: str = ""

    def request(self, chat: bool = True) -> approval.Requested:
        return self.ask(self.outbox, self.outbox if chat else None)

    def ask(self, mailer: Outbox, chat: Outbox | None) -> approval.Requested:
        """Start an execution, admit its image (as Admit does), and request approval."""
        self.execution, self.token = self.machine.start(self.deployment.dump())
        task = ApprovalTask(state=self.deployment, task_token=self.token)
        self.store.admit(self.deployment.service.lock_key, queued_image(self.deployment))
        requested = approval.request(
            task, self.store, self.store, mailer, chat, SIGNING_KEY, BASE_URL, NOW, self.store
        )
        self.approval_id = requested.approval_id
        return requested

    def review(self, recipient: str, minutes: int = 1) -> approval.Review:
        approval_id, params = self.outbox.link_for(recipient)
        return approval.review(
            approval_id, params, self.store, SIGNING_KEY, NOW + timedelta(minutes=minutes)
        )

    def decide(
        self,
        recipient: str,
        nonce: str,
        decision: approval.Decision = "approve",
        minutes: int = 2,
        params: LinkParams | None = None,
    ) -> Any:
        approval_id, link_params = self.outbox.link_for(recipient)
        return approval.decide(
            approval_id,
            params or link_params,
            nonce,
            decision,
            self.store,
            self.callbacks,
            SIGNING_KEY,
            NOW + timedelta(minutes=minutes),
        )

    def nonces(self) -> int:
        found = self.ddb.scan(TableName="bluegreen-state")["Items"]
        return sum(1 for item in found if item["sk"]["S"].startswith("NONCE#"))


@pytest.fixture
def world(aws: Aws) -> World:
    ddb = aws.client("dynamodb")
    service = demo_service(
        approvers=[ALICE, BOB],
        slack={"channel": "#deploys", "approvers": ["U0ALICE", "carol@example.com"]},
    )
    return World(
        store=StateTable(ddb, create_state_table(ddb)),
        machine=ApprovalMachine.create(aws.client("stepfunctions"), aws.client("sqs")),
        callbacks=TaskCallbacks(aws.client("stepfunctions")),
        outbox=Outbox(),
        deployment=rendered(state(service=service)),
        ddb=ddb,
    )


# --- request ------------------------------------------------------------------------------


def test_a_request_keeps_the_token_and_sends_each_approver_their_own_link(world: World) -> None:
    requested = world.request()

    assert requested.emails_sent == 2
    assert requested.slack_sent
    stored = world.store.get_approval(requested.approval_id)
    assert stored.task_token == world.token
    assert stored.status == "pending"
    assert [e.to for e in world.outbox.emails] == [[ALICE], [BOB]]
    for recipient in (ALICE, BOB, "slack"):
        approval_id, params = world.outbox.link_for(recipient)
        assert approval_id == requested.approval_id
        assert params.recipient == recipient
        assert params.view == (recipient == "slack")  # what the channel sees only shows
    # Who may click: the listed user id, and the listed email as Slack resolved it.
    assert stored.slack_approvers == {"U0ALICE": "U0ALICE", "U0CAROL": "carol@example.com"}
    assert (stored.slack_channel, stored.slack_ts) == ("C0DEPLOYS", "1.1")
    sent = json.dumps([e.__dict__ for e in world.outbox.emails]) + json.dumps(world.outbox.slack)
    assert world.token not in sent


def test_without_slack_only_emails_are_sent(world: World) -> None:
    requested = world.request(chat=False)

    assert not requested.slack_sent
    assert len(world.outbox.emails) == 2
    assert world.outbox.slack == []


def test_a_request_for_an_image_already_superseded_sends_nothing(world: World) -> None:
    newer = queued_image(world.deployment).model_copy(
        update={"execution": "demo-web-newer", "tag": "v9.9.9", "digest": "sha256:" + "9" * 64}
    )
    world.execution, world.token = world.machine.start(world.deployment.dump())
    world.store.admit(world.deployment.service.lock_key, queued_image(world.deployment))
    world.store.admit(  # pushed later, admitted before our request went out
        world.deployment.service.lock_key,
        newer.model_copy(update={"pushed_at": newer.pushed_at + timedelta(seconds=1)}),
    )
    task = ApprovalTask(state=world.deployment, task_token=world.token)

    with pytest.raises(Superseded, match=r"superseded by v9\.9\.9 \(999999999999\)"):
        approval.request(
            task, world.store, world.store, world.outbox, world.outbox, SIGNING_KEY, BASE_URL, NOW
        )

    assert world.outbox.emails == []
    assert world.outbox.slack == []
    items = world.ddb.scan(TableName="bluegreen-state")["Items"]
    (item,) = [i for i in items if i["pk"]["S"].startswith("APPROVAL#")]
    assert item["status"]["S"] == "superseded"


def test_a_superseded_request_shows_which_image_replaced_it_and_takes_no_decision(
    world: World,
) -> None:
    requested = world.request()
    nonce = world.review(ALICE).nonce
    assert nonce is not None
    world.store.supersede_approval(requested.approval_id, "v9.9.9 (9999999)", NOW)

    review = world.review(ALICE)
    assert review.nonce is None
    assert (review.record.status, review.record.decided_by) == ("superseded", "v9.9.9 (9999999)")
    with pytest.raises(Superseded, match=r"superseded by v9\.9\.9 \(9999999\)"):
        world.decide(ALICE, nonce)
    assert world.store.get_approval(requested.approval_id).status == "superseded"


# --- review (GET) -------------------------------------------------------------------------


def test_opening_the_link_issues_a_form_and_changes_nothing(world: World) -> None:
    world.request()

    first = world.review(ALICE)
    second = world.review(ALICE)

    assert first.recipient == ALICE
    assert first.nonce
    assert second.nonce
    assert first.nonce != second.nonce
    assert world.store.get_approval(world.approval_id).status == "pending"
    assert world.machine.status(world.execution) == "RUNNING"


def test_the_slack_link_shows_the_request_and_offers_no_form(world: World) -> None:
    world.request()
    issued = world.nonces()

    review = world.review("slack")

    assert (review.recipient, review.nonce, review.view_only) == ("slack", None, True)
    assert world.nonces() == issued


def test_the_slack_link_cannot_decide_even_with_a_form_from_another_link(world: World) -> None:
    world.request()
    nonce = world.review(ALICE).nonce
    assert nonce

    with pytest.raises(ApprovalLinkInvalid):
        world.decide("slack", nonce)

    assert world.store.get_approval(world.approval_id).status == "pending"


def test_a_listed_email_slack_does_not_know_is_reported_not_fatal(world: World) -> None:
    world.outbox.users = {}

    requested = world.request()

    assert requested.slack_sent  # U0ALICE still may click
    assert approval.Unreached("Slack carol@example.com", "no Slack user has this email") in (
        requested.unreached
    )


# --- decide (POST) ------------------------------------------------------------------------


def test_approving_with_the_form_moves_the_execution_on(world: World) -> None:
    world.request()
    nonce = world.review(ALICE).nonce
    assert nonce

    record = world.decide(ALICE, nonce)

    assert record.status == "approved"
    assert record.decided_by == ALICE
    described = world.machine.finished(world.execution)
    assert described["status"] == "SUCCEEDED"
    decision = ApprovalDecision.model_validate(json.loads(described["output"])["approval"])
    assert decision.approver == ALICE
    assert decision.decided_at == NOW + timedelta(minutes=2)
    stored = world.store.get_approval(world.approval_id)
    assert (stored.status, stored.decided_by) == ("approved", ALICE)


def test_a_replayed_post_is_refused_and_changes_nothing(world: World) -> None:
    world.request()
    nonce = world.review(ALICE).nonce
    assert nonce
    world.decide(ALICE, nonce)

    with pytest.raises(ApprovalAlreadyDecided):
        world.decide(ALICE, nonce, minutes=3)
    with pytest.raises(ApprovalAlreadyDecided):
        world.decide(ALICE, nonce, decision="reject", minutes=3)

    stored = world.store.get_approval(world.approval_id)
    assert (stored.status, stored.decided_by) == ("approved", ALICE)
    assert world.machine.finished(world.execution)["status"] == "SUCCEEDED"


def test_a_second_approver_arriving_late_cannot_decide_again(world: World) -> None:
    world.request()
    alice_nonce = world.review(ALICE).nonce
    bob_nonce = world.review(BOB).nonce
    assert alice_nonce
    assert bob_nonce
    world.decide(ALICE, alice_nonce)

    with pytest.raises(ApprovalAlreadyDecided):
        world.decide(BOB, bob_nonce, decision="reject", minutes=3)

    assert world.store.get_approval(world.approval_id).decided_by == ALICE
    assert world.machine.finished(world.execution)["status"] == "SUCCEEDED"


def test_a_form_is_only_good_for_the_recipient_it_was_issued_to(world: World) -> None:
    world.request()
    alice_nonce = world.review(ALICE).nonce
    assert alice_nonce

    with pytest.raises(ApprovalAlreadyDecided):
        world.decide(BOB, alice_nonce)  # Bob's valid link, Alice's form

    assert world.store.get_approval(world.approval_id).status == "pending"
    assert world.machine.status(world.execution) == "RUNNING"
    world.decide(ALICE, alice_nonce)  # Alice still can
    assert world.machine.finished(world.execution)["status"] == "SUCCEEDED"


def test_a_post_without_a_form_from_the_page_is_refused(world: World) -> None:
    world.request()

    with pytest.raises(ApprovalAlreadyDecided):
        world.decide(ALICE, "a-nonce-nobody-issued")

    assert world.machine.status(world.execution) == "RUNNING"


def test_rejecting_fails_the_execution_with_approval_rejected(world: World) -> None:
    world.request()
    nonce = world.review(BOB).nonce
    assert nonce

    record = world.decide(BOB, nonce, decision="reject")

    assert record.status == "rejected"
    described = world.machine.finished(world.execution)
    assert described["status"] == "FAILED"  # never SUCCEEDED with a negative answer
    assert described["error"] == "ApprovalRejected"
    stored = world.store.get_approval(world.approval_id)
    assert (stored.status, stored.decided_by) == ("rejected", BOB)


def test_after_the_decision_the_link_shows_the_outcome_without_a_form(world: World) -> None:
    world.request()
    nonce = world.review(ALICE).nonce
    assert nonce
    world.decide(ALICE, nonce)

    later = world.review(BOB, minutes=10)

    assert later.nonce is None
    assert later.record.status == "approved"
    assert later.record.decided_by == ALICE


# --- links that must not work -------------------------------------------------------------


def test_a_forged_signature_is_refused_and_changes_nothing(world: World) -> None:
    world.request()
    nonce = world.review(ALICE).nonce
    assert nonce
    approval_id, params = world.outbox.link_for(ALICE)
    forged = params.model_copy(update={"sig": "A" * len(params.sig)})
    issued = world.nonces()

    with pytest.raises(ApprovalLinkInvalid):
        approval.review(approval_id, forged, world.store, SIGNING_KEY, NOW)
    with pytest.raises(ApprovalLinkInvalid):
        world.decide(ALICE, nonce, params=forged)

    assert world.nonces() == issued  # no form for a forged link
    assert world.store.get_approval(world.approval_id).status == "pending"
    assert world.machine.status(world.execution) == "RUNNING"


def test_someone_elses_link_with_my_address_swapped_in_is_refused(world: World) -> None:
    world.request()
    _, bobs = world.outbox.link_for(BOB)
    _, alices = world.outbox.link_for(ALICE)

    with pytest.raises(ApprovalLinkInvalid):
        approval.review(
            world.approval_id,
            bobs.model_copy(update={"r": alices.r}),
            world.store,
            SIGNING_KEY,
            NOW,
        )


def test_an_expired_link_is_refused_and_changes_nothing(world: World) -> None:
    world.request()
    nonce = world.review(ALICE).nonce
    assert nonce
    timeout = world.deployment.service.timings.approval_timeout_seconds // 60

    with pytest.raises(ApprovalExpired):
        world.review(ALICE, minutes=timeout)
    with pytest.raises(ApprovalExpired):
        world.decide(ALICE, nonce, minutes=timeout + 1)

    assert world.store.get_approval(world.approval_id).status == "pending"
    assert world.machine.status(world.execution) == "RUNNING"


def test_a_form_expires_long_before_the_request_does(world: World) -> None:
    world.request()
    nonce = world.review(ALICE, minutes=1).nonce
    assert nonce

    with pytest.raises(ApprovalAlreadyDecided, match="expired"):
        world.decide(ALICE, nonce, minutes=31)  # the form lives 30 minutes

    fresh = world.review(ALICE, minutes=32).nonce
    assert fresh
    world.decide(ALICE, fresh, minutes=33)
    assert world.machine.finished(world.execution)["status"] == "SUCCEEDED"


# --- when the other side fails ------------------------------------------------------------


class SlackDown(Outbox):
    def post(self, channel: str, message: dict[str, Any], thread_ts: str | None = None) -> Posted:
        raise SlackFailed("chat.postMessage: URLError")


def test_a_slack_outage_does_not_stop_the_emails_or_the_request(world: World) -> None:
    requested = world.ask(world.outbox, SlackDown())

    assert not requested.slack_sent
    assert requested.slack_error is not None
    assert "URLError" in requested.slack_error
    assert [e.to for e in world.outbox.emails] == [[ALICE], [BOB]]
    assert world.store.get_approval(requested.approval_id).status == "pending"


@dataclass
class Refusing(Outbox):
    """A mail service that refuses some recipients, as SES refuses unverified ones in the
    sandbox (or throttles everyone)."""

    refused: tuple[str, ...] = ()
    throttled: bool = False

    def send(self, email: Email) -> str:
        if self.throttled:
            raise AwsThrottled("Throttling: Maximum sending rate exceeded.")
        if email.to[0] in self.refused:
            raise MailRefused("SES rejected the message (in the SES sandbox, ...)")
        return super().send(email)


def _request(world: World, mailer: Outbox, chat: Outbox | None) -> approval.Requested:
    return world.ask(mailer, chat)


def test_one_refused_approver_does_not_stop_the_emails_to_the_others(world: World) -> None:
    """SES sandbox: one unverified recipient is refused; the next one still gets mail."""
    mailer = Refusing(refused=(ALICE,))

    requested = _request(world, mailer, chat=None)

    assert [e.to for e in mailer.emails] == [[BOB]]
    assert requested.emailed == [BOB]
    assert requested.unreached == [
        approval.Unreached(ALICE, "SES rejected the message (in the SES sandbox, ...)")
    ]
    assert world.store.get_approval(requested.approval_id).status == "pending"
    world.outbox = mailer
    assert world.review(BOB).nonce is not None  # the reached approver's link works


def test_refused_emails_with_slack_reached_still_ask_for_approval(world: World) -> None:
    mailer = Refusing(refused=(ALICE, BOB))

    requested = _request(world, mailer, chat=mailer)

    assert requested.emailed == []
    assert requested.slack_sent
    assert [u.recipient for u in requested.unreached] == [ALICE, BOB]


def test_nobody_reached_fails_the_step_naming_who_and_why_and_closes_the_request(
    world: World,
) -> None:
    mailer = Refusing(refused=(ALICE, BOB))

    with pytest.raises(ApproversUnreachable) as raised:
        _request(world, mailer, chat=SlackDown())

    assert str(raised.value) == (
        f"no approver could be reached: {ALICE}: SES rejected the message (in the SES "
        f"sandbox, ...); {BOB}: SES rejected the message (in the SES sandbox, ...); "
        "Slack: Slack post failed: chat.postMessage: URLError"
    )
    items = world.ddb.scan(TableName="bluegreen-state")["Items"]
    (item,) = [i for i in items if i["pk"]["S"].startswith("APPROVAL#")]
    assert item["status"]["S"] == "expired"


def test_nobody_reached_without_slack_says_slack_is_not_configured(world: World) -> None:
    with pytest.raises(ApproversUnreachable, match=r"; Slack: not configured$"):
        _request(world, Refusing(refused=(ALICE, BOB)), chat=None)


def test_ses_throttling_everyone_is_retryable_since_nothing_was_sent(world: World) -> None:
    mailer = Refusing(throttled=True)

    with pytest.raises(AwsThrottled):
        _request(world, mailer, chat=None)

    assert mailer.emails == []


class NoLongerWaiting:
    """Step Functions' answer once the execution stopped waiting (timed out or aborted)."""

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        raise ApprovalExpired("Task Timed Out")

    def fail(self, token: str, error: str, cause: str) -> None:
        raise ApprovalExpired("Task Timed Out")


def test_a_decision_the_execution_no_longer_waits_for_is_recorded_as_expired(
    world: World,
) -> None:
    world.request()
    nonce = world.review(ALICE).nonce
    assert nonce
    approval_id, params = world.outbox.link_for(ALICE)

    with pytest.raises(ApprovalExpired):
        approval.decide(
            approval_id,
            params,
            nonce,
            "approve",
            world.store,
            NoLongerWaiting(),
            SIGNING_KEY,
            NOW + timedelta(minutes=2),
        )

    assert world.store.get_approval(approval_id).status == "expired"


def test_a_rejection_reason_is_kept_with_the_decision_and_is_the_executions_failure_cause(
    world: World,
) -> None:
    world.request()
    nonce = world.review(BOB).nonce
    assert nonce
    approval_id, params = world.outbox.link_for(BOB)
    answered = Answered(world.callbacks)

    approval.decide(
        approval_id,
        params,
        nonce,
        "reject",
        world.store,
        answered,
        SIGNING_KEY,
        NOW + timedelta(minutes=2),
        reason="  breaks the\n login   page ",
    )

    assert world.machine.finished(world.execution)["error"] == "ApprovalRejected"
    # moto keeps no cause on the execution (the local stack does: tests/statemachine).
    assert answered.failures == [("ApprovalRejected", f"rejected by {BOB}: breaks the login page")]
    stored = world.store.get_approval(approval_id)
    assert (stored.status, stored.decided_by, stored.reason) == (
        "rejected",
        BOB,
        "breaks the login page",
    )


@dataclass
class Answered:
    """The real callbacks, remembering each failure they sent."""

    real: TaskCallbacks
    failures: list[tuple[str, str]] = field(default_factory=list)

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        self.real.succeed(token, output)

    def fail(self, token: str, error: str, cause: str) -> None:
        self.failures.append((error, cause))
        self.real.fail(token, error, cause)


def test_every_item_a_request_and_its_page_views_write_expires_through_the_table_ttl(
    world: World,
) -> None:
    """DynamoDB TTL deletes items whose TTL attribute (epoch seconds) has passed: forms issued
    by page views, the request and its pointer never accumulate."""
    from tests.unit.builders import template

    ttl = template()["Resources"]["StateTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl["Enabled"] is True
    world.request()
    for minutes in (1, 2, 3):
        world.review(ALICE, minutes=minutes)
    timeout = world.deployment.service.timings.approval_timeout_seconds

    items = world.ddb.scan(TableName="bluegreen-state")["Items"]
    written = [i for i in items if not i["pk"]["S"].startswith("LOCK#")]
    assert len(written) == 5  # the request, its pointer, three forms
    for item in written:
        expires = int(item[ttl["AttributeName"]]["N"])
        if item["sk"]["S"].startswith("NONCE#"):
            assert expires <= int((NOW + timedelta(minutes=34)).timestamp())  # 30 min a form
        else:
            assert expires <= int(NOW.timestamp()) + timeout + 7 * 24 * 3600


# --- where the image runs already ---------------------------------------------------------


def promoted_to_prod(world: World) -> DeploymentState:
    """The world's deployment as the prod step of a dev -> prod pipeline, promoted from dev."""
    service = world.deployment.service.model_copy(
        update={"environment": "prod", "pipeline": ["dev", "prod"]}
    )
    return world.deployment.model_copy(
        update={"service": service, "source": "promotion", "promoted_from": "dev"}
    )


def run_in(
    environment: str, deployment: DeploymentState, minutes_ago: int, **image: Any
) -> EnvironmentRun:
    return EnvironmentRun(
        service=deployment.service.name,
        environment=environment,
        execution=f"demo-web-{environment}-run",
        image=deployment.image.model_copy(update=image),
        since=NOW - timedelta(minutes=minutes_ago),
    )


def test_a_promoted_request_says_since_when_the_environment_before_runs_the_image(
    world: World,
) -> None:
    world.deployment = promoted_to_prod(world)
    world.store.record_run(run_in("dev", world.deployment, minutes_ago=12))

    requested = world.ask(world.outbox, world.outbox)

    stored = world.store.get_approval(requested.approval_id)
    assert [(r.environment, r.since) for r in stored.running_elsewhere] == [
        ("dev", NOW - timedelta(minutes=12))
    ]
    email = world.outbox.emails[0]
    assert "Already runs in:  dev since 2026-03-02 09:18 UTC (for 12 minutes)" in email.text
    assert email.html is not None
    assert "dev since 2026-03-02 09:18 UTC (for 12 minutes)" in email.html
    slack = json.dumps(world.outbox.slack[0]["blocks"])
    assert "*Already runs in*\\ndev since <!date^" in slack
    assert "(for 12 minutes)" in slack
    # The page shows it too, in words of when it is opened.
    page = pages.review_page(
        world.review(ALICE, minutes=48), "/approvals/x", NOW + timedelta(hours=1)
    )
    assert "dev since 2026-03-02 09:18 UTC (for 1 hour)" in page


def test_an_environment_that_moved_on_to_another_image_is_not_said_to_run_it(
    world: World,
) -> None:
    world.deployment = promoted_to_prod(world)
    newer = "sha256:" + "e" * 64
    world.store.record_run(run_in("dev", world.deployment, minutes_ago=3, digest=newer))

    requested = world.ask(world.outbox, world.outbox)

    assert world.store.get_approval(requested.approval_id).running_elsewhere == []
    assert "Already runs in" not in world.outbox.emails[0].text


def test_a_service_with_one_environment_asks_nothing_of_the_record(world: World) -> None:
    class Unreadable:
        def runs(self, service: str) -> list[EnvironmentRun]:
            raise AssertionError("a single environment has nowhere else to run")

    assert approval.running_elsewhere(world.deployment, Unreadable()) == []


def test_a_record_that_cannot_be_read_never_stops_the_request(world: World) -> None:
    class Throttled:
        def runs(self, service: str) -> list[EnvironmentRun]:
            raise AwsThrottled("Rate exceeded")

    assert approval.running_elsewhere(promoted_to_prod(world), Throttled()) == []
