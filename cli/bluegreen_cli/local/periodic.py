"""A background thread that calls one function every few seconds until stopped.

The local stack's clocks (CodeDeploy's progress, Step Functions' status changes, scheduled
rules) each run on one: a failure in a round is logged and the next round comes anyway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, run: Callable[[], object]) -> None:
        self.name = name
        self.interval = interval
        self._run = run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._run()
            except Exception:
                log.exception("%s: a round failed", self.name)
