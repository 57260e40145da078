"""Does deraining help machines see? Detection and segmentation on rainy, derained and clean
images (SAPNet paper §4.9, Table 7), behind ``sapnet downstream``.

* :mod:`~sapnet.downstream.tasks`: the task-model interface and :func:`load_task_model`;
  :mod:`~sapnet.downstream.opencv_models` and :mod:`~sapnet.downstream.torchvision_models` hold
  the built-in detectors and segmenters;
* :mod:`~sapnet.downstream.metrics`: mAP (torchmetrics / pycocotools), mPA and mIoU;
* :mod:`~sapnet.downstream.annotations`: COCO ground truth;
* :mod:`~sapnet.downstream.pipeline`: the run, its report and its figure.
"""

from sapnet.downstream.annotations import AnnotationError, CocoAnnotations
from sapnet.downstream.metrics import IGNORE, DetectionScores, ReferenceBoxes, SegmentationScores
from sapnet.downstream.pipeline import DownstreamReport, folder_dataset, run_downstream, synthetic_dataset
from sapnet.downstream.tasks import TASKS, Detections, TaskModelError, load_task_model

__all__ = [
    "IGNORE",
    "TASKS",
    "AnnotationError",
    "CocoAnnotations",
    "DetectionScores",
    "Detections",
    "DownstreamReport",
    "ReferenceBoxes",
    "SegmentationScores",
    "TaskModelError",
    "folder_dataset",
    "load_task_model",
    "run_downstream",
    "synthetic_dataset",
]
