"""The Python API: derain a PIL image, a NumPy array or a tensor with one call.

>>> import sapnet
>>> model = sapnet.load_model("official")            # or a bundled name, or a checkpoint path
>>> clean = sapnet.derain(Image.open("photo.jpg"), model)
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from PIL import Image

from sapnet.engine.fast import make_runner
from sapnet.engine.infer import DEFAULT_OVERLAP, DEFAULT_TILE, check_tiling, derain_checked
from sapnet.hub import load_model
from sapnet.images import ImageError, from_pil, frames_note, to_pil
from sapnet.models.sapnet import SAPNet


def derain(
    image: Image.Image | np.ndarray | torch.Tensor,
    model: SAPNet | str | None = None,
    max_pixels: int | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
):
    """Derain ``image`` and return the result in the same kind of container.

    - PIL image: any mode, following the rules of :mod:`sapnet.images`; returns a PIL image.
    - NumPy array: (H, W) or (H, W, 3|4), uint8, uint16 or float in [0, 1]; returns the same
      shape and dtype (alpha kept).
    - Tensor: (3, H, W) or (N, 3, H, W) float in [0, 1]; returns the same shape.

    Empty images, NaN or infinite values and values outside the ranges above (a float array in
    0..255, a uint8 tensor) raise :class:`sapnet.images.ImageError` (a ValueError); a multi-frame
    PIL image (animated GIF, multi-page TIFF) warns that only its first frame is derained.

    ``model`` is a loaded :class:`SAPNet`, a weights name or path, or None for the bundled model.
    Large images are tiled as in :func:`sapnet.engine.infer.derain_tensor` (``max_pixels=None``:
    its default for the engine in use).
    """
    check_tiling(max_pixels, tile, overlap)
    if not isinstance(model, torch.nn.Module):
        model = load_model(model)
    model = make_runner(model, "auto")  # the fast CPU engine where it applies, as `sapnet derain`

    def run(rgb: torch.Tensor) -> torch.Tensor:
        return derain_checked(model, rgb[None], max_pixels, tile, overlap)[0]

    if isinstance(image, Image.Image):
        loaded = from_pil(image)
        if loaded.frames > 1:
            warnings.warn(frames_note(loaded.frames), stacklevel=2)
        return to_pil(run(loaded.rgb), loaded)
    if isinstance(image, np.ndarray):
        return _derain_array(image, run)
    if isinstance(image, torch.Tensor):
        if image.dim() not in (3, 4) or image.shape[-3] != 3:
            raise ImageError(f"expected a (3, H, W) or (N, 3, H, W) tensor, got shape {tuple(image.shape)}")
        if image.dim() == 3:
            return run(image)
        return derain_checked(model, image, max_pixels, tile, overlap)
    raise TypeError(f"cannot derain a {type(image).__name__}; pass a PIL image, NumPy array or tensor")


def _derain_array(array: np.ndarray, run) -> np.ndarray:
    if array.dtype == np.uint8:
        scale = 255.0
    elif array.dtype == np.uint16:
        scale = 65535.0
    elif np.issubdtype(array.dtype, np.floating):
        scale = 1.0
    else:
        raise TypeError(f"unsupported array dtype {array.dtype}; use uint8, uint16 or float in [0, 1]")
    if array.ndim == 2:
        colour, alpha = np.repeat(array[..., None], 3, axis=2), None
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        colour, alpha = array[..., :3], array[..., 3:] if array.shape[2] == 4 else None
    else:
        raise ImageError(f"expected an (H, W), (H, W, 3) or (H, W, 4) array, got shape {array.shape}")
    rgb = torch.from_numpy(np.ascontiguousarray(colour.transpose(2, 0, 1), dtype=np.float32) / scale)
    result = run(rgb).numpy().transpose(1, 2, 0)
    if array.ndim == 2:
        result = result @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    result = np.round(result * scale).astype(array.dtype) if scale > 1 else result.astype(array.dtype)
    return result if alpha is None else np.concatenate([result, alpha], axis=2)


__all__ = ["derain", "load_model"]
