"""The one exception the video functions raise for inputs and outputs they cannot use."""

from __future__ import annotations

import os

from sapnet.text import one_line


class VideoError(ValueError):
    """A video file, frame folder or output that cannot be used.

    The message is one line, ``PATH: problem``: control characters in the path (a newline in a
    file name) are escaped, so a command can print it as it is.
    """

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        text = f"{os.fspath(path)}: {problem}"
        super().__init__(one_line(text))
        self.path = path
        self.problem = problem
