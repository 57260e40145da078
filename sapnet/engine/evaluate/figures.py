"""Comparison figures (rainy | each model | clean, with an enlarged crop, like the SAPNet paper's
Figures 8–11) and contact sheets of thumbnails, composed with Pillow from 8-bit RGB arrays."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BOX_COLOUR = (230, 30, 30)
BACKGROUND = (255, 255, 255)
TEXT_COLOUR = (0, 0, 0)
MARGIN = 8
FONT_SIZE = 14


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default(size=FONT_SIZE)


def best_window(energy: np.ndarray, size: int) -> tuple[int, int]:
    """(left, top) of the ``size``×``size`` window with the largest sum of ``energy`` (H×W)."""
    size = min(size, *energy.shape)
    sums = np.pad(energy, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    windows = sums[size:, size:] - sums[:-size, size:] - sums[size:, :-size] + sums[:-size, :-size]
    top, left = np.unravel_index(np.argmax(windows), windows.shape)
    return int(left), int(top)


def choose_crop(rainy: np.ndarray, reference: np.ndarray, size: int | None = None) -> tuple[int, int, int]:
    """A square crop (left, top, size) where the rain matters most: where ``rainy`` and
    ``reference`` (the clean image or, without one, a derained output) differ most.
    ``size`` defaults to a quarter of the shorter side."""
    size = min(size or max(min(rainy.shape[:2]) // 4, 1), *rainy.shape[:2])
    energy = np.abs(rainy.astype(np.float64) - reference.astype(np.float64)).mean(axis=2)
    return (*best_window(energy, size), size)


def check_crop(crop: tuple[int, int, int], shape: tuple[int, ...]) -> None:
    """A ValueError unless the crop (left, top, size) lies inside an image of ``shape`` (H, W, …)."""
    left, top, size = crop
    if size < 1 or left < 0 or top < 0 or left + size > shape[1] or top + size > shape[0]:
        raise ValueError(f"crop {size}×{size} at ({left}, {top}) does not fit in the {shape[1]}×{shape[0]} image")


def _panel(image: np.ndarray, crop: tuple[int, int, int], width: int) -> Image.Image:
    """The image scaled to ``width`` with the crop outlined, above the crop enlarged to ``width``."""
    left, top, size = crop
    full = Image.fromarray(image)
    scale = width / full.width
    height = max(round(full.height * scale), 1)
    scaled = full.resize((width, height), Image.Resampling.LANCZOS)
    zoom = full.crop((left, top, left + size, top + size)).resize((width, width), Image.Resampling.NEAREST)
    panel = Image.new("RGB", (width, height + MARGIN + width), BACKGROUND)
    panel.paste(scaled, (0, 0))
    panel.paste(zoom, (0, height + MARGIN))
    draw = ImageDraw.Draw(panel)
    line = max(2, width // 200)
    draw.rectangle(
        (round(left * scale), round(top * scale), round((left + size) * scale) - 1, round((top + size) * scale) - 1),
        outline=BOX_COLOUR, width=line,
    )
    draw.rectangle((0, height + MARGIN, width - 1, height + MARGIN + width - 1), outline=BOX_COLOUR, width=line)
    return panel


def comparison_figure(
    panels: list[tuple[str, np.ndarray]], crop: tuple[int, int, int], width: int = 320, captions: list[str] | None = None
) -> Image.Image:
    """Side-by-side panels (label, H×W×3 uint8 image of one size), each ``width`` pixels wide: the
    image with the ``crop`` (left, top, size) outlined, and below it that crop enlarged, with the
    label (and an optional caption line, e.g. scores) underneath."""
    check_crop(crop, panels[0][1].shape)
    font = _font()
    text_height = FONT_SIZE + 4
    lines = 2 if captions else 1
    rendered = [_panel(image, crop, width) for _, image in panels]
    figure = Image.new(
        "RGB",
        (len(panels) * (width + MARGIN) + MARGIN, rendered[0].height + 2 * MARGIN + lines * text_height),
        BACKGROUND,
    )
    draw = ImageDraw.Draw(figure)
    for index, ((label, _), panel) in enumerate(zip(panels, rendered)):
        x = MARGIN + index * (width + MARGIN)
        figure.paste(panel, (x, MARGIN))
        texts = [label] + ([captions[index]] if captions else [])
        for line, text in enumerate(texts):
            y = MARGIN + panel.height + MARGIN // 2 + line * text_height
            draw.text((x + width / 2, y), text, fill=TEXT_COLOUR, font=font, anchor="ma")
    return figure


def thumbnail(image: np.ndarray, size: int) -> Image.Image:
    """``image`` scaled to fit a ``size``×``size`` box, aspect ratio kept."""
    thumb = Image.fromarray(image)
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    return thumb


def contact_sheet(columns: list[str], rows: list[tuple[str, list[Image.Image]]], size: int = 160) -> Image.Image:
    """A grid of thumbnails: one row per image (its name on the left), one column per ``columns``
    label (e.g. rainy, each model, clean); thumbnails (see :func:`thumbnail`) are centred in
    ``size``×``size`` cells."""
    font = _font()
    name_width = max([ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(name, font=font) for name, _ in rows] + [0])
    left = int(name_width) + 2 * MARGIN
    header = FONT_SIZE + 2 * MARGIN
    cell = size + MARGIN
    sheet = Image.new("RGB", (left + len(columns) * cell, header + len(rows) * cell), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for column, label in enumerate(columns):
        draw.text((left + column * cell + size / 2, MARGIN), label, fill=TEXT_COLOUR, font=font, anchor="ma")
    for row, (name, thumbs) in enumerate(rows):
        y = header + row * cell
        draw.text((MARGIN, y + size / 2), name, fill=TEXT_COLOUR, font=font, anchor="lm")
        for column, thumb in enumerate(thumbs):
            x = left + column * cell
            sheet.paste(thumb, (x + (size - thumb.width) // 2, y + (size - thumb.height) // 2))
    return sheet
