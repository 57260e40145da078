"""Intermediate activations of a frozen backbone, shared by the PCL, LPIPS and segmentation losses."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FeatureTap(nn.Module):
    """Normalises [0, 1] images with ``mean``/``std`` and returns the outputs of the ``taps``
    (indices into the ``nn.Sequential`` trunk), in order.

    The trunk is frozen: its weights get no gradient and it stays in eval mode even when the
    enclosing loss is put in train mode, so BatchNorm statistics never change. Gradients still
    flow through it to the input image. Layers after the last tap are dropped.
    """

    def __init__(
        self,
        trunk: nn.Sequential,
        taps: Sequence[int],
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        self.weights_source: str = getattr(trunk, "weights_source", "unknown")
        self.taps = tuple(sorted(taps))
        self.trunk = trunk[: self.taps[-1] + 1].requires_grad_(False)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.eval()

    def train(self, mode: bool = True) -> FeatureTap:
        return super().train(False)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = (images - self.mean) / self.std
        outputs = []
        for index, layer in enumerate(self.trunk):
            x = layer(x)
            if index in self.taps:
                outputs.append(x)
        return outputs
