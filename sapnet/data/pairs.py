"""Pairing rainy images with their clean ground truth, in the layouts deraining data sets ship in.

Layouts, tried in this order (folder names are matched case-insensitively):

1. ``rainy/`` + ``clean/`` subfolders (this package's own layout, written by ``sapnet synth``).
2. ``input/`` + ``target/`` subfolders (Rain13K and MPRNet-style releases).
   In both, files pair by name stem, so ``rainy/7.jpg`` may pair with ``clean/7.png``.
3. ``rain-N`` + ``norain-N`` files side by side in the folder itself: PReNet's training sets and
   the Rain100L/Rain100H releases (``rain-1.png`` or ``rain-001.png``); files pair by ``N``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from sapnet.data.files import DataError, list_images
from sapnet.images import is_image_file

SUBFOLDER_LAYOUTS = (("rainy", "clean"), ("input", "target"))
_PRENET_NAME = re.compile(r"^(?P<side>no)?rain-(?P<key>.+)$", re.IGNORECASE)
_NAMES_SHOWN = 5  # how many unpaired names an error message lists


def find_pairs(root: str | os.PathLike) -> list[tuple[Path, Path]]:
    """The ``(rainy, clean)`` image pairs under ``root``, in natural order of their names.

    Raises :class:`DataError` for a missing folder, an unknown layout, an empty image folder,
    images left without a partner, or two files claiming the same partner.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    subfolders = _layout_subfolders(root)
    if subfolders is not None:
        rainy_dir, clean_dir = subfolders
        rainy = _index_by_key(list_images(rainy_dir), lambda path: path.stem)
        clean = _index_by_key(list_images(clean_dir), lambda path: path.stem)
        return _match(rainy, clean, f"{rainy_dir} and {clean_dir}")
    prenet_files = _prenet_files(root)
    if prenet_files:
        return _pair_prenet_files(root, prenet_files)
    folders = {path.name.lower(): path for path in root.iterdir() if path.is_dir()}
    raise DataError(f"{root}: unknown data layout; {_describe_contents(root, folders)}")


def has_paired_layout(root: str | os.PathLike) -> bool:
    """Whether ``root`` is laid out as one of the paired layouts (its pairing may still fail)."""
    root = Path(root)
    return root.is_dir() and (_layout_subfolders(root) is not None or bool(_prenet_files(root)))


def _layout_subfolders(root: Path) -> tuple[Path, Path] | None:
    folders = {path.name.lower(): path for path in root.iterdir() if path.is_dir()}
    for rainy_name, clean_name in SUBFOLDER_LAYOUTS:
        if rainy_name in folders and clean_name in folders:
            return folders[rainy_name], folders[clean_name]
    return None


def _prenet_files(root: Path) -> list[Path]:
    return [path for path in root.iterdir() if is_image_file(path) and _PRENET_NAME.match(path.stem)]


def _pair_prenet_files(root: Path, files: list[Path]) -> list[tuple[Path, Path]]:
    rainy_files: list[Path] = []
    clean_files: list[Path] = []
    for path in files:
        (clean_files if _PRENET_NAME.match(path.stem)["side"] else rainy_files).append(path)

    def key(path: Path) -> str:
        return _PRENET_NAME.match(path.stem)["key"]

    return _match(_index_by_key(rainy_files, key), _index_by_key(clean_files, key), f"{root} (rain-N/norain-N files)")


def _index_by_key(paths: Iterable[Path], key: Callable[[Path], str]) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in paths:
        other = index.setdefault(key(path), path)
        if other != path:
            raise DataError(f"{other} and {path} both pair as '{key(path)}'; keep one of them")
    return index


def _match(rainy: dict[str, Path], clean: dict[str, Path], where: str) -> list[tuple[Path, Path]]:
    problems = []
    for side, mine, theirs, partner in (("rainy", rainy, clean, "clean"), ("clean", clean, rainy, "rainy")):
        lonely = sorted((key for key in mine if key not in theirs), key=_natural_order)
        if lonely:
            names = ", ".join(mine[key].name for key in lonely[:_NAMES_SHOWN])
            more = f", … {len(lonely) - _NAMES_SHOWN} more" if len(lonely) > _NAMES_SHOWN else ""
            problems.append(f"{len(lonely)} {side} image(s) without a {partner} partner ({names}{more})")
    if problems:
        raise DataError(f"{where}: unpaired files: {'; '.join(problems)}")
    return [(rainy[key], clean[key]) for key in sorted(rainy, key=_natural_order)]


def _natural_order(key: str) -> tuple:
    """Sort ``rain-2`` before ``rain-10``: digit runs compare as numbers."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", key)))


def _describe_contents(root: Path, subfolders: dict[str, Path]) -> str:
    expected = " or ".join(f"{rainy}/ + {clean}/" for rainy, clean in SUBFOLDER_LAYOUTS)
    images = sum(1 for path in root.iterdir() if is_image_file(path))
    found = ", ".join(sorted(f"{name}/" for name in subfolders)[:_NAMES_SHOWN]) or "no subfolders"
    return (
        f"expected {expected} subfolders, or rain-N/norain-N image pairs in the folder itself; "
        f"found {found} and {images} image file(s)"
    )
