"""Derain a folder of numbered frames into a folder of frames with the same names.

Frames are read and written as ``sapnet derain`` reads and writes photos (:mod:`sapnet.images`:
same format, size, grayscale, alpha, ICC profile), each one atomically, in frame-number order,
with the temporal stage across them. Outputs that exist are kept unless ``overwrite``, and the
temporal stage continues from them, so an interrupted job run again picks up after the last
frame it wrote (from that frame as saved: exactly for PNG, within the rounding of a lossy format).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import numpy as np
import torch

from sapnet.images import ImageError, LoadedImage, OutputExistsError, read_image, to_pil, write_image
from sapnet.video.defaults import Progress
from sapnet.video.errors import VideoError
from sapnet.video.files import list_frames
from sapnet.video.frames import DerainFrames, derain_arrays
from sapnet.video.pipeline import run_pipeline
from sapnet.video.temporal import make_stabiliser


@dataclass(frozen=True)
class SequenceReport:
    """What :func:`derain_sequence` did."""

    source: Path
    output: Path
    frames: int  # in the sequence
    derained_frames: int  # in this run
    kept_frames: int  # outputs that existed and were kept
    temporal: str
    seconds: float
    fps: float  # derained_frames / seconds


@dataclass
class _Frame:
    index: int
    source: Path
    target: Path
    loaded: LoadedImage | None  # None: its output exists and is kept
    derained: np.ndarray | None = None


def _read(path: Path) -> LoadedImage:
    try:
        return read_image(path)
    except ImageError as error:
        raise VideoError(path, str(error).removeprefix(f"{path}: ")) from None


def _as_array(loaded: LoadedImage) -> np.ndarray:
    return loaded.rgb.permute(1, 2, 0).numpy()


def derain_sequence(
    src_folder: str | os.PathLike,
    dst_folder: str | os.PathLike,
    derain_frames: DerainFrames,
    *,
    temporal: str = "flow",
    batch_frames: int = 1,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> SequenceReport:
    """Derain the numbered frames of ``src_folder`` (:func:`~sapnet.video.files.list_frames`)
    into ``dst_folder``, same names; ``derain_frames``, ``temporal``, ``batch_frames`` and
    ``progress`` as for :func:`~sapnet.video.video.derain_video`. Existing outputs are kept
    unless ``overwrite`` (see the module notes). A :class:`VideoError` names the folder or frame
    that cannot be used: not a numbered sequence, an unreadable frame, an output folder that
    cannot be written."""
    source, output = Path(src_folder), Path(dst_folder)
    stabiliser = make_stabiliser(temporal)
    paths = list_frames(source)
    if os.path.realpath(output) == os.path.realpath(source):
        raise VideoError(output, "is the input folder; choose another output folder")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VideoError(output, f"cannot create the output folder ({error.strerror or error})") from None
    targets = [output / path.name for path in paths]
    done = derained = 0  # frames handed on, and of them derained (the others' outputs were kept)

    def frames() -> Iterator[_Frame]:
        for index, (path, target) in enumerate(zip(paths, targets)):
            keep = target.exists() and not overwrite
            yield _Frame(index, path, target, None if keep else _read(path))

    def derain(batch: list[_Frame]) -> list[_Frame]:
        nonlocal derained
        todo = [frame for frame in batch if frame.loaded is not None]
        derained += len(todo)
        # a batch is one tensor, so frames of different sizes go in separate calls
        for _, same_size in groupby(todo, key=lambda frame: tuple(frame.loaded.rgb.shape)):
            same_size = list(same_size)
            for frame, rgb in zip(same_size, derain_arrays([_as_array(f.loaded) for f in same_size], derain_frames)):
                frame.derained = rgb
        return batch

    resume_from: Path | None = None  # the last kept output, to continue the temporal stage from

    def write(frame: _Frame) -> None:
        nonlocal resume_from
        if frame.loaded is None:
            resume_from = frame.target
            return
        result = frame.derained
        if stabiliser is not None:
            if resume_from is not None:
                stabiliser.restore(_as_array(_read(resume_from)))
            result = stabiliser(result)
        resume_from = None
        image = to_pil(_tensor(result), frame.loaded, frame.target.suffix)
        try:
            write_image(image, frame.target, overwrite=overwrite)
        except OutputExistsError:
            raise VideoError(frame.target, "exists (written meanwhile by another run; pass overwrite=True to replace it)") from None
        except ImageError as error:
            raise VideoError(frame.target, str(error).removeprefix(f"{frame.target}: ")) from None

    started = time.perf_counter()

    def report_progress(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, len(paths), derained / (time.perf_counter() - started))

    run_pipeline(frames(), derain, write, batch=batch_frames, on_batch=report_progress)
    seconds = time.perf_counter() - started
    fps = derained / seconds if seconds > 0 else float("nan")
    return SequenceReport(source, output, len(paths), derained, len(paths) - derained, temporal, seconds, fps)


def _tensor(frame: np.ndarray) -> torch.Tensor:
    """An H×W×3 frame as the (3, H, W) tensor :func:`sapnet.images.to_pil` takes."""
    return torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1)))
