"""A synthetic rainy video with ground truth: a camera moving over a clean photo, in falling rain.

- **Camera**: each frame is a view of the photo through a window that pans across it, zooms in
  or out by up to 15 % and shakes a little (a smoothed random walk of about a pixel and a few
  tenths of a degree), resampled with bicubic interpolation. The clean frames are these views.
- **Rain** is the still-image synthesiser's (:mod:`sapnet.data.rain`): a preset draws the
  streak sheets, fog, blend and capture (:func:`~sapnet.data.rain.sample_rain_params`), and
  each streak is the same anti-aliased motion-blur line
  (:func:`~sapnet.data.rain.streak_kernel`), composited as
  :func:`~sapnet.data.rain.synthesize_rain` composites a still (fog tied to the photo's pseudo
  depth, which moves with the camera; sheets hidden behind nearer scene parts and dimmed by the
  fog in front of them; screen or additive blend; sensor noise and JPEG per frame). What video
  adds is motion: each sheet keeps its drops from frame to frame and moves them along the
  streak direction by twice the streak length per frame (the streak is the fall during a
  half-frame exposure, a 180° shutter), so near sheets, with long streaks, fall fast and far
  ones slowly; drops that leave at the bottom come back as new drops at random places above
  the top.

Everything random comes from ``numpy.random.default_rng(seed)``: a seed fixes every frame.
Written: ``clean/`` and ``rainy/`` frames as PNG (``00000.png``…, lossless, for measuring) and
``clean.mp4`` / ``rainy.mp4`` (H.264, crf 12, for watching and for the video pipeline).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from sapnet.data import read_rgb
from sapnet.data.rain import RainParams, StreakLayer, apply_capture, pseudo_depth, sample_rain_params, streak_kernel

from sapnet.video.encoding import VideoWriter

_SHUTTER = 0.5  # exposure as a fraction of the frame interval: a drop falls 1/_SHUTTER streak lengths a frame
_ANGLE_GROUPS = 3  # drops of a gusty sheet fall at one of this many angles, as in render_streaks


@dataclass(frozen=True)
class SyntheticVideo:
    """The files :func:`synthesize_video` wrote."""

    clean_video: Path
    rainy_video: Path
    clean_frames: Path  # folder of 00000.png…
    rainy_frames: Path
    frames: int
    size: tuple[int, int]  # width, height
    fps: int
    rain: RainParams


def camera_path(photo_shape: tuple[int, int], size: tuple[int, int], frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Per frame, the 2×3 affine map from output pixel coordinates to photo coordinates: a pan
    across the photo, a steady zoom and a small shake (see the module notes)."""
    photo_height, photo_width = photo_shape
    width, height = size
    fit = min(photo_width / width, photo_height / height)  # photo pixels per output pixel when the view just fits
    start_scale = 0.8 * fit
    end_scale = start_scale * rng.uniform(0.85, 0.95) ** rng.choice([-1, 1])
    end_scale = min(end_scale, 0.85 * fit)  # zooming out must still leave room to pan and shake
    room_x = photo_width - width * max(start_scale, end_scale)
    room_y = photo_height - height * max(start_scale, end_scale)
    pan_x = rng.choice([-1, 1]) * rng.uniform(0.5, 0.9) * room_x / 2
    pan_y = rng.uniform(-0.3, 0.3) * room_y / 2
    shake = np.zeros(3)
    maps = []
    for t in np.linspace(0.0, 1.0, frames):
        shake = 0.7 * shake + rng.normal(0.0, [0.6, 0.6, 0.15])  # smoothed random walk: pixels, pixels, degrees
        scale = start_scale + (end_scale - start_scale) * t
        centre = np.array([photo_width / 2 + pan_x * (2 * t - 1), photo_height / 2 + pan_y * (2 * t - 1)])
        angle = math.radians(shake[2])
        rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        offset = centre + scale * shake[:2] - rotation @ np.array([width / 2, height / 2])
        maps.append(np.hstack([rotation, offset[:, None]]))
    return maps


class FallingSheet:
    """One streak sheet whose drops persist and fall from frame to frame (see the module notes)."""

    def __init__(self, layer: StreakLayer, size: tuple[int, int], rng: np.random.Generator) -> None:
        self.layer = layer
        self.rng = rng
        width, height = size
        theta = math.radians(layer.angle)
        fall = layer.length / _SHUTTER
        self.step = np.array([fall * math.sin(theta), fall * math.cos(theta)])  # x, y per frame
        groups = _ANGLE_GROUPS if layer.angle_spread > 0 else 1
        angles = layer.angle + (rng.normal(0, layer.angle_spread, groups) if groups > 1 else np.zeros(1))
        self.kernels = [streak_kernel(layer.length, layer.width, angle).astype(np.float32) for angle in angles]
        reach = max(kernel.shape[0] for kernel in self.kernels) // 2
        # Margins: a streak's reach on every side, plus one frame's fall above (where drops
        # re-enter) and on the side the wind blows from, so drops appear from outside the view.
        self.left = reach + math.ceil(max(0.0, self.step[0]))
        self.top = reach + math.ceil(self.step[1])
        self.canvas = (height + self.top + reach, width + self.left + reach + math.ceil(max(0.0, -self.step[0])))
        self.view = (height, width)
        count = rng.poisson(layer.density * self.canvas[0] * self.canvas[1])
        self.y = rng.uniform(0, self.canvas[0], count)
        self.x = rng.uniform(0, self.canvas[1], count)
        self.intensity = layer.brightness * rng.uniform(0.3, 1.0, count)  # drop size and distance vary; none is invisible
        self.group = rng.integers(0, groups, count)

    def advance(self) -> None:
        """Move every drop one frame's fall; those that leave the bottom re-enter above the top."""
        self.x += self.step[0]
        self.y += self.step[1]
        left = self.y >= self.canvas[0]
        self.y[left] -= self.canvas[0]
        self.x[left] = self.rng.uniform(0, self.canvas[1], int(left.sum()))
        self.x %= self.canvas[1]

    def render(self) -> np.ndarray:
        """The sheet's added light in the view (H×W, ≥ 0), as :func:`~sapnet.data.rain.render_streaks` shapes it."""
        sheet = np.zeros(self.canvas, np.float32)
        for group, kernel in enumerate(self.kernels):
            drops = np.zeros(self.canvas, np.float32)
            chosen = self.group == group
            _splat(drops, self.y[chosen], self.x[chosen], self.intensity[chosen])
            sheet += cv2.filter2D(drops, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        height, width = self.view
        sheet = sheet[self.top : self.top + height, self.left : self.left + width].astype(np.float64)
        layer = self.layer
        if layer.blur > 0:
            sheet = ndimage.gaussian_filter(sheet, layer.blur, mode="nearest")
        sheet = np.maximum(sheet, 0.0)
        if layer.gamma != 1.0:
            sheet = layer.brightness * (np.minimum(sheet / layer.brightness, 1.0) ** layer.gamma)
        return sheet


def _splat(canvas: np.ndarray, y: np.ndarray, x: np.ndarray, values: np.ndarray) -> None:
    """Add ``values`` at sub-pixel positions, shared bilinearly between the four nearest pixels,
    so that a drop moves smoothly rather than in whole-pixel jumps."""
    rows, cols = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - rows, x - cols
    height, width = canvas.shape
    for dy, dx, weight in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        r, c = rows + dy, cols + dx
        inside = (r < height) & (c < width)
        np.add.at(canvas, (r[inside], c[inside]), (values * weight)[inside])


def _rainy_frame(clean: np.ndarray, depth: np.ndarray, rain: RainParams, sheets: list[FallingSheet], rng: np.random.Generator) -> np.ndarray:
    """One rainy frame, composited as :func:`~sapnet.data.rain.synthesize_rain` composites a still."""
    scene = clean.astype(np.float64)
    extinction = rain.fog.density if rain.fog is not None else 0.0
    if rain.fog is not None:
        transmission = np.exp(-extinction * depth)[..., None]
        scene = scene * transmission + np.asarray(rain.fog.airlight) * (1 - transmission)
    streaks = np.zeros(depth.shape)
    for sheet in sheets:
        behind = np.clip((depth - sheet.layer.depth) / 0.05 + 0.5, 0.0, 1.0)
        streaks += sheet.render() * behind * np.exp(-extinction * sheet.layer.depth)
    streaks = np.clip(streaks, 0.0, 1.0)[..., None]
    if rain.blend == "screen":
        rainy = 1.0 - (1.0 - scene) * (1.0 - streaks)
    else:
        rainy = np.clip(scene + streaks, 0.0, 1.0)
    rainy = 1.0 - (1.0 - rainy) * (1.0 - rain.veil)
    return apply_capture(rainy, rain.capture, rng)


def synthesize_video(
    clean_photo: str | os.PathLike,
    out_folder: str | os.PathLike,
    *,
    frames: int = 24,
    size: tuple[int, int] = (640, 360),
    seed: int = 0,
    preset: str = "heavy",
    fps: int = 24,
    fog: bool = True,
) -> SyntheticVideo:
    """Write a clean and a rainy clip of ``frames`` frames of ``size`` (width, height; even)
    made from ``clean_photo`` into ``out_folder`` (see the module notes for what is modelled
    and what is written); ``preset``: a rain preset of :mod:`sapnet.data.rain`; ``fog=False``
    drops its fog and veil. The same arguments give the same files."""
    width, height = size
    if frames < 1 or width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError(f"need at least 1 frame of an even size of at least 16×16, got {frames} frames of {width}×{height}")
    rng = np.random.default_rng(seed)
    photo = read_rgb(clean_photo).astype(np.float32) / 255.0
    fit = min(photo.shape[1] / width, photo.shape[0] / height)
    if fit > 1.5:  # shrink a large photo first (area-averaged), so that bicubic resampling does not alias
        photo = cv2.resize(photo, None, fx=1.2 / fit, fy=1.2 / fit, interpolation=cv2.INTER_AREA)
    depth_map = pseudo_depth(photo.shape[:2], rng).astype(np.float32)
    rain = sample_rain_params(preset, rng, fog=fog)
    maps = camera_path(photo.shape[:2], size, frames, rng)
    sheets = [FallingSheet(layer, size, rng) for layer in rain.layers]

    out = Path(out_folder)
    clean_dir, rainy_dir = out / "clean", out / "rainy"
    clean_dir.mkdir(parents=True, exist_ok=True)
    rainy_dir.mkdir(parents=True, exist_ok=True)
    clean_video, rainy_video = out / "clean.mp4", out / "rainy.mp4"
    with VideoWriter(clean_video, fps) as clean_writer, VideoWriter(rainy_video, fps) as rainy_writer:
        for index, camera in enumerate(maps):
            view = cv2.warpAffine(photo, camera, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
            clean = np.clip(view, 0.0, 1.0)
            depth = cv2.warpAffine(depth_map, camera, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
            if index:
                for sheet in sheets:
                    sheet.advance()
            rainy = _rainy_frame(clean, depth, rain, sheets, rng)
            for frame, folder, writer in ((clean, clean_dir, clean_writer), (rainy, rainy_dir, rainy_writer)):
                frame8 = np.round(frame * 255).astype(np.uint8)
                cv2.imwrite(os.fspath(folder / f"{index:05d}.png"), cv2.cvtColor(frame8, cv2.COLOR_RGB2BGR))
                writer.write(frame8)
    return SyntheticVideo(clean_video, rainy_video, clean_dir, rainy_dir, frames, size, fps, rain)
