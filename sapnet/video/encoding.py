"""The video encoder of a job: which one, with which settings, and how a derained frame goes in.

Frames keep the source's timing: each one is encoded with its own pts in the source stream's
time base (variable frame rate stays as it was). Colour tags (matrix, range, primaries, transfer)
are the source's, and RGB is converted to YUV with the source's matrix and range, the inverse of
how it was decoded. The pixel format is the source's where the encoder takes it (4:2:0 stays
4:2:0, 4:4:4 stays 4:4:4), else yuv420p; frames of odd width or height get yuv444p, since
subsampled chroma needs even sizes in most encoders.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from sapnet.video.errors import VideoError
from sapnet.video.probe import VideoInfo

_COMMON_ENCODERS = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "mpeg4", "prores_ks", "ffv1")
_QUIET = {"libx265": {"x265-params": "log-level=error"}}  # x265 prints statistics on stderr unless told not to
_UNSPECIFIED = {"colorspace": 2, "color_range": 0, "color_primaries": 2, "color_trc": 2}  # FFmpeg's enums


@dataclass(frozen=True)
class EncoderSettings:
    """Everything that decides the encoded bytes of a segment (so a resumed job must match it)."""

    codec: str
    crf: int | None
    width: int
    height: int
    pix_fmt: str
    time_base: Fraction
    rate: Fraction | None
    colour: tuple[tuple[str, int], ...]  # the source's tags that are specified

    def describe(self) -> dict:
        """The settings as JSON-friendly values, for the job manifest."""
        return {
            "codec": self.codec,
            "crf": self.crf,
            "size": [self.width, self.height],
            "pix_fmt": self.pix_fmt,
            "time_base": str(self.time_base),
            "rate": str(self.rate) if self.rate else None,
            "colour": dict(self.colour),
        }


def available_video_encoders() -> list[str]:
    """Names of the video encoders this PyAV build has (hardware ones included, usable or not)."""
    names = []
    for name in sorted(av.codecs_available):
        try:
            if av.Codec(name, "w").type == "video":
                names.append(name)
        except (av.codec.codec.UnknownCodecError, ValueError):
            pass  # a decoder only
    return names


def encoder_settings(info: VideoInfo, codec: str, crf: int | None, output: Path) -> EncoderSettings:
    """Settings to encode ``info``'s frames with ``codec`` at ``crf``; a :class:`VideoError`
    naming ``output`` for an unknown codec, a non-video one, or a crf the encoder has no setting for."""
    try:
        encoder = av.Codec(codec, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        present = ", ".join(name for name in _COMMON_ENCODERS if name in av.codecs_available)
        raise VideoError(output, f"no video encoder named {codec!r} in this PyAV build (it has {present}, …)") from None
    if encoder.type != "video":
        raise VideoError(output, f"{codec!r} is an {encoder.type} encoder, not a video one")
    if crf is not None:
        options = {option.name for option in av.CodecContext.create(encoder.name, "w").supported_options.private}
        if "crf" not in options:
            raise VideoError(output, f"the {encoder.name} encoder has no crf setting; pass crf=None for its own rate control")
    supported = {video_format.name for video_format in encoder.video_formats or ()}
    if info.width % 2 or info.height % 2:
        pix_fmt = "yuv444p"
    elif info.pix_fmt in supported or not supported:
        pix_fmt = info.pix_fmt
    else:
        pix_fmt = "yuv420p" if "yuv420p" in supported else sorted(supported)[0]
    colour = tuple((name, value) for name, value in info.colour.items() if value != _UNSPECIFIED[name])
    return EncoderSettings(encoder.name, crf, info.width, info.height, pix_fmt, info.time_base, info.average_rate, colour)


def add_video_stream(container: av.container.OutputContainer, settings: EncoderSettings) -> av.video.stream.VideoStream:
    """A video stream in ``container`` encoding with ``settings``, timed in the source's time base."""
    stream = container.add_stream(settings.codec, rate=settings.rate)
    stream.width, stream.height, stream.pix_fmt = settings.width, settings.height, settings.pix_fmt
    stream.time_base = settings.time_base
    context = stream.codec_context
    context.time_base = settings.time_base
    for name, value in settings.colour:
        setattr(context, name, value)
    options = dict(_QUIET.get(settings.codec, {}))
    if settings.crf is not None:
        options["crf"] = str(settings.crf)
        context.bit_rate = 0  # constant quality: libvpx would otherwise cap it at a default bitrate
    context.options = options
    return stream


def encode_frame(stream: av.video.stream.VideoStream, rgb: np.ndarray, pts: int, settings: EncoderSettings) -> list[av.Packet]:
    """Encode an H×W×3 uint8 RGB frame at ``pts``; returns the packets the encoder gives back."""
    colour = dict(settings.colour)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format=settings.pix_fmt, dst_colorspace=colour.get("colorspace"), dst_color_range=colour.get("color_range")
    )
    frame.pts = pts
    frame.time_base = settings.time_base
    return stream.encode(frame)


class VideoWriter:
    """A plain H.264 (or ``codec``) file at a constant frame rate from RGB frames, for clips made
    here (the synthetic videos, benchmark inputs); frame ``i`` gets pts ``i`` in a 1/fps time base.

    >>> with VideoWriter("clip.mp4", fps=24) as writer:
    ...     writer.write(rgb)            # H×W×3 uint8, every frame of one even size
    """

    def __init__(self, path: str | Path, fps: int = 24, crf: int = 12, codec: str = "libx264") -> None:
        self.path = Path(path)
        self._container = av.open(str(self.path), "w")
        self._stream = self._container.add_stream(codec, rate=fps)
        self._stream.codec_context.options = {"crf": str(crf)}
        self._frames = 0

    def write(self, rgb: np.ndarray) -> None:
        if self._frames == 0:
            self._stream.height, self._stream.width = rgb.shape[:2]
            self._stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self._frames
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._frames += 1

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
