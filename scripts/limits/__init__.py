"""AWS quotas, each checked by a pure function of a template, an ASL or a document.

Every check returns Results: the quota with its documented value, what was measured, and
whether it stays within. scripts/check_limits.py applies them to this project.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    quota: str  # the quota's name, and its documented value
    subject: str  # what was measured (a role, a function, the state machine)
    value: str  # what was found, against the quota
    ok: bool

    def line(self) -> str:
        return f"  {'ok    ' if self.ok else 'BREACH'} {self.subject}: {self.value}"


def report(results: list[Result]) -> str:
    """The results grouped under each quota, in the order they were checked."""
    lines: list[str] = []
    for quota in dict.fromkeys(r.quota for r in results):
        lines.append(quota)
        lines += [r.line() for r in results if r.quota == quota]
    return "\n".join(lines)
