"""benchmarks/real_video_pairs.py: references for real rainy video from the median of warped neighbours,
and how much rain a model takes off against them and how much scene it changes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from sapnet.data.rain import synthesize_rain
from sapnet.metrics import psnr_y

from .conftest import benchmark_script

pytest.importorskip("cv2", reason="the flow needs OpenCV (the video extra)")
pairs = benchmark_script("real_video_pairs")

PAN = 3  # pixels a frame


def _scene() -> np.ndarray:
    rng = np.random.default_rng(0)
    texture = gaussian_filter(rng.random((140, 200, 3)), sigma=(2.5, 2.5, 0))
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    return (0.15 + 0.7 * texture).astype(np.float32)


def _panning_clip(frames: int = 7) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A camera panning right over a still scene in rain that differs from frame to frame: (clean, rainy), uint8."""
    scene = _scene()
    clean = [scene[20:116, 10 + PAN * t : 138 + PAN * t] for t in range(frames)]
    rainy = [synthesize_rain(frame, "light", np.random.default_rng(t)) for t, frame in enumerate(clean)]
    return [_as_uint8(frame) for frame in clean], [_as_uint8(frame) for frame in rainy]


def _as_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(image * 255).astype(np.uint8)


def test_the_reference_of_a_rainy_frame_is_closer_to_the_clean_scene_than_the_frame_is():
    clean, rainy = _panning_clip()
    reference, count, reach = pairs.temporal_reference(rainy[3], rainy[:3] + rainy[4:], pairs.FlowEstimator("medium"))
    inner = (slice(16, -16), slice(16, -16))
    truth = clean[3][inner].astype(np.float32) / 255
    rainy_psnr = psnr_y(rainy[3][inner].astype(np.float32) / 255, truth)
    reference_psnr = psnr_y(reference[inner], truth)
    assert reference_psnr > rainy_psnr + 3, (rainy_psnr, reference_psnr)
    assert (count[inner] >= pairs.MIN_TRUSTED).mean() > 0.9
    assert 2 * PAN <= reach <= 4 * PAN  # the farthest neighbours are three frames away


def test_repeated_frames_are_dropped_so_a_frame_is_not_its_own_neighbour():
    _, rainy = _panning_clip(4)
    repeated = [rainy[0], rainy[0], rainy[1], rainy[2], rainy[2].copy(), rainy[2], rainy[3]]
    assert pairs.distinct_frames(repeated) == [0, 2, 3, 6]


def test_rain_taken_off_and_scene_changed_tell_a_model_that_takes_streaks_off_from_one_that_shifts_the_tone():
    reference = np.full((32, 32, 3), 100, np.uint8)
    frame = reference.copy()
    frame[:, 10:12] = 160  # a streak: light added
    trusted = np.ones((32, 32), bool)
    assert pairs.removal_and_change(frame, reference, trusted, reference) == (1.0, 0.0)
    assert pairs.removal_and_change(frame, reference, trusted, frame) == (0.0, 0.0)
    half = frame.copy()
    half[:, 10:12] = 130
    assert pairs.removal_and_change(frame, reference, trusted, half)[0] == pytest.approx(0.5, abs=0.01)
    brighter = frame + np.uint8(5)
    removed, changed = pairs.removal_and_change(frame, reference, trusted, brighter)
    assert removed == 0.0 and changed == pytest.approx(5 * 219 / 255, abs=0.01)  # MATLAB luma spans 219 levels
    streak_untrusted = trusted.copy()
    streak_untrusted[:, 10:12] = False
    assert np.isnan(pairs.removal_and_change(frame, reference, streak_untrusted, reference)[0])  # no rain it can see


def test_the_pairs_are_written_as_a_paired_folder_of_cropped_frames(tmp_path):
    _, rainy = _panning_clip(9)
    clip = tmp_path / "clip"
    clip.mkdir()
    for index, frame in enumerate(rainy):
        Image.fromarray(frame).save(clip / f"{index + 1:03d}.png")
    assert pairs.main([str(clip), "--out", str(tmp_path / "out"), "--radius", "2", "--every", "2"]) == 0
    written = sorted(path.name for path in (tmp_path / "out" / "clip" / "rainy").iterdir())
    assert written == ["002.png", "004.png", "006.png"]
    for name in written:
        frame = np.asarray(Image.open(tmp_path / "out" / "clip" / "rainy" / name))
        reference = np.asarray(Image.open(tmp_path / "out" / "clip" / "clean" / name))
        assert frame.shape == reference.shape
        assert frame.shape[0] < 96 and frame.shape[1] < 128  # the border no neighbour sees is cropped
        index = int(name[:3])
        border = (96 - frame.shape[0]) // 2
        np.testing.assert_array_equal(frame, rainy[index][border:-border, border:-border])
        trusted = np.asarray(Image.open(tmp_path / "out" / "clip" / "trusted" / name))
        assert trusted.shape == frame.shape[:2] and (trusted == 255).mean() > 0.8


def test_the_report_reads_the_outputs_sapnet_evaluate_cached(tmp_path, capsys):
    _, rainy = _panning_clip(7)
    clip = tmp_path / "clip"
    clip.mkdir()
    for index, frame in enumerate(rainy):
        Image.fromarray(frame).save(clip / f"{index + 1:03d}.png")
    pairs.main([str(clip), "--out", str(tmp_path / "pairs")])
    pair_set = tmp_path / "pairs" / "clip"
    report = tmp_path / "report"
    for model, side in (("unchanged", "rainy"), ("perfect", "clean")):
        (report / "derained" / model / "real").mkdir(parents=True)
        for path in (pair_set / side).iterdir():
            Image.open(path).save(report / "derained" / model / "real" / path.name)
    (report / "settings.json").write_text(json.dumps({"arguments": {"data": [f"real={pair_set}"]}}))
    capsys.readouterr()
    assert pairs.main(["--report", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "| unchanged | 0.0% / 0.00 |" in printed
    assert "| perfect | 100.0% / " in printed
    assert "| blur σ 0.8 px (no deraining) | " in printed
    assert pairs.main(["--report", str(tmp_path)]) == 2
