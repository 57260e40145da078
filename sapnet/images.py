"""Reading and writing the images ``sapnet derain`` works on.

The network sees RGB in [0, 1]. How each kind of input gets there and back:

- **EXIF orientation** is applied on reading; the output is written upright, its EXIF kept with
  the orientation reset to 1 (normal). The **ICC profile** is kept where it describes the output's
  colour space (RGB, or gray for grayscale; a CMYK or broken profile is dropped).
- **Grayscale** (L, 16-bit I;16, 32-bit I, F): replicated to RGB, derained, and written back as
  grayscale (ITU-R 601 luma) at the input's bit depth where the output format allows it.
- **Alpha** (RGBA, LA, PA, palette with transparency): the colour is derained, the alpha channel
  is written back unchanged (formats without alpha, e.g. JPEG, drop it).
- **Palette** (P): expanded to RGB(A); the output is true colour, since a derained image no longer
  fits the original palette.
- **16-bit**: 16-bit grayscale keeps 16 bits in PNG/TIFF outputs. Pillow reads 16-bit-per-channel
  colour PNGs as 8-bit RGB, so those come out as 8-bit colour.
- **CMYK, YCbCr, LAB**: converted to RGB; the output is RGB.
- **Float** (F, e.g. a float TIFF): values must be in [0, 1]; NaN, infinity or a 0..255 range
  are refused (see :func:`check_pixels`), never clipped into a blank image.
- **Several frames** (animated GIF, multi-page TIFF): the first frame is derained;
  :attr:`LoadedImage.frames` tells the caller, which says so.
"""

from __future__ import annotations

import glob
import io
import os
import struct
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import ExifTags, Image, ImageCms, ImageOps

from sapnet.files import atomic_write

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Rec. 601 luma, as Pillow's convert("L") weighs RGB: how a gray input's result goes back to gray
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
DEFAULT_MAX_MEGAPIXELS = 250.0  # decompression-bomb limit; a 24 MP photo is far below it
_GRAY_MODES = {"1", "L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SIXTEEN_BIT_FORMATS = {".png", ".tif", ".tiff"}


class ImageError(ValueError):
    """An input or output image that cannot be used; the message names the file and the problem."""


class OutputExistsError(ImageError):
    """The output file exists (perhaps written by another run meanwhile) and may not be replaced."""


@dataclass
class LoadedImage:
    """An image as the network sees it, plus what is needed to write it back faithfully."""

    rgb: torch.Tensor  # (3, H, W) float32 in [0, 1]
    alpha: np.ndarray | None  # (H, W) in the input's own range, or None
    grayscale: bool
    sixteen_bit: bool
    frames: int = 1  # more than 1: an animated or multi-page file, of which ``rgb`` is the first frame
    icc_profile: bytes | None = None  # kept only where it fits the output's colour space
    exif: bytes | None = None  # with the orientation reset to 1, since the pixels are upright


def check_pixels(pixels: torch.Tensor) -> None:
    """Refuse, with an :class:`ImageError`, what the network must not see: no pixels, integer
    values, NaN or infinity (the attention pools over the whole image, so one such value blanks
    the whole output) and values outside [0, 1] (e.g. 0..255, which come back all white)."""
    if pixels.numel() == 0:
        raise ImageError(f"image is empty ({pixels.shape[-1]}×{pixels.shape[-2]} pixels)")
    if not pixels.is_floating_point():
        raise ImageError(f"expected float pixel values in [0, 1], got {pixels.dtype} (divide 8-bit values by 255)")
    finite = torch.isfinite(pixels)
    if not finite.all():
        count = int((~finite).any(dim=-3).sum())  # pixels, not values: a gray pixel is three values
        raise ImageError(f"{count} pixel(s) are NaN or infinite; refusing the image rather than blanking it")
    low, high = (float(value) for value in torch.aminmax(pixels))
    if low < 0 or high > 1:
        raise ImageError(f"pixel values span {low:g}..{high:g}, outside [0, 1] (divide 8-bit values by 255)")


def frames_note(frames: int) -> str:
    """What to tell the user about a file with several frames."""
    return f"has {frames} frames (animated or multi-page); only the first is derained"


@contextmanager
def _without_pillow_pixel_limit():
    """Pillow refuses images over twice its own limit (about 179 MP) when it opens them, whatever
    ``max_megapixels`` says, and with its own message; lift it while :func:`read_image` opens a
    file, which checks the size against ``max_megapixels`` before decoding any pixel."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def read_image(path: str | os.PathLike, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> LoadedImage:
    """Decode ``path`` following the rules in this module's docstring."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file (0 bytes)")
        # Pillow's warnings (corrupt EXIF, odd chunks) are several lines of noise about data
        # that is dropped or repaired anyway; a file it cannot decode still raises
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _without_pillow_pixel_limit(), Image.open(path) as image:
                megapixels = image.width * image.height / 1e6
                if megapixels > max_megapixels:
                    raise ImageError(
                        f"{path}: {image.width}×{image.height} is {megapixels:.0f} megapixels, over the "
                        f"{max_megapixels:g} MP limit (possible decompression bomb; raise --max-megapixels)"
                    )
                image.load()
                try:
                    return from_pil(image)
                except ImageError as problem:
                    raise ImageError(f"{path}: {problem}") from None
    except ImageError:
        raise
    except FileNotFoundError:
        if path.is_symlink():
            raise ImageError(f"{path}: broken symbolic link (to {os.readlink(path)}, which does not exist)") from None
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (unrecognised format)") from None
    except OSError as error:
        if error.strerror:  # the file system's refusal (a symlink loop, a name too long…), not the decoder's
            raise ImageError(f"{path}: cannot read ({error.strerror})") from None
        raise ImageError(f"{path}: cannot decode ({_describe(error)})") from None
    except (SyntaxError, ValueError, TypeError) as error:  # TypeError: a TIFF without dimensions, for one
        raise ImageError(f"{path}: cannot decode ({_describe(error)})") from None


def _describe(error: Exception) -> str:
    text = str(error)
    if "truncated" in text.lower() or "broken data stream" in text.lower():
        return f"truncated or corrupt image data: {text}"
    return text or error.__class__.__name__


def _upright_exif(image: Image.Image) -> bytes | None:
    """The EXIF block of ``image`` with the orientation tag (if any) reset to 1, or None when it
    has none or it cannot be re-encoded (a corrupt block is dropped rather than copied)."""
    try:
        exif = image.getexif()
        if not exif:
            return None
        if ExifTags.Base.Orientation in exif:
            exif[ExifTags.Base.Orientation] = 1
        return exif.tobytes()
    except (OSError, ValueError, TypeError, struct.error):
        return None


def _fitting_icc(profile: bytes | None, grayscale: bool) -> bytes | None:
    """``profile`` if it describes the output's colour space: a CMYK or Lab input's profile
    does not fit its RGB output, and a profile that does not parse is not worth copying."""
    if not profile:
        return None
    try:
        space = ImageCms.ImageCmsProfile(io.BytesIO(profile)).profile.xcolor_space.strip()
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    return profile if space == ("GRAY" if grayscale else "RGB") else None


def from_pil(image: Image.Image) -> LoadedImage:
    """Convert a decoded PIL image (any mode) to what the network sees, orientation applied."""
    frames = getattr(image, "n_frames", 1)
    icc_profile = image.info.get("icc_profile")
    # transposed first: a copy whose EXIF has lost its orientation tag, so the caller's image
    # is not changed and the tag read by exif_transpose is still the original one
    image = ImageOps.exif_transpose(image)
    exif = _upright_exif(image)
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
            gray = array.astype(np.float32)  # unclipped, so check_pixels sees a wrong range
        elif sixteen_bit:
            gray = array.astype(np.float32) / 65535.0
        else:
            gray = array.astype(np.float32) / 255.0
        rgb = torch.from_numpy(np.ascontiguousarray(gray))[None].expand(3, -1, -1).contiguous()
        return LoadedImage(rgb, alpha, True, sixteen_bit, frames, _fitting_icc(icc_profile, True), exif)
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    rgb = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    return LoadedImage(rgb, alpha, False, False, frames, _fitting_icc(icc_profile, False), exif)


def to_pil(rgb: torch.Tensor, like: LoadedImage | None = None, suffix: str = ".png") -> Image.Image:
    """Turn a derained (3, H, W) tensor back into a PIL image shaped like the input ``like``."""
    image = _to_pil_pixels(rgb, like, suffix.lower())
    if like is not None:
        # kept in ``info`` (as Pillow does on reading), where write_image and PIL's save find them
        image.info.update({key: value for key, value in (("icc_profile", like.icc_profile), ("exif", like.exif)) if value})
    return image


def _to_pil_pixels(rgb: torch.Tensor, like: LoadedImage | None, suffix: str) -> Image.Image:
    rgb = rgb.detach().float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0)
    if like is not None and like.grayscale:
        luma = rgb @ np.array(LUMA_WEIGHTS, dtype=np.float32)
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


def writable_format(suffix: str) -> str | None:
    """The Pillow format that writes files ending in ``suffix`` (any case), or None."""
    name = Image.registered_extensions().get(suffix.lower())
    return name if name in Image.SAVE else None


def write_image(image: Image.Image, path: str | os.PathLike, quality: int = 95, overwrite: bool = True) -> None:
    """Save atomically (temporary file, then rename), so a failed write leaves nothing half-done.

    The temporary name is short, so a final name at the file system's limit still works. With
    ``overwrite=False`` an existing ``path`` (even one that appeared while this image was being
    computed) raises :class:`OutputExistsError` and is left alone. The image's ``icc_profile``
    and ``exif`` info (see :func:`to_pil`) are written where the format stores them.
    """
    path = Path(path)
    format_name = writable_format(path.suffix)
    if format_name is None:
        raise ImageError(f"{path}: Pillow cannot write {path.suffix or 'a file without an extension'}")
    options = {"quality": quality} if format_name in ("JPEG", "WEBP") else {}
    options.update({key: image.info[key] for key in ("icc_profile", "exif") if image.info.get(key)})
    try:
        with atomic_write(path, overwrite) as tmp:
            image.save(tmp, format=format_name, **options)
    except FileExistsError:
        raise OutputExistsError(f"{path}: exists") from None
    except (OSError, ValueError) as error:
        raise ImageError(f"{path}: cannot write ({getattr(error, 'strerror', None) or error})") from None


def output_suffix(name: str, output_format: str | None = None) -> str:
    """The extension a derained image of the input ``name`` is written with: ``output_format``
    (png, jpg, …) when given, else the input's own when it is one of :data:`IMAGE_EXTENSIONS`,
    else PNG (lossless, and writable whatever the input was: a ``.heic``, no extension)."""
    suffix = "." + output_format if output_format else Path(name).suffix.lower()
    return suffix if suffix in IMAGE_EXTENSIONS else ".png"


def is_image_file(path: Path) -> bool:
    """A non-hidden entry with one of :data:`IMAGE_EXTENSIONS` (any case) that is a regular file,
    or a symbolic link leading nowhere: listed so that reading it names the broken link instead
    of a folder's image going missing without a word."""
    if path.name.startswith(".") or path.suffix.lower() not in IMAGE_EXTENSIONS:
        return False
    return path.is_file() or (path.is_symlink() and not path.exists())


def images_in(folder: Path) -> list[Path]:
    """The image files directly inside ``folder`` (not recursive), sorted by name: the one file
    lister, used by :func:`expand_inputs` and by the data sets (:func:`sapnet.data.list_images`)."""
    return sorted(path for path in folder.iterdir() if is_image_file(path))


def no_images_message(folder: Path) -> str:
    return f"{folder}: folder has no images ({', '.join(IMAGE_EXTENSIONS)})"


def expand_inputs(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Expand files, folders (their images, sorted, not recursive) and glob patterns.

    Returns the image paths and one error line for each input that names nothing usable.
    """
    paths: list[Path] = []
    errors: list[str] = []
    for item in inputs:
        candidate = Path(item)
        try:
            if candidate.is_symlink() and not candidate.exists():
                candidate.stat()  # raises why the link leads nowhere: a loop, a missing target
            if candidate.is_dir():
                found = images_in(candidate)
                if not found:
                    errors.append(no_images_message(candidate))
                paths.extend(found)
            elif candidate.exists():
                paths.append(candidate)
            elif glob.has_magic(item):
                found = sorted(Path(p) for p in glob.glob(item) if Path(p).is_file())
                if not found:
                    errors.append(f"{item}: pattern matches no file")
                paths.extend(found)
            else:
                errors.append(f"{item}: no such file or folder")
        except OSError as error:
            errors.append(f"{item}: cannot be read ({error.strerror or error})")
    return paths, errors
