"""SAPNet derain network (Zheng et al., "Segmentation-Aware Progressive Network for Perceptual
Contrastive Deraining", WACV 2022, §3.1–3.3).

A progressive network: ``stages`` recurrent passes that share every weight. Each pass sees the
rainy image and the previous estimate, carries a ConvLSTM state across passes, refines features
with dilated residual blocks with channel attention, and predicts a residual added to the rainy
input. With ``attention="none"`` and ``dilation=False`` it is PReNet (Ren et al., CVPR 2019).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from sapnet.models.attention import ATTENTION_KINDS, build_attention


# Stages share their weights, so a checkpoint's metadata could ask for any number: bound it, so
# that a file claiming 100000 is refused instead of running for minutes on a tiny image.
MAX_STAGES = 32


@dataclass(frozen=True)
class SAPNetConfig:
    """Architecture options; the defaults are the paper's SAPNet. Each field's metadata is its
    range, which the training config checks (``model`` in :mod:`sapnet.engine.train.config`)."""

    stages: int = field(default=6, metadata={"minimum": 1, "maximum": MAX_STAGES})
    channels: int = field(default=32, metadata={"minimum": 1})
    attention: str = field(default="cra", metadata={"choices": ATTENTION_KINDS})
    dilation: bool = True
    reduction: int = field(default=16, metadata={"minimum": 1})

    def __post_init__(self) -> None:
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {self.attention!r}")
        if self.stages < 1 or self.channels < 1 or self.reduction < 1:
            raise ValueError(f"stages, channels and reduction must be positive: {self}")
        if self.stages > MAX_STAGES:
            raise ValueError(f"stages must be at most {MAX_STAGES} (the paper uses 6), got {self.stages}")

    @property
    def dilations(self) -> tuple[int, ...]:
        return (1, 2, 4, 8, 16) if self.dilation else (1, 1, 1, 1, 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "SAPNetConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown SAPNet options: {sorted(unknown)}")
        return cls(**values)


def initial_state(x: torch.Tensor, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ConvLSTM's (h, c) before the first stage: zeros, as in the reference code."""
    zeros = x.new_zeros(x.shape[0], channels, *x.shape[2:])
    return zeros, zeros


class ConvLSTMCell(nn.Module):
    """ConvLSTM of §3.1 (PReNet's recurrent unit): the gates i, f, g, o are 3×3 convolutions of
    concat(features, h), computed as one convolution with 4·C outputs in that order."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.gates = nn.Conv2d(2 * channels, 4 * channels, 3, padding=1)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = initial_state(x, self.channels) if state is None else state
        i, f, g, o = self.gates(torch.cat((x, h), dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class ResidualBlock(nn.Module):
    """Dilated residual block of §3.2: [3×3 conv, attention, ReLU] twice, then relu(out + x)."""

    def __init__(self, channels: int, dilation: int, attention: str, reduction: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.att1 = build_attention(attention, channels, reduction)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.att2 = build_attention(attention, channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.att1(self.conv1(x)))
        out = torch.relu(self.att2(self.conv2(out)))
        return torch.relu(out + x)


class SAPNet(nn.Module):
    """The progressive derain network of §3.1–3.3 (Fig. 2).

    ``forward(rainy)`` takes (N, 3, H, W) images in [0, 1] of any size and returns the final
    estimate; with ``return_stages=True`` it returns ``(final, [stage_1, …, stage_T])``.
    Outputs are not clamped, as in the paper (losses see the raw estimate).
    """

    def __init__(self, config: SAPNetConfig | None = None, **options) -> None:
        super().__init__()
        if config is None:
            config = SAPNetConfig(**options)
        elif options:
            raise TypeError("pass either a SAPNetConfig or keyword options, not both")
        self.config = config
        c = config.channels
        self.encoder = nn.Conv2d(6, c, 3, padding=1)
        self.lstm = ConvLSTMCell(c)
        self.blocks = nn.ModuleList(
            ResidualBlock(c, d, config.attention, config.reduction) for d in config.dilations
        )
        self.decoder = nn.Conv2d(c, 3, 3, padding=1)

    def stage(
        self, rainy: torch.Tensor, estimate: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One recurrent pass: the next estimate and the new ConvLSTM state."""
        x = torch.relu(self.encoder(torch.cat((rainy, estimate), dim=1)))
        h, c = self.lstm(x, state)
        x = h
        for block in self.blocks:
            x = block(x)
        return self.decoder(x) + rainy, (h, c)

    def forward(self, rainy: torch.Tensor, return_stages: bool = False):
        if rainy.dim() != 4 or rainy.shape[1] != 3:
            raise ValueError(f"expected an (N, 3, H, W) tensor, got shape {tuple(rainy.shape)}")
        estimate, state = rainy, None
        stages = []
        for _ in range(self.config.stages):
            estimate, state = self.stage(rainy, estimate, state)
            if return_stages:
                stages.append(estimate)
        return (estimate, stages) if return_stages else estimate
