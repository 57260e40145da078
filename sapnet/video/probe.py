"""Opening a video with PyAV and reading what the output must keep: size, timing, colour, rotation.

Every failure becomes a :class:`VideoError` naming the file: not a video, truncated, no video
stream, an undecodable first frame. FFmpeg's own reason ("moov atom not found") is captured from
its log for the message, since PyAV's exception only says "Invalid data found".
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.logging

from sapnet.video.errors import VideoError

COPIED_STREAM_TYPES = ("audio", "subtitle")  # copied packet for packet; other kinds (data, attachments) are dropped


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns from a file's first video stream and its first frame."""

    path: Path
    format_name: str
    codec: str
    width: int
    height: int
    time_base: Fraction  # of the video stream: every frame's pts is carried in it
    average_rate: Fraction | None  # frames per second as the container states it (None: unknown)
    frames: int | None  # the container's frame count (None where it keeps none, e.g. Matroska)
    pix_fmt: str
    colour: dict[str, int]  # colorspace, color_range, color_primaries, color_trc, as FFmpeg's enums
    display_matrix: tuple[int, ...] | None  # the 3×3 rotation/flip matrix to show the frames with
    rotation: int  # counter-clockwise degrees of that matrix (0, 90, 180, -90)
    copied_streams: tuple[str, ...]  # "audio aac", "subtitle mov_text"... kept in the output
    dropped_streams: tuple[str, ...]  # other streams, not kept


@contextmanager
def _ffmpeg_errors_recorded() -> Iterator[None]:
    """Within the block FFmpeg's error messages are recorded, so that PyAV attaches the last one
    to the exception it raises (``error.log``), and kept off the terminal."""
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture(local=True):
            yield
    finally:
        av.logging.set_level(previous)


def _reason(error: av.FFmpegError) -> str:
    """FFmpeg's own words for an error ("moov atom not found"), '' where it logged none."""
    return error.log[2].strip() if getattr(error, "log", None) else ""


def _why_unreadable(path: Path, error: av.FFmpegError) -> str:
    """Why FFmpeg could not open ``path``: a container it recognises from the content but cannot
    read (an MP4 cut before its index), or no video at all. The file's start is probed by
    content alone, since by name a text file called ``x.mp4`` is an MP4 missing its index."""
    with open(path, "rb") as file:
        head = io.BytesIO(file.read(1 << 20))
    try:
        av.open(head).close()  # no name: FFmpeg goes by the bytes
    except av.FFmpegError as content_error:
        if not _reason(content_error):
            return "not a video (FFmpeg recognises no container format in it)"
    return f"truncated or corrupt video ({_reason(error) or 'FFmpeg cannot read its container'})"


def open_input(path: str | os.PathLike) -> av.container.InputContainer:
    """Open ``path`` for reading; a missing file, a folder, or something FFmpeg cannot read is a :class:`VideoError`."""
    path = Path(path)
    if path.is_dir():
        raise VideoError(path, "is a directory, not a video file")
    if not path.exists():
        raise VideoError(path, "no such file")
    if path.stat().st_size == 0:
        raise VideoError(path, "empty file (0 bytes)")
    with _ffmpeg_errors_recorded():
        try:
            return av.open(os.fspath(path), metadata_errors="replace")
        except PermissionError:
            raise VideoError(path, "permission denied") from None
        except av.error.InvalidDataError as error:
            raise VideoError(path, _why_unreadable(path, error)) from None
        except (av.FFmpegError, OSError) as error:
            raise VideoError(path, f"cannot open as a video ({_describe(error)})") from None


def _describe(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _check_not_truncated(path: Path, container: av.container.InputContainer) -> None:
    """Refuse a file whose index points past its end: an MP4 written with its index first
    ('faststart') and cut short opens fine and would fail only frames later, mid-job."""
    size = path.stat().st_size
    for stream in container.streams:
        needed = max((entry.pos + entry.size for entry in stream.index_entries), default=0)
        if needed > size:
            raise VideoError(path, f"truncated: its index needs {needed} bytes, the file has {size}")


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read the properties of ``path``'s first video stream and decode its first frame (which
    carries the rotation, and proves the stream decodes); a :class:`VideoError` otherwise."""
    path = Path(path)
    with open_input(path) as container:
        if not container.streams.video:
            kinds = ", ".join(stream.type for stream in container.streams) or "no streams"
            raise VideoError(path, f"has no video stream ({kinds})")
        _check_not_truncated(path, container)
        stream = container.streams.video[0]
        try:
            first = next(container.decode(stream))
        except StopIteration:
            raise VideoError(path, "its video stream has no frames") from None
        except av.FFmpegError as error:
            raise VideoError(path, f"truncated or corrupt: cannot decode the first frame ({_describe(error)})") from None
        matrix = first.side_data.get("DISPLAYMATRIX")
        context = stream.codec_context
        copied, dropped = [], []
        for other in container.streams:
            if other is stream:
                continue
            label = f"{other.type} {other.codec_context.name}" if other.codec_context else other.type
            (copied if other.type in COPIED_STREAM_TYPES else dropped).append(label)
        return VideoInfo(
            path=path,
            format_name=container.format.name,
            codec=context.name,
            width=first.width,
            height=first.height,
            time_base=stream.time_base,
            average_rate=stream.average_rate,
            frames=stream.frames or None,
            pix_fmt=first.format.name,
            colour={name: int(getattr(first, name)) for name in ("colorspace", "color_range", "color_primaries", "color_trc")},
            display_matrix=tuple(memoryview(bytes(matrix)).cast("i")) if matrix is not None else None,
            rotation=first.rotation,
            copied_streams=tuple(copied),
            dropped_streams=tuple(dropped),
        )
