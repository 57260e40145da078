"""Video deraining (sapnet.video): what the output keeps, resuming, the temporal stage, the
synthetic clip, and one-line errors for bad inputs. Clips are made here with PyAV, 64×48."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

from sapnet.video import (  # noqa: E402
    TemporalStabiliser,
    VideoError,
    derain_sequence,
    derain_video,
    is_frame_sequence,
    is_video_file,
    list_frames,
    score_frames,
    synthesize_video,
    warping_error,
)

SIZE = (64, 48)  # width, height


def _picture(index: int, size=SIZE) -> np.ndarray:
    """A smooth pattern drifting right by 2 px a frame, so frames differ and flow has something to follow."""
    width, height = size
    x, y = np.meshgrid(np.arange(width) - 2 * index, np.arange(height))
    channels = [np.sin(x / 5.0 + phase) * np.cos(y / 7.0 - phase) for phase in (0.0, 1.0, 2.0)]
    return np.round((np.stack(channels, axis=-1) * 0.4 + 0.5) * 255).astype(np.uint8)


def make_clip(
    path: Path,
    pts: list[int],
    time_base: Fraction = Fraction(1, 30),
    *,
    rotation: int = 0,
    audio: bool = True,
    subtitle: str | None = None,
    size=SIZE,
) -> Path:
    """An H.264 clip with the given frame pts (in ``time_base``), AAC audio and optionally a subtitle track."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.time_base = video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        if audio:
            sound = container.add_stream("aac", rate=48000)
            sound.layout = "mono"
        if subtitle:
            text = container.add_mux_stream(subtitle, time_base=Fraction(1, 1000))
        for index, stamp in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(_picture(index, size), format="rgb24")
            frame.pts, frame.time_base = stamp, time_base
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio:
            samples = int((pts[-1] * time_base + Fraction(1, 10)) * 48000)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)[None]
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(tone[:, start : start + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = 48000, start
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
        if subtitle:
            payload = b"\x00\x05hello" if subtitle == "mov_text" else b"hello"
            packet = av.Packet(payload)
            packet.stream, packet.pts, packet.dts, packet.duration = text, 0, 0, 100
            packet.time_base = Fraction(1, 1000)
            container.mux(packet)
    return path


def darken(batch: torch.Tensor) -> torch.Tensor:
    """A deterministic stand-in derainer for tests about input and output."""
    return batch * 0.8


def frame_times(path: Path) -> list[Fraction]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.pts * stream.time_base for frame in container.decode(stream)]


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def packets(path: Path, kind: str) -> list[tuple[int, bytes]]:
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [(packet.pts, bytes(packet)) for packet in container.demux(stream) if packet.size]


def test_output_keeps_frames_size_rate_timestamps_and_audio(tmp_path):
    source = make_clip(tmp_path / "clip.mp4", list(range(12)))
    calls = []
    report = derain_video(source, tmp_path / "out" / "clip.mp4", darken, segment_frames=5, progress=lambda *a: calls.append(a))
    output = report.output
    with av.open(str(source)) as a, av.open(str(output)) as b:
        va, vb = a.streams.video[0], b.streams.video[0]
        assert (vb.width, vb.height) == SIZE
        assert vb.average_rate == va.average_rate == 30
        assert vb.time_base == va.time_base
        assert vb.codec_context.name == "h264"
    assert frame_times(output) == frame_times(source)
    assert report.frames == 12 and report.resumed_from_frame == 0 and report.copied_streams == ("audio aac",)
    assert packets(output, "audio") == packets(source, "audio")  # copied, byte for byte
    assert calls[-1][:2] == (12, 12) and calls[-1][2] > 0
    assert not (tmp_path / "out" / ".clip.mp4.sapnet-parts").exists()
    # the derainer's work shows: 0.8 × the input's brightness
    assert np.mean(decoded(output)[3]) == pytest.approx(0.8 * np.mean(decoded(source)[3]), rel=0.03)


def test_variable_frame_rate_keeps_every_pts(tmp_path):
    # gaps of up to 10 frame intervals, some at segment boundaries, where each segment's encoder
    # would reach back with its B-frame delay
    pts = [0, 1, 3, 4, 7, 8, 9, 19, 20, 21, 33, 34, 35, 36]
    source = make_clip(tmp_path / "vfr.mp4", pts, Fraction(1, 1000))
    output = derain_video(source, tmp_path / "out.mp4", darken, temporal="off", segment_frames=3).output
    assert frame_times(output) == frame_times(source)
    assert len(frame_times(output)) == len(pts)


@pytest.mark.parametrize(("codec", "crf", "suffix", "decoded_as"), [("libvpx-vp9", 40, ".mkv", "vp9"), ("prores_ks", None, ".mov", "prores")])
def test_other_encoders(tmp_path, codec, crf, suffix, decoded_as):
    source = make_clip(tmp_path / f"clip{suffix}", [0, 1, 3, 4, 8], Fraction(1, 1000))
    output = derain_video(source, tmp_path / f"out{suffix}", darken, codec=codec, crf=crf, segment_frames=2).output
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.name == decoded_as
    assert frame_times(output) == frame_times(source)
    assert packets(output, "audio") == packets(source, "audio")


def test_rotation_is_kept_and_frames_are_derained_upright(tmp_path):
    source = make_clip(tmp_path / "phone.mp4", list(range(4)), rotation=90)
    shapes = []

    def record(batch):
        shapes.append(tuple(batch.shape))
        return batch

    output = derain_video(source, tmp_path / "out.mp4", record).output
    with av.open(str(output)) as container:
        frame = next(container.decode(video=0))
        assert frame.rotation == 90
        assert (frame.width, frame.height) == SIZE  # stored as the source stores it
    assert shapes[0] == (1, 3, SIZE[0], SIZE[1])  # the derainer saw it upright: 48 wide, 64 high


def test_subtitles_are_copied(tmp_path):
    for suffix, codec in ((".mkv", "subrip"), (".mp4", "mov_text")):
        source = make_clip(tmp_path / f"talk{suffix}", list(range(5)), audio=False, subtitle=codec)
        output = derain_video(source, tmp_path / f"out{suffix}", darken).output
        assert packets(output, "subtitles") == packets(source, "subtitles")
        assert frame_times(output) == frame_times(source)


def _interrupted_after(frames: int):
    """A stand-in derainer that is interrupted (Ctrl-C) when asked for frame ``frames + 1``."""
    seen = 0

    def derain(batch):
        nonlocal seen
        seen += len(batch)
        if seen > frames:
            raise KeyboardInterrupt
        return darken(batch)

    return derain


def test_interrupted_job_leaves_no_output_and_resumes(tmp_path):
    source = make_clip(tmp_path / "long.mp4", list(range(14)))
    reference = derain_video(source, tmp_path / "reference.mp4", darken, segment_frames=4)
    target = tmp_path / "resumed.mp4"
    with pytest.raises(KeyboardInterrupt):
        derain_video(source, target, _interrupted_after(9), segment_frames=4)
    assert not target.exists()
    parts = tmp_path / ".resumed.mp4.sapnet-parts"
    # frames 0-8 were derained: two whole segments are kept, the third, unfinished, is dropped
    assert sorted(p.name for p in parts.iterdir()) == ["000000.mp4", "000001.mp4", "000001.state.npy", "job.json"]

    counted = []
    report = derain_video(source, target, lambda batch: counted.append(len(batch)) or darken(batch), segment_frames=4)
    assert report.resumed_from_frame == 8 and sum(counted) == 6 and report.derained_frames == 6
    assert report.frames == reference.frames == 14
    assert frame_times(target) == frame_times(reference.output)
    assert packets(target, "audio") == packets(source, "audio")
    assert not parts.exists()


def test_resumed_frames_equal_an_uninterrupted_run(tmp_path):
    # lossless FFV1, so that the decoded frames are the stabilised frames themselves (x264 in
    # the PyAV wheel does not always encode identical input identically)
    source = make_clip(tmp_path / "long.mp4", list(range(10)), audio=False)
    options = {"codec": "ffv1", "crf": None, "segment_frames": 3}
    reference = derain_video(source, tmp_path / "reference.mkv", darken, **options)
    with pytest.raises(KeyboardInterrupt):
        derain_video(source, tmp_path / "resumed.mkv", _interrupted_after(7), **options)
    resumed = derain_video(source, tmp_path / "resumed.mkv", darken, **options)
    assert resumed.resumed_from_frame == 6
    # the temporal stage went on from its saved state: every frame is the uninterrupted run's
    assert all(np.array_equal(a, b) for a, b in zip(decoded(resumed.output), decoded(reference.output), strict=True))
    assert frame_times(resumed.output) == frame_times(reference.output)


def test_a_changed_job_starts_over(tmp_path):
    source = make_clip(tmp_path / "clip.mp4", list(range(8)))

    def stop_after_first_segment(batch, seen=[]):
        seen.append(1)
        if len(seen) > 5:
            raise KeyboardInterrupt
        return batch

    with pytest.raises(KeyboardInterrupt):
        derain_video(source, tmp_path / "out.mp4", stop_after_first_segment, segment_frames=4)
    report = derain_video(source, tmp_path / "out.mp4", darken, segment_frames=4, crf=30)  # another crf: another job
    assert report.resumed_from_frame == 0 and report.derained_frames == 8


def test_a_failing_derainer_leaves_no_partial_files(tmp_path):
    source = make_clip(tmp_path / "clip.mp4", list(range(6)))

    def broken(batch):
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        derain_video(source, tmp_path / "out.mp4", broken)
    assert not (tmp_path / "out.mp4").exists()
    assert [p.name for p in (tmp_path / ".out.mp4.sapnet-parts").iterdir()] == ["job.json"]


def test_tiny_sapnet_through_the_api(tmp_path):
    import sapnet

    torch.manual_seed(0)
    network = sapnet.SAPNet(sapnet.SAPNetConfig(stages=2, channels=8)).eval()
    source = make_clip(tmp_path / "clip.mp4", list(range(3)))
    report = derain_video(source, tmp_path / "out.mp4", lambda batch: sapnet.derain(batch, network), batch_frames=2)
    assert report.frames == 3 and frame_times(report.output) == frame_times(source)


def _write_frames(folder: Path, count: int, pattern: str = "{:05d}.png", size=SIZE) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / pattern.format(index + 1)
        cv2.imwrite(str(path), cv2.cvtColor(_picture(index, size), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def test_frame_sequence_keeps_names_and_resumes(tmp_path):
    _write_frames(tmp_path / "frames", 6, "f{}.png")
    assert is_frame_sequence(tmp_path / "frames")
    assert [p.name for p in list_frames(tmp_path / "frames")] == [f"f{i}.png" for i in range(1, 7)]  # f2 before f10-style order

    with pytest.raises(KeyboardInterrupt):
        derain_sequence(tmp_path / "frames", tmp_path / "out", _interrupted_after(3))
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["f1.png", "f2.png", "f3.png"]
    report = derain_sequence(tmp_path / "frames", tmp_path / "out", darken)
    assert (report.frames, report.derained_frames, report.kept_frames) == (6, 3, 3)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert cv2.imread(str(tmp_path / "out" / "f6.png")).shape == (SIZE[1], SIZE[0], 3)


def test_what_counts_as_a_sequence_or_a_video(tmp_path):
    _write_frames(tmp_path / "photos", 2, "holiday_{}.jpg")
    assert is_frame_sequence(tmp_path / "photos")  # names alone decide (see is_frame_sequence)
    cv2.imwrite(str(tmp_path / "photos" / "cover.png"), _picture(0))
    assert not is_frame_sequence(tmp_path / "photos")
    _write_frames(tmp_path / "one", 1)
    assert not is_frame_sequence(tmp_path / "one")
    clip = make_clip(tmp_path / "clip.mp4", list(range(2)), audio=False)
    assert is_video_file(clip)
    assert is_video_file(clip.rename(tmp_path / "clip.unknown"))  # no known extension: probed
    assert not is_video_file(tmp_path / "one" / "00001.png")
    assert not is_video_file(tmp_path / "photos")


def _photo(path: Path) -> Path:
    rng = np.random.default_rng(1)
    photo = cv2.GaussianBlur(rng.uniform(0, 255, (120, 160, 3)).astype(np.float32), (0, 0), 4)
    cv2.imwrite(str(path), np.clip((photo - 127) * 3 + 127, 0, 255).astype(np.uint8))
    return path


def test_synthetic_video_is_deterministic(tmp_path):
    photo = _photo(tmp_path / "photo.png")
    first = synthesize_video(photo, tmp_path / "a", frames=4, size=SIZE, seed=3, preset="heavy")
    second = synthesize_video(photo, tmp_path / "b", frames=4, size=SIZE, seed=3, preset="heavy")
    other = synthesize_video(photo, tmp_path / "c", frames=4, size=SIZE, seed=4, preset="heavy")
    names = sorted(p.name for p in first.rainy_frames.iterdir())
    assert names == [f"{i:05d}.png" for i in range(4)]
    for name in names:
        assert (first.rainy_frames / name).read_bytes() == (second.rainy_frames / name).read_bytes()
        assert (first.clean_frames / name).read_bytes() == (second.clean_frames / name).read_bytes()
    assert (first.rainy_frames / names[1]).read_bytes() != (other.rainy_frames / names[1]).read_bytes()
    # the clips are encoded from those frames (x264 may choose slightly differently from run to run)
    assert np.abs(np.stack(decoded(first.rainy_video)).astype(int) - np.stack(decoded(second.rainy_video))).mean() < 1
    assert len(frame_times(first.clean_video)) == 4
    rainy, clean = (np.stack(decoded(video)) for video in (first.rainy_video, first.clean_video))
    assert rainy.mean() > clean.mean() + 2  # rain adds light


def test_temporal_stage_lowers_the_warping_error_of_flicker(tmp_path):
    photo = _photo(tmp_path / "photo.png")
    clip = synthesize_video(photo, tmp_path / "clip", frames=6, size=(96, 64), seed=0, preset="light", fog=False)
    generator = torch.Generator().manual_seed(0)

    def flickering(batch):
        # a derainer that gets the scene right but adds fresh noise and a brightness wobble to every frame
        noise = 0.03 * torch.randn(batch.shape, generator=generator)
        wobble = 0.02 * torch.randn((batch.shape[0], 1, 1, 1), generator=generator)
        return (batch + noise + wobble).clamp(0, 1)

    outputs = {}
    for temporal in ("off", "flow"):
        torch.manual_seed(0)
        generator.manual_seed(0)
        derain_sequence(clip.clean_frames, tmp_path / temporal, flickering, temporal=temporal)
        outputs[temporal] = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in list_frames(tmp_path / temporal)]
    clean = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in list_frames(clip.clean_frames)]
    flicker, steadied = (warping_error(outputs[mode], clean) for mode in ("off", "flow"))
    assert steadied < 0.6 * flicker
    assert warping_error(clean, clean) < 0.2 * steadied  # the floor: resampling between views
    psnr = {mode: np.mean([s["psnr_y"] for s in score_frames(outputs[mode], clean)]) for mode in outputs}
    assert psnr["flow"] > psnr["off"]  # averaging the noise out brings it closer to the clean frames


def test_stabiliser_passes_the_first_frame_and_follows_motion():
    stabiliser = TemporalStabiliser()
    first = _picture(0).astype(np.float32) / 255
    assert np.array_equal(stabiliser(first), first)
    moved = _picture(5).astype(np.float32) / 255  # 10 px further: followed, not ghosted
    assert np.abs(stabiliser(moved) - moved).mean() < 0.01
    stabiliser.reset()
    assert stabiliser.previous is None


def _one_line_error(excinfo, path: Path) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and str(path) in message, message
    return message


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("not_a_video", "not a video"),
        ("truncated", "truncated"),
        ("faststart_truncated", "truncated"),
        ("audio_only", "no video stream"),
        ("missing", "no such file"),
        ("empty", "empty"),
    ],
)
def test_bad_inputs_raise_one_line_video_errors(tmp_path, case, problem):
    path = tmp_path / "input.mp4"
    if case == "not_a_video":
        path.write_text("just some text\n")
    elif case == "truncated":
        whole = make_clip(tmp_path / "whole.mp4", list(range(10))).read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    elif case == "faststart_truncated":
        with av.open(str(tmp_path / "fs.mp4"), "w", options={"movflags": "faststart"}) as container:
            stream = container.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
            for index in range(20):
                for packet in stream.encode(av.VideoFrame.from_ndarray(_picture(index), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        whole = (tmp_path / "fs.mp4").read_bytes()
        path.write_bytes(whole[: len(whole) * 2 // 3])
    elif case == "audio_only":
        with av.open(str(path), "w") as container:
            sound = container.add_stream("aac", rate=48000)
            sound.layout = "mono"
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 4800), np.float32), format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 48000, 0
            for packet in [*sound.encode(chunk), *sound.encode()]:
                container.mux(packet)
    elif case == "empty":
        path.write_bytes(b"")
    with pytest.raises(VideoError) as excinfo:
        derain_video(path, tmp_path / "out.mp4", darken)
    assert problem in _one_line_error(excinfo, path)
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize(
    ("options", "output_name", "problem"),
    [
        ({"codec": "nope264"}, "out.mp4", "no video encoder named 'nope264'"),
        ({"codec": "aac"}, "out.mp4", "audio encoder"),
        ({"codec": "mpeg4"}, "out.mp4", "no crf setting"),
        ({}, "out.webm", "cannot hold libx264"),
        ({}, "out.xyz", "no container format"),
        ({}, "file/out.mp4", "cannot"),
    ],
)
def test_bad_outputs_raise_one_line_video_errors(tmp_path, options, output_name, problem):
    source = make_clip(tmp_path / "clip.mp4", list(range(3)))
    (tmp_path / "file").write_text("a file where a folder is needed")
    output = tmp_path / output_name
    with pytest.raises(VideoError) as excinfo:
        derain_video(source, output, darken, **options)
    assert problem in _one_line_error(excinfo, output)


def test_existing_output_is_kept_unless_overwrite(tmp_path):
    source = make_clip(tmp_path / "clip.mp4", list(range(3)))
    output = tmp_path / "out.mp4"
    output.write_bytes(b"precious")
    with pytest.raises(VideoError, match="exists") as excinfo:
        derain_video(source, output, darken)
    _one_line_error(excinfo, output)
    assert output.read_bytes() == b"precious"
    derain_video(source, output, darken, overwrite=True)
    assert len(frame_times(output)) == 3
    with pytest.raises(VideoError, match="is the input"):
        derain_video(source, source, darken, overwrite=True)


def test_temporal_option_is_checked():
    with pytest.raises(ValueError, match="temporal must be one of off, flow"):
        derain_video("anything.mp4", "out.mp4", darken, temporal="blend")
