"""Reading and writing the images ``sapnet derain`` works on.

The network sees RGB in [0, 1]. How each kind of input gets there and back:

- **EXIF orientation** is applied on reading; the output is written upright (no orientation tag).
- **Grayscale** (L, 16-bit I;16, 32-bit I, F): replicated to RGB, derained, and written back as
  grayscale (ITU-R 601 luma) at the input's bit depth where the output format allows it.
- **Alpha** (RGBA, LA, PA, palette with transparency): the colour is derained, the alpha channel
  is written back unchanged (formats without alpha, e.g. JPEG, drop it).
- **Palette** (P): expanded to RGB(A); the output is true colour, since a derained image no longer
  fits the original palette.
- **16-bit**: 16-bit grayscale keeps 16 bits in PNG/TIFF outputs. Pillow reads 16-bit-per-channel
  colour PNGs as 8-bit RGB, so those come out as 8-bit colour.
- **CMYK, YCbCr, LAB**: converted to RGB; the output is RGB.
"""

from __future__ import annotations

import glob
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_MAX_MEGAPIXELS = 250.0  # decompression-bomb limit; a 24 MP photo is far below it
_GRAY_MODES = {"1", "L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SIXTEEN_BIT_FORMATS = {".png", ".tif", ".tiff"}


class ImageError(ValueError):
    """An input or output image that cannot be used; the message names the file and the problem."""


@dataclass
class LoadedImage:
    """An image as the network sees it, plus what is needed to write it back faithfully."""

    rgb: torch.Tensor  # (3, H, W) float32 in [0, 1]
    alpha: np.ndarray | None  # (H, W) in the input's own range, or None
    grayscale: bool
    sixteen_bit: bool


def read_image(path: str | os.PathLike, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> LoadedImage:
    """Decode ``path`` following the rules in this module's docstring."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                megapixels = image.width * image.height / 1e6
                if megapixels > max_megapixels:
                    raise ImageError(
                        f"{path}: {image.width}×{image.height} is {megapixels:.0f} megapixels, over the "
                        f"{max_megapixels:g} MP limit (possible decompression bomb; raise --max-megapixels)"
                    )
                image.load()
                return from_pil(image)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (unrecognised format)") from None
    except Image.DecompressionBombError as error:
        raise ImageError(f"{path}: refused as a possible decompression bomb ({error})") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{path}: cannot decode ({_describe(error)})") from None


def _describe(error: Exception) -> str:
    text = str(error)
    if "truncated" in text.lower() or "broken data stream" in text.lower():
        return f"truncated or corrupt image data: {text}"
    return text or error.__class__.__name__


def from_pil(image: Image.Image) -> LoadedImage:
    """Convert a decoded PIL image (any mode) to what the network sees, orientation applied."""
    image = ImageOps.exif_transpose(image)
    alpha = None
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = np.asarray(image.getchannel("A")).copy()
    if image.mode in _GRAY_MODES or image.mode == "LA":
        if image.mode == "LA":
            image = image.convert("L")
        array = np.asarray(image)
        sixteen_bit = image.mode.startswith("I")
        if image.mode == "1":
            gray = array.astype(np.float32)
        elif image.mode == "F":
            gray = np.clip(array.astype(np.float32), 0.0, 1.0)
        elif sixteen_bit:
            gray = array.astype(np.float32) / 65535.0
        else:
            gray = array.astype(np.float32) / 255.0
        rgb = torch.from_numpy(np.ascontiguousarray(gray))[None].expand(3, -1, -1).contiguous()
        return LoadedImage(rgb, alpha, grayscale=True, sixteen_bit=sixteen_bit)
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    rgb = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    return LoadedImage(rgb, alpha, grayscale=False, sixteen_bit=False)


def to_pil(rgb: torch.Tensor, like: LoadedImage | None = None, suffix: str = ".png") -> Image.Image:
    """Turn a derained (3, H, W) tensor back into a PIL image shaped like the input ``like``."""
    rgb = rgb.detach().float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0)
    suffix = suffix.lower()
    if like is not None and like.grayscale:
        luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if like.sixteen_bit and suffix in _SIXTEEN_BIT_FORMATS:
            image = Image.fromarray(np.round(luma * 65535).astype(np.uint16))
        else:
            image = Image.fromarray(np.round(luma * 255).astype(np.uint8), mode="L")
        if like.alpha is not None and suffix not in (".jpg", ".jpeg", ".bmp") and image.mode == "L":
            image = Image.merge("LA", (image, Image.fromarray(_alpha_8bit(like.alpha))))
        return image
    image = Image.fromarray(np.round(rgb * 255).astype(np.uint8), mode="RGB")
    if like is not None and like.alpha is not None and suffix not in (".jpg", ".jpeg", ".bmp"):
        image.putalpha(Image.fromarray(_alpha_8bit(like.alpha)))
    return image


def _alpha_8bit(alpha: np.ndarray) -> np.ndarray:
    return alpha if alpha.dtype == np.uint8 else np.round(alpha / alpha.max() * 255).astype(np.uint8)


def write_image(image: Image.Image, path: str | os.PathLike, quality: int = 95) -> None:
    """Save atomically (temporary file, then rename), so a failed write leaves nothing half-done."""
    path = Path(path)
    options = {"quality": quality} if path.suffix.lower() in (".jpg", ".jpeg", ".webp") else {}
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    except OSError as error:
        raise ImageError(f"{path}: cannot write to {path.parent} ({error.strerror or error})") from None
    os.close(fd)
    try:
        image.save(tmp, format=Image.registered_extensions()[path.suffix.lower()], **options)
        os.replace(tmp, path)
    except (OSError, KeyError, ValueError) as error:
        raise ImageError(f"{path}: cannot write ({error})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def is_image_file(path: Path) -> bool:
    """A regular, non-hidden file with one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


def list_images(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Expand files, folders (their images, sorted, not recursive) and glob patterns.

    Returns the image paths and one error line for each input that names nothing usable.
    """
    paths: list[Path] = []
    errors: list[str] = []
    for item in inputs:
        candidate = Path(item)
        if candidate.is_dir():
            found = sorted(p for p in candidate.iterdir() if is_image_file(p))
            if not found:
                errors.append(f"{candidate}: folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
            paths.extend(found)
        elif candidate.exists() or candidate.is_symlink():
            paths.append(candidate)
        elif glob.has_magic(item):
            found = sorted(Path(p) for p in glob.glob(item) if Path(p).is_file())
            if not found:
                errors.append(f"{item}: pattern matches no file")
            paths.extend(found)
        else:
            errors.append(f"{item}: no such file or folder")
    return paths, errors
