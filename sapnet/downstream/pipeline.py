"""The run of ``sapnet downstream``: a task model on rainy, derained and clean images, scored.

For every image of the data set, the rainy image, each derain model's output and the clean image
go through one detector or segmenter; each of these *rows* is scored against one reference:

* COCO annotations, when given (see :mod:`sapnet.downstream.annotations`);
* otherwise the task model's own output on the clean image (detections scoring at least the
  reference score; the whole label map): how far rain, and deraining, move the model from what
  it sees in clean weather. The clean row then matches its reference by construction.

Rainy images are synthesised from the clean ones exactly as ``sapnet synth --preset P --seed S``
makes them (``OUT/data/<clean folder>-<P>-seed<S>/``, made once and reused) or taken from a
folder, matched to the clean images by file stem. Derained outputs are cached as ``sapnet
evaluate`` caches them (``OUT/derained/<model>/<data set>/``), so the two commands can share an
``OUT``. Results go to a report folder (``sapnet downstream``: ``OUT/<task>-<task model>/``):
``summary.md`` (a Markdown table like the paper's Table 7), ``settings.json`` and ``figure.png``
(outputs drawn on a few examples, like its Figures 12-13).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sapnet.data import DataError, list_images
from sapnet.data.synthetic_pairs import prepare_pair_folders, write_synthetic_pair
from sapnet.downstream.annotations import CocoAnnotations
from sapnet.downstream.drawing import draw_boxes, draw_labels
from sapnet.downstream.metrics import IGNORE, DetectionScores, ReferenceBoxes, SegmentationScores
from sapnet.engine.evaluate import (
    Dataset,
    EvaluationError,
    ModelSpec,
    Tiling,
    open_model,
    read_item,
    unique_labels,
)
from sapnet.engine.evaluate.figures import contact_sheet, thumbnail
from sapnet.engine.evaluate.reports import library_versions
from sapnet.engine.infer.backends import pick_device
from sapnet.hub import WeightsError
from sapnet.images import ImageError

RAINY, CLEAN, GROUND_TRUTH = "rainy", "clean", "ground truth"
METRICS = {
    "detect": (("map_50", "mAP@0.5"), ("map", "mAP@0.5:0.95")),
    "segment": (("mpa", "mPA"), ("miou", "mIoU")),
}
CONVENTIONS = {
    "detect": "mAP by the COCO protocol (pycocotools, through torchmetrics' MeanAveragePrecision): AP at IoU 0.5, "
    "and averaged over IoU 0.50:0.05:0.95, each averaged over the categories present in the reference; "
    "up to 100 detections per image, all scores kept",
    "segment": "one confusion matrix over all pixels of all images; per class accuracy TP/(TP+FN) and IoU "
    "TP/(TP+FP+FN), averaged over the classes (mPA, mIoU; MMSegmentation's convention: classes absent from "
    "the reference have no accuracy, and no IoU unless predicted)",
}


# -- data -------------------------------------------------------------------------------------

def _check_stems(paths: list[Path]) -> None:
    """Outputs and annotations are matched by file stem, so two images may not share one."""
    seen: dict[str, Path] = {}
    for path in paths:
        other = seen.setdefault(path.stem, path)
        if other != path:
            raise DataError(f"{other} and {path} share the name '{path.stem}'; their outputs would collide")


def synthetic_dataset(
    clean: Path, out: Path, preset: str, seed: int = 0, limit: int | None = None,
    on_error: Callable[[str], None] = lambda message: None,
) -> Dataset:
    """Rainy/clean pairs of the first ``limit`` photos of ``clean`` (name order), as ``sapnet synth
    --preset PRESET --seed SEED`` makes them, in ``out/data/<clean>-<preset>-seed<seed>/``; pairs
    already there are reused. A photo that cannot be read is reported through ``on_error`` and left out."""
    photos = list_images(clean)
    _check_stems(photos)
    root = out / "data" / f"{clean.resolve().name}-{preset}-seed{seed}"
    rainy_dir, clean_dir = prepare_pair_folders(root, clean)
    items = []
    for index, photo in enumerate(photos[:limit]):
        pair = rainy_dir / f"{photo.stem}.png", clean_dir / f"{photo.stem}.png"
        if not all(path.is_file() for path in pair):
            try:  # seeded by the photo's place in the folder, as sapnet synth seeds it
                write_synthetic_pair(photo, preset, np.random.default_rng((seed, index)), rainy_dir, clean_dir)
            except (DataError, OSError) as error:
                on_error(str(error))
                continue
        items.append(pair)
    if not items:
        raise DataError(f"{clean}: none of its images could be used")
    return Dataset(root.name, root, items, total=len(photos))


def folder_dataset(rainy: Path, clean: Path, limit: int | None = None) -> Dataset:
    """The first ``limit`` images of the folder ``rainy``, each with the image of ``clean`` of its stem."""
    rainy_images, clean_images = list_images(rainy), list_images(clean)
    _check_stems(rainy_images)
    _check_stems(clean_images)
    by_stem = {path.stem: path for path in clean_images}
    missing = [path.name for path in rainy_images if path.stem not in by_stem]
    if missing:
        raise DataError(f"{clean}: no clean image of the same name for {len(missing)} rainy image(s), e.g. {', '.join(missing[:3])}")
    items = [(path, by_stem[path.stem]) for path in rainy_images[:limit]]
    return Dataset(rainy.resolve().name, rainy, items, total=len(rainy_images))


# -- the run ----------------------------------------------------------------------------------

@dataclass
class Example:
    """One image of the figure: each row's image and task-model output, and the reference."""

    name: str
    images: dict[str, np.ndarray]
    outputs: dict[str, object]
    reference: object


@dataclass
class DownstreamReport:
    """Scores per row (rainy, each model, clean), the figure's examples, and one line per failure."""

    task: str
    scores: dict[str, dict] = field(default_factory=dict)
    with_objects: int = 0  # images whose reference has an object (detection: a box; segmentation: a labelled pixel)
    examples: list[Example] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    models: list[dict] = field(default_factory=list)


class _Reference:
    """The reference of each image: annotations, or the task model's output on the clean image."""

    def __init__(self, task: str, task_model, annotations: CocoAnnotations | None, score: float | None) -> None:
        self.task, self.task_model, self.annotations = task, task_model, annotations
        self.score = score

    def of(self, stem: str, clean: np.ndarray, clean_output):
        if self.annotations is None:
            return ReferenceBoxes.from_detections(clean_output.above(self.score)) if self.task == "detect" else clean_output
        if self.task == "detect":
            return self.annotations.boxes(stem, clean.shape)
        return self.annotations.label_map(stem, clean.shape, self.task_model.coco_ids)

    def describe(self) -> str:
        if self.annotations is not None:
            return f"COCO annotations {self.annotations.path}"
        what = f"detections scoring at least {self.score:g}" if self.task == "detect" else "label map"
        return (
            f"no annotations were given: the task model's own {what} on each clean image (so the clean row "
            "matches its reference by construction; the others say how far rain and deraining move the model "
            "from what it sees in clean weather)"
        )


def _has_objects(task: str, reference) -> bool:
    if task == "detect":
        return len(reference) > 0
    return bool(((reference != 0) & (reference != IGNORE)).any())


def _known_coco_ids(task: str, task_model) -> set[int]:
    if task == "detect":
        return set(task_model.classes)
    coco_ids = getattr(task_model, "coco_ids", None)
    if coco_ids is None:
        raise DataError("the task model has no COCO category ids for its classes (coco_ids), so COCO annotations cannot be mapped to them")
    return {coco_id for coco_id in coco_ids if coco_id}


def run_downstream(
    task: str,
    task_model,
    models: list[ModelSpec],
    dataset: Dataset,
    out: Path,
    report_dir: Path,
    annotations: Path | None = None,
    reference_score: float | None = None,
    examples: int = 4,
    device: str = "auto",
    backend: str = "auto",
    tiling: Tiling | None = None,
    progress: bool = True,
    settings: dict | None = None,
    on_error: Callable[[str], None] = lambda message: None,
) -> DownstreamReport:
    """Score ``task_model`` on the rainy, each model's derained and the clean images of
    ``dataset`` and write ``summary.md``, ``settings.json`` and ``figure.png`` into ``report_dir``;
    derained images are cached under ``out/derained``.

    Unreadable annotations, or annotations that miss an image or share no category with the task
    model, raise :class:`~sapnet.downstream.annotations.AnnotationError` before any work; a model
    labelled like another row raises :class:`EvaluationError`. A model that cannot be loaded, or an
    image that cannot be read or derained, is reported through ``on_error`` and in the report, and
    the rest goes on (an image is left out of every row, so all rows score the same images).
    """
    unique_labels([RAINY, *(spec.label for spec in models), CLEAN], "rows (rainy, the models, clean)")
    coco = None
    if annotations is not None:
        coco = CocoAnnotations(annotations)
        coco.check([clean_path.stem for _, clean_path in dataset.items], _known_coco_ids(task, task_model))
    score = getattr(task_model, "reference_score", None) if reference_score is None else reference_score
    if task == "detect" and score is None:
        raise ValueError("the detector has no reference_score: give the score from which a detection counts")
    reference = _Reference(task, task_model, coco, score)
    report = DownstreamReport(task)

    def fail(message: str) -> None:
        report.errors.append(message)
        on_error(message)

    torch_device = pick_device(device)
    sources = []
    for spec in models:
        try:
            source = open_model(spec, out, torch_device, backend, tiling)
            source.prepare(dataset)
            sources.append(source)
        except (WeightsError, EvaluationError, ValueError, OSError) as error:
            fail(f"model {spec.label}: {error}")
    report.models = [source.info() for source in sources]
    rows = [RAINY, *(source.label for source in sources), CLEAN]
    scorers = {row: DetectionScores() if task == "detect" else SegmentationScores(len(task_model.classes)) for row in rows}
    spare: list[Example] = []  # examples without reference objects, used when too few have some
    for rainy_path, clean_path in tqdm(dataset.items, unit="image", disable=not progress or len(dataset.items) < 2):
        try:
            rainy, clean = read_item(rainy_path, clean_path)
            images = {RAINY: rainy, **{s.label: s.output(dataset.name, rainy_path, rainy) for s in sources}, CLEAN: clean}
            outputs = {row: task_model(image) for row, image in images.items()}
            truth = reference.of(clean_path.stem, clean, outputs[CLEAN])
            if task == "segment":  # every row scores the image, or none does
                for row in rows:
                    scorers[row].check(outputs[row], truth)
        except (DataError, ImageError, ValueError) as error:
            fail(f"{rainy_path}: {error}")
            continue
        for row in rows:
            scorers[row].update(outputs[row], truth)
        report.with_objects += _has_objects(task, truth)
        chosen = report.examples if _has_objects(task, truth) else spare
        if len(chosen) < examples:
            chosen.append(Example(clean_path.stem, images, outputs, truth))
    report.examples = (report.examples + spare)[:examples]
    report.scores = {row: scorer.compute() for row, scorer in scorers.items()}
    _write(report, task_model, reference, dataset, report_dir, settings or {}, torch_device)
    return report


# -- report files -----------------------------------------------------------------------------

def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def summary_markdown(report: DownstreamReport, task_model, reference: _Reference, dataset: Dataset) -> str:
    """The scores as a Markdown table (rows: rainy, each model's derained images, clean), with what
    was measured and against what."""
    metrics = METRICS[report.task]
    evaluated = len(dataset.items)
    lines = [
        f"# Downstream {'detection' if report.task == 'detect' else 'segmentation'}: rainy vs derained vs clean",
        "",
        f"Task model: {getattr(task_model, 'description', type(task_model).__name__)}.",
        "",
        f"Reference: {reference.describe()}; {report.with_objects} of the images have a reference object.",
        "",
        f"Data: {dataset.name} ({evaluated} of {dataset.total} images; rainy images in {dataset.items[0][0].parent}).",
        "",
        "| images | " + " | ".join(f"{title} (%)" for _, title in metrics) + " |",
        "|---" * (len(metrics) + 1) + "|",
    ]
    for row, scores in report.scores.items():
        name = row if row in (RAINY, CLEAN) else f"derained: {row}"
        cells = [_percent(scores[key]) for key, _ in metrics]
        count = "" if scores["images"] == evaluated else f" ({scores['images']} of {evaluated} images)"
        lines.append(f"| {name}{count} | " + " | ".join(cells) + " |")
    lines += ["", f"Scores: {CONVENTIONS[report.task]}; — where the reference has no object.", ""]
    if report.examples:
        lines += [f"figure.png: {', '.join(example.name for example in report.examples)}.", ""]
    if report.errors:
        lines += [f"**{len(report.errors)} problem(s)**:", ""] + [f"- {error}" for error in report.errors] + [""]
    return "\n".join(lines)


def _drawn(task: str, task_model, image: np.ndarray, output, score: float | None) -> np.ndarray:
    if task == "segment":
        return draw_labels(image, output)
    if isinstance(output, ReferenceBoxes):
        return draw_boxes(image, output.boxes[~output.crowd], output.labels[~output.crowd], task_model.classes)
    shown = output.above(score) if score is not None else output
    return draw_boxes(image, shown.boxes, shown.labels, task_model.classes, shown.scores)


def example_figure(report: DownstreamReport, task_model, reference: _Reference, size: int = 320):
    """A contact sheet: one row per example, one column per row of the table (outputs drawn on
    each image), plus the ground truth on the clean image when annotations were given."""
    columns = list(report.scores)
    with_truth = reference.annotations is not None
    rows = []
    for example in report.examples:
        cells = [_drawn(report.task, task_model, example.images[c], example.outputs[c], reference.score) for c in columns]
        if with_truth:
            cells.append(_drawn(report.task, task_model, example.images[CLEAN], example.reference, None))
        rows.append((example.name, [thumbnail(cell, size) for cell in cells]))
    return contact_sheet(columns + ([GROUND_TRUTH] if with_truth else []), rows, size)


def _write(report: DownstreamReport, task_model, reference: _Reference, dataset: Dataset, folder: Path,
           settings: dict, device: torch.device) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.md").write_text(summary_markdown(report, task_model, reference, dataset))
    if report.examples:
        example_figure(report, task_model, reference).save(folder / "figure.png")
    versions = library_versions()
    for package in ("torchmetrics", "pycocotools"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    record = {
        **settings,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions,
        "platform": platform.platform(),
        "device": str(device),
        "task": report.task,
        "task_model": getattr(task_model, "description", type(task_model).__name__),
        "reference": reference.describe(),
        "reference_score": reference.score,
        "conventions": CONVENTIONS[report.task],
        "dataset": {"name": dataset.name, "path": str(dataset.root.resolve()), "images": dataset.total, "evaluated": len(dataset.items)},
        "models": report.models,
        "scores": report.scores,
        "images_with_reference_objects": report.with_objects,
        "errors": report.errors,
    }
    (folder / "settings.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
