"""SSIM term of the SAPNet objective (λ1 = 1): the negative SSIM of the derained and clean images."""

from __future__ import annotations

import torch
from torch import nn

from sapnet.metrics.ssim import ssim


class SSIMLoss(nn.Module):
    """``-mean SSIM(derained, clean)``, 11×11 Gaussian window (σ = 1.5), as the evaluation metric.

    Ranges over [-1, 1]; -1 for identical images. Images are (N, C, H, W) in [0, ``data_range``]
    and at least ``window_size`` pixels on a side.
    """

    def __init__(self, window_size: int = 11, sigma: float = 1.5, data_range: float = 1.0) -> None:
        super().__init__()
        self.window_size = window_size
        self.sigma = sigma
        self.data_range = data_range

    def forward(self, derained: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        values = ssim(derained, clean, data_range=self.data_range, window_size=self.window_size, sigma=self.sigma)
        return -values.mean()
