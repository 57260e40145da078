"""A job's work folder and the segments it encodes, so that a stopped job resumes where it was.

Next to the output ``clip.mp4`` the job keeps ``.clip.mp4.sapnet-parts/``:

- ``job.json``: what the job is (source file, its size and modification time, encoder
  settings, temporal stage, segment length). A folder left by a different job is emptied.
- ``000000.mp4``, ``000001.mp4``…: segments of ``segment_frames`` frames each (the last one
  shorter), each encoded by its own encoder so that it starts with a key frame and stands alone.
  A segment is written under a temporary name and renamed when complete, so one that exists is
  whole; after Ctrl-C, a crash or ``kill -9`` only the segment being written is lost.
- ``000001.state.npy``: the temporal stage's state after that segment's last frame (the previous
  output frame, float32), written before the segment is renamed, so that a resumed run continues
  the temporal average exactly; only the newest is kept.

Segments are MP4 (or MOV for the codecs MP4 lacks, ProRes) with the movie and track timescales set to
the source's time base, so each frame's pts is stored exactly; Matroska would round them to
milliseconds, and NUT does not store the decoding timestamps that B-frames need.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from sapnet.files import atomic_write

from sapnet.video.encoding import EncoderSettings, add_video_stream, encode_frame
from sapnet.video.errors import VideoError
from sapnet.video.temporal import TemporalStabiliser

SEGMENT_FORMATS = ("mp4", "mov")  # MOV claims VP9 and AV1 but refuses them when writing
_MANIFEST = "job.json"
_PARTIAL = ".partial"


def segment_format(codec: str, output: Path) -> str:
    """The segment container that holds ``codec``: MP4, else MOV; a :class:`VideoError` if neither does."""
    for name in SEGMENT_FORMATS:
        with av.open(os.devnull, "w", format=name) as probe:  # nothing is written until a header is
            if codec in probe.supported_codecs:
                return name
    raise VideoError(output, f"the {codec} encoder cannot be stored in MOV or MP4 segments; choose another codec")


@dataclass
class DerainedFrame:
    """A frame on its way through the pipeline: its index, its pts, its pixels (H×W×3)."""

    index: int
    pts: int
    rgb: np.ndarray  # uint8 as decoded, float32 in [0, 1] once derained


class WorkFolder:
    """The hidden folder next to ``output`` that holds a job's finished segments (see the module notes)."""

    def __init__(self, output: Path, job: dict, extension: str) -> None:
        self.output = output
        self.path = output.parent / f".{output.name}.sapnet-parts"
        self.job = job
        self.extension = extension

    def open(self) -> int:
        """Create the folder or take up the same job's; returns how many segments are finished.
        Unfinished files of an earlier run are removed; a different job's folder is emptied."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            manifest = self.path / _MANIFEST
            if not manifest.is_file() or json.loads(manifest.read_text()) != self.job:
                for entry in self.path.iterdir():
                    entry.unlink()
                with atomic_write(manifest) as tmp:
                    Path(tmp).write_bytes(json.dumps(self.job, indent=1).encode())
            for entry in self.path.glob(f"*{_PARTIAL}*"):
                entry.unlink()
        except (OSError, ValueError) as error:
            raise VideoError(self.output, f"cannot write the work folder {self.path} ({getattr(error, 'strerror', None) or error})") from None
        return len(self.segments())

    def segment_path(self, index: int) -> Path:
        return self.path / f"{index:06d}.{self.extension}"

    def state_path(self, index: int) -> Path:
        return self.path / f"{index:06d}.state.npy"

    def segments(self) -> list[Path]:
        """The finished segments, in order."""
        count = 0
        while self.segment_path(count).is_file():
            count += 1
        return [self.segment_path(index) for index in range(count)]

    def load_state(self, index: int) -> np.ndarray:
        path = self.state_path(index)
        try:
            return np.load(path)
        except (OSError, ValueError) as error:
            raise VideoError(path, f"cannot read the temporal state to resume from ({error}); delete {self.path} to start over") from None

    def save_state(self, index: int, state: np.ndarray) -> None:
        with atomic_write(self.state_path(index)) as tmp, open(tmp, "wb") as handle:
            np.save(handle, state)
        self.state_path(index - 1).unlink(missing_ok=True)  # only the newest state is ever needed

    def partial_path(self, name: str, suffix: str = "") -> Path:
        """A temporary file in the folder (``suffix``: an extension that tells FFmpeg its format),
        removed by :meth:`open` if a run leaves it behind."""
        return self.path / f"{name}{_PARTIAL}{suffix}"

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class SegmentSink:
    """Takes derained frames in order: the temporal stage, 8-bit rounding, then encoding into
    consecutive segments of ``segment_frames`` frames, each finished as soon as it is full."""

    def __init__(
        self,
        work: WorkFolder,
        settings: EncoderSettings,
        segment_format: str,
        segment_frames: int,
        stabiliser: TemporalStabiliser | None,
    ) -> None:
        self.work = work
        self.settings = settings
        self.segment_format = segment_format
        self.segment_frames = segment_frames
        self.stabiliser = stabiliser
        self._index: int | None = None  # the segment being written
        self._container = None
        self._stream = None

    def write(self, frame: DerainedFrame) -> None:
        output = self.stabiliser(frame.rgb) if self.stabiliser is not None else frame.rgb
        rgb = np.round(np.clip(output, 0.0, 1.0) * 255).astype(np.uint8)
        try:
            if self._container is None:
                self._start(frame.index // self.segment_frames)
            for packet in encode_frame(self._stream, rgb, frame.pts, self.settings):
                self._container.mux(packet)
        except av.FFmpegError as error:
            raise VideoError(self.work.output, f"the {self.settings.codec} encoder failed at frame {frame.index} ({error})") from None
        if (frame.index + 1) % self.segment_frames == 0:
            self.finish()

    def _start(self, index: int) -> None:
        timescale = str(self.settings.time_base.denominator)
        self._index = index
        self._container = av.open(
            os.fspath(self.work.partial_path(f"{index:06d}")),
            "w",
            format=self.segment_format,
            options={"movie_timescale": timescale, "video_track_timescale": timescale},
        )
        self._stream = add_video_stream(self._container, self.settings)

    def finish(self) -> None:
        """Flush and close the segment being written, store the temporal state, publish the segment."""
        if self._container is None:
            return
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        except av.FFmpegError as error:
            raise VideoError(self.work.output, f"the {self.settings.codec} encoder failed finishing a segment ({error})") from None
        except OSError as error:
            raise VideoError(self.work.output, f"cannot write a segment in {self.work.path} ({error.strerror or error})") from None
        index, self._container, self._stream = self._index, None, None
        if self.stabiliser is not None and self.stabiliser.previous is not None:
            self.work.save_state(index, self.stabiliser.previous)
        os.replace(self.work.partial_path(f"{index:06d}"), self.work.segment_path(index))

    def abort(self) -> None:
        """Drop the segment being written (after Ctrl-C or an error): the finished ones stay."""
        if self._container is None:
            return
        try:
            self._container.close()
        except (av.FFmpegError, OSError):
            pass  # it is deleted next, whatever state it is in
        self._container = self._stream = None
        self.work.partial_path(f"{self._index:06d}").unlink(missing_ok=True)
