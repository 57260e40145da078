"""Writing a file atomically: the one mechanism behind images, checkpoints and reports that must
never be seen half-written (a crash, Ctrl-C, a full disk leave the old file or none)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file under the current umask (mkstemp's files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def publish_exclusively(tmp: str | os.PathLike, path: Path) -> None:
    """Give the finished ``tmp`` the name ``path`` only if no file has it (FileExistsError
    otherwise): a hard link is created atomically or not at all, so of two runs writing the same
    output one wins and the other is told, where a rename would silently replace."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        # no hard links on this file system (FAT, some network mounts): claim the name with an
        # exclusive create, then rename over the claim (an empty file shows for that moment)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        os.replace(tmp, path)


def publish(finished: str | os.PathLike, path: Path, overwrite: bool = True) -> None:
    """Give the finished file ``finished`` (in ``path``'s file system) the name ``path`` and the
    umask's mode: replacing an existing file, or with ``overwrite=False`` only if none exists
    (FileExistsError, the existing file left alone)."""
    os.chmod(finished, _new_file_mode())
    if overwrite:
        os.replace(finished, path)
    else:
        publish_exclusively(finished, path)


@contextmanager
def atomic_write(path: str | os.PathLike, overwrite: bool = True) -> Iterator[str]:
    """Yield a temporary path beside ``path`` to write; when the block ends without an error it
    becomes ``path`` with the umask's mode: replacing an existing file, or with
    ``overwrite=False`` only if none exists (FileExistsError, the existing file left alone). The
    temporary file is removed in every case; its name is short, so a final name at the file
    system's length limit still works. An OSError from creating it means the folder is not writable."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".sapnet-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        publish(tmp, path, overwrite)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
