"""Thin lines drawn into a clean photo as part of the scene: poles, wires, ropes, mullions, lit edges.

Every bundled model so far has thinned thin bright near-vertical structure as if it were rain:
Rain100L 093's white window mullions, 090's sunlit tin edge (docs/MODEL_CARD.md). Dry training
items (the clean crop as input and target) show such structure where a photo happens to have it;
drawing it in makes it common. A line drawn here is in the clean target as well as under the rain,
so the network learns to keep it. What tells it from a streak is what tells them apart in
photographs: a scene line is opaque (it replaces the background instead of adding light to it),
sharp, dark as often as bright, may sag like a wire, and stands alone instead of in a sheet of
parallel streaks. Near-vertical bright lines, the kind taken for rain, are drawn most.

:func:`draw_lit_edges` draws the other kind: Rain100L 090's tins lose their thin sunlit edges,
a bright rim along a darker body rather than a line on its own.

Lines are drawn with PIL on a canvas four times finer and box-filtered down, which anti-aliases
them; edges are sampled on such a grid. Everything random comes from the
``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

_SUPERSAMPLE = 4
_MAX_LINES = 3
_NEAR_VERTICAL_SHARE = 0.6  # the confusable kind
_NEAR_VERTICAL_SPREAD = 15.0  # degrees either side of vertical
_BRIGHT_SHARE = 0.6
_WIDTH_RANGE = (1.0, 4.0)  # pixels
_MAX_SAG = 0.08  # of the line's length, for wires and ropes
_RIM_WIDTH_RANGE = (1.0, 3.0)  # pixels
_BODY_WIDTH_RANGE = (4.0, 25.0)  # pixels


def draw_scene_lines(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` (H×W×3 float in [0, 1]) with one to three opaque thin lines drawn in."""
    height, width = image.shape[:2]
    out = image.astype(np.float32, copy=True)
    for _ in range(int(rng.integers(1, _MAX_LINES + 1))):
        coverage = _line_coverage((height, width), rng)
        if rng.random() < _BRIGHT_SHARE:
            colour = rng.uniform(0.75, 1.0) * (1.0 - rng.uniform(0.0, 0.12, 3))  # near-white, slightly tinted
        else:
            colour = rng.uniform(0.0, 0.35) * (1.0 - rng.uniform(0.0, 0.3, 3))
        alpha = coverage[..., None] * rng.uniform(0.85, 1.0)
        out = out * (1.0 - alpha) + colour.astype(np.float32) * alpha
    return out


def draw_lit_edges(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` with one or two opaque lit edges drawn in: a near-white rim 1–3 px wide along the
    side of a darker body 4–25 px wide (a tin, pole or frame with the sun on one edge)."""
    height, width = image.shape[:2]
    out = image.astype(np.float32, copy=True)
    for _ in range(int(rng.integers(1, 3))):
        along, across = _edge_frame((height, width), rng)
        length = rng.uniform(0.3, 1.5) * max(height, width)
        rim_width, body_width = rng.uniform(*_RIM_WIDTH_RANGE), rng.uniform(*_BODY_WIDTH_RANGE)
        inside = np.abs(along) < length / 2
        rim = _pixel_coverage(inside & (across >= 0) & (across < rim_width))
        body = _pixel_coverage(inside & (across < 0) & (across >= -body_width))
        rim_colour = rng.uniform(0.8, 1.0) * (1.0 - rng.uniform(0.0, 0.1, 3))
        body_colour = rim_colour * rng.uniform(0.2, 0.65) * (1.0 - rng.uniform(0.0, 0.2, 3))
        for coverage, colour in ((body, body_colour), (rim, rim_colour)):
            alpha = coverage[..., None].astype(np.float32)
            out = out * (1.0 - alpha) + colour.astype(np.float32) * alpha
    return out


def _edge_frame(shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates along and across a straight edge through a point of the frame, on a grid four
    times finer than the pixels (H·4 × W·4, in pixels); the angle as for lines."""
    height, width = shape
    angle = _angle(rng)
    centre_x, centre_y = rng.uniform(0, width), rng.uniform(0, height)
    y, x = np.mgrid[0 : height * _SUPERSAMPLE, 0 : width * _SUPERSAMPLE]
    x = (x + 0.5) / _SUPERSAMPLE - centre_x
    y = (y + 0.5) / _SUPERSAMPLE - centre_y
    return x * np.cos(angle) + y * np.sin(angle), -x * np.sin(angle) + y * np.cos(angle)


def _pixel_coverage(fine: np.ndarray) -> np.ndarray:
    """The share of each pixel that a mask on the four-times-finer grid covers (H×W in [0, 1])."""
    height, width = fine.shape[0] // _SUPERSAMPLE, fine.shape[1] // _SUPERSAMPLE
    return fine.reshape(height, _SUPERSAMPLE, width, _SUPERSAMPLE).mean((1, 3))


def _line_coverage(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """How much of each pixel (H×W in [0, 1]) one straight or sagging line covers."""
    height, width = shape
    angle = _angle(rng)
    # Through a point inside the frame, from a third of the frame to well beyond it.
    centre = np.array([rng.uniform(0, width), rng.uniform(0, height)])
    length = rng.uniform(0.3, 1.5) * max(height, width)
    direction = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    sag = rng.uniform(-_MAX_SAG, _MAX_SAG) * length if rng.random() < 0.5 else 0.0
    t = np.linspace(-0.5, 0.5, 33)
    points = centre + np.outer(t * length, direction) + np.outer(sag * (1 - 4 * t**2), normal)
    canvas = Image.new("L", (width * _SUPERSAMPLE, height * _SUPERSAMPLE), 0)
    line_width = max(1, round(rng.uniform(*_WIDTH_RANGE) * _SUPERSAMPLE))
    ImageDraw.Draw(canvas).line([tuple(p) for p in (points + 0.5) * _SUPERSAMPLE], fill=255, width=line_width, joint="curve")
    return np.asarray(canvas.resize((width, height), Image.Resampling.BOX), dtype=np.float32) / 255.0


def _angle(rng: np.random.Generator) -> float:
    """A line's angle in radians from the x axis: most within 15° of vertical, the rest any."""
    if rng.random() < _NEAR_VERTICAL_SHARE:
        return float(np.deg2rad(90.0 + rng.uniform(-_NEAR_VERTICAL_SPREAD, _NEAR_VERTICAL_SPREAD)))
    return float(rng.uniform(0.0, np.pi))
