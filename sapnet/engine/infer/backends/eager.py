"""The eager backend: the PyTorch network itself, on any device it was moved to."""

from __future__ import annotations

import torch

from sapnet.engine.infer.tiling import DEFAULT_MAX_PIXELS
from sapnet.models.sapnet import SAPNet


class EagerBackend:
    """``network(rainy)`` in inference mode; the reference every other backend is tested against."""

    name = "eager"
    max_pixels = DEFAULT_MAX_PIXELS

    def __init__(self, network: SAPNet) -> None:
        self.network = network.eval()
        self.device = next(network.parameters()).device

    def __call__(self, rainy: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.network(rainy.to(self.device))
