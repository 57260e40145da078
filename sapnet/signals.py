"""SIGTERM handled as Ctrl-C, for the long-running commands (``derain``, ``train``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, ``kill`` (SIGTERM) raises KeyboardInterrupt as Ctrl-C does, so the
    command's own clean-up runs (a checkpoint, removing a half-written file) where SIGTERM's
    default would end the process silently; a ``nohup … &`` job ignores SIGINT, not SIGTERM.
    Outside the main thread, which alone may handle signals, it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
