"""Scores of a derained clip: per-frame fidelity to the clean frames, and temporal consistency.

- :func:`score_frames`: PSNR-Y and SSIM-Y of each frame against its clean frame
  (:func:`sapnet.metrics.psnr_y`, :func:`sapnet.metrics.ssim_y`: MATLAB luma, the deraining
  literature's convention), each output first rounded to 8 bits as a saved frame would be.
- :func:`warping_error`: how much consecutive frames disagree once motion is compensated, the
  E_warp of Lai et al. ("Learning blind video temporal consistency", ECCV 2018): frame t−1 is
  warped onto frame t by optical flow and the mean squared RGB difference (values in [0, 1]) is
  taken over the pixels where the flow is trusted (forward-backward check, inside the frame),
  then averaged over the pairs. Lower is steadier; flicker raises it.

The flow should come from frames the scoring does not depend on: for a synthetic clip the clean
frames (``flow_frames``), so every output is measured against the same motion. Real clips have
none: the flow then comes from the scored frames themselves (``flow_frames=None``), which
rewards an output that is merely self-consistent, so compare such numbers only with each other.
Frames are H×W×3 RGB, uint8 or float in [0, 1]; any iterables (generators too: only two frames
are held at a time).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sapnet.metrics import psnr_y, quantize_8bit, ssim_y

from sapnet.video.flow import FlowEstimator, consistent, warp


def _as_float(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    return frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float32)


def pair_warping_errors(frames: Iterable[np.ndarray], flow_frames: Iterable[np.ndarray] | None = None) -> list[float]:
    """The warping error of each consecutive pair (t−1, t), t = 1…T−1; see the module notes."""
    flow = FlowEstimator("medium", max_pixels=None)  # full resolution: this is the measurement
    errors: list[float] = []
    previous = previous_guide = None
    guides = iter(flow_frames) if flow_frames is not None else None
    for frame in frames:
        frame = _as_float(frame)
        guide = _as_float(next(guides)) if guides is not None else frame
        if previous is not None:
            backward, forward = flow(guide, previous_guide), flow(previous_guide, guide)
            warped, _ = warp(previous, backward)
            trusted = consistent(backward, forward)
            if trusted.any():
                errors.append(float(np.mean((frame - warped)[trusted] ** 2)))
        previous, previous_guide = frame, guide
    return errors


def warping_error(frames: Iterable[np.ndarray], flow_frames: Iterable[np.ndarray] | None = None) -> float:
    """Mean warping error over consecutive pairs (lower is steadier); NaN for fewer than two frames."""
    errors = pair_warping_errors(frames, flow_frames)
    return float(np.mean(errors)) if errors else float("nan")


def score_frames(frames: Iterable[np.ndarray], clean_frames: Iterable[np.ndarray]) -> list[dict[str, float]]:
    """``{"psnr_y": …, "ssim_y": …}`` of each frame against its clean frame, outputs rounded to 8 bits."""
    scores = []
    for frame, clean in zip(frames, clean_frames, strict=True):
        output, reference = quantize_8bit(_as_float(frame)), _as_float(clean).astype(np.float64)
        scores.append({"psnr_y": psnr_y(output, reference), "ssim_y": ssim_y(output, reference)})
    return scores
