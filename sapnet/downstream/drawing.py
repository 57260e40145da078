"""Task-model outputs drawn on images (boxes with names and scores, or coloured label maps), for
the example figure: the rows of a :func:`sapnet.engine.evaluate.figures.contact_sheet`, like the SAPNet
paper's Figures 12-13."""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sapnet.downstream.metrics import IGNORE

MASK_OPACITY = 0.55
GOLDEN_RATIO = 0.618033988749895


def palette(count: int = 256) -> np.ndarray:
    """The Pascal VOC colour map: label ``i`` → a distinct RGB colour (0 is black)."""
    colours = np.zeros((count, 3), np.uint8)
    for label in range(count):
        value, colour = label, [0, 0, 0]
        for bit in range(7, -1, -1):
            for channel in range(3):
                colour[channel] |= ((value >> channel) & 1) << bit
            value >>= 3
        colours[label] = colour
    return colours


_PALETTE = palette()


def _colour(label: int) -> tuple[int, int, int]:
    """A saturated colour for the boxes of class ``label``: hues spread by the golden ratio."""
    red, green, blue = colorsys.hsv_to_rgb((label * GOLDEN_RATIO) % 1.0, 0.85, 1.0)
    return round(255 * red), round(255 * green), round(255 * blue)


def draw_boxes(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, classes: dict[int, str], scores: np.ndarray | None = None) -> np.ndarray:
    """``image`` with each box (x1, y1, x2, y2) outlined in its class colour and labelled with the
    class name (and score); line and text sized to the image so they stay legible in a thumbnail."""
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    line = max(2, round(max(image.shape[:2]) / 160))
    font = ImageFont.load_default(size=max(10, round(max(image.shape[:2]) / 28)))
    for index, (box, label) in enumerate(zip(boxes, labels)):
        colour = _colour(int(label))
        corner = (float(box[0]), float(box[1]))
        draw.rectangle(tuple(float(value) for value in box), outline=colour, width=line)
        text = classes.get(int(label), str(label)) + ("" if scores is None else f" {scores[index]:.2f}")
        anchor = "lb" if draw.textbbox(corner, text, font=font, anchor="lb")[1] - line >= 0 else "lt"  # inside at the top edge
        left, top, right, bottom = draw.textbbox(corner, text, font=font, anchor=anchor)
        draw.rectangle((left - line, top - line, right + line, bottom + line), fill=colour)
        draw.text(corner, text, fill=(0, 0, 0), font=font, anchor=anchor)
    return np.asarray(canvas)


def draw_labels(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``image`` with every non-background label painted over in its VOC colour (ignored pixels white)."""
    colours = np.vstack([_PALETTE, [[255, 255, 255]]])
    index = np.where(labels == IGNORE, len(_PALETTE), labels.astype(np.int64) % len(_PALETTE))
    painted = labels != 0
    blended = image.astype(np.float32)
    blended[painted] = (1 - MASK_OPACITY) * blended[painted] + MASK_OPACITY * colours[index[painted]]
    return np.round(blended).astype(np.uint8)
