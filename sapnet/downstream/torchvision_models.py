"""torchvision's detection and segmentation models with their default (pretrained) weights.

``torchvision:BUILDER`` names any builder of ``torchvision.models.detection`` (boxes with COCO
category ids) or ``torchvision.models.segmentation`` (the 20 Pascal VOC classes + background,
trained on the COCO images of those classes). Weights are loaded as torchvision loads them, from
torch's hub cache (``$TORCH_HOME/hub/checkpoints``), downloading them there when they are not yet
cached; offline, copy the file named in the error message to that path.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch

from sapnet.downstream.tasks import Detections, TaskModelError, task_model_names

# COCO category id of each VOC class of torchvision's segmentation weights, in label order: the
# list torchvision's training reference uses to make their targets (references/segmentation).
VOC_COCO_IDS = [0, 5, 2, 16, 9, 44, 6, 3, 17, 62, 21, 67, 18, 19, 4, 1, 64, 20, 63, 7, 72]
_MODULES = {"detect": "detection", "segment": "segmentation"}


def weights_path(weights) -> Path:
    """Where torchvision keeps ``weights``' file: the hub cache's ``checkpoints`` folder."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def load_torchvision(task: str, builder: str, device: str = "cpu"):
    """A :class:`TorchvisionDetector` or :class:`TorchvisionSegmenter` for the builder's default weights."""
    from torchvision import models

    module = getattr(models, _MODULES[task])
    names = models.list_models(module=module)
    if builder not in names:
        raise TaskModelError(f"torchvision:{builder} is no torchvision {_MODULES[task]} model; choose from {', '.join(names)}")
    weights = models.get_model_weights(builder).DEFAULT
    try:
        network = models.get_model(builder, weights=weights)
    except Exception as error:  # noqa: BLE001 (urllib, hashing and unpickling each raise their own kinds)
        raise TaskModelError(
            f"cannot load torchvision:{builder} with {weights} ({error.__class__.__name__}: {error}); "
            f"download {weights.url} on a connected machine and put it at {weights_path(weights)}"
            + (f" (offline detectors: {', '.join(task_model_names(task)[:-1])})" if task == "detect" else "")
        ) from None
    wrapper = TorchvisionDetector if task == "detect" else TorchvisionSegmenter
    return wrapper(network.eval().to(device), weights, builder)


class _Torchvision:
    def __init__(self, network: torch.nn.Module, weights, builder: str) -> None:
        self.network = network
        self.device = next(network.parameters()).device
        self.description = f"torchvision {builder}, weights {weights} ({weights_path(weights).name})"

    def _tensor(self, image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255).to(self.device)


class TorchvisionDetector(_Torchvision):
    """COCO detector; its own transform resizes and normalises, boxes come back in image pixels."""

    task = "detect"
    reference_score = 0.5

    def __init__(self, network, weights, builder: str) -> None:
        super().__init__(network, weights, builder)
        categories = weights.meta["categories"]
        self.classes = {index: name for index, name in enumerate(categories) if name not in ("__background__", "N/A")}

    @torch.inference_mode()
    def __call__(self, image: np.ndarray) -> Detections:
        result = self.network([self._tensor(image)])[0]
        return Detections(*(result[key].cpu().numpy() for key in ("boxes", "scores", "labels")))


class TorchvisionSegmenter(_Torchvision):
    """VOC classes per pixel, at the image's own size, ImageNet-normalised input."""

    task = "segment"
    MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def __init__(self, network, weights, builder: str) -> None:
        super().__init__(network, weights, builder)
        self.classes = list(weights.meta["categories"])
        self.coco_ids = VOC_COCO_IDS if len(self.classes) == len(VOC_COCO_IDS) else None
        if getattr(network, "aux_classifier", None) is not None:
            network.aux_classifier = None  # a training-only head: skip its work

    @torch.inference_mode()
    def __call__(self, image: np.ndarray) -> np.ndarray:
        mean = torch.tensor(self.MEAN, device=self.device)[:, None, None]
        std = torch.tensor(self.STD, device=self.device)[:, None, None]
        logits = self.network(((self._tensor(image) - mean) / std)[None])["out"][0]
        return logits.argmax(0).to(torch.uint8).cpu().numpy()
