"""Schedule expressions as EventBridge takes them, and the local timer that fires rules.

The expressions and the examples come from the EventBridge User Guide ("Rate expressions
reference", "Cron expressions reference"); the timer runs on an injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bluegreen_cli.local.schedule_expressions import InvalidSchedule, parse
from bluegreen_cli.local.scheduled_rules import NotScheduled, RuleNotFound, ScheduledRules

MONDAY = datetime(2026, 3, 2, 9, 30, 12, tzinfo=UTC)


# -- what PutRule accepts -------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(7 days)",
        # the User Guide's cron examples
        "cron(0 10 * * ? *)",
        "cron(15 12 * * ? *)",
        "cron(0 18 ? * MON-FRI *)",
        "cron(0 8 1 * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(0/10 * ? * MON-FRI *)",
        "cron(0/5 8-17 ? * MON-FRI *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 12 L * ? *)",
        "cron(0 12 LW * ? *)",
        "cron(0 12 3W * ? *)",
        "cron(0 12 ? * 6L *)",
        "cron(0 12 ? * L *)",
        "cron(30 2 1 JAN,JUL ? 2026-2030)",
        "cron(*/59 * * * ? *)",
    ],
)
def test_eventbridge_accepts_documented_rate_and_cron_expressions(expression: str) -> None:
    parse(expression)


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("rate(1 minutes)", "a value of 1 takes the singular unit"),
        ("rate(5 minute)", "a value above 1 takes the plural unit"),
        ("rate(0 minutes)", "the value is a positive number"),
        ("rate(30 seconds)", "minute, hour or day only"),
        ("rate(-5 minutes)", "the value is a positive number"),
        ("rate(5minutes)", "value and unit are separated by white space"),
        ("cron(15 12 * * 0)", "six fields, not five"),
        ("cron(0 10 * * * *)", "a * in Day-of-month needs ? in Day-of-week"),
        ("cron(0 10 ? * ? *)", "? in one of the two day fields only"),
        ("cron(*/60 * * * ? *)", "an increment beyond the Minutes field"),
        ("cron(0 24 * * ? *)", "Hours are 0-23"),
        ("cron(0 10 32 * ? *)", "Day-of-month is 1-31"),
        ("cron(0 10 ? * 8 *)", "Day-of-week is 1-7"),
        ("cron(0 10 1 13 ? *)", "Month is 1-12"),
        ("cron(0 10 1 * ? 2200)", "Year is 1970-2199"),
        ("cron(0 10 ? * 3#1,6#3 *)", "# allows one expression in Day-of-week"),
        ("cron(0 10 ? * 2#6 *)", "no month has a sixth Monday"),
        ("cron(0 10 1W,15 * ? *)", "W names one day"),
        ("cron(? 10 1 * ? *)", "? in the day fields only"),
        ("every 5 minutes", "neither rate(...) nor cron(...)"),
    ],
)
def test_eventbridge_refuses_other_schedule_expressions(expression: str, why: str) -> None:
    with pytest.raises(InvalidSchedule, match=r"^Parameter ScheduleExpression is not valid\.$"):
        parse(expression)


# -- when a schedule fires ----------------------------------------------------------------


def test_a_rate_fires_one_period_apart_from_the_rules_creation() -> None:
    """ "A rate expression starts when you create the scheduled event rule"."""
    every_five = parse("rate(5 minutes)")
    created = MONDAY

    assert every_five.next_after(created, created) == created + timedelta(minutes=5)
    assert every_five.next_after(created + timedelta(minutes=5), created) == created + timedelta(
        minutes=10
    )
    assert every_five.next_after(created + timedelta(minutes=7), created) == created + timedelta(
        minutes=10
    )


@pytest.mark.parametrize(
    ("expression", "after", "fires"),
    [
        ("cron(0 10 * * ? *)", MONDAY, datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),
        (
            "cron(0 10 * * ? *)",
            MONDAY.replace(hour=10, minute=0, second=0),
            MONDAY.replace(day=3, hour=10, minute=0, second=0),
        ),
        # Friday 18:00 -> the next weekday is Monday
        (
            "cron(0 18 ? * MON-FRI *)",
            datetime(2026, 3, 6, 18, 0, tzinfo=UTC),
            datetime(2026, 3, 9, 18, 0, tzinfo=UTC),
        ),
        ("cron(0/15 * * * ? *)", MONDAY, datetime(2026, 3, 2, 9, 45, tzinfo=UTC)),
        ("cron(0 8 1 * ? *)", MONDAY, datetime(2026, 4, 1, 8, 0, tzinfo=UTC)),
        # the first Monday of April 2026 is the 6th
        ("cron(0 9 ? * 2#1 *)", MONDAY.replace(hour=10), datetime(2026, 4, 6, 9, 0, tzinfo=UTC)),
        # the last day of March; the last weekday of May 2026 (the 31st is a Sunday)
        ("cron(0 12 L * ? *)", MONDAY, datetime(2026, 3, 31, 12, 0, tzinfo=UTC)),
        ("cron(0 12 LW 5 ? *)", MONDAY, datetime(2026, 5, 29, 12, 0, tzinfo=UTC)),
        # 1 August 2026 is a Saturday: the nearest weekday in August is Monday the 3rd
        ("cron(0 12 1W 8 ? *)", MONDAY, datetime(2026, 8, 3, 12, 0, tzinfo=UTC)),
        # the last Friday of March 2026; Sunday is 1, so L alone is Saturday
        ("cron(0 12 ? * 6L *)", MONDAY, datetime(2026, 3, 27, 12, 0, tzinfo=UTC)),
        ("cron(0 12 ? * L *)", MONDAY, datetime(2026, 3, 7, 12, 0, tzinfo=UTC)),
        ("cron(0 0 29 2 ? *)", MONDAY, datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
        ("cron(0 0 1 1 ? 2020)", MONDAY, None),
    ],
)
def test_a_cron_fires_at_the_next_minute_it_names_in_utc(
    expression: str, after: datetime, fires: datetime | None
) -> None:
    assert parse(expression).next_after(after, after) == fires


# -- the timer ----------------------------------------------------------------------------


@dataclass
class Rule:
    """What the timer reads of a rule (moto's events model has these attributes)."""

    name: str
    scheduled_expression: str | None = None
    state: str = "ENABLED"
    event_bus_name: str = "default"

    @property
    def arn(self) -> str:
        return f"arn:aws:events:us-east-1:123456789012:rule/{self.name}"


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Timer:
    rules: list[Rule]
    clock: Clock
    fired: list[tuple[str, dict[str, Any]]]
    scheduled: ScheduledRules


@pytest.fixture
def timer() -> Timer:
    rules: list[Rule] = []
    clock = Clock(MONDAY)
    fired: list[tuple[str, dict[str, Any]]] = []
    scheduled = ScheduledRules(
        lambda rule, event: fired.append((rule.name, event)), lambda: rules, clock
    )
    return Timer(rules, clock, fired, scheduled)


def test_the_timer_fires_a_rate_rule_each_period_with_eventbridges_scheduled_event(
    timer: Timer,
) -> None:
    timer.rules.append(Rule("sweep", "rate(5 minutes)"))
    assert timer.scheduled.tick() == []  # created now: the first firing is 5 minutes away

    timer.clock.advance(minutes=4, seconds=59)
    assert timer.scheduled.tick() == []
    timer.clock.advance(seconds=1)
    assert timer.scheduled.tick() == ["sweep"]

    ((name, event),) = timer.fired
    assert name == "sweep"
    assert event == {
        "version": "0",
        "id": event["id"],
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-03-02T09:35:12Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"],
        "detail": {},
    }
    timer.clock.advance(minutes=5)
    assert timer.scheduled.tick() == ["sweep"]
    assert timer.fired[1][1]["time"] == "2026-03-02T09:40:12Z"
    assert timer.fired[1][1]["id"] != event["id"]


def test_a_disabled_rule_lets_its_firings_pass_and_an_enabled_one_does_not_catch_up(
    timer: Timer,
) -> None:
    rule = Rule("sweep", "rate(5 minutes)", state="DISABLED")
    timer.rules.append(rule)
    timer.scheduled.tick()

    timer.clock.advance(minutes=5)
    assert timer.scheduled.tick() == []
    timer.clock.advance(minutes=2)
    rule.state = "ENABLED"
    assert timer.scheduled.tick() == []  # the 09:35 firing passed; the next is 09:40

    timer.clock.advance(minutes=3)
    assert timer.scheduled.tick() == ["sweep"]
    timer.clock.advance(minutes=17)  # the process slept through three firings
    assert timer.scheduled.tick() == ["sweep"]  # one firing, not three
    assert [e["time"] for _, e in timer.fired] == ["2026-03-02T09:40:12Z", "2026-03-02T09:55:12Z"]


def test_a_rule_without_a_schedule_is_never_fired_by_the_timer(timer: Timer) -> None:
    timer.rules.append(Rule("on-push"))
    timer.scheduled.tick()
    timer.clock.advance(days=1)
    assert timer.scheduled.tick() == []


def test_a_cron_rule_fires_at_its_minute(timer: Timer) -> None:
    timer.rules.append(Rule("hourly", "cron(0 * * * ? *)"))
    timer.scheduled.tick()
    timer.clock.advance(minutes=29, seconds=47)  # 09:59:59
    assert timer.scheduled.tick() == []
    timer.clock.advance(seconds=1)
    assert timer.scheduled.tick() == ["hourly"]
    assert timer.fired[0][1]["time"] == "2026-03-02T10:00:00Z"


def test_firing_now_runs_the_next_firing_at_once(timer: Timer) -> None:
    timer.rules.append(Rule("sweep", "rate(5 minutes)"))
    timer.scheduled.tick()
    timer.clock.advance(minutes=1)

    event = timer.scheduled.fire_now("sweep")

    assert event["time"] == "2026-03-02T09:31:12Z"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/sweep"]
    assert timer.fired == [("sweep", event)]
    timer.clock.advance(minutes=4)  # 09:35:12, the firing that already ran
    assert timer.scheduled.tick() == []
    timer.clock.advance(minutes=5)
    assert timer.scheduled.tick() == ["sweep"]


def test_firing_now_needs_an_enabled_scheduled_rule(timer: Timer) -> None:
    timer.rules += [Rule("on-push"), Rule("off", "rate(1 day)", state="DISABLED")]

    with pytest.raises(RuleNotFound, match="Rule missing does not exist"):
        timer.scheduled.fire_now("missing")
    with pytest.raises(NotScheduled, match="has no ScheduleExpression"):
        timer.scheduled.fire_now("on-push")
    with pytest.raises(NotScheduled, match="DISABLED"):
        timer.scheduled.fire_now("off")
    assert timer.fired == []
