"""The model object every command takes: :func:`load_model` → :class:`DerainModel`.

>>> import sapnet
>>> model = sapnet.load_model()                  # the default bundled model; or a name, a path, a .onnx
>>> clean = model.derain(Image.open("photo.jpg"))  # PIL, NumPy or tensor in, the same kind out

A :class:`DerainModel` is loaded once and carries where its weights came from (registry name,
file, sha256, the metadata of :mod:`sapnet.hub`), the architecture, the device and the backend
chosen for it (:mod:`sapnet.engine.infer.backends`). ``model.derain(x)`` checks the pixels, tiles
large images (:mod:`sapnet.engine.infer.tiling`) and clamps to [0, 1]; ``model(tensor)`` is the
raw forward of the backend.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from sapnet.engine.infer.backends import Backend, build_backend, device_for
from sapnet.engine.infer.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, check_tiling, derain_checked
from sapnet.hub import WeightsError, sha256_of, weights_path
from sapnet.images import (
    DEFAULT_MAX_MEGAPIXELS,
    LUMA_WEIGHTS,
    ImageError,
    LoadedImage,
    from_pil,
    frames_note,
    read_image,
    to_pil,
    write_image,
)
from sapnet.models.sapnet import SAPNet, SAPNetConfig


@dataclass(frozen=True)
class WeightsSource:
    """Where a model's weights came from: the registry ``name`` (None for a plain file), the file
    and its sha256 (None for a network built in memory), and the registry's metadata."""

    name: str | None
    path: Path | None
    sha256: str | None
    meta: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A short name for tables and file names: the registry name, else the file's stem."""
        if self.name:
            return self.name
        return self.path.stem if self.path is not None else "network"


def _is_onnx(spec: Any) -> bool:
    return isinstance(spec, (str, os.PathLike)) and str(spec).lower().endswith(".onnx")


class DerainModel:
    """A derain network ready to run: weights, architecture, device and backend, chosen once.

    ``config`` and ``network`` are None for an ONNX file (its architecture is not recorded).
    """

    def __init__(self, backend: Backend, source: WeightsSource, network: SAPNet | None = None) -> None:
        self.backend = backend
        self.source = source
        self.network = network

    @classmethod
    def from_network(cls, network: SAPNet, backend: str = "auto", name: str | None = None) -> DerainModel:
        """Wrap a network built or trained in memory (its weights are used as they are now: the
        fast backend copies them, so wrap again after changing them)."""
        return cls(build_backend(network.eval(), backend), WeightsSource(name, None, None), network)

    # -- what it is ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.source.label

    @property
    def config(self) -> SAPNetConfig | None:
        return None if self.network is None else self.network.config

    @property
    def device(self) -> torch.device:
        return self.backend.device

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def max_pixels(self) -> int:
        """Images above this many pixels are tiled (the backend's budget of about 2 GB)."""
        return self.backend.max_pixels

    @property
    def parameter_count(self) -> int | None:
        return None if self.network is None else sum(p.numel() for p in self.network.parameters())

    def info(self) -> dict:
        """What a report records about the model (JSON-ready)."""
        return {
            "name": self.source.name,
            "path": None if self.source.path is None else str(self.source.path.resolve()),
            "sha256": self.source.sha256,
            "config": None if self.config is None else self.config.to_dict(),
            "parameters": self.parameter_count,
            "backend": self.backend_name,
            "device": str(self.device),
        }

    def __repr__(self) -> str:
        return f"DerainModel({self.name!r}, backend={self.backend_name!r}, device={str(self.device)!r})"

    # -- running it ------------------------------------------------------------------------------
    def __call__(self, rainy: torch.Tensor) -> torch.Tensor:
        """The raw forward: (N, 3, H, W) → the unclamped estimate, untiled."""
        return self.backend(rainy)

    def derain(
        self,
        image: Image.Image | np.ndarray | torch.Tensor,
        max_pixels: int | None = None,
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
    ):
        """Derain ``image`` and return the result in the same kind of container.

        - PIL image: any mode, following the rules of :mod:`sapnet.images`; returns a PIL image.
        - NumPy array: (H, W) or (H, W, 3|4), uint8, uint16 or float in [0, 1]; returns the same
          shape and dtype (alpha kept).
        - Tensor: (3, H, W) or (N, 3, H, W) float in [0, 1]; returns the same shape, on the
          input's device.

        Empty images, NaN or infinite values and values outside the ranges above (a float array
        in 0..255, a uint8 tensor) raise :class:`sapnet.images.ImageError` (a ValueError); a
        multi-frame PIL image (animated GIF, multi-page TIFF) warns that only its first frame is
        derained. Images over ``max_pixels`` (None: the backend's :attr:`max_pixels`) are
        derained in ``tile``-sized tiles overlapping by ``overlap`` pixels.
        """
        check_tiling(max_pixels, tile, overlap)

        def run(batch: torch.Tensor) -> torch.Tensor:
            return derain_checked(self.backend, batch, max_pixels, tile, overlap)

        if isinstance(image, Image.Image):
            loaded = from_pil(image)
            if loaded.frames > 1:
                warnings.warn(frames_note(loaded.frames), stacklevel=2)
            return to_pil(run(loaded.rgb[None])[0], loaded)
        if isinstance(image, np.ndarray):
            return _derain_array(image, lambda rgb: run(rgb[None])[0])
        if isinstance(image, torch.Tensor):
            if image.dim() not in (3, 4) or image.shape[-3] != 3:
                raise ImageError(f"expected a (3, H, W) or (N, 3, H, W) tensor, got shape {tuple(image.shape)}")
            return run(image[None])[0] if image.dim() == 3 else run(image)
        raise TypeError(f"cannot derain a {type(image).__name__}; pass a PIL image, NumPy array or tensor")

    def derain_file(
        self,
        source: str | os.PathLike,
        target: str | os.PathLike,
        max_pixels: int | None = None,
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
        overwrite: bool = True,
    ) -> LoadedImage:
        """Derain the image file ``source`` into ``target`` as ``sapnet derain`` (and the web page)
        do: decoded by :func:`sapnet.images.read_image`, derained, written in the format of
        ``target``'s extension with the input's mode, ICC profile and EXIF (:func:`to_pil`),
        atomically; with ``overwrite=False`` an existing ``target`` raises
        :class:`sapnet.images.OutputExistsError` and is kept. Returns the decoded input (its
        ``frames`` say whether only the first of several was derained); an ImageError names ``source``."""
        loaded = read_image(source, max_megapixels=max_megapixels)
        try:
            result = self.derain(loaded.rgb, max_pixels, tile, overlap)
        except ImageError as problem:
            raise ImageError(f"{source}: {problem}") from None
        write_image(to_pil(result, loaded, Path(target).suffix), target, overwrite=overwrite)
        return loaded


def _derain_array(array: np.ndarray, run) -> np.ndarray:
    """An (H, W[, 3|4]) array through ``run`` ((3, H, W) float → same), in its own dtype and layout."""
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
        result = result @ np.array(LUMA_WEIGHTS, dtype=np.float32)
    result = np.round(result * scale).astype(array.dtype) if scale > 1 else result.astype(array.dtype)
    return result if alpha is None else np.concatenate([result, alpha], axis=2)


def load_model(
    spec: str | os.PathLike | None = None,
    *,
    device: str | torch.device = "auto",
    backend: str = "auto",
    stages: int | None = None,
) -> DerainModel:
    """The model ``spec`` names, loaded once: a bundled name or ``official`` (see
    :data:`sapnet.hub.WEIGHTS`), a checkpoint file in any format :mod:`sapnet.models.checkpoints`
    reads, a ``.onnx`` file written by ``sapnet export``, or None for the default bundled model.

    ``device``: ``auto`` (CUDA when available, else the CPU), ``cpu``, ``cuda``, ``cuda:N``.
    ``backend``: ``auto`` (the fast engine on the CPU, eager on a GPU, ONNX Runtime for ``.onnx``
    files), ``eager``, ``fast`` or ``onnxruntime``. ``stages`` overrides the recurrent stages.

    Raises :class:`sapnet.hub.WeightsError` for weights that cannot be found or read, ValueError
    for a backend or device that cannot run them, RuntimeError for CUDA asked for but absent.
    """
    if _is_onnx(spec):
        return _load_onnx(Path(spec), device, backend, stages)
    target = device_for(backend, device)
    entry, path = weights_path(spec)
    from sapnet.models.checkpoints import CheckpointError, load_checkpoint

    try:
        network = load_checkpoint(path, stages=stages).to(target).eval()
    except CheckpointError as error:
        raise WeightsError(str(error)) from None
    source = WeightsSource(
        name=entry.name if entry else None,
        path=path,
        sha256=entry.sha256 if entry else sha256_of(path),
        meta=dict(entry.meta) if entry else {},
    )
    return DerainModel(build_backend(network, backend), source, network)


def _load_onnx(path: Path, device: str | torch.device, backend: str, stages: int | None) -> DerainModel:
    if backend not in ("auto", "onnxruntime"):
        raise ValueError(f"{path}: an ONNX file runs with --backend onnxruntime, not {backend}")
    if stages is not None:
        raise ValueError(f"{path}: the stages of an ONNX file are fixed when it is exported (sapnet export --stages)")
    if not path.is_file():
        raise WeightsError(f"{path}: no such ONNX file")
    device_for("onnxruntime", device)
    from sapnet.engine.infer.backends.onnx import OnnxBackend
    from sapnet.models.checkpoints import CheckpointError

    try:
        runner = OnnxBackend(path)
    except CheckpointError as error:
        raise WeightsError(str(error)) from None
    return DerainModel(runner, WeightsSource(None, path, sha256_of(path)))
