"""Synthetic training pairs on disk: rain on a clean photo, written as ``rainy/NAME.png`` and
``clean/NAME.png`` (the layout :func:`sapnet.data.find_pairs` reads); used by ``sapnet synth``
and by the downstream benchmark's synthetic data sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sapnet.data.files import DataError, read_rgb
from sapnet.data.rain import sample_rain_params, synthesize_rain
from sapnet.images import ImageError, write_image


def prepare_pair_folders(out_dir: Path, source_dir: Path) -> tuple[Path, Path]:
    """``out_dir/rainy`` and ``out_dir/clean``, created; a DataError if either is ``source_dir`` itself."""
    rainy_dir, clean_dir = out_dir / "rainy", out_dir / "clean"
    if source_dir.resolve() in (rainy_dir.resolve(), clean_dir.resolve()):
        raise DataError(f"{source_dir}: is also an output folder; writing there could overwrite the input photos")
    rainy_dir.mkdir(parents=True, exist_ok=True)
    clean_dir.mkdir(parents=True, exist_ok=True)
    return rainy_dir, clean_dir


def write_synthetic_pair(
    photo: Path,
    preset: str,
    rng: np.random.Generator,
    rainy_dir: Path,
    clean_dir: Path,
    fog: bool = True,
    overwrite: bool = True,
) -> None:
    """Rain on ``photo`` and write both files, each atomically (a kill leaves no half-written PNG).
    Without ``overwrite`` an existing output is a DataError and both halves are left as they are."""
    rainy_path, clean_path = rainy_dir / f"{photo.stem}.png", clean_dir / f"{photo.stem}.png"
    if not overwrite:
        for path in (rainy_path, clean_path):
            if path.exists():  # before any work, and both halves of the pair are left as they are
                raise DataError(f"{path}: exists (pass --overwrite to replace it)")
    clean = read_rgb(photo)
    params = sample_rain_params(preset, rng, fog=fog)
    rainy = synthesize_rain(clean.astype(np.float32) / 255.0, params, rng)
    try:
        write_image(Image.fromarray(clean), clean_path, overwrite=overwrite)
    except ImageError as error:
        raise DataError(str(error)) from None
    try:
        write_image(Image.fromarray(np.round(rainy * 255.0).astype(np.uint8)), rainy_path, overwrite=overwrite)
    except ImageError as error:
        clean_path.unlink(missing_ok=True)  # ours; a clean image without its rainy partner breaks find_pairs
        raise DataError(str(error)) from None
