"""Torch datasets of (rainy, clean) training pairs: read from disk, or synthesised on the fly.

Both return two float32 tensors (3, H, W) in [0, 1], RGB. Crops are square, 100×100 by default
as in the SAPNet and PReNet training code; ``crop=None`` gives whole images (for validation,
with a batch size of 1 unless all images share one size). An image smaller than the crop is
mirror-padded up to it rather than refused, so a data set with a few small images still trains.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch.utils.data import Dataset

from sapnet.data.files import DataError, list_images, read_rgb
from sapnet.data.pairs import find_pairs
from sapnet.data.rain import PRESETS, VeilPrior, pseudo_depth, sample_rain_params, synthesize_rain
from sapnet.data.scene_lines import draw_lit_edges, draw_scene_lines

T = TypeVar("T")


class PairedDataset(Dataset):
    """Rainy/clean pairs from a folder (any layout :func:`find_pairs` knows) or a list of pairs.

    Crop positions and flips are drawn from torch's global RNG on every access, so each epoch
    sees new crops, and ``torch.manual_seed`` (with DataLoader's per-worker seeding) makes a run
    repeatable. ``augment`` turns the random horizontal flip on; crops are random either way.
    ``subset`` keeps a fixed, ``seed``-determined fraction of the pairs (the paper's Table 3
    trains on 40, 60 and 100 % of the data).
    """

    def __init__(
        self,
        root_or_pairs: str | os.PathLike | Sequence[tuple[str | os.PathLike, str | os.PathLike]],
        crop: int | None = 100,
        augment: bool = True,
        subset: float = 1.0,
        seed: int = 0,
    ) -> None:
        if isinstance(root_or_pairs, (str, os.PathLike)):
            pairs = find_pairs(root_or_pairs)
        else:
            pairs = [(Path(rainy), Path(clean)) for rainy, clean in root_or_pairs]
        if not pairs:
            raise DataError("PairedDataset: no image pairs given")
        self.pairs = select_subset(pairs, subset, seed)
        self.crop = _checked_crop(crop)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rainy_path, clean_path = self.pairs[index]
        rainy, clean = read_rgb(rainy_path), read_rgb(clean_path)
        if rainy.shape != clean.shape:
            raise DataError(f"{rainy_path} is {_size(rainy)} but its clean partner {clean_path} is {_size(clean)}")
        if self.crop is not None:
            rainy, clean = pad_to_size(rainy, self.crop), pad_to_size(clean, self.crop)
            top = int(torch.randint(rainy.shape[0] - self.crop + 1, ()))
            left = int(torch.randint(rainy.shape[1] - self.crop + 1, ()))
            rainy, clean = crop_at(rainy, top, left, self.crop), crop_at(clean, top, left, self.crop)
        if self.augment and bool(torch.rand(()) < 0.5):
            rainy, clean = rainy[:, ::-1], clean[:, ::-1]
        return to_tensor(rainy), to_tensor(clean)


class SyntheticRainDataset(Dataset):
    """Clean photos with fresh synthetic rain (:mod:`sapnet.data.rain`) on every epoch.

    Photos come from one folder or several (their images in order, folder after folder). Item
    ``i`` crops clean photo ``i mod N`` and rains on the crop (cheaper than raining on the
    whole photo), with crop position, preset and rain all drawn from a generator seeded by
    ``(seed, epoch, i)``: repeatable, yet different after :meth:`set_epoch`. Call ``set_epoch``
    before each epoch's DataLoader iterator is created; workers created with
    ``persistent_workers=True`` keep the epoch they started with.

    ``epoch_length`` (default: the number of photos) sets how many items an epoch has.
    ``veil`` (a :class:`VeilPrior`) draws the haze veil apart from the preset, which otherwise
    decides it. ``dry`` is the share of items left without rain (the clean crop as input and
    target), to teach the network to leave rain-free content as it is: bright straight lines such
    as window mullions and posts, which near-vertical heavy rain teaches it to erase.
    ``scene_lines`` is the share of items (dry or rainy) with thin opaque lines drawn into the
    clean crop before the rain (:mod:`sapnet.data.scene_lines`), kept in the target: more of
    that structure than photos happen to show; ``lit_edges`` likewise, for bright rims along darker
    bodies. ``scene_lines_presets`` (default: all) limits the rainy items that keep their lines
    and edges to those presets (configs/bundled_v14.yaml kept them out of ``heavy`` and
    ``downpour`` rain, where an opaque near-white line looks like one more streak).
    ``cache=True`` keeps decoded photos in memory (8-bit, ~0.5 MB for a 481×321 photo; each
    DataLoader worker fills its own copy).
    """

    def __init__(
        self,
        clean_dirs: str | os.PathLike | Sequence[str | os.PathLike],
        crop: int | None = 100,
        presets: Sequence[str] = ("light", "heavy"),
        seed: int = 0,
        epoch_length: int | None = None,
        cache: bool = False,
        veil: VeilPrior | None = None,
        dry: float = 0.0,
        scene_lines: float = 0.0,
        scene_lines_presets: Sequence[str] | None = None,
        lit_edges: float = 0.0,
    ) -> None:
        if isinstance(clean_dirs, (str, os.PathLike)):
            clean_dirs = [clean_dirs]
        self.files = [path for folder in clean_dirs for path in list_images(folder)]
        self.veil = veil
        if not presets or any(preset not in PRESETS for preset in presets):
            raise ValueError(f"presets must be a non-empty choice among {', '.join(PRESETS)}, got {presets!r}")
        if not 0 <= dry < 1:
            raise ValueError(f"dry must be a share in [0, 1), got {dry}")
        for name, share in (("scene_lines", scene_lines), ("lit_edges", lit_edges)):
            if not 0 <= share <= 1:
                raise ValueError(f"{name} must be a share in [0, 1], got {share}")
        if scene_lines_presets is not None and any(preset not in PRESETS for preset in scene_lines_presets):
            raise ValueError(f"scene_lines_presets must be a choice among {', '.join(PRESETS)}, got {scene_lines_presets!r}")
        if epoch_length is not None and epoch_length < 1:
            raise ValueError(f"epoch_length must be at least 1, got {epoch_length}")
        self.crop = _checked_crop(crop)
        self.presets = tuple(presets)
        self.seed = seed
        self.dry = dry
        self.scene_lines = scene_lines
        self.lit_edges = lit_edges
        self.scene_lines_presets = None if scene_lines_presets is None else frozenset(scene_lines_presets)
        self.epoch_length = epoch_length or len(self.files)
        self.epoch = 0
        self._cache: dict[int, np.ndarray] | None = {} if cache else None

    def set_epoch(self, epoch: int) -> None:
        """Draw new rain (and crops) for the items of ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.epoch_length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        rng = np.random.default_rng((self.seed, self.epoch, index))
        clean = pad_to_size(self._clean_photo(index % len(self.files)), self.crop or 1)
        # Depth belongs to the whole photo (its horizon), so it is drawn there and cropped with it.
        depth = pseudo_depth(clean.shape[:2], rng)[..., None]
        if self.crop is not None:
            top = int(rng.integers(clean.shape[0] - self.crop + 1))
            left = int(rng.integers(clean.shape[1] - self.crop + 1))
            clean, depth = crop_at(clean, top, left, self.crop), crop_at(depth, top, left, self.crop)
        clean = clean.astype(np.float32) / 255.0
        # Each drawn only when asked for, so that runs without them keep their random streams.
        photo = clean
        if self.scene_lines and rng.random() < self.scene_lines:
            clean = draw_scene_lines(clean, rng)
        if self.lit_edges and rng.random() < self.lit_edges:
            clean = draw_lit_edges(clean, rng)
        if self.dry and rng.random() < self.dry:
            return to_tensor(clean), to_tensor(clean)
        preset = self.presets[rng.integers(len(self.presets))]
        if self.scene_lines_presets is not None and preset not in self.scene_lines_presets:
            clean = photo  # lines and edges were drawn all the same, so that the random stream is as without the limit
        params = sample_rain_params(preset, rng)
        if self.veil is not None:
            params = replace(params, veil=self.veil.sample(rng))
        rainy = synthesize_rain(clean, params, rng, depth=depth[..., 0])
        return to_tensor(rainy), to_tensor(clean)

    def _clean_photo(self, file_index: int) -> np.ndarray:
        if self._cache is None:
            return read_rgb(self.files[file_index])
        if file_index not in self._cache:
            self._cache[file_index] = read_rgb(self.files[file_index])
        return self._cache[file_index]


def select_subset(items: Sequence[T], fraction: float, seed: int) -> list[T]:
    """A fixed random ``fraction`` of ``items`` (at least one), kept in their original order.

    The choice is a prefix of one seeded permutation, so for a given seed a smaller fraction is
    contained in a larger one (the 40 % subset lies inside the 60 % one).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"subset fraction must be in (0, 1], got {fraction}")
    count = max(1, round(fraction * len(items)))
    chosen = np.random.default_rng(seed).permutation(len(items))[:count]
    return [items[i] for i in sorted(chosen)]


def pad_to_size(image: np.ndarray, size: int) -> np.ndarray:
    """Mirror-pad an H×W×C image at its bottom/right so that both sides are at least ``size``.

    Symmetric mirroring (edge pixel repeated) works for any shortfall, even a one-pixel image.
    """
    pad_rows, pad_cols = max(size - image.shape[0], 0), max(size - image.shape[1], 0)
    if not pad_rows and not pad_cols:
        return image
    return np.pad(image, ((0, pad_rows), (0, pad_cols), (0, 0)), mode="symmetric")


def crop_at(image: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    return image[top : top + size, left : left + size]


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """H×W×3 ``uint8`` or float-in-[0, 1] array → float32 (3, H, W) tensor in [0, 1]."""
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    chw = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(chw).div_(scale)


def _checked_crop(crop: int | None) -> int | None:
    if crop is not None and (isinstance(crop, bool) or not isinstance(crop, int) or crop < 1):
        raise ValueError(f"crop must be a positive integer or None, got {crop!r}")
    return crop


def _size(image: np.ndarray) -> str:
    return f"{image.shape[1]}×{image.shape[0]}"
