"""Step Functions execution history: the most events one execution of an ASL can record."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scripts.limits import Result

HISTORY_EVENTS = 25_000  # events in one Standard workflow execution's history

# Events one visit of a state adds to the history (Step Functions' HistoryEvent types):
# Entered and Exited for every state; a Task also Scheduled, Started and Succeeded, and
# Submitted for a callback (.waitForTaskToken); a Fail state only its Entered.
_VISIT = {"Task": 5, "Wait": 2, "Choice": 2, "Pass": 2, "Succeed": 2, "Fail": 1}
_FAILED_ATTEMPT = 3  # Scheduled, Started, Failed (or TimedOut)
_DEFAULT_MAX_ATTEMPTS = 3  # a Retrier without MaxAttempts
_EXECUTION = 2  # ExecutionStarted, and ExecutionSucceeded or ExecutionFailed


def _successors(state: Mapping[str, Any]) -> list[str]:
    found = [state[k] for k in ("Next", "Default") if k in state]
    found += [c["Next"] for c in state.get("Choices", []) if "Next" in c]
    found += [c["Next"] for c in state.get("Catch", [])]
    return found


def _skipped_on_leaving(
    states: Mapping[str, Any], start: str, loop: set[str], leaving: str, after: str
) -> int:
    """Events of the last round's states that leaving the loop from ``leaving`` (to
    ``after``, outside it) skips: those after ``leaving`` in a round, which begins where the
    loop is entered (or the execution starts). A poll task that fails at its bound (its
    Catch leads out) ends the last round before the Choice that follows it. Only simple
    cycles are counted this way; any other loop, or one entered in more than one place,
    skips nothing (its full round counts).
    """
    within = {name: [s for s in _successors(states[name]) if s in loop] for name in loop}
    if any(len(set(following)) != 1 for following in within.values()):
        return 0
    entries = {s for name, state in states.items() if name not in loop for s in _successors(state)}
    entries = (entries | {start}) & loop
    if len(entries) != 1 or after not in _successors(states[leaving]):
        return 0
    (entry,) = entries
    skipped, name = 0, within[leaving][0]
    while name != entry:
        skipped += _visit_events(states[name])
        name = within[name][0]
    return skipped


def _visit_events(state: Mapping[str, Any]) -> int:
    kind = state["Type"]
    if kind not in _VISIT:
        raise ValueError(f"cannot count the events of a {kind} state")
    callback = kind == "Task" and str(state.get("Resource", "")).endswith(".waitForTaskToken")
    return _VISIT[kind] + (1 if callback else 0)


def _retry_events(state: Mapping[str, Any]) -> int:
    attempts = sum(int(r.get("MaxAttempts", _DEFAULT_MAX_ATTEMPTS)) for r in state.get("Retry", []))
    return attempts * _FAILED_ATTEMPT


def _loops(states: Mapping[str, Any]) -> list[set[str]]:
    """Strongly connected components (Tarjan): a loop is one with a way back to itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for after in _successors(states[name]):
            if after not in index:
                visit(after)
                low[name] = min(low[name], low[after])
            elif after in on_stack:
                low[name] = min(low[name], index[after])
        if low[name] == index[name]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == name:
                    break
            components.append(component)

    for name in states:
        if name not in index:
            visit(name)
    return components


def _function_of(state: Mapping[str, Any]) -> str:
    return str(state.get("Parameters", {}).get("FunctionName", state.get("Resource", "")))


def longest_history(
    definition: Mapping[str, Any], rounds: Callable[[set[str]], int | None]
) -> tuple[int, list[str]]:
    """The most events one execution can record, and how the count was made.

    ``rounds(loop)`` is the largest number of times the loop of states ``loop`` can go
    round (None when nothing bounds it: an error). Each state on the path adds its events,
    each Task its retries once; a loop adds its rounds times one round's events.
    """
    states = definition["States"]
    components = _loops(states)
    component_of = {name: i for i, c in enumerate(components) for name in c}
    reachable: set[str] = set()
    ahead = [definition["StartAt"]]
    while ahead:
        name = ahead.pop()
        if name not in reachable:
            reachable.add(name)
            ahead += _successors(states[name])
    notes: list[str] = []
    weight: list[int] = []
    looping: list[bool] = []
    for component in components:
        names = sorted(component)
        one_round = sum(_visit_events(states[n]) for n in names)
        retries = sum(_retry_events(states[n]) for n in names)
        looping.append(
            len(component) > 1
            or component_of[names[0]] in {component_of[s] for s in _successors(states[names[0]])}
        )
        if not looping[-1]:
            weight.append(one_round + retries)
            continue
        bound = rounds(component)
        if bound is None:
            raise ValueError(f"nothing bounds the loop {', '.join(names)}")
        weight.append(bound * one_round + retries)
        if component & reachable:
            notes.append(f"loop {'/'.join(names)}: {bound:,} rounds x {one_round} events")

    def leaving(i: int, j: int) -> int:
        """Component ``i``'s events on a path that goes on to component ``j``."""
        if not looping[i]:
            return weight[i]
        loop = components[i]
        exits = [
            (name, after)
            for name in loop
            for after in _successors(states[name])
            if component_of[after] == j
        ]
        return weight[i] - min(
            _skipped_on_leaving(states, definition["StartAt"], loop, n, a) for n, a in exits
        )

    best: dict[int, int] = {}

    def longest_from(i: int) -> int:
        if i not in best:
            after = {component_of[s] for n in components[i] for s in _successors(states[n])}
            after.discard(i)
            best[i] = max((leaving(i, j) + longest_from(j) for j in after), default=weight[i])
        return best[i]

    return _EXECUTION + longest_from(component_of[definition["StartAt"]]), notes


def history_events(
    machine: str, definition: Mapping[str, Any], bounds: Mapping[str, tuple[str, int]]
) -> list[Result]:
    """``bounds``: the function a loop polls, or a state of the loop (it comes first: two
    loops may poll one function) -> (the setting that bounds it, its maximum)."""

    def rounds(loop: set[str]) -> int | None:
        for name in sorted(loop):
            if name in bounds:
                return bounds[name][1]
        for name in sorted(loop):
            function = _function_of(definition["States"][name])
            if function in bounds:
                return bounds[function][1]
        return None

    quota = f"Step Functions execution history (quota {HISTORY_EVENTS:,} events per execution)"
    try:
        events, notes = longest_history(definition, rounds)
    except ValueError as e:
        return [Result(quota, machine, str(e), False)]
    limits = ", ".join(dict.fromkeys(f"{setting} <= {most:,}" for setting, most in bounds.values()))
    return [
        Result(
            quota,
            machine,
            f"at most {events:,} events ({'; '.join(notes)}; with {limits})",
            events <= HISTORY_EVENTS,
        )
    ]
