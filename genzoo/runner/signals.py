"""SIGINT and SIGTERM while fitting: the first asks the run to checkpoint and stop."""

from __future__ import annotations

import signal
import threading
from types import TracebackType
from typing import Any

__all__ = ["StopSignals"]


class StopSignals:
    """A context that turns SIGINT/SIGTERM into a request to stop (a second one stops at once).

    Outside the main thread, or with ``enabled=False``, it installs nothing.

    Attributes:
        received: The first signal received, or ``None``.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _request_stop(self, signum: int, frame: Any) -> None:
        if self.received is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.received = signum

    def __enter__(self) -> StopSignals:
        if self.enabled and threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._request_stop)
                              for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
