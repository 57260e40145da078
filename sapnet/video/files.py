"""Telling videos and folders of numbered frames from photos, so a command can route its inputs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import av

from sapnet.images import IMAGE_EXTENSIONS, is_image_file

from sapnet.video.defaults import VIDEO_EXTENSIONS
from sapnet.video.errors import VideoError
from sapnet.video.probe import open_input

# FFmpeg opens still images too (as a one-frame "video"); these formats are photos, not videos.
_IMAGE_FORMATS = {"image2", "gif", "apng", "webp"}
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def is_video_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a video: a regular file with a video extension (any case), or, for an
    extension that is neither a video's nor an image's, one FFmpeg opens as a video container
    with a video stream. Photos (:data:`sapnet.images.IMAGE_EXTENSIONS`, GIF) are not videos."""
    path = Path(path)
    if not path.is_file():
        return False
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return True
    if suffix in IMAGE_EXTENSIONS or suffix == ".gif":
        return False
    try:
        with open_input(path) as container:
            photo_format = container.format.name in _IMAGE_FORMATS or container.format.name.endswith("_pipe")
            return bool(container.streams.video) and not photo_format
    except (VideoError, av.FFmpegError):
        return False


def _numbered(path: Path) -> tuple[str, int] | None:
    """(prefix, number) of a name like ``frame_0012.png``, or None when the stem ends in no digits."""
    match = _NUMBERED.match(path.stem)
    return (match.group(1), int(match.group(2))) if match else None


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """The frames of a numbered sequence folder in frame order (by number, not by name: ``f9``
    before ``f10``). A :class:`VideoError` unless :func:`is_frame_sequence` holds."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoError(folder, "no such folder")
    images = [path for path in folder.iterdir() if is_image_file(path)]
    numbered = {path: _numbered(path) for path in images}
    if len(images) < 2:
        raise VideoError(folder, f"a frame sequence needs at least 2 images, found {len(images)}")
    unnumbered = [path.name for path, key in numbered.items() if key is None]
    if unnumbered:
        raise VideoError(folder, f"not a numbered frame sequence: {unnumbered[0]} has no frame number")
    patterns = {(key[0], path.suffix.lower()) for path, key in numbered.items()}
    if len(patterns) > 1:
        shown = ", ".join(sorted(f"{prefix}N{suffix}" for prefix, suffix in patterns)[:3])
        raise VideoError(folder, f"not one numbered frame sequence: names follow several patterns ({shown})")
    numbers = [key[1] for key in numbered.values()]
    if len(set(numbers)) < len(numbers):
        raise VideoError(folder, "not one numbered frame sequence: a frame number is used twice (e.g. 1 and 001)")
    return sorted(images, key=lambda path: numbered[path][1])


def is_frame_sequence(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a numbered frame sequence: at least two images
    (:func:`sapnet.images.is_image_file`), all named one prefix, a number, one extension
    (``00001.jpg``, ``frame_12.png``). Names alone decide, so a camera's numbered photos
    (``IMG_0001.jpg``…) pass too: a command should ask for ``--sequence`` rather than guess."""
    try:
        list_frames(folder)
    except VideoError:
        return False
    return True
