"""Learned perceptual image similarity loss of SAPNet (LPISL, eq. 6; λ4 = 0.1): LPIPS
(Zhang et al., CVPR 2018, v0.1) between the derained and the clean image.

Unlike the SAPNet reference code, which wrapped each LPIPS value in ``float()`` and so trained
on none of its gradient, this term back-propagates into the derain network.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from sapnet.losses.backbones import LPIPS_BACKBONES, PRETRAINED, load_backbone, load_lpips_linear
from sapnet.losses.features import FeatureTap

# The ReLU outputs LPIPS compares, as indices into torchvision's features: AlexNet relu1–relu5,
# VGG-16 relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
LPIPS_TAPS = {"alex": (1, 4, 7, 9, 11), "vgg": (3, 8, 15, 22, 29)}


def unit_normalize(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Scale each spatial position's feature vector to unit length, as LPIPS does.

    ``vector_norm`` rather than ``sqrt(sum(x**2))``: equal values, but its gradient at an all-zero
    vector (common after a ReLU) is zero instead of NaN.
    """
    return features / (torch.linalg.vector_norm(features, dim=1, keepdim=True) + eps)


class LPIPSLoss(nn.Module):
    """LPIPS distance of [0, 1] images, averaged over the batch.

    Per tapped layer: unit-normalise the features along channels, square the difference, weight
    each channel by the LPIPS linear layer, average over space; then sum over layers.

    ``net``: "alex" (the SAPNet reference's choice, default) or "vgg". ``size``: both images are
    bilinearly resized to size × size first, as the reference does with 256; ``None`` keeps them
    as they are. ``weights`` picks the backbone's weights and ``linear`` the LPIPS linear layers
    (see :mod:`sapnet.losses.backbones`).

    LPIPS feeds its backbone ``(2x - 1 - shift) / scale`` with shift (-0.030, -0.088, -0.188) and
    scale (0.458, 0.448, 0.450); for x in [0, 1] that is exactly ImageNet mean/std normalisation,
    which :class:`FeatureTap` applies.
    """

    def __init__(
        self,
        net: str = "alex",
        size: int | None = 256,
        weights: str | os.PathLike = PRETRAINED,
        linear: str | os.PathLike = PRETRAINED,
    ) -> None:
        super().__init__()
        if net not in LPIPS_BACKBONES:
            raise ValueError(f"unknown LPIPS network {net!r}; choose from {sorted(LPIPS_BACKBONES)}")
        self.net = net
        self.size = size
        self.features = FeatureTap(load_backbone(LPIPS_BACKBONES[net], weights), LPIPS_TAPS[net])
        channel_weights, self.linear_source = load_lpips_linear(net, linear)
        self.linear = nn.ParameterList(nn.Parameter(w, requires_grad=False) for w in channel_weights)
        self.weights_source = f"{self.features.weights_source}; linear {self.linear_source}"

    def distance(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """LPIPS of each image pair: a tensor of shape (N,)."""
        if self.size is not None:
            x, y = (
                F.interpolate(t, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
                for t in (x, y)
            )
        total = x.new_zeros(x.shape[0])
        for fx, fy, weight in zip(self.features(x), self.features(y), self.linear, strict=True):
            squared = (unit_normalize(fx) - unit_normalize(fy)) ** 2
            total = total + F.conv2d(squared, weight).mean(dim=(1, 2, 3))
        return total

    def forward(self, derained: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        return self.distance(derained, clean.detach()).mean()
