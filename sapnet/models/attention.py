"""Channel attention blocks compared in the SAPNet paper (§3.2, Table 2).

All three rescale the channels of a feature map ``x`` (N, C, H, W) by a per-channel gate in
(0, 1) computed from its global average pool; they differ in how the gate is computed. Each
exposes that gate as ``gate(pooled)`` ((N, C) → (N, C)), which its forward applies, so an engine
that computes the pools another way (the fast CPU backend) uses exactly the block's own gate.
"""

from __future__ import annotations

import torch
from torch import nn


class ChannelResidualAttention(nn.Module):
    """CRA, SAPNet §3.2 (Fig. 3): ``x * sigmoid(W2 relu(W1 p) + W3 p)``, p = avgpool(x).

    W1 (C→C/r), W2 (C/r→C) and the residual W3 (C→C) are bias-free 1×1 convolutions; the
    residual path lets the gate keep information the squeeze would drop.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.squeeze = nn.Conv2d(channels, hidden, 1, bias=False)
        self.excite = nn.Conv2d(hidden, channels, 1, bias=False)
        self.residual = nn.Conv2d(channels, channels, 1, bias=False)

    def gate(self, pooled: torch.Tensor) -> torch.Tensor:
        pooled = pooled[:, :, None, None]
        return torch.sigmoid(self.excite(torch.relu(self.squeeze(pooled))) + self.residual(pooled))[:, :, 0, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x.mean(dim=(2, 3)))[:, :, None, None]


class SqueezeExcitation(nn.Module):
    """SE block of Hu et al. (CVPR 2018): two fully connected layers with bias, r = 16."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def gate(self, pooled: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(pooled))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x.mean(dim=(2, 3)))[:, :, None, None]


class ChannelAttention(nn.Module):
    """CA layer of RCAN (Zhang et al., ECCV 2018): 1×1 convolutions with bias.

    The SAPNet reference code's CA baseline uses reduction 8, kept here as the default.
    """

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.squeeze = nn.Conv2d(channels, hidden, 1)
        self.excite = nn.Conv2d(hidden, channels, 1)

    def gate(self, pooled: torch.Tensor) -> torch.Tensor:
        pooled = pooled[:, :, None, None]
        return torch.sigmoid(self.excite(torch.relu(self.squeeze(pooled))))[:, :, 0, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x.mean(dim=(2, 3)))[:, :, None, None]


class NoAttention(nn.Identity):
    """No attention (PReNet, the "conv" row of Table 2): the map passes unchanged, no gate."""

    gate = None


ATTENTION_KINDS = ("cra", "se", "ca", "none")


def build_attention(kind: str, channels: int, reduction: int) -> nn.Module:
    """The attention block named ``kind`` (one of :data:`ATTENTION_KINDS`)."""
    if kind == "cra":
        return ChannelResidualAttention(channels, reduction)
    if kind == "se":
        return SqueezeExcitation(channels, reduction)
    if kind == "ca":
        return ChannelAttention(channels)
    if kind == "none":
        return NoAttention()
    raise ValueError(f"unknown attention {kind!r}; choose one of {', '.join(ATTENTION_KINDS)}")
