"""Dense optical flow between frames (OpenCV's DIS), warping by it, and where it can be trusted.

Convention: ``flow(a, b)`` gives, for each pixel ``x`` of ``a``, the displacement to where that
point is in ``b``: ``a(x) ≈ b(x + flow(x))``. Warping ``b`` by it (:func:`warp`) lines ``b`` up
with ``a``. Frames are H×W×3 RGB, uint8 or float in [0, 1]; flow is H×W×2 float32, (dx, dy).
"""

from __future__ import annotations

import cv2
import numpy as np

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def gray8(frame: np.ndarray) -> np.ndarray:
    """The frame's luma as uint8, the input DIS takes."""
    if frame.dtype != np.uint8:
        frame = np.round(np.clip(frame, 0.0, 1.0) * 255).astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


class FlowEstimator:
    """DIS optical flow (Kroeger et al., ECCV 2016) at a bounded resolution.

    Frames above ``max_pixels`` are downscaled for the flow, which is scaled back up: a 4K frame
    then costs what a 720p one does, and deraining rather than flow stays the slow part. One
    instance per thread (OpenCV's DIS object keeps state between calls).
    """

    def __init__(self, preset: str = "medium", max_pixels: int | None = 1280 * 720) -> None:
        self._dis = cv2.DISOpticalFlow_create(_PRESETS[preset])
        self.max_pixels = max_pixels

    def __call__(self, frame_from: np.ndarray, frame_to: np.ndarray) -> np.ndarray:
        source, target = gray8(frame_from), gray8(frame_to)
        height, width = source.shape
        scale = 1.0
        if self.max_pixels is not None and height * width > self.max_pixels:
            scale = (self.max_pixels / (height * width)) ** 0.5
            small = (max(1, round(width * scale)), max(1, round(height * scale)))
            source = cv2.resize(source, small, interpolation=cv2.INTER_AREA)
            target = cv2.resize(target, small, interpolation=cv2.INTER_AREA)
        flow = self._dis.calc(source, target, None)
        if scale != 1.0:
            flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) / scale
        return flow


def _sampling_map(flow: np.ndarray) -> np.ndarray:
    height, width = flow.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)), axis=-1)
    return grid + flow


def warp(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` sampled at ``x + flow(x)`` (bilinear), and a mask of the pixels whose sample
    point lies inside ``image``: the rest came from outside the frame and mean nothing."""
    points = _sampling_map(flow)
    warped = cv2.remap(image, points[..., 0], points[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    height, width = flow.shape[:2]
    inside = (points[..., 0] >= 0) & (points[..., 0] <= width - 1) & (points[..., 1] >= 0) & (points[..., 1] <= height - 1)
    return warped, inside


def consistent(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """Pixels of ``a`` whose flow is trusted: going to ``b`` and back lands where it started.

    The forward-backward check of Sundaram et al. (ECCV 2010):
    ``|f + b(x + f)|² < 0.01 (|f|² + |b(x + f)|²) + 0.5``; occluded pixels (seen in ``a`` only) and
    flow errors fail it. Pixels whose flow leaves the frame fail too.
    """
    back, inside = warp(flow_ba, flow_ab)
    round_trip = np.sum((flow_ab + back) ** 2, axis=-1)
    tolerance = 0.01 * (np.sum(flow_ab**2, axis=-1) + np.sum(back**2, axis=-1)) + 0.5
    return (round_trip < tolerance) & inside


def aligned_previous(previous: np.ndarray, current: np.ndarray, flow: FlowEstimator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``previous`` (or any other frame) warped onto ``current``, the mask of pixels where that warp
    is trusted (consistent flow, inside the frame), and the flow from ``current`` to ``previous``
    it used, estimated between the two frames themselves."""
    backward = flow(current, previous)
    forward = flow(previous, current)
    warped, _ = warp(previous, backward)
    return warped, consistent(backward, forward), backward
