"""Videos through the command line and the API: `sapnet derain` with videos, photos and frame
folders mixed, bad videos in a batch, Ctrl-C and the rerun, the weights as part of a resumable
job, `sapnet synth --video`, and `sapnet.derain_video` with its progress callback."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("av")
pytest.importorskip("cv2")

import sapnet  # noqa: E402
from sapnet.cli import main  # noqa: E402
from sapnet.engine.infer.model import DerainModel  # noqa: E402
from sapnet.video import derain_video  # noqa: E402

from .test_video import _write_frames, darken, frame_times, make_clip, packets  # noqa: E402


def _run(capsys, *args) -> tuple[int, list[str]]:
    code = main(["derain", *map(str, args), "-q"])
    return code, [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]


def test_videos_photos_and_frame_folders_in_one_command(tmp_path, tiny_weights, capsys):
    clip = make_clip(tmp_path / "clip.mp4", list(range(5)))
    Image.fromarray(np.full((20, 24, 3), 120, np.uint8)).save(tmp_path / "photo.png")
    out = tmp_path / "out"
    code, errors = _run(capsys, clip, tmp_path / "photo.png", "-o", out, "--weights", tiny_weights)
    assert (code, errors) == (0, [])
    assert frame_times(out / "clip.mp4") == frame_times(clip)
    assert packets(out / "clip.mp4", "audio") == packets(clip, "audio")
    assert Image.open(out / "photo.png").size == (24, 20)

    frames = _write_frames(tmp_path / "shot", 3)
    code, errors = _run(capsys, tmp_path / "shot", "--sequence", "-o", out, "--weights", tiny_weights, "--temporal", "off")
    assert (code, errors) == (0, [])
    assert sorted(p.name for p in (out / "shot").iterdir()) == [p.name for p in frames]


def test_a_bad_video_is_one_line_and_the_batch_goes_on(tmp_path, tiny_weights, capsys):
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all" * 10)
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(tmp_path / "photo.png")
    out = tmp_path / "out"
    code, errors = _run(capsys, tmp_path / "broken.mp4", tmp_path / "photo.png", "-o", out, "--weights", tiny_weights)
    assert code == 1 and len(errors) == 1 and str(tmp_path / "broken.mp4") in errors[0]
    assert (out / "photo.png").is_file() and not (out / "broken.mp4").exists()
    code, errors = _run(capsys, make_clip(tmp_path / "clip.mp4", [0, 1]), "-o", out, "--weights", tiny_weights, "--codec", "nosuchcodec")
    assert code == 1 and len(errors) == 1 and "nosuchcodec" in errors[0]


def test_ctrl_c_leaves_no_output_and_the_same_command_finishes(tmp_path, tiny_weights, capsys, monkeypatch):
    clip = make_clip(tmp_path / "clip.mp4", list(range(6)))
    out = tmp_path / "out"
    real, calls = DerainModel.derain, []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(DerainModel, "derain", interrupted)
    assert main(["derain", str(clip), "-o", str(out), "--weights", str(tiny_weights)]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert not (out / "clip.mp4").exists()
    monkeypatch.setattr(DerainModel, "derain", real)
    assert main(["derain", str(clip), "-o", str(out), "--weights", str(tiny_weights), "-q"]) == 0
    assert frame_times(out / "clip.mp4") == frame_times(clip)
    assert not (out / ".clip.mp4.sapnet-parts").exists()


def test_other_weights_start_a_stopped_job_over(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", list(range(8)))
    seen = []

    def stop_in_the_second_segment(batch):
        seen.append(1)
        if len(seen) > 5:
            raise KeyboardInterrupt
        return darken(batch)

    with pytest.raises(KeyboardInterrupt):
        derain_video(clip, tmp_path / "out.mp4", stop_in_the_second_segment, segment_frames=4, model_id="weights-a")
    again = derain_video(clip, tmp_path / "out2.mp4", darken, segment_frames=4, model_id="weights-a")
    assert again.resumed_from_frame == 0  # another output: another job
    report = derain_video(clip, tmp_path / "out.mp4", darken, segment_frames=4, model_id="weights-b")
    assert report.resumed_from_frame == 0 and report.derained_frames == 8


def test_synth_video_is_the_same_for_a_seed(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(photos / "a.png")
    for out in ("one", "two"):
        args = ["synth", str(photos), str(tmp_path / out), "--video", "--frames", "3", "--size", "64x48", "--seed", "5"]
        assert main(args) == 0
    for kind in ("clean", "rainy"):
        first = sorted((tmp_path / "one" / "a" / kind).iterdir())
        second = sorted((tmp_path / "two" / "a" / kind).iterdir())
        assert len(first) == 3 and [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert (tmp_path / "one" / "a" / "rainy.mp4").is_file()
    assert main(["synth", str(photos), str(tmp_path / "one"), "--video", "--frames", "3", "--size", "64x48"]) == 1
    assert "exists" in capsys.readouterr().err


def test_the_api_derains_a_video_with_progress(tmp_path, tiny_weights):
    clip = make_clip(tmp_path / "clip.mp4", [0, 1, 3, 4])  # a gap: variable frame rate
    reports = []
    report = sapnet.derain_video(
        clip, tmp_path / "out.mp4", str(tiny_weights), progress=lambda done, total, fps: reports.append((done, total))
    )
    assert report.frames == 4 and frame_times(tmp_path / "out.mp4") == frame_times(clip)
    assert reports[-1] == (4, 4) and [done for done, _ in reports] == sorted(done for done, _ in reports)
