"""Inference: run a derain network on images of any size with bounded memory.

Images above a pixel budget are cut into overlapping tiles; each tile is derained on its own and
the overlaps are blended with linear ramps, so seams are invisible. SAPNet's receptive field is
large (six recurrent stages of dilated blocks) and its channel attention pools over the whole
input, so tiling is an approximation: large tiles with a wide overlap keep it far below what
anyone can see (tests pin ≥ 45 dB PSNR between tiled and untiled results).

``model`` may be the network itself or a backend of :mod:`sapnet.engine.infer.backends`:
anything called like the network, with a ``device`` and, optionally, its ``max_pixels``.
"""

from __future__ import annotations

import torch
from torch import nn

from sapnet.images import ImageError, check_pixels

DEFAULT_MAX_PIXELS = 1024 * 1024  # above this an image is tiled (about 1.7 GB of activations at most)
# The fast CPU engine keeps about 0.95 kB per pixel (the eager model about 1.7 kB), so it tiles
# above 2.1 MP for the same memory: a 1920×1080 frame runs whole, exact and without the tiles'
# overlap work (measured peak: 1.95 GB above the process's baseline).
FAST_MAX_PIXELS = 1920 * 1088
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64


def check_tiling(max_pixels: int | None, tile: int, overlap: int) -> None:
    """Refuse tiling options that cannot work, before any image is read (a ValueError naming them)."""
    if max_pixels is not None and max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive number of pixels, got {max_pixels}")
    if tile < 1:
        raise ValueError(f"tile must be a positive number of pixels, got {tile}")
    if overlap < 0:
        raise ValueError(f"overlap must be 0 or more pixels, got {overlap}")
    if overlap >= tile:
        raise ValueError(f"overlap ({overlap}) must be smaller than the tile ({tile})")


def _tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length`` with at least ``overlap`` shared."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def _ramp(length: int, start: int, tile: int, total: int, overlap: int, device) -> torch.Tensor:
    """Blend weights along one axis: rising over the overlap except at the image border."""
    weight = torch.ones(tile, device=device)
    if overlap > 0:
        ramp = torch.linspace(0, 1, overlap + 2, device=device)[1:-1]
        if start > 0:
            weight[:overlap] = ramp
        if start + tile < total:
            weight[-overlap:] = ramp.flip(0)
    return weight


def default_max_pixels(model) -> int:
    """The tiling threshold that keeps ``model``'s (or backend's) activations under about 2 GB:
    a backend states its own (``max_pixels``); a plain network gets the eager one."""
    return getattr(model, "max_pixels", DEFAULT_MAX_PIXELS)


def model_device(model) -> torch.device:
    """The device a network or backend computes on."""
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        return device
    return next(model.parameters()).device


@torch.inference_mode()
def derain_tensor(
    model: nn.Module,
    rainy: torch.Tensor,
    max_pixels: int | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
) -> torch.Tensor:
    """Derain (N, 3, H, W) images in [0, 1] on the model's device; returns them clamped to [0, 1]
    on the input's device. Images over ``max_pixels`` (None: :func:`default_max_pixels`) are
    processed in ``tile``-sized tiles. ``model`` is the network or a backend (see the module notes)."""
    check_tiling(max_pixels, tile, overlap)
    if max_pixels is None:
        max_pixels = default_max_pixels(model)
    device = model_device(model)
    height, width = rainy.shape[-2:]
    if height * width <= max_pixels:
        return model(rainy.to(device)).clamp_(0, 1).to(rainy.device)
    output = torch.zeros_like(rainy, dtype=torch.float32)
    weights = torch.zeros((1, 1, height, width), dtype=torch.float32, device=rainy.device)
    tile_h, tile_w = min(tile, height), min(tile, width)
    for top in _tile_starts(height, tile_h, overlap):
        row_weight = _ramp(height, top, tile_h, height, overlap, rainy.device)
        for left in _tile_starts(width, tile_w, overlap):
            col_weight = _ramp(width, left, tile_w, width, overlap, rainy.device)
            patch = rainy[..., top : top + tile_h, left : left + tile_w].to(device)
            result = model(patch).clamp_(0, 1).to(rainy.device)
            blend = row_weight[:, None] * col_weight[None, :]
            output[..., top : top + tile_h, left : left + tile_w] += result * blend
            weights[..., top : top + tile_h, left : left + tile_w] += blend
    return output / weights


def derain_checked(
    model: nn.Module,
    rainy: torch.Tensor,
    max_pixels: int | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
) -> torch.Tensor:
    """:func:`derain_tensor` for images from outside (files, the API): refuses the inputs
    :func:`check_pixels` refuses and never returns a non-finite result (an :class:`ImageError`)."""
    check_pixels(rainy)
    result = derain_tensor(model, rainy.float(), max_pixels, tile, overlap)
    if not torch.isfinite(result).all():
        raise ImageError("the model's output is NaN or infinite for a finite input: its weights are likely corrupt")
    return result
