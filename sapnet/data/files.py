"""Finding and decoding the image files that training data is made of."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from sapnet.images import IMAGE_EXTENSIONS, is_image_file


class DataError(ValueError):
    """A data folder or image file that cannot be used; the message names it and the problem."""


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The images directly inside ``folder``, sorted by name; a missing or image-less folder is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    images = sorted(path for path in folder.iterdir() if is_image_file(path))
    if not images:
        raise DataError(f"{folder}: folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
    return images


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` to an upright (EXIF orientation applied) H×W×3 ``uint8`` RGB array.

    Kept in 8 bits so that a cache of decoded training photos stays small; callers convert to
    float after cropping.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        # UnidentifiedImageError and truncated data are OSErrors; some decoders raise the others.
        raise DataError(f"{path}: cannot read image ({str(error) or type(error).__name__})") from None
