"""Evaluation of derain models on paired and unpaired data: the engine of ``sapnet evaluate``.

A *model* is a weights name of :data:`sapnet.hub.WEIGHTS`, a checkpoint file, or a folder of
images another tool already derained (matched to a data set's rainy images by file stem). A
*data set* is a folder in any paired layout :func:`sapnet.data.find_pairs` knows, or a plain
folder of rainy images without ground truth.

Scoring conventions, as :mod:`sapnet.metrics` defines them:

* every output is clamped to [0, 1] and rounded to 8 bits (``round(255·x)``, not truncated),
  exactly what its saved PNG holds, before it is scored;
* paired data: PSNR/SSIM on the MATLAB luma Y (the deraining literature) and on RGB
  (scikit-image, as the SAPNet paper), no border crop;
* paired data: each row also holds the rainy input's own PSNR-Y, and the summary counts the
  images each model makes worse than their rainy input;
* data without ground truth: NIQE (the MATLAB release) and BRISQUE (OpenCV, where its model
  files are installed), both lower-is-better; ``no_reference=True`` adds them on paired data.

Outputs of checkpoint models are cached as ``OUT/derained/<model>/<dataset>/<stem>.png`` and
reused by a later run with the same ``OUT`` (evaluations are resumable); ``source.json`` beside
them records the checkpoint's sha256 and tiling, and a cache made by other weights is refused.
Results go to ``OUT/per_image.csv``, ``OUT/summary.md`` and ``OUT/settings.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sapnet.data import DataError, find_pairs, list_images, read_rgb
from sapnet.images import is_image_file
from sapnet.data.pairs import has_paired_layout
from sapnet.engine.evaluate.reports import BASELINE, Report, write_reports
from sapnet.engine.infer.backends import pick_device
from sapnet.engine.infer.model import load_model
from sapnet.engine.infer.tiling import DEFAULT_OVERLAP, DEFAULT_TILE
from sapnet.hub import WEIGHTS, WeightsError
from sapnet.images import ImageError, to_pil, write_image
from sapnet.metrics import brisque, niqe, psnr_y, score_pair
from sapnet.metrics.no_reference import brisque_model_files


class EvaluationError(ValueError):
    """A model or data set argument that cannot be used; the message names it and the problem."""


# -- arguments --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelSpec:
    """A model to evaluate: ``source`` is a weights name, a checkpoint file or a folder of outputs."""

    label: str
    source: str
    is_folder: bool


def _split_label(text: str) -> tuple[str, str]:
    """``label=value`` → (label, value); a text without a usable label → ("", text)."""
    label, sep, value = text.partition("=")
    if not sep or not label or Path(text).exists() or any(char in label for char in "/\\"):
        return "", text
    return label, value


def _check_label(label: str, text: str) -> str:
    """Labels name folders and table rows: no path separators, no '|', not '.' or '..'."""
    if not label or label in (".", "..") or any(char in label for char in "/\\|"):
        raise EvaluationError(f"{text}: '{label}' cannot be used as a label; name it with LABEL=…")
    return label


def parse_model(text: str) -> ModelSpec:
    """``[label=]source``; the label defaults to the weights name, the file stem or the folder name."""
    label, source = _split_label(text)
    path = Path(source)
    if source in WEIGHTS:
        return ModelSpec(_check_label(label or source, text), source, is_folder=False)
    if path.is_dir():
        return ModelSpec(_check_label(label or path.resolve().name, text), source, is_folder=True)
    if path.is_file():
        return ModelSpec(_check_label(label or path.stem, text), source, is_folder=False)
    raise EvaluationError(
        f"{source}: neither a weights name ({', '.join(WEIGHTS)}), a checkpoint file, nor a folder of derained images"
    )


def parse_dataset(text: str) -> tuple[str, Path]:
    """``[name=]folder`` → (name, folder); the name defaults to the folder's own name."""
    name, folder = _split_label(text)
    path = Path(folder)
    return _check_label(name or path.resolve().name, text), path


def unique_labels(labels: list[str], what: str) -> None:
    """Two models (or data sets) with one label would share a cache folder and a table row."""
    seen = set()
    for label in labels:
        if label in seen:
            raise EvaluationError(f"two {what} are labelled '{label}'; name them apart with LABEL=…")
        seen.add(label)


# -- data -------------------------------------------------------------------------------------

@dataclass
class Dataset:
    """Rainy images of a data set with their clean partners (None when there is no ground truth)."""

    name: str
    root: Path
    items: list[tuple[Path, Path | None]]
    total: int  # images in the folder, before any limit

    @property
    def paired(self) -> bool:
        return self.items[0][1] is not None


def load_dataset(name: str, root: Path, limit: int | None = None) -> Dataset:
    """The first ``limit`` images (all when None) of the folder ``root``, in natural name order.

    A folder in a paired layout must pair completely (a rainy image without ground truth is a
    :class:`DataError` naming it); a plain folder of images is data without ground truth.
    """
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    if has_paired_layout(root):
        items: list[tuple[Path, Path | None]] = list(find_pairs(root))
    else:
        items = [(path, None) for path in list_images(root)]
    stems: dict[str, Path] = {}
    for rainy, _ in items:
        other = stems.setdefault(rainy.stem, rainy)
        if other != rainy:
            raise DataError(f"{other} and {rainy} share the name '{rainy.stem}'; their outputs would collide")
    return Dataset(name, root, items[:limit] if limit else items, total=len(items))


def _size(image: np.ndarray) -> str:
    return f"{image.shape[1]}×{image.shape[0]}"


def read_item(rainy_path: Path, clean_path: Path | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The rainy and clean images as uint8 RGB arrays; a DataError if either is unreadable or they differ in size."""
    rainy = read_rgb(rainy_path)
    if clean_path is None:
        return rainy, None
    clean = read_rgb(clean_path)
    if rainy.shape != clean.shape:
        raise DataError(f"{rainy_path} ({_size(rainy)}) and its clean image {clean_path} ({_size(clean)}) differ in size")
    return rainy, clean


# -- models -----------------------------------------------------------------------------------

class FolderOutputs:
    """Outputs another tool wrote: ``<stem>.<any image extension>`` for each rainy image, in
    ``folder/<dataset>/`` where that subfolder exists (the layout of this module's cache), else
    in ``folder`` itself."""

    def __init__(self, spec: ModelSpec) -> None:
        self.label = spec.label
        self.folder = Path(spec.source)
        self._indexes: dict[str, tuple[Path, dict[str, list[Path]]]] = {}

    def info(self) -> dict:
        return {"label": self.label, "kind": "folder", "path": str(self.folder.resolve())}

    def prepare(self, dataset: Dataset) -> None:
        """Index the folder holding ``dataset``'s outputs by file stem."""
        folder = self.folder / dataset.name if (self.folder / dataset.name).is_dir() else self.folder
        by_stem: dict[str, list[Path]] = {}
        for path in folder.iterdir():
            if is_image_file(path):
                by_stem.setdefault(path.stem, []).append(path)
        self._indexes[dataset.name] = folder, by_stem

    def output(self, dataset: str, rainy_path: Path, rainy: np.ndarray) -> np.ndarray:
        folder, by_stem = self._indexes[dataset]
        found = by_stem.get(rainy_path.stem, [])
        if not found:
            raise DataError(f"{folder}: no derained image named {rainy_path.stem}.* for {rainy_path}")
        if len(found) > 1:
            raise DataError(f"{folder}: {', '.join(sorted(p.name for p in found))} all match {rainy_path}; keep one")
        return read_rgb(found[0])


@dataclass
class Tiling:
    """How images are cut for the network (see :mod:`sapnet.engine.infer.tiling`);
    ``max_pixels`` None: the backend's default."""

    max_pixels: int | None = None
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP


class ModelOutputs:
    """A model's outputs (any weights :func:`sapnet.load_model` takes, ``.onnx`` included),
    computed once and cached as 8-bit PNGs under ``cache/<dataset>/``."""

    def __init__(self, spec: ModelSpec, cache: Path, device: torch.device, backend: str = "auto", tiling: Tiling | None = None) -> None:
        self.label = spec.label
        self.source = spec.source
        self.model = load_model(spec.source, device=device, backend=backend)
        self.tiling = tiling or Tiling()
        self.cache = cache
        self._claim_cache()

    def _claim_cache(self) -> None:
        """Write or check ``source.json``: cached outputs must come from these weights and tiling."""
        stamp = {"sha256": self.model.source.sha256, **vars(self.tiling)}
        stamp_path = self.cache / "source.json"
        if stamp_path.is_file():
            cached = json.loads(stamp_path.read_text())
            if cached != stamp:
                raise EvaluationError(
                    f"{self.cache}: cached outputs were made by other weights or tiling ({cached}, now {stamp}); "
                    f"delete that folder, choose another --out, or label this model differently"
                )
            return
        self.cache.mkdir(parents=True, exist_ok=True)
        stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")

    def info(self) -> dict:
        return {
            "label": self.label,
            "kind": "checkpoint",
            "source": self.source,
            **self.model.info(),
            "tiling": vars(self.tiling),
            "cache": str(self.cache),
        }

    def prepare(self, dataset: Dataset) -> None:
        """Claim ``cache/<dataset>`` for this data set's rainy folder: a cache made from another
        folder under the same name would be scored against the wrong clean images."""
        folder = self.cache / dataset.name
        record = folder / "rainy_folder.txt"
        where = str(dataset.items[0][0].parent.resolve())
        if record.is_file() and record.read_text().strip() != where:
            raise EvaluationError(
                f"{folder}: cached outputs are of {record.read_text().strip()}, not {where}; "
                f"delete that folder, choose another --out, or name this data set differently"
            )
        folder.mkdir(parents=True, exist_ok=True)
        record.write_text(where + "\n")

    def output(self, dataset: str, rainy_path: Path, rainy: np.ndarray) -> np.ndarray:
        target = self.cache / dataset / f"{rainy_path.stem}.png"
        if target.is_file():
            return read_rgb(target)
        tensor = torch.from_numpy(rainy.transpose(2, 0, 1).astype(np.float32) / 255)
        result = self.model.derain(tensor, self.tiling.max_pixels, self.tiling.tile, self.tiling.overlap)
        image = to_pil(result)  # 8-bit RGB, rounded to nearest: what every score below sees
        write_image(image, target)
        return np.asarray(image)


def open_model(spec: ModelSpec, out: Path, device: torch.device, backend: str = "auto", tiling: Tiling | None = None):
    """The output source of ``spec``: a :class:`FolderOutputs` or a :class:`ModelOutputs`
    caching under ``out/derained/<label>``. Raises WeightsError/EvaluationError/ValueError."""
    if spec.is_folder:
        return FolderOutputs(spec)
    return ModelOutputs(spec, out / "derained" / spec.label, device, backend, tiling)


# -- scoring ----------------------------------------------------------------------------------

def brisque_status() -> str:
    """``available``, or ``unavailable: <reason>`` (model files or OpenCV's contrib module missing)."""
    try:
        brisque_model_files()
        from cv2 import quality  # noqa: F401  (the module BRISQUE needs)
    except (FileNotFoundError, ImportError) as error:
        return f"unavailable: {error}"
    return "available"


def score_output(
    output: np.ndarray, clean: np.ndarray | None, name: Path, no_reference: bool = False, with_brisque: bool = False
) -> dict[str, float]:
    """The scores of the 8-bit output for the rainy image ``name``: full-reference against ``clean``
    where there is one, no-reference (NIQE, and BRISQUE when ``with_brisque``) where there is none
    or ``no_reference``. A DataError names ``name`` for mismatched sizes or an undefined NIQE."""
    scores: dict[str, float] = {}
    if clean is not None:
        if output.shape != clean.shape:
            raise DataError(f"{name}: output is {_size(output)} but the clean image is {_size(clean)}")
        with np.errstate(divide="ignore"):  # an output equal to the clean image has PSNR inf, not a warning
            scores.update(score_pair(output, clean))
    if clean is None or no_reference:
        try:
            scores["niqe"] = niqe(output)
        except ValueError as error:
            raise DataError(f"{name}: NIQE: {error}") from None
        if with_brisque:
            scores["brisque"] = brisque(output)
    return scores


# -- the run ----------------------------------------------------------------------------------

def _score_dataset(dataset: Dataset, sources: list, report: Report, fail: Callable[[str], None], bar: tqdm,
                   no_reference: bool, with_brisque: bool) -> None:
    """Score every model of ``sources`` on ``dataset``, appending to ``report.rows``; failures go to ``fail``."""
    ready = []
    for source in sources:
        try:
            source.prepare(dataset)
            ready.append(source)
        except (EvaluationError, OSError) as error:
            fail(f"model {source.label} on {dataset.name}: {error}")
            bar.update(len(dataset.items))
    for rainy_path, clean_path in dataset.items:
        try:
            rainy, clean = read_item(rainy_path, clean_path)
        except DataError as error:
            fail(str(error))
            bar.update(len(ready))
            continue
        # The rainy input's own PSNR-Y: the bar each output must clear, image by image.
        baseline = {} if clean is None else {BASELINE: psnr_y(rainy, clean)}
        for source in ready:
            try:
                output = source.output(dataset.name, rainy_path, rainy)
                scores = {**score_output(output, clean, rainy_path, no_reference, with_brisque), **baseline}
                report.rows.append({"model": source.label, "dataset": dataset.name, "image": rainy_path.name, **scores})
            except (DataError, ImageError) as error:
                fail(f"{source.label}: {error}")
            bar.update(1)


def evaluate(
    models: list[ModelSpec],
    datasets: list[tuple[str, Path]],
    out: Path,
    device: str = "auto",
    backend: str = "auto",
    tiling: Tiling | None = None,
    limit: int | None = None,
    no_reference: bool = False,
    progress: bool = True,
    settings: dict | None = None,
    on_error: Callable[[str], None] = lambda message: None,
) -> Report:
    """Score every model on every data set and write the three report files into ``out``.

    Problems with one model, data set or image are reported through ``on_error`` (one line naming
    the file and the problem) and in the report; the rest is evaluated regardless. Two models or
    two data sets with one label raise :class:`EvaluationError` before anything runs. ``settings``
    (e.g. the command line) is recorded in ``settings.json`` with versions and inputs.
    """
    unique_labels([spec.label for spec in models], "models")
    unique_labels([name for name, _ in datasets], "data sets")
    report = Report()

    def fail(message: str) -> None:
        report.errors.append(message)
        on_error(message)

    out.mkdir(parents=True, exist_ok=True)
    torch_device = pick_device(device)
    sources = []
    for spec in models:
        try:
            sources.append(open_model(spec, out, torch_device, backend, tiling))
        except (WeightsError, EvaluationError, ValueError, OSError) as error:
            fail(f"model {spec.label}: {error}")
    data = []
    for name, root in datasets:
        try:
            data.append(load_dataset(name, root, limit))
        except DataError as error:
            fail(f"data set {name}: {error}")
    report.models = [source.info() for source in sources]
    report.datasets = [
        {"name": d.name, "path": str(d.root.resolve()), "ground_truth": d.paired, "images": d.total, "evaluated": len(d.items)}
        for d in data
    ]
    if any(not d.paired for d in data) or (no_reference and data):
        report.brisque = brisque_status()
    with_brisque = report.brisque == "available"

    total = len(sources) * sum(len(d.items) for d in data)
    with tqdm(total=total, unit="image", disable=not progress or total < 2) as bar:
        for dataset in data:
            _score_dataset(dataset, sources, report, fail, bar, no_reference, with_brisque)
    write_reports(report, out, torch_device, settings or {}, no_reference)
    return report
