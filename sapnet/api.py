"""The Python API: derain a PIL image, a NumPy array or a tensor with one call.

>>> import sapnet
>>> model = sapnet.load_model("official")            # or a bundled name, a checkpoint path, a .onnx
>>> clean = sapnet.derain(Image.open("photo.jpg"), model)   # the same as model.derain(...)
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from PIL import Image

from sapnet.engine.infer.model import DerainModel, load_model
from sapnet.engine.infer.tiling import DEFAULT_OVERLAP, DEFAULT_TILE
from sapnet.hub import WEIGHTS


@functools.lru_cache(maxsize=4)
def _named_model(name: str | None) -> DerainModel:
    """Registry models by name, loaded once per process (their files are checksummed, so they cannot change)."""
    return load_model(name)


def as_model(model: DerainModel | torch.nn.Module | str | None) -> DerainModel:
    """``model`` as a :class:`DerainModel`: as it is, a network wrapped, or loaded from a name or path."""
    if isinstance(model, DerainModel):
        return model
    if isinstance(model, torch.nn.Module):
        return DerainModel.from_network(model)
    if model is None or (isinstance(model, str) and model in WEIGHTS):
        return _named_model(model)
    return load_model(model)


def derain(
    image: Image.Image | np.ndarray | torch.Tensor,
    model: DerainModel | torch.nn.Module | str | None = None,
    max_pixels: int | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
):
    """Derain ``image`` with ``model`` (a :class:`DerainModel`, a network, a weights name or path,
    or None for the bundled default) and return the same kind of container; see
    :meth:`DerainModel.derain` for the kinds, the checks and the tiling."""
    return as_model(model).derain(image, max_pixels, tile, overlap)


def derain_video(
    src,
    dst,
    model: DerainModel | torch.nn.Module | str | None = None,
    temporal: str = "flow",
    progress=None,
    max_pixels: int | None = None,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    **options,
):
    """Derain the video file ``src`` into ``dst`` with ``model`` (as for :func:`derain`): the same
    frames, timestamps, audio and subtitles, steadied by the temporal stage (``temporal="off"``
    derains each frame on its own), resumable; ``progress(done, total, fps)`` after each frame.
    ``options`` (``crf``, ``codec``, ``overwrite``, …) and the report: :func:`sapnet.video.derain_video`."""
    from sapnet.video import derain_video as derain_frames_of

    model = as_model(model)
    return derain_frames_of(
        src, dst, lambda frames: model.derain(frames, max_pixels, tile, overlap), temporal=temporal,
        progress=progress, model_id=model.source.sha256 or "", **options,
    )


__all__ = ["as_model", "derain", "derain_video", "load_model"]
