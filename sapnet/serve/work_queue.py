"""A bounded queue of jobs run one at a time on one worker thread.

Deraining already uses every core (the fast engine runs one worker per core), so two jobs at once
would only make both slower and double the memory; they wait their turn instead. A request takes
a place in the queue *before* its upload is read, so the bound also caps the temporary files
(places × the upload limit). A place is given back when its job has finished, or at once if the
job never started (the request failed or the client left before its turn): a job already running
is never abandoned half-way, and its place stays taken until it ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any


class QueueFull(Exception):
    """Every place in the queue is taken; the client should retry later."""


class WorkQueue:
    """At most ``capacity`` jobs admitted at once (running or waiting); one runs at a time.

    The worker is a daemon thread, so stopping the server does not wait for a long derain."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"the queue needs at least 1 place, got {capacity}")
        self.capacity = capacity
        self._taken = 0
        self._lock = threading.Lock()  # places are given back from the worker thread too
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._work, name="sapnet-serve-worker", daemon=True).start()

    @property
    def taken(self) -> int:
        return self._taken

    def reserve(self, on_release: Callable[[], None] | None = None) -> Place:
        """A place in the queue (:class:`QueueFull` if none is free); ``on_release`` runs when it
        is given back (removing the request's files)."""
        with self._lock:
            if self._taken >= self.capacity:
                raise QueueFull(f"the server is busy ({self.capacity} images queued); try again shortly")
            self._taken += 1
        return Place(self, on_release)

    def _give_back(self) -> None:
        with self._lock:
            self._taken -= 1

    def _work(self) -> None:
        while True:
            job, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while waiting: its place is already given back
            try:
                future.set_result(job())
            except BaseException as error:  # any failure goes to the waiting request, never kills the worker
                future.set_exception(error)


class Place:
    """One admitted request: :meth:`run` its job once, then :meth:`release` (idempotent)."""

    def __init__(self, owner: WorkQueue, on_release: Callable[[], None] | None) -> None:
        self._owner = owner
        self._on_release = on_release
        self._released = False
        self._submitted = False
        self._lock = threading.Lock()

    async def run(self, job: Callable[[], Any]) -> Any:
        """Run ``job`` on the worker when its turn comes and return its result; the place is given
        back when the job ends (or is cancelled before it starts, if the caller is)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.add_done_callback(lambda _: self.release())
        self._submitted = True
        self._owner._jobs.put((job, future))
        return await asyncio.wrap_future(future)

    def release(self) -> None:
        """Give the place back and run ``on_release``; later calls do nothing."""
        with self._lock:
            if self._released:
                return
            self._released = True
        self._owner._give_back()
        if self._on_release is not None:
            self._on_release()

    def release_unless_submitted(self) -> None:
        """For the request's own clean-up: give the place back if no job was handed over."""
        if not self._submitted:
            self.release()
