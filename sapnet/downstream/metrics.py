"""Accuracy of a task model's outputs against a reference, accumulated over a data set.

* Detection: mean average precision by the COCO protocol, computed by torchmetrics'
  ``MeanAveragePrecision`` with the pycocotools backend (the reference implementation of COCO's
  evaluation): ``map_50`` is AP at IoU 0.5, ``map`` AP averaged over IoU 0.50:0.05:0.95, both
  averaged over the categories present in the reference, up to 100 detections per image.
  Crowd regions of COCO annotations are neither matched nor missed, as COCO specifies.
* Segmentation: one confusion matrix over all pixels of all images (pixels labelled
  :data:`IGNORE` in the reference left out), then per class ``accuracy = TP / (TP + FN)`` and
  ``IoU = TP / (TP + FP + FN)``; mPA and mIoU are their means over classes, as MMSegmentation and
  the semantic-segmentation literature compute them: a class absent from the reference has no
  accuracy and, unless predicted, no IoU (left out of the means); one only predicted has IoU 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sapnet.downstream.tasks import Detections

IGNORE = 255  # reference label of pixels that are not scored (overlapping or crowd objects)


@dataclass
class ReferenceBoxes:
    """Reference objects of one image: ``boxes`` (N, 4) xyxy pixels, ``labels`` (N,), ``crowd`` (N,) bool."""

    boxes: np.ndarray
    labels: np.ndarray
    crowd: np.ndarray

    @classmethod
    def from_detections(cls, detections: Detections) -> ReferenceBoxes:
        return cls(detections.boxes, detections.labels, np.zeros(len(detections.labels), bool))

    def __len__(self) -> int:
        return int((~self.crowd).sum())


class DetectionScores:
    """mAP@0.5 and mAP@0.5:0.95 of detections against :class:`ReferenceBoxes` (see the module notes)."""

    def __init__(self) -> None:
        try:
            from torchmetrics.detection import MeanAveragePrecision
        except ImportError:
            raise ImportError("detection scores need torchmetrics and pycocotools: pip install 'sapnet[downstream]'") from None
        self.metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend="pycocotools")
        self.images = 0

    def update(self, predicted: Detections, reference: ReferenceBoxes) -> None:
        self.metric.update(
            [{"boxes": torch.from_numpy(predicted.boxes), "scores": torch.from_numpy(predicted.scores),
              "labels": torch.from_numpy(predicted.labels)}],
            [{"boxes": torch.from_numpy(np.asarray(reference.boxes, np.float32).reshape(-1, 4)),
              "labels": torch.from_numpy(np.asarray(reference.labels, np.int64)),
              "iscrowd": torch.from_numpy(np.asarray(reference.crowd, np.int64))}],
        )
        self.images += 1

    def compute(self) -> dict[str, float | None]:
        """``{"images", "map_50", "map"}``; the mAPs are None when the reference has no object."""
        result = self.metric.compute()
        scores = {key: float(result[key]) for key in ("map_50", "map")}
        return {"images": self.images, **{key: value if value >= 0 else None for key, value in scores.items()}}


class SegmentationScores:
    """mPA and mIoU over ``classes`` labels (see the module notes), from one confusion matrix."""

    def __init__(self, classes: int) -> None:
        self.classes = classes
        self.confusion = np.zeros((classes, classes), np.int64)  # rows: reference, columns: predicted
        self.images = 0

    def check(self, predicted: np.ndarray, reference: np.ndarray) -> None:
        """A ValueError unless ``predicted`` fits ``reference`` in size and both hold labels of these classes."""
        if predicted.shape != reference.shape:
            raise ValueError(f"the label map is {predicted.shape[1]}×{predicted.shape[0]}, the reference {reference.shape[1]}×{reference.shape[0]}")
        scored = reference != IGNORE
        for name, labels in (("reference", reference[scored]), ("predicted", predicted[scored])):
            if labels.size and (labels.min() < 0 or labels.max() >= self.classes):
                raise ValueError(f"{name} labels {labels.min()}-{labels.max()} are outside 0-{self.classes - 1}")

    def update(self, predicted: np.ndarray, reference: np.ndarray) -> None:
        self.check(predicted, reference)
        scored = reference != IGNORE
        truth, guess = reference[scored].astype(np.int64), predicted[scored].astype(np.int64)
        self.confusion += np.bincount(truth * self.classes + guess, minlength=self.classes**2).reshape(self.classes, self.classes)
        self.images += 1

    def compute(self) -> dict[str, float | None]:
        """``{"images", "mpa", "miou", "pixel_accuracy"}``; None where no pixel was scored."""
        hits = np.diag(self.confusion).astype(np.float64)
        in_reference, predicted = self.confusion.sum(1), self.confusion.sum(0)
        union = in_reference + predicted - hits
        with np.errstate(divide="ignore", invalid="ignore"):
            accuracy = np.where(in_reference > 0, hits / in_reference, np.nan)
            iou = np.where(union > 0, hits / union, np.nan)
        total = self.confusion.sum()
        return {
            "images": self.images,
            "mpa": None if np.isnan(accuracy).all() else float(np.nanmean(accuracy)),
            "miou": None if np.isnan(iou).all() else float(np.nanmean(iou)),
            "pixel_accuracy": float(hits.sum() / total) if total else None,
        }
