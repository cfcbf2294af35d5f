"""Peak memory of this process and of the worker processes it started (the functions).

The local stack runs in the benchmark's process; each function's execution environments are
its child processes. Linux only (``/proc``); elsewhere the children are not counted.
"""

from __future__ import annotations

import os
import resource
import threading
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PROC = Path("/proc")


@dataclass(frozen=True)
class MemoryPeak:
    process_mb: float  # this process's peak resident set (getrusage)
    total_mb: float  # the highest sum of this process and its children seen while sampling
    children: int  # the most child processes seen at once


def _resident_mb(pid: int | str) -> float:
    try:
        pages = int((_PROC / str(pid) / "statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0  # gone meanwhile
    return pages * _PAGE / 2**20


def _children(parent: int) -> list[str]:
    found = []
    for entry in _PROC.glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so read after its closing ")".
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(parent):
            found.append(entry.name)
    return found


class MemorySampler:
    """Samples every ``interval`` seconds on a daemon thread between start() and stop()."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._total = 0.0
        self._children = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        me = os.getpid()
        children = _children(me) if _PROC.is_dir() else []
        total = _resident_mb(me) + sum(_resident_mb(pid) for pid in children)
        self._total = max(self._total, total)
        self._children = max(self._children, len(children))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> MemoryPeak:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sample()
        # ru_maxrss is in KiB on Linux.
        process = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return MemoryPeak(
            process_mb=round(process, 1),
            total_mb=round(max(self._total, process), 1),
            children=self._children,
        )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()
