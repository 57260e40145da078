"""Unsupervised background segmentation loss of SAPNet (UBS, eq. 4; λ2 = 0.1).

A segmentation network that is never trained — an ImageNet encoder with a randomly initialised
FPN decoder, both frozen — labels every pixel of the derained image with the arg-max of its own
prediction, and the focal loss of that prediction against those labels is minimised. No
segmentation ground truth is involved: the gradient only asks the derain network for images on
which the frozen network segments confidently and consistently.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sapnet.losses.backbones import PRETRAINED, load_backbone, seeded
from sapnet.losses.features import FeatureTap

# Per encoder: the trunk layers giving C2–C5 (strides 4, 8, 16, 32) and their channel counts.
# ResNet-101: layer1–layer4. MobileNetV2: the last block of each stride (features[18], the 1×1
# expansion to 1280 channels, is left out).
ENCODERS = {
    "resnet101": ((4, 5, 6, 7), (256, 512, 1024, 2048)),
    "mobilenet_v2": ((3, 6, 13, 17), (24, 32, 96, 320)),
}


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 1.0, gamma: float = 2.0) -> torch.Tensor:
    """Focal loss (Lin et al., ICCV 2017) ``-α (1 - p_t)^γ log p_t``, averaged over all pixels.

    ``logits`` (N, K, H, W), ``target`` (N, H, W) class indices; p_t is the softmax probability of
    the target class.
    """
    log_p = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    return (-alpha * (1 - log_p.exp()) ** gamma * log_p).mean()


def _resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


class FPNHead(nn.Module):
    """The SAPNet reference's FPN decoder (after Lin et al., CVPR 2017), on C2–C5.

    Lateral 1×1 convolutions to 256 channels; top-down pathway: bilinear upsampling to the finer
    level plus its lateral; per level two 3×3 convolutions, 256→256→128, with no nonlinearity
    between them (as in the reference); the four levels bilinearly upsampled to the finest one,
    concatenated (coarse to fine, 512 channels) and classified by a 3×3 convolution.
    """

    def __init__(self, in_channels: Sequence[int], classes: int = 21, width: int = 256, smooth: int = 128) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in in_channels)
        self.smooth = nn.ModuleList(nn.Sequential(_conv3x3(width, width), _conv3x3(width, smooth)) for _ in in_channels)
        self.classify = _conv3x3(smooth * len(in_channels), classes)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """``features`` fine to coarse (C2 … C5); returns logits at the finest level's size."""
        levels = [self.lateral[-1](features[-1])]
        for lateral, feature in zip(self.lateral[-2::-1], features[-2::-1], strict=True):
            levels.append(lateral(feature) + _resize(levels[-1], feature.shape[-2:]))
        finest = levels[-1].shape[-2:]  # levels now run coarse to fine
        smoothed = [_resize(smooth(level), finest) for smooth, level in zip(self.smooth[::-1], levels, strict=True)]
        return self.classify(torch.cat(smoothed, dim=1))


class SegmentationLoss(nn.Module):
    """UBS, eq. (4): focal loss (α, γ) of the frozen network's per-pixel class prediction for the
    derained image against its own arg-max.

    ``encoder``: "resnet101" (the paper's) or "mobilenet_v2"; ``weights`` its weights (see
    :mod:`sapnet.losses.backbones`). The decoder's convolutions get N(0, ``init_std``²) weights
    and zero biases, drawn from ``seed`` so every run builds the same network. The encoder sees
    the ImageNet-normalised derained image, unclamped so that out-of-range pixels still get a
    gradient; the logits are bilinearly upsampled to the input size before the loss.
    """

    def __init__(
        self,
        encoder: str = "resnet101",
        weights: str | os.PathLike = PRETRAINED,
        classes: int = 21,
        init_std: float = 0.05,
        seed: int = 0,
        alpha: float = 1.0,
        gamma: float = 2.0,
    ) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"unknown segmentation encoder {encoder!r}; choose from {sorted(ENCODERS)}")
        taps, channels = ENCODERS[encoder]
        self.encoder = FeatureTap(load_backbone(encoder, weights), taps)
        self.weights_source = self.encoder.weights_source
        with seeded(seed):
            self.head = FPNHead(channels, classes)
            for module in self.head.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.normal_(module.weight, 0.0, init_std)
                    nn.init.zeros_(module.bias)
        self.head.requires_grad_(False)
        self.alpha = alpha
        self.gamma = gamma

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Per-pixel class logits (N, classes, H, W) of [0, 1] images (N, 3, H, W)."""
        return _resize(self.head(self.encoder(images)), images.shape[-2:])

    def forward(self, derained: torch.Tensor) -> torch.Tensor:
        logits = self.logits(derained)
        pseudo_labels = logits.detach().argmax(dim=1)  # the target is a constant, not a path for gradients
        return focal_loss(logits, pseudo_labels, self.alpha, self.gamma)
