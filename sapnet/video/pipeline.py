"""Three overlapping stages with bounded queues: read, process in batches, write.

Deraining is the slow part, so reading (decoding) and writing (temporal stage, encoding) run in
their own threads while the calling thread derains: PyTorch, FFmpeg and OpenCV release the GIL
while they compute. Each queue holds ``depth`` batches (two by default: enough to keep the
derainer busy, and at 4K a float32 frame is 100 MB), so memory stays bounded for a clip of any
length. The calling thread does the processing so that Ctrl-C (KeyboardInterrupt, delivered to
the main thread only) lands where the work is. When it or an error ends the run, the writer
still writes the frames already derained, then both threads end before the exception
propagates; the writer's owner decides what its unfinished output becomes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

_END = object()  # the producer has no more items
_POLL_SECONDS = 0.1  # how often a blocked stage looks whether another one stopped


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Stop(Exception):
    """Another stage failed or was interrupted; this one ends quietly."""


def _put(channel: queue.Queue, item, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            channel.put(item, timeout=_POLL_SECONDS)
            return
        except queue.Full:
            pass


def _get(channel: queue.Queue, stop: threading.Event):
    while True:
        if stop.is_set():
            raise _Stop
        try:
            return channel.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            pass


def run_pipeline(
    items: Iterable[Item],
    process: Callable[[list[Item]], list[Result]],
    write: Callable[[Result], None],
    *,
    batch: int = 1,
    depth: int = 2,
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Iterate ``items`` in a reader thread, ``process`` them here ``batch`` at a time (the last
    batch may be shorter), ``write`` each result in order in a writer thread; ``on_batch(n)``
    after each batch is handed on. Returns when everything is written; re-raises the first error
    of any stage (a KeyboardInterrupt here included) after both threads have ended."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    stop = threading.Event()
    inbox: queue.Queue = queue.Queue(maxsize=depth * batch)
    outbox: queue.Queue = queue.Queue(maxsize=depth * batch)
    writer_errors: list[BaseException] = []

    def read() -> None:
        iterator: Iterator[Item] = iter(items)
        try:
            for item in iterator:
                _put(inbox, item, stop)
            _put(inbox, _END, stop)
        except _Stop:
            pass
        except BaseException as error:  # handed to the main thread, which raises it
            try:
                _put(inbox, _Failure(error), stop)
            except _Stop:
                pass
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator's clean-up (closing the file it reads) runs in this thread

    def write_all() -> None:
        try:
            while (result := _get(outbox, stop)) is not _END:
                write(result)
        except _Stop:
            pass
        except BaseException as error:
            writer_errors.append(error)
            stop.set()

    reader = threading.Thread(target=read, name="sapnet-video-read", daemon=True)
    writer = threading.Thread(target=write_all, name="sapnet-video-write", daemon=True)
    reader.start()
    writer.start()
    try:
        finished = False
        while not finished:
            chunk: list[Item] = []
            while len(chunk) < batch:
                item = _get(inbox, stop)
                if item is _END:
                    finished = True
                    break
                if isinstance(item, _Failure):
                    raise item.error
                chunk.append(item)
            if chunk:
                for result in process(chunk):
                    _put(outbox, result, stop)
                if on_batch is not None:
                    on_batch(len(chunk))
    except _Stop:
        pass  # the writer failed and said so: its error is raised below
    finally:
        _shut_down(outbox, writer, reader, stop)
    if writer_errors:
        raise writer_errors[0]


def _shut_down(outbox: queue.Queue, writer: threading.Thread, reader: threading.Thread, stop: threading.Event) -> None:
    """End both threads. The writer first writes what it was handed, also after an error or
    Ctrl-C here (writing is quick next to deraining, and keeps the work done); a second Ctrl-C
    while it does stops it at once."""
    try:
        try:
            _put(outbox, _END, stop)
        except _Stop:
            pass  # the writer has ended already
        writer.join()
    finally:
        stop.set()
        writer.join()
        reader.join()
