"""Derain a video file: decode, derain, steady, encode in resumable segments, remux with the audio.

The output has the source's frames (the same count, size and pts in the same time base, so a
variable frame rate stays as it was), its audio and subtitle streams copied packet for packet,
its container and stream metadata and its rotation. How a long job stays safe:

- decoding, deraining and encoding overlap (:mod:`sapnet.video.pipeline`) with a few frames
  in flight, so memory does not grow with the clip's length (the derainer tiles large frames);
- the frames are encoded in segments in a work folder beside the output
  (:mod:`sapnet.video.segments`); Ctrl-C, a crash or ``kill -9`` loses at most the segment being
  written, and running the same job again resumes after the last finished segment, the temporal
  stage restored from the state saved with it;
- the output exists only once it is complete: the segments and the copied streams are remuxed
  into a temporary file that is then renamed (:mod:`sapnet.video.remux`), and the work folder
  removed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from sapnet.video.defaults import DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_SEGMENT_FRAMES, Progress
from sapnet.video.encoding import encoder_settings
from sapnet.video.errors import VideoError
from sapnet.video.frames import DerainFrames, derain_arrays, quarter_turns
from sapnet.video.pipeline import run_pipeline
from sapnet.video.probe import VideoInfo, open_input, probe_video
from sapnet.video.remux import check_output_format, publish, remux
from sapnet.video.segments import DerainedFrame, SegmentSink, WorkFolder, segment_format
from sapnet.video.temporal import make_stabiliser




@dataclass(frozen=True)
class VideoReport:
    """What :func:`derain_video` did."""

    source: Path
    output: Path
    frames: int  # in the output: the source's count
    width: int
    height: int
    time_base: Fraction  # of the video stream, the source's: every frame kept its pts in it
    average_rate: Fraction | None  # the source's stated frame rate
    codec: str
    crf: int | None
    temporal: str
    resumed_from_frame: int  # 0 for a fresh job; else the frames an earlier run had finished
    derained_frames: int  # in this run
    seconds: float  # decoding, deraining, temporal stage and encoding in this run, overlapped
    fps: float  # derained_frames / seconds
    copied_streams: tuple[str, ...]  # e.g. "audio aac", copied packet for packet
    dropped_streams: tuple[str, ...]  # streams of other kinds (data, attachments), not kept


def _decoded_frames(info: VideoInfo, skip: int) -> Iterator[DerainedFrame]:
    """The source's frames from index ``skip`` on, as RGB with their pts; the frames before are
    decoded but not converted, which costs little next to deraining them."""
    with open_input(info.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = max(1, round(1 / (info.average_rate * info.time_base))) if info.average_rate else 1
        index, pts = 0, None
        try:
            for frame in container.decode(stream):
                # A frame without a pts (some raw streams) follows the previous one at the stated rate.
                pts = frame.pts if frame.pts is not None else (pts + step if pts is not None else 0)
                if (frame.width, frame.height) != (info.width, info.height):
                    raise VideoError(
                        info.path, f"changes size at frame {index} ({info.width}×{info.height} to {frame.width}×{frame.height}), which is not supported"
                    )
                if index >= skip:
                    yield DerainedFrame(index, pts, frame.to_ndarray(format="rgb24"))
                index += 1
        except av.FFmpegError as error:
            raise VideoError(info.path, f"truncated or corrupt: cannot decode beyond frame {index} ({error})") from None


def derain_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    derain_frames: DerainFrames,
    *,
    temporal: str = "flow",
    crf: int | None = DEFAULT_CRF,
    codec: str = DEFAULT_CODEC,
    segment_frames: int = DEFAULT_SEGMENT_FRAMES,
    batch_frames: int = 1,
    progress: Progress | None = None,
    overwrite: bool = False,
    model_id: str = "",
) -> VideoReport:
    """Derain the video ``src`` into ``dst`` (its extension picks the container; keep the
    source's so that its audio and subtitle codecs fit).

    ``derain_frames``: (N, 3, H, W) float RGB in [0, 1] → the same, e.g. ``lambda x:
    sapnet.derain(x, model)``; it gets ``batch_frames`` frames at a time, turned upright where the
    video has a rotation. ``temporal``: ``"flow"`` (default) steadies the result with
    :class:`~sapnet.video.temporal.TemporalStabiliser`, ``"off"`` keeps each frame as derained.
    ``codec``, ``crf``: the video encoder and its constant-quality setting (None: the encoder's
    own rate control). ``segment_frames``: frames per resumable segment. ``progress(done, total,
    fps)`` after each batch; ``total`` is None where the container keeps no frame count.
    ``overwrite``: replace an existing ``dst``. ``model_id``: what identifies the derainer (the
    command passes the weights' sha256), so that a job resumed with other weights starts over.

    A job that was stopped resumes from its last finished segment when run again with the same
    source, settings and ``model_id`` (a changed source file, setting or model starts it over).
    Bad inputs and outputs raise :class:`VideoError` naming the file: not a video, truncated, no
    video stream, an unknown or unsuitable codec, an output that exists or cannot be written.
    """
    source, output = Path(src), Path(dst)
    stabiliser = make_stabiliser(temporal)
    if segment_frames < 1 or batch_frames < 1:
        raise ValueError(f"segment_frames and batch_frames must be at least 1, got {segment_frames} and {batch_frames}")
    info = probe_video(source)
    if os.path.realpath(output) == os.path.realpath(source):
        raise VideoError(output, "is the input video; choose another output")
    if output.is_dir():
        raise VideoError(output, "is a directory; give the output file's path")
    if output.exists() and not overwrite:
        raise VideoError(output, "exists (pass overwrite=True to replace it)")
    settings = encoder_settings(info, codec, crf, output)
    segments_in = segment_format(settings.codec, output)
    check_output_format(output, settings.codec, info)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VideoError(output, f"cannot create the folder {output.parent} ({error.strerror or error})") from None
    stat = source.stat()
    job = {
        "source": os.path.realpath(source),
        "source_size": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
        "encoder": settings.describe(),
        "segment_format": segments_in,
        "segment_frames": segment_frames,
        "temporal": temporal,
        "model": model_id,
    }
    work = WorkFolder(output, job, segments_in)
    finished = work.open()
    if finished and stabiliser is not None:
        stabiliser.restore(work.load_state(finished - 1))

    resumed_from = finished * segment_frames
    sink = SegmentSink(work, settings, segments_in, segment_frames, stabiliser)
    turns = quarter_turns(info.rotation)
    derained = 0
    started = time.perf_counter()

    def derain(batch: list[DerainedFrame]) -> list[DerainedFrame]:
        outputs = derain_arrays([frame.rgb for frame in batch], derain_frames, turns)
        return [DerainedFrame(frame.index, frame.pts, rgb) for frame, rgb in zip(batch, outputs)]

    def report_progress(count: int) -> None:
        nonlocal derained
        derained += count
        if progress is not None:
            progress(resumed_from + derained, info.frames, derained / (time.perf_counter() - started))

    try:
        run_pipeline(_decoded_frames(info, resumed_from), derain, sink.write, batch=batch_frames, on_batch=report_progress)
        sink.finish()  # the last, shorter segment
    except BaseException:
        sink.abort()
        raise
    seconds = time.perf_counter() - started
    segments = work.segments()
    if not segments:
        raise VideoError(source, "no frame could be decoded")
    target = work.partial_path("output", output.suffix)
    try:
        frames = remux(segments, info, target)
    except av.FFmpegError as error:
        target.unlink(missing_ok=True)
        raise VideoError(output, f"cannot write the output ({error})") from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    publish(target, output, overwrite)
    work.remove()
    return VideoReport(
        source=source,
        output=output,
        frames=frames,
        width=info.width,
        height=info.height,
        time_base=info.time_base,
        average_rate=info.average_rate,
        codec=settings.codec,
        crf=crf,
        temporal=temporal,
        resumed_from_frame=min(resumed_from, frames),
        derained_frames=derained,
        seconds=seconds,
        fps=derained / seconds if seconds > 0 else float("nan"),
        copied_streams=info.copied_streams,
        dropped_streams=info.dropped_streams,
    )
