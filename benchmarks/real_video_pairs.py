"""Paired sets from real rainy video: each frame's reference is the median of its neighbours warped onto it.

    python benchmarks/real_video_pairs.py --out .data/real_video_pairs
    sapnet evaluate -m sapnet-synth-v7 official=../shared/weights/sapnet_official_model11.pth \\
        -d nturain_ra1=.data/real_video_pairs/nturain_ra1 nturain_rb2=.data/real_video_pairs/nturain_rb2 \\
           j4rnet=.data/real_video_pairs/j4rnet

Real rain has no ground truth, but in a video rain falls while the scene stays: a streak is at one
place in one frame only. For every ``--every``-th frame ``t`` of each clip, the ``--radius``
distinct frames on each side (frame ``t`` itself left out, so its own rain cannot leak in) are
warped onto it by dense optical flow (OpenCV's DIS, :mod:`sapnet.video.flow`), and their
per-pixel median, over the neighbours whose flow passes the forward-backward check where at least
three do (over all of them elsewhere), is the reference. Frames that repeat the one before
(clips with duplicated frames) are dropped first, for the same reason. A border as wide as the
largest median flow to the farthest neighbour, plus 8 pixels, is cropped from both frame and
reference, as no neighbour sees it.

Written: ``OUT/<clip>/rainy/NNN.png`` (the frame, cropped) and ``OUT/<clip>/clean/NNN.png`` (its
reference), a set ``sapnet evaluate`` scores as any paired folder. Printed per clip: frames
written, the share of pixels where at least three neighbours' flow is trusted, and the rainy
frames' PSNR-Y and SSIM-Y against their references. The reference is not the clean scene: it keeps what
moves with the scene (splashes, wet shine, fog), loses what moves against it (people), and is a
little smoother than one frame (JPEG noise and flow resampling average out). Use it to rank
models on real rain, not as an absolute figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from sapnet.data.files import read_rgb
from sapnet.metrics import psnr_y, ssim_y
from sapnet.video.files import is_frame_sequence, list_frames
from sapnet.video.flow import FlowEstimator, consistent, warp

MIN_TRUSTED = 3


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
        backward = flow(frame, neighbour)
        forward = flow(neighbour, frame)
        image, _ = warp(neighbour.astype(np.float32) / 255, backward)
        warped.append(image)
        trusted.append(consistent(backward, forward))
        reach = max(reach, float(np.median(np.linalg.norm(backward, axis=-1))))
    stack, masks = np.stack(warped), np.stack(trusted)
    count = masks.sum(axis=0)
    with warnings.catch_warnings():  # pixels no neighbour is trusted at are all-NaN; replaced just below
        warnings.simplefilter("ignore", RuntimeWarning)
        over_trusted = np.nanmedian(np.where(masks[..., None], stack, np.nan), axis=0)
    reference = np.where((count >= MIN_TRUSTED)[..., None], over_trusted, np.median(stack, axis=0))
    return reference.astype(np.float32), count, reach


def clip_pairs(frames: list[np.ndarray], radius: int, every: int, flow: FlowEstimator):
    """(index, cropped frame, cropped reference, trusted share) for every ``every``-th distinct frame
    with ``radius`` distinct neighbours on each side; indices count the distinct frames."""
    for t in range(radius, len(frames) - radius, every):
        neighbours = frames[t - radius : t] + frames[t + 1 : t + radius + 1]
        reference, count, reach = temporal_reference(frames[t], neighbours, flow)
        border = int(np.ceil(reach)) + 8
        crop = (slice(border, -border), slice(border, -border))
        yield t, frames[t][crop], reference[crop], float((count[crop] >= MIN_TRUSTED).mean())


def write_pairs(clip: Path, out: Path, radius: int, every: int) -> list[tuple[float, float, float]]:
    """Write ``clip``'s pairs under ``out`` (rainy/, clean/); returns (trusted share, rainy PSNR-Y, SSIM-Y) per pair."""
    frames = [read_rgb(path) for path in list_frames(clip)]
    frames = [frames[index] for index in distinct_frames(frames)]
    (out / "rainy").mkdir(parents=True, exist_ok=True)
    (out / "clean").mkdir(parents=True, exist_ok=True)
    flow = FlowEstimator("medium")
    rows = []
    for t, rainy, reference, trusted in clip_pairs(frames, radius, every, flow):
        reference8 = np.round(np.clip(reference, 0, 1) * 255).astype(np.uint8)
        Image.fromarray(rainy).save(out / "rainy" / f"{t:03d}.png")
        Image.fromarray(reference8).save(out / "clean" / f"{t:03d}.png")
        scored = rainy.astype(np.float32) / 255, reference8.astype(np.float32) / 255
        rows.append((trusted, psnr_y(*scored), ssim_y(*scored)))
    return rows


def main(argv: list[str] | None = None) -> int:
    shared = Path(os.environ.get("SAPNET_SHARED", "../shared"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="*", type=Path, help="frame folders (default: every clip of SHARED/data/real_rain_video)")
    parser.add_argument("--out", type=Path, default=Path(".data/real_video_pairs"))
    parser.add_argument("--radius", type=int, default=3, help="distinct neighbours on each side (default 3)")
    parser.add_argument("--every", type=int, default=3, help="take every n-th distinct frame (default 3)")
    args = parser.parse_args(argv)
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
