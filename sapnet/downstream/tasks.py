"""Task models: the detectors and segmenters whose accuracy deraining should improve.

A **detector** is a callable ``image → Detections`` on an H×W×3 ``uint8`` RGB array, with

* ``task = "detect"``;
* ``classes``: ``{label id: name}``; built-in detectors use COCO's category ids (1 = person …
  90 = toothbrush), so their labels match the ``category_id`` of COCO annotations;
* ``reference_score``: the score from which a detection counts as an object, on the detector's
  own score scale (used for reference boxes taken from the clean image, and for drawing);
* ``description``: one line for the report.

A **segmenter** is a callable ``image → H×W integer label map`` with ``task = "segment"``,
``classes`` (a list of names, index = label value), ``coco_ids`` (the COCO category id of each
class, 0 for background, so COCO annotations can be rasterised into its labels; ``None`` when it
has no such mapping) and ``description``.

:func:`load_task_model` builds one from a name: the built-ins of :data:`TASK_MODELS`,
``torchvision:BUILDER`` for any of torchvision's detection or segmentation builders with its
default weights, or ``package.module:factory`` for one of your own (``factory()`` returns it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TASKS = ("detect", "segment")
TORCHVISION_PREFIX = "torchvision:"
DEFAULT_TASK_MODELS = {
    "detect": "torchvision:fasterrcnn_mobilenet_v3_large_fpn",
    "segment": "torchvision:deeplabv3_mobilenet_v3_large",
}


class TaskModelError(RuntimeError):
    """A task model that cannot be found or loaded; the message says what to install or fetch."""


@dataclass
class Detections:
    """Detections on one image: ``boxes`` (N, 4) float (x1, y1, x2, y2) in pixels, ``scores`` (N,),
    ``labels`` (N,) integer class ids."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1)
        self.labels = np.asarray(self.labels, np.int64).reshape(-1)
        if not len(self.boxes) == len(self.scores) == len(self.labels):
            raise ValueError(f"{len(self.boxes)} boxes, {len(self.scores)} scores and {len(self.labels)} labels differ in number")

    def above(self, score: float) -> Detections:
        """The detections scoring at least ``score``."""
        keep = self.scores >= score
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep])


def _builtins() -> dict[str, tuple[str, str, Callable]]:
    """name → (task, one-line description, factory); imported lazily, each needs only its own library."""
    from sapnet.downstream import opencv_models

    return {
        "ssd-mobilenet-v2": ("detect", opencv_models.SSD_DESCRIPTION, opencv_models.SSDMobileNetV2),
        "hog-people": ("detect", opencv_models.HOG_DESCRIPTION, opencv_models.HOGPeople),
        "haar-faces": ("detect", opencv_models.HAAR_DESCRIPTION, opencv_models.HaarFaces),
    }


def task_model_names(task: str) -> list[str]:
    """The built-in names for ``task``, then the torchvision form."""
    return [name for name, (kind, _, _) in _builtins().items() if kind == task] + [f"{TORCHVISION_PREFIX}BUILDER"]


def load_task_model(task: str, name: str | None = None, device: str = "cpu"):
    """The detector or segmenter called ``name`` (default: :data:`DEFAULT_TASK_MODELS`) for ``task``.

    Raises :class:`TaskModelError` naming what is missing (a package, a weights file and where it
    belongs) or when the model does the other task.
    """
    if task not in TASKS:
        raise TaskModelError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    name = name or DEFAULT_TASK_MODELS[task]
    builtins = _builtins()
    if name in builtins:
        model = builtins[name][2]()
    elif name.startswith(TORCHVISION_PREFIX):
        from sapnet.downstream.torchvision_models import load_torchvision

        model = load_torchvision(task, name[len(TORCHVISION_PREFIX):], device)
    elif ":" in name:
        model = _load_custom(name)
    else:
        raise TaskModelError(
            f"unknown task model {name!r} for {task}; choose from {', '.join(task_model_names(task))}, "
            "or give package.module:factory"
        )
    if getattr(model, "task", None) != task:
        raise TaskModelError(f"task model {name!r} does the task {getattr(model, 'task', None)!r}, not {task!r}")
    return model


def _load_custom(spec: str):
    """``package.module:factory`` → ``factory()``."""
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except ImportError as error:
        raise TaskModelError(f"task model {spec!r}: cannot import {module_name} ({error})") from None
    except AttributeError:
        raise TaskModelError(f"task model {spec!r}: {module_name} has no attribute {attribute!r}") from None
    return factory()
