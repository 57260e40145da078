"""The last step of a job: the segments' video and the source's audio and subtitles into one file.

Packets are copied, never re-encoded: the video packets of the segments in order, the audio and
subtitle packets of the source as they are (their bytes and timestamps unchanged). The output
keeps the source's container metadata, each stream's metadata (language, title) and
disposition, and the video stream's display matrix (rotation). The file is written under a
temporary name and only then given its final one (:func:`publish`), so an interrupted or failed
remux leaves no half-written output.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av

from sapnet import files

from sapnet.video.errors import VideoError
from sapnet.video.probe import COPIED_STREAM_TYPES, VideoInfo, open_input


def check_output_format(output: Path, codec: str, info: VideoInfo) -> None:
    """Refuse (:class:`VideoError`) an output whose container format, the one FFmpeg picks for
    its extension, cannot hold the video codec or the streams copied from the source."""
    try:
        # opening for writing creates nothing until a header is written
        with av.open(os.fspath(output), "w") as probe:
            supported = probe.supported_codecs
            name = probe.format.name
    except ValueError:
        raise VideoError(output, f"no container format for the extension {output.suffix or '(none)'!r}") from None
    if supported:  # some formats (MPEG-TS) list none, though they hold the usual codecs
        if codec not in supported:
            raise VideoError(output, f"the {name} format cannot hold {codec} video; choose another codec or extension")
        for label in info.copied_streams:
            stream_codec = label.split(" ", 1)[1]
            if stream_codec not in supported:
                raise VideoError(output, f"the {name} format cannot hold the source's {label} stream; keep the source's extension")


def _timestamp(packet: av.Packet) -> Fraction:
    """When a packet is needed, for interleaving: its decoding time, else its presentation time."""
    value = packet.dts if packet.dts is not None else packet.pts
    return (value or 0) * packet.time_base


def decoding_timestamps(pts: list[int]) -> list[int]:
    """Decoding timestamps for packets in decoding order with these pts, as one encoder would
    have given them: the pts in display order, shifted back by the stream's reorder delay.

    Each segment's encoder started its own dts before its first pts by its own delay (and none
    in a last segment too short for B-frames), so joined as they are the segments' dts would
    jump at each seam, and MP4 takes sample durations from dts steps: the frame rate read back
    would be wrong, and with variable frame rates the dts could even go backwards. With the
    delay ``d`` the smallest that keeps every dts at most its pts, packet ``i`` gets the
    ``i − d``-th smallest pts; the first ``d`` start before the first pts, as x264 starts them.
    """
    ordered = sorted(pts)
    rank = {stamp: position for position, stamp in enumerate(ordered)}
    delay = max([0, *(position - rank[stamp] for position, stamp in enumerate(pts))])
    lead = ordered[delay] - ordered[0]
    return [ordered[i - delay] if i >= delay else ordered[i] - lead for i in range(len(pts))]


def _segment_packets(segments: list[Path]) -> Iterator[av.Packet]:
    for path in segments:
        with av.open(os.fspath(path)) as segment:
            yield from (packet for packet in segment.demux(segment.streams.video[0]) if packet.size)


def _video_packets(segments: list[Path], source_durations: dict[int, int]) -> Iterator[av.Packet]:
    """The segments' video packets in order, with decoding timestamps made continuous across the
    seams (:func:`decoding_timestamps`) and each frame's duration the source's."""
    dts = iter(decoding_timestamps([packet.pts for packet in _segment_packets(segments)]))
    for packet in _segment_packets(segments):
        packet.dts = next(dts)
        packet.duration = source_durations.get(packet.pts, packet.duration)
        yield packet


def _source_durations(info: VideoInfo) -> dict[int, int]:
    """Each source video frame's duration by its pts (the last frame's is in no timestamp), read
    from the packets without decoding them."""
    with open_input(info.path) as source:
        return {packet.pts: packet.duration for packet in source.demux(source.streams.video[0]) if packet.size}


def remux(segments: list[Path], info: VideoInfo, target: Path) -> int:
    """Write ``target`` from the segments and the source ``info.path``; returns the number of
    video frames written. The caller removes ``target`` if this raises."""
    frames = 0
    with av.open(segments[0].as_posix()) as first, open_input(info.path) as source, av.open(os.fspath(target), "w") as output:
        output.metadata.update(source.metadata)
        source_video = source.streams.video[0]
        # opaque: copied as the segment holds it, with no encoder looked up (AV1 decodes with
        # libdav1d, which has no encoder of that name)
        video = output.add_stream_from_template(first.streams.video[0], opaque=True)
        video.time_base = info.time_base
        video.metadata.update(source_video.metadata)
        video.disposition = source_video.disposition
        if info.display_matrix is not None:
            video.set_display_matrix(list(info.display_matrix))
        copies = {}
        for stream in source.streams:
            if stream.type in COPIED_STREAM_TYPES:
                copy = output.add_stream_from_template(stream)
                copy.metadata.update(stream.metadata)
                copy.disposition = stream.disposition
                copies[stream.index] = copy
        copied = [source.streams[index] for index in copies]
        others = (packet for packet in source.demux(*copied) if packet.size) if copied else iter(())  # demux() alone: every stream
        # The muxer re-orders a little; interleaving by time keeps its buffer small for any length.
        tagged_video = ((_timestamp(packet), 0, packet) for packet in _video_packets(segments, _source_durations(info)))
        tagged_others = ((_timestamp(packet), 1, packet) for packet in others)
        for _, kind, packet in heapq.merge(tagged_video, tagged_others, key=lambda entry: entry[:2]):
            if kind == 0:
                packet.stream = video
                frames += 1
            else:
                packet.stream = copies[packet.stream.index]
            output.mux(packet)
    return frames


def publish(finished: Path, output: Path, overwrite: bool) -> None:
    """Give the finished file its final name: replacing an existing one only with ``overwrite``;
    otherwise a file that appeared meanwhile (another run) is kept and reported."""
    try:
        files.publish(finished, output, overwrite)
    except FileExistsError:
        raise VideoError(output, "exists (written meanwhile by another run; pass overwrite=True to replace it)") from None
    except OSError as error:
        raise VideoError(output, f"cannot write ({error.strerror or error})") from None
    finally:
        finished.unlink(missing_ok=True)
