"""SAPNet laid out as its reference code computes it: the speed baseline.

The official implementation (PReNet's code with CRA and dilations) computes the ConvLSTM gates
as four separate 3×3 convolutions ``conv_i``, ``conv_f``, ``conv_g``, ``conv_o`` of
``cat(features, h)``, each followed by its activation module, and allocates zero ``h`` and ``c``
for the first stage. :class:`SAPNet` fuses the four gates into one convolution, one of the
speed-ups the performance issue lists, so a plain forward of :class:`SAPNet` is already a step
away from the reference code. ``benchmarks/inference_speed.py`` times this layout as its baseline;
the rest of the network (encoder, dilated residual blocks with CRA, decoder) is the same module
code, which reproduces the official outputs (``tests/test_checkpoints.py``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from sapnet.models.checkpoints import GATE_ORDER
from sapnet.models.sapnet import ConvLSTMCell, SAPNet, initial_state

_GATE_ACTIVATIONS = {"i": nn.Sigmoid, "f": nn.Sigmoid, "g": nn.Tanh, "o": nn.Sigmoid}


class ReferenceConvLSTMCell(nn.Module):
    """The reference code's ConvLSTM (§3.1): ``conv_{i,f,g,o} = Sequential(Conv2d(2C, C, 3), act)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        for gate in GATE_ORDER:
            setattr(self, f"conv_{gate}", nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1), _GATE_ACTIVATIONS[gate]()))

    @classmethod
    def from_fused(cls, cell: ConvLSTMCell) -> "ReferenceConvLSTMCell":
        """The same cell with :class:`ConvLSTMCell`'s fused gate convolution split into four."""
        reference = cls(cell.channels)
        weights, biases = cell.gates.weight.chunk(4), cell.gates.bias.chunk(4)
        for gate, weight, bias in zip(GATE_ORDER, weights, biases):
            conv = getattr(reference, f"conv_{gate}")[0]
            conv.weight.data.copy_(weight)
            conv.bias.data.copy_(bias)
        return reference.to(cell.gates.weight.device)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = initial_state(x, self.channels) if state is None else state
        x = torch.cat((x, h), dim=1)
        i, f, g, o = self.conv_i(x), self.conv_f(x), self.conv_g(x), self.conv_o(x)
        c = f * c + i * g
        h = o * torch.tanh(c)
        return h, c


def reference_layout(model: SAPNet) -> SAPNet:
    """A copy of ``model`` whose ConvLSTM is laid out as in the reference code (same outputs)."""
    reference = copy.deepcopy(model)
    reference.lstm = ReferenceConvLSTMCell.from_fused(model.lstm)
    return reference
