"""The module a training step calls: ``torch.compile`` on the CPU, channels-last on CUDA, as measured fastest."""

from __future__ import annotations

import os
import warnings

import torch
from torch import nn

class _CompiledWithFallback(nn.Module):
    """``torch.compile(model)``, falling back to ``model`` for good (with a warning) if compiling
    fails, e.g. where no C++ compiler is installed. Shares ``model``'s parameters."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.compiled = torch.compile(model)
        self.failed = False

    def forward(self, *args, **kwargs):
        if not self.failed:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as error:  # backend compiler missing or failing: train eagerly
                self.failed = True
                first_line = (str(error).strip().splitlines() or [""])[0][:200]
                warnings.warn(f"torch.compile failed ({error.__class__.__name__}: {first_line}); training without it")
        return self.model(*args, **kwargs)


def prepare_for_training(model: nn.Module, compile: bool | None = None) -> nn.Module:
    """The module a trainer should call for its training steps, sharing ``model``'s parameters
    (an optimiser built on ``model.parameters()`` stays valid; checkpoints keep using ``model``).

    Measured with benchmarks/training_speed.py (batch 12×3×100×100, forward + the bundled
    config's loss + backward + Adam, modes interleaved): on the 2-core CPU torch.compile 1.18×
    faster than eager NCHW (5.15 vs 6.07 s/step; its first step compiles) and channels-last
    1.08×, so CPU models are compiled (the trainer's bf16 autocast on top: 2.38×) (``compile=False`` or the environment variable SAPNET_NO_COMPILE=1 turn it off;
    a failing compiler falls back to eager); on an H100 channels-last was fastest (1.18×,
    torch.compile 1.13× after a 40 s compile), so CUDA models are converted to channels-last in
    place.
    """
    try:
        device = next(model.parameters()).device
    except StopIteration:
        return model
    if device.type == "cuda":
        return model.to(memory_format=torch.channels_last)  # in place: the same parameter objects
    if compile is None:
        compile = os.environ.get("SAPNET_NO_COMPILE", "") in ("", "0")
    if compile and hasattr(torch, "compile"):
        return _CompiledWithFallback(model)
    return model
