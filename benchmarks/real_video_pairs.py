"""Real rainy video as a measure of real rain removal: how much of the rain a model takes off, and how much of the scene it changes.

    python benchmarks/real_video_pairs.py --out .data/real_video_pairs
    sapnet evaluate -m sapnet-synth-v11 official=../shared/weights/sapnet_official_model11.pth \\
        -d .data/real_video_pairs/j4rnet .data/real_video_pairs/nturain_ra1 .data/real_video_pairs/nturain_rb2 \\
        -o reports/real_video_pairs
    python benchmarks/real_video_pairs.py --report reports/real_video_pairs

Real rain has no ground truth, but in a video rain falls while the scene stays: a streak is at one
place in one frame only. For every ``--every``-th frame ``t`` of each clip, the ``--radius``
distinct frames on each side (frame ``t`` itself left out, so its own rain cannot leak in) are
warped onto it by dense optical flow (OpenCV's DIS, :mod:`sapnet.video.flow`), and their
per-pixel median, over the neighbours whose flow passes the forward-backward check where at least
three do (over all of them elsewhere), is the temporal reference. Frames that repeat the one
before (clips with duplicated frames) are dropped first, for the same reason. A border as wide as
the largest median flow to the farthest neighbour, plus 8 pixels, is cropped, as no neighbour
sees it. Written: ``OUT/<clip>/rainy/NNN.png`` (the frame), ``clean/NNN.png`` (its reference) and
``trusted/NNN.png`` (white where at least three neighbours' flow is trusted), a paired folder
``sapnet evaluate`` derains and scores.

That reference is not a ground truth to score PSNR against: it is smoother than one frame (JPEG
and sensor noise and the flow's resampling average out), so a plain Gaussian blur of the rainy
frame comes closer to it than any deraining model. ``--report`` (a ``sapnet evaluate`` output
folder: its ``settings.json`` names the data folders, its ``derained/`` cache holds the outputs)
measures two things instead, in luma (MATLAB Y, levels of 255), on trusted pixels only, per
model and clip:

- **rain taken off**: where the frame is at least 12 levels brighter than its reference (streaks:
  rain adds light), the share of that excess light the output takes off (each pixel's removal
  clipped to [0, its excess]): 0 % leaves the rain, 100 % takes it all off;
- **scene changed**: where the frame agrees with its reference to 2 levels (no rain, no noise,
  flow right), the mean absolute change from the frame to the output: what a model does to
  the scene it should leave alone (erased fences, blur, tone shifts).

A Gaussian blur of σ 0.8 px of the rainy frames is printed beside the models as a point of
reference: it takes off some streak light by smearing it, and changes the scene for it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from sapnet.data.files import list_images, read_rgb
from sapnet.metrics import psnr_y, rgb_to_y, ssim_y
from sapnet.video.files import is_frame_sequence, list_frames
from sapnet.video.flow import FlowEstimator, aligned_previous

MIN_TRUSTED = 3
RAIN_EXCESS = 12.0  # levels of 255 above the reference that make a pixel a streak's
STEADY = 2.0  # levels of 255 within which a frame agrees with its reference
BLUR_SIGMA = 0.8


def distinct_frames(frames: list[np.ndarray], min_change: float = 1.0) -> list[int]:
    """Indices of the frames that differ from the last one kept by a mean of at least ``min_change``
    levels of 255 (repeated frames of a re-timed clip are dropped)."""
    kept = [0]
    for index in range(1, len(frames)):
        if np.abs(frames[index].astype(np.float32) - frames[kept[-1]].astype(np.float32)).mean() >= min_change:
            kept.append(index)
    return kept


def temporal_reference(
    frame: np.ndarray, neighbours: list[np.ndarray], flow: FlowEstimator
) -> tuple[np.ndarray, np.ndarray, float]:
    """The median of ``neighbours`` (uint8 RGB frames) warped onto ``frame``, float32 in [0, 1];
    the per-pixel count of neighbours whose flow is trusted; and the largest median flow length."""
    warped, trusted, reach = [], [], 0.0
    for neighbour in neighbours:
        # In float, so the warp's bilinear samples are not rounded to 8 bits before the median.
        image, mask, backward = aligned_previous(neighbour.astype(np.float32) / 255, frame, flow)
        warped.append(image)
        trusted.append(mask)
        reach = max(reach, float(np.median(np.linalg.norm(backward, axis=-1))))
    stack, masks = np.stack(warped), np.stack(trusted)
    count = masks.sum(axis=0)
    with warnings.catch_warnings():  # pixels no neighbour is trusted at are all-NaN; replaced just below
        warnings.simplefilter("ignore", RuntimeWarning)
        over_trusted = np.nanmedian(np.where(masks[..., None], stack, np.nan), axis=0)
    reference = np.where((count >= MIN_TRUSTED)[..., None], over_trusted, np.median(stack, axis=0))
    return reference.astype(np.float32), count, reach


def clip_pairs(frames: list[np.ndarray], radius: int, every: int, flow: FlowEstimator):
    """(index, frame, reference, trusted neighbours per pixel), cropped, for every ``every``-th
    distinct frame with ``radius`` distinct neighbours on each side; indices count the distinct frames."""
    for t in range(radius, len(frames) - radius, every):
        neighbours = frames[t - radius : t] + frames[t + 1 : t + radius + 1]
        reference, count, reach = temporal_reference(frames[t], neighbours, flow)
        border = int(np.ceil(reach)) + 8
        crop = (slice(border, -border), slice(border, -border))
        yield t, frames[t][crop], reference[crop], count[crop]


def write_pairs(clip: Path, out: Path, radius: int, every: int) -> list[tuple[float, float, float]]:
    """Write ``clip``'s pairs under ``out`` (rainy/, clean/, trusted/); returns (trusted share, rainy PSNR-Y, SSIM-Y) per pair."""
    frames = [read_rgb(path) for path in list_frames(clip)]
    frames = [frames[index] for index in distinct_frames(frames)]
    for side in ("rainy", "clean", "trusted"):
        (out / side).mkdir(parents=True, exist_ok=True)
    flow = FlowEstimator("medium")
    rows = []
    for t, rainy, reference, count in clip_pairs(frames, radius, every, flow):
        reference8 = np.round(np.clip(reference, 0, 1) * 255).astype(np.uint8)
        Image.fromarray(rainy).save(out / "rainy" / f"{t:03d}.png")
        Image.fromarray(reference8).save(out / "clean" / f"{t:03d}.png")
        Image.fromarray(np.where(count >= MIN_TRUSTED, 255, 0).astype(np.uint8)).save(out / "trusted" / f"{t:03d}.png")
        rows.append((float((count >= MIN_TRUSTED).mean()), psnr_y(rainy, reference8), ssim_y(rainy, reference8)))
    return rows


def removal_and_change(frame: np.ndarray, reference: np.ndarray, trusted: np.ndarray, output: np.ndarray) -> tuple[float, float]:
    """(share of the streaks' excess light ``output`` takes off, mean change in levels where the
    frame agrees with its reference), over ``trusted`` pixels; images are RGB uint8 or float in [0, 1].
    The share is NaN where no trusted pixel is a streak's."""
    luma = {name: rgb_to_y(image) * 255 for name, image in (("frame", frame), ("reference", reference), ("output", output))}
    excess = luma["frame"] - luma["reference"]
    rain = trusted & (excess >= RAIN_EXCESS)
    steady = trusted & (np.abs(excess) <= STEADY)
    removed = np.clip(luma["frame"] - luma["output"], 0, excess)[rain].sum() / excess[rain].sum() if rain.any() else np.nan
    return float(removed), float(np.abs(luma["output"] - luma["frame"])[steady].mean())


def _evaluated_pair_sets(report: Path) -> dict[str, Path]:
    """The data sets of a ``sapnet evaluate`` report that this script wrote (they have ``trusted/``), by name."""
    settings = json.loads((report / "settings.json").read_text())
    sets = {}
    for entry in settings["arguments"]["data"]:
        name, _, folder = entry.rpartition("=")
        folder = Path(folder)
        if (folder / "trusted").is_dir():
            sets[name or folder.name] = folder
    return sets


def report_scores(report: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """{data set: {model: (rain taken off, scene changed)}}, means over each set's frames, for every
    model cached in ``report/derained`` and the blur of the rainy frames (model ``blur``)."""
    table = {}
    for name, folder in _evaluated_pair_sets(report).items():
        models = sorted(path for path in (report / "derained").iterdir() if (path / name).is_dir())
        scores: dict[str, list[tuple[float, float]]] = {}
        for rainy_path in list_images(folder / "rainy"):
            frame = read_rgb(rainy_path)
            reference = read_rgb(folder / "clean" / rainy_path.name)
            trusted = read_rgb(folder / "trusted" / rainy_path.name)[..., 0] > 127
            blurred = np.round(gaussian_filter(frame / 255.0, (BLUR_SIGMA, BLUR_SIGMA, 0)) * 255).astype(np.uint8)
            outputs = {"blur": blurred} | {model.name: read_rgb(model / name / f"{rainy_path.stem}.png") for model in models}
            for model, output in outputs.items():
                scores.setdefault(model, []).append(removal_and_change(frame, reference, trusted, output))
        table[name] = {model: tuple(np.nanmean(values, axis=0)) for model, values in scores.items()}
    return table


def main(argv: list[str] | None = None) -> int:
    shared = Path(os.environ.get("SAPNET_SHARED", "../shared"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="*", type=Path, help="frame folders (default: every clip of SHARED/data/real_rain_video)")
    parser.add_argument("--out", type=Path, default=Path(".data/real_video_pairs"))
    parser.add_argument("--radius", type=int, default=3, help="distinct neighbours on each side (default 3)")
    parser.add_argument("--every", type=int, default=3, help="take every n-th distinct frame (default 3)")
    parser.add_argument("--report", type=Path, help="a sapnet evaluate output folder of these sets: print rain taken off and scene changed")
    args = parser.parse_args(argv)
    if args.report is not None:
        if not (args.report / "settings.json").is_file():
            print(f"error: {args.report}: not a sapnet evaluate output folder (no settings.json)", file=sys.stderr)
            return 2
        table = report_scores(args.report)
        if not table:
            print(
                f"error: {args.report}: none of the data folders its settings.json names (relative to where sapnet "
                "evaluate ran) has the trusted/ folder this script writes",
                file=sys.stderr,
            )
            return 2
        print("rain taken off / scene changed (levels of 255)\n")
        print("| model | " + " | ".join(table) + " |\n|---|" + "---|" * len(table))
        for model in dict.fromkeys(model for scores in table.values() for model in scores):
            label = f"blur σ {BLUR_SIGMA} px (no deraining)" if model == "blur" else model
            cells = [f"{scores[model][0]:.1%} / {scores[model][1]:.2f}" if model in scores else "—" for scores in table.values()]
            print(f"| {label} | " + " | ".join(cells) + " |")
        return 0
    if args.radius < 1 or args.every < 1:
        parser.error("--radius and --every take whole numbers of at least 1")
    clips = args.clips or sorted(path for path in (shared / "data" / "real_rain_video").glob("*") if path.is_dir())
    if not clips:
        print(f"error: no clips given and none under {shared / 'data' / 'real_rain_video'}", file=sys.stderr)
        return 2
    for clip in clips:
        if not is_frame_sequence(clip):
            print(f"error: {clip}: not a numbered frame sequence", file=sys.stderr)
            return 2
        rows = write_pairs(clip, args.out / clip.name, args.radius, args.every)
        if not rows:
            print(f"{clip.name}: too few distinct frames for --radius {args.radius}")
            continue
        trusted, rainy_psnr, rainy_ssim = np.array(rows).T
        print(
            f"{clip.name}: {len(rows)} pairs in {args.out / clip.name}, flow trusted on {trusted.mean():.1%} "
            f"of pixels (lowest {trusted.min():.1%}), rainy frames against their references "
            f"{rainy_psnr.mean():.3f} / {rainy_ssim.mean():.4f} PSNR-Y / SSIM-Y"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
