"""Finding and decoding the image files that training data is made of."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sapnet.images import ImageError, check_pixels, images_in, no_images_message, read_image


class DataError(ValueError):
    """A data folder or image file that cannot be used; the message names it and the problem."""


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The images directly inside ``folder``, sorted by name; a missing or image-less folder is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    images = images_in(folder)
    if not images:
        raise DataError(no_images_message(folder))
    return images


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` to an upright (EXIF orientation applied) H×W×3 ``uint8`` RGB array.

    Decoded by :func:`sapnet.images.read_image`, the project's one image reader, so training,
    ``sapnet synth`` and evaluation see an image as ``sapnet derain`` does (16-bit grayscale
    scaled from its 0..65535 range, not clipped to white). Kept in 8 bits so that a cache of
    decoded training photos stays small; callers convert to float after cropping. Float images
    whose pixels are not in [0, 1] are refused rather than clipped.
    """
    path = Path(path)
    try:
        rgb = read_image(path).rgb
    except ImageError as error:
        detail = str(error).removeprefix(f"{path}: ")
        raise DataError(f"{path}: cannot read image: {detail}") from None
    try:
        check_pixels(rgb)  # the rule sapnet derain applies: float images must hold values in [0, 1]
    except ImageError:
        raise DataError(f"{path}: cannot read image: float pixel values outside [0, 1] (or NaN)") from None
    return np.round(rgb.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
