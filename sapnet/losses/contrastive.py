"""Contrastive terms of the SAPNet objective (λ3 = 0.1): the derained image is pulled toward the
clean image (positive) and pushed away from the rainy input (negative).

* :class:`PerceptualContrastiveLoss` — PCL, eq. (5): the ratio is measured on frozen ImageNet
  VGG-16 features.
* :class:`L1ContrastiveLoss` — the "L1-CL" ablation of Table 3: the same ratio on pixels (it is
  also what the SAPNet reference code trains with).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sapnet.losses.backbones import PRETRAINED, load_backbone
from sapnet.losses.features import FeatureTap

# relu1_2, relu2_2, relu3_3, relu4_3 in torchvision's vgg16().features.
VGG16_PCL_TAPS = (3, 8, 15, 22)
# Shallow layers weigh least (eq. 5).
PCL_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4)


def contrast_ratio(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, eps: float) -> torch.Tensor:
    """``L1(anchor, positive) / (L1(anchor, negative) + eps)``, L1 the mean absolute difference."""
    return F.l1_loss(anchor, positive) / (F.l1_loss(anchor, negative) + eps)


class L1ContrastiveLoss(nn.Module):
    """L1-CL (Table 3): :func:`contrast_ratio` of the derained, clean and rainy pixels."""

    def __init__(self, eps: float = 1e-7) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, derained: torch.Tensor, clean: torch.Tensor, rainy: torch.Tensor) -> torch.Tensor:
        return contrast_ratio(derained, clean.detach(), rainy.detach(), self.eps)


class PerceptualContrastiveLoss(nn.Module):
    """PCL, eq. (5): ``Σ_i w_i · L1(V_i(derained), V_i(clean)) / (L1(V_i(derained), V_i(rainy)) + ε)``.

    ``V_i`` are the relu1_2, relu2_2, relu3_3 and relu4_3 activations of a frozen VGG-16 on
    ImageNet-normalised [0, 1] images, ``w`` = (1/32, 1/16, 1/8, 1/4). ``weights`` picks the VGG
    weights (see :mod:`sapnet.losses.backbones`); ``extractor`` replaces the VGG by any callable
    from images to a list of feature maps, one per layer weight.
    """

    def __init__(
        self,
        weights: str | os.PathLike = PRETRAINED,
        layer_weights: Sequence[float] = PCL_LAYER_WEIGHTS,
        eps: float = 1e-7,
        extractor: Callable[[torch.Tensor], list[torch.Tensor]] | None = None,
    ) -> None:
        super().__init__()
        if extractor is None:
            extractor = FeatureTap(load_backbone("vgg16", weights), VGG16_PCL_TAPS)
        self.extractor = extractor
        self.weights_source: str = getattr(self.extractor, "weights_source", "custom")
        self.layer_weights = tuple(layer_weights)
        self.eps = eps

    def forward(self, derained: torch.Tensor, clean: torch.Tensor, rainy: torch.Tensor) -> torch.Tensor:
        anchors = self.extractor(derained)
        with torch.no_grad():  # positives and negatives are constants; keep no graph for them
            references = self.extractor(torch.cat((clean, rainy)))
        total = derained.new_zeros(())
        for weight, anchor, reference in zip(self.layer_weights, anchors, references, strict=True):
            positive, negative = reference.chunk(2)
            total = total + weight * contrast_ratio(anchor, positive, negative, self.eps)
        return total
