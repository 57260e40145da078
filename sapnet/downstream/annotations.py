"""Ground truth from COCO-format annotations (a JSON file with ``images``, ``annotations`` and
``categories``), read with pycocotools.

Images are matched to the data set's clean images by file stem (``file_name`` ``a/b/0001.jpg``
annotates ``0001.png``). Boxes (``bbox``, x, y, width, height) are the detection reference;
for segmentation, instance masks (polygons or RLE) are painted into a label map in the task
model's classes, as torchvision's training reference makes its targets: objects of categories
the model does not know are background, pixels covered by two objects are :data:`IGNORE`, and so
are crowd regions.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np

from sapnet.data import DataError
from sapnet.downstream.metrics import IGNORE, ReferenceBoxes


class AnnotationError(DataError):
    """Annotations that cannot be read or do not fit the images or the task model."""


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise AnnotationError(f"{path}: cannot read annotations ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnnotationError(f"{path}: not a JSON file ({error})") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(key), list) for key in ("images", "annotations", "categories")):
        raise AnnotationError(f"{path}: not COCO annotations (needs lists 'images', 'annotations' and 'categories')")
    return data


class CocoAnnotations:
    """The annotations of one COCO JSON file, looked up by image stem."""

    def __init__(self, path: str | Path) -> None:
        try:
            from pycocotools.coco import COCO
        except ImportError:
            raise ImportError("COCO annotations need pycocotools: pip install 'sapnet[downstream]'") from None
        self.path = Path(path)
        data = _load_json(self.path)
        self.coco = COCO()
        self.coco.dataset = data
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
                self.coco.createIndex()
            self.by_stem: dict[str, dict] = {}
            for image in data["images"]:
                stem = Path(image["file_name"]).stem
                if stem in self.by_stem:
                    raise AnnotationError(f"{self.path}: two images are named {stem}.*")
                self.by_stem[stem] = image
            self.categories = {int(category["id"]): str(category["name"]) for category in data["categories"]}
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, AnnotationError):
                raise
            raise AnnotationError(f"{self.path}: not COCO annotations ({error.__class__.__name__}: {error})") from None

    def check(self, stems: list[str], known_ids: set[int]) -> None:
        """Every image must be annotated, and some annotated category must be one the task model knows."""
        missing = [stem for stem in stems if stem not in self.by_stem]
        if missing:
            raise AnnotationError(f"{self.path}: {len(missing)} image(s) have no entry in 'images', e.g. {', '.join(missing[:3])}")
        used = {annotation["category_id"] for annotation in self.coco.dataset["annotations"]}
        if used and not used & known_ids:
            raise AnnotationError(f"{self.path}: none of its categories ({', '.join(map(str, sorted(used)))}) is a class of the task model")

    def _image(self, stem: str, shape: tuple[int, ...]) -> tuple[dict, list[dict]]:
        image = self.by_stem[stem]
        size = (image.get("height"), image.get("width"))
        if size != tuple(shape[:2]):
            raise AnnotationError(f"{self.path}: {image['file_name']} is annotated as {size[1]}×{size[0]}, the image is {shape[1]}×{shape[0]}")
        return image, self.coco.imgToAnns.get(image["id"], [])

    def boxes(self, stem: str, shape: tuple[int, ...]) -> ReferenceBoxes:
        """The boxes of image ``stem`` (whose array has ``shape``)."""
        _, annotations = self._image(stem, shape)
        xywh = np.array([annotation["bbox"] for annotation in annotations], np.float32).reshape(-1, 4)
        return ReferenceBoxes(
            np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1),
            np.array([annotation["category_id"] for annotation in annotations], np.int64),
            np.array([bool(annotation.get("iscrowd", 0)) for annotation in annotations], bool),
        )

    def label_map(self, stem: str, shape: tuple[int, ...], coco_ids: list[int]) -> np.ndarray:
        """The H×W reference labels of image ``stem`` in the classes whose COCO ids are ``coco_ids``."""
        image, annotations = self._image(stem, shape)
        index = {coco_id: label for label, coco_id in enumerate(coco_ids) if coco_id}
        labels = np.zeros(shape[:2], np.uint8)
        covered = np.zeros(shape[:2], np.int32)
        ignored = np.zeros(shape[:2], bool)
        for annotation in annotations:
            try:
                mask = self.coco.annToMask(annotation).astype(bool)
            except (KeyError, TypeError, ValueError, IndexError) as error:
                raise AnnotationError(f"{self.path}: annotation {annotation.get('id')} of {image['file_name']} has no usable segmentation ({error})") from None
            if annotation.get("iscrowd", 0):
                ignored |= mask
                continue
            covered += mask
            labels[mask] = index.get(annotation["category_id"], 0)
        labels[(covered > 1) | ignored] = IGNORE
        return labels
