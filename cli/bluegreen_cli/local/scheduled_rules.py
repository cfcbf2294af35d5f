"""EventBridge scheduled rules, locally: a timer that fires them, and firing one on demand.

moto stores a rule's ScheduleExpression and never fires it. :class:`ScheduledRules` looks at
the default bus's rules (scheduled rules live only there) once a second, and when a rule's
schedule comes due hands its target(s) the event EventBridge sends, "Scheduled Event" from
``aws.events`` with the rule's ARN as its one resource, through the same delivery as any
other rule's (:meth:`bluegreen_cli.local.events.EventBus.emit_to_rule`). A DISABLED rule
fires nothing; its due firings pass unfired, as they do on AWS.

A rate counts its periods from when the timer first saw the rule (within a second of its
creation: "a rate expression starts when you create the scheduled event rule"); a rule
whose expression changes starts again from then.

:meth:`ScheduledRules.fire_now` runs a rule's next firing at once (tests and operators cannot
wait five minutes): the timer's next firing is then the one after it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bluegreen_cli.local.intrinsics import ACCOUNT_ID, REGION
from bluegreen_cli.local.periodic import Periodic
from bluegreen_cli.local.schedule_expressions import InvalidSchedule, Schedule, parse

log = logging.getLogger(__name__)

FireRule = Callable[[Any, dict[str, Any]], None]
"""Hand ``event`` to the targets of this (moto) rule."""


def scheduled_event(rule_arn: str, when: datetime) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's targets."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    }


class RuleNotFound(LookupError):
    """No rule of that name on the default event bus."""


class NotScheduled(ValueError):
    """The rule has no schedule, or is disabled: there is no firing to run."""


def _default_bus_rules() -> list[Any]:
    from moto.events.models import events_backends

    bus = events_backends[ACCOUNT_ID][REGION].event_buses.get("default")
    return list(bus.rules.values()) if bus is not None else []


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Plan:
    expression: str
    schedule: Schedule
    anchor: datetime  # when the timer first saw the rule with this expression
    due: datetime | None  # its next firing (None: the schedule has no more)


class ScheduledRules:
    """The timer of every scheduled rule on the default bus."""

    def __init__(
        self,
        fire: FireRule,
        rules: Callable[[], Iterable[Any]] = _default_bus_rules,
        clock: Callable[[], datetime] = _utcnow,
        interval: float = 1.0,
    ) -> None:
        self._fire = fire
        self._rules = rules
        self._clock = clock
        self._plans: dict[str, _Plan] = {}
        self._refused: set[tuple[str, str]] = set()  # (rule ARN, expression) said once
        self._lock = threading.Lock()
        self._timer = Periodic("schedules", interval, self.tick)
        self.fired = 0

    def start(self) -> None:
        if not self._timer.running:
            self.tick()  # the rules that exist now start their schedule now
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def tick(self) -> list[str]:
        """Fire every enabled rule whose schedule is due; the names of those fired."""
        now = self._clock()
        due: list[tuple[Any, datetime]] = []
        with self._lock:
            seen: set[str] = set()
            for rule in self._rules():
                plan = self._plan(rule, now)
                if plan is None:
                    continue
                seen.add(str(rule.arn))
                if plan.due is None or now < plan.due:
                    continue
                when = plan.due
                plan.due = plan.schedule.next_after(when, plan.anchor)
                while plan.due is not None and plan.due <= now:
                    # The timer was held up past several firings: one fires, the latest.
                    when, plan.due = plan.due, plan.schedule.next_after(plan.due, plan.anchor)
                if getattr(rule, "state", "ENABLED") == "ENABLED":
                    due.append((rule, when))
            for arn in set(self._plans) - seen:
                del self._plans[arn]  # deleted, or its schedule removed
        for rule, when in due:
            self._deliver(rule, scheduled_event(str(rule.arn), when))
        return [str(rule.name) for rule, _ in due]

    def fire_now(self, name: str) -> dict[str, Any]:
        """Run the rule's next firing now; the event its targets get."""
        now = self._clock()
        with self._lock:
            rule = next((r for r in self._rules() if r.name == name), None)
            if rule is None:
                raise RuleNotFound(f"Rule {name} does not exist on EventBus default.")
            if not getattr(rule, "scheduled_expression", None):
                raise NotScheduled(f"Rule {name} has no ScheduleExpression.")
            if getattr(rule, "state", "ENABLED") != "ENABLED":
                raise NotScheduled(f"Rule {name} is {rule.state}: it fires nothing.")
            plan = self._plan(rule, now)
            if plan is not None and plan.due is not None:
                plan.due = plan.schedule.next_after(max(now, plan.due), plan.anchor)
        event = scheduled_event(str(rule.arn), now)
        self._deliver(rule, event)
        return event

    def _plan(self, rule: Any, now: datetime) -> _Plan | None:
        expression = getattr(rule, "scheduled_expression", None)
        if not expression:
            return None
        arn = str(rule.arn)
        plan = self._plans.get(arn)
        if plan is not None and plan.expression == expression:
            return plan
        try:
            schedule = parse(expression)
        except InvalidSchedule:
            # PutRule refuses these here; one stored by other means never fires.
            if (arn, expression) not in self._refused:
                self._refused.add((arn, expression))
                log.error("rule %s: EventBridge would not accept %r", rule.name, expression)
            return None
        plan = _Plan(expression, schedule, now, schedule.next_after(now, now))
        self._plans[arn] = plan
        return plan

    def _deliver(self, rule: Any, event: dict[str, Any]) -> None:
        log.info("rule %s: scheduled event at %s", rule.name, event["time"])
        self.fired += 1
        self._fire(rule, event)
