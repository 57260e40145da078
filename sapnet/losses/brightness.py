"""A brightness term for fine-tuning (not in the paper): the derained image's mean offset from the
clean one, measured where the rain left the scene alone.

−SSIM hardly sees a global offset and pixel L1 settles on the median error, so a fine-tune can
drift darker step by step: one run's snapshots gave rain-free photos back 0.6 to 3.0 levels of 255
darker (docs/MODEL_CARD.md). The plain mean offset over the whole image would not do, because
the streaks a model leaves make the output brighter where it should be darker and the term would
answer by darkening the scene around them; so the offset is taken over the pixels the rain did
not touch (``|rainy − clean| ≤ tolerance`` in every channel), where the right output is the
input as it is.
"""

from __future__ import annotations

import torch
from torch import nn


class SceneBrightnessLoss(nn.Module):
    """``mean_{n,c} | Σ m·(derained − clean) / Σ m |`` with ``m`` the rain-free pixels of image ``n``.

    Images are (N, 3, H, W) in [0, 1]. ``tolerance`` is the largest change of a pixel by the rain
    (in [0, 1]) still counted as untouched, 2/255 by default: above 8-bit rounding, below most
    streaks. Images with fewer than ``min_share`` of their pixels untouched (fog, veils and sensor
    noise change nearly every pixel) do not count; a batch without any gives 0.
    """

    def __init__(self, tolerance: float = 2 / 255, min_share: float = 0.05) -> None:
        super().__init__()
        self.tolerance = tolerance
        self.min_share = min_share

    def forward(self, derained: torch.Tensor, clean: torch.Tensor, rainy: torch.Tensor) -> torch.Tensor:
        untouched = ((rainy - clean).abs().amax(dim=1, keepdim=True) <= self.tolerance).to(derained.dtype)
        count = untouched.sum(dim=(2, 3))  # (N, 1)
        offset = ((derained - clean) * untouched).sum(dim=(2, 3)) / count.clamp(min=1)  # (N, C)
        counted = (count[:, 0] >= self.min_share * untouched[0].numel()).to(derained.dtype)
        return (offset.abs().mean(dim=1) * counted).sum() / counted.sum().clamp(min=1)
