"""Model efficiency as the SAPNet paper reports it (Figure 1, §4.8): parameters, FLOPs, latency.

* **Parameters**: every element of ``model.parameters()``.
* **FLOPs**: PyTorch's own counter, :class:`torch.utils.flop_counter.FlopCounterMode`, over one
  forward pass of a 1×3×H×W input. It counts the matrix work only (convolutions, matrix
  products), two FLOPs per multiply-add, without biases, activations, pooling or element-wise
  operations; MACs (multiply-accumulates, what many papers call "FLOPs") are half of it. The pass
  runs on the ``meta`` device, so no memory is used and no time is spent.
* **Latency**: the median wall time of ``repeats`` calls of :func:`sapnet.engine.infer.tiling.derain_tensor`
  (what ``sapnet derain`` runs, clamping included) on a random 1×3×H×W image already on the
  device, after ``warmup`` untimed calls; CUDA is synchronised around each call.
"""

from __future__ import annotations

import copy
import statistics
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from sapnet.engine.infer.tiling import derain_tensor, model_device

DEFAULT_SIZE = (512, 512)


def count_parameters(model: nn.Module) -> int:
    """The number of parameter values of ``model``."""
    return sum(parameter.numel() for parameter in model.parameters())


def count_flops(model: nn.Module, height: int = DEFAULT_SIZE[0], width: int = DEFAULT_SIZE[1]) -> int:
    """FLOPs of one forward pass on a 1×3×``height``×``width`` input, by FlopCounterMode (see the module notes)."""
    shadow = copy.deepcopy(model).to("meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        shadow(torch.zeros(1, 3, height, width, device="meta"))
    return int(counter.get_total_flops())


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def latencies(runner, height: int = DEFAULT_SIZE[0], width: int = DEFAULT_SIZE[1], repeats: int = 10, warmup: int = 1) -> list[float]:
    """Seconds per call of ``derain_tensor(runner, image)`` for ``repeats`` timed calls (see the module notes).

    ``runner`` is a network or a backend of :mod:`sapnet.engine.infer.backends`.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    device = model_device(runner)
    image = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)).to(device)
    times = []
    for index in range(warmup + repeats):
        _synchronize(device)
        start = time.perf_counter()
        derain_tensor(runner, image, max_pixels=height * width)
        _synchronize(device)
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return times


def measure(model: nn.Module, runner=None, height: int = DEFAULT_SIZE[0], width: int = DEFAULT_SIZE[1], repeats: int = 10) -> dict:
    """Parameters, FLOPs, MACs and latency (median, min, max in seconds) of ``model`` at ``height``×``width``.

    The latency is ``runner``'s (a backend, e.g. the fast CPU engine); ``model`` itself when None.
    """
    times = latencies(model if runner is None else runner, height, width, repeats)
    flops = count_flops(model, height, width)
    return {
        "parameters": count_parameters(model),
        "flops": flops,
        "macs": flops // 2,
        "size": [height, width],
        "latency_median_s": statistics.median(times),
        "latency_min_s": min(times),
        "latency_max_s": max(times),
        "repeats": repeats,
        "device": str(model_device(model if runner is None else runner)),
        "threads": torch.get_num_threads(),
    }
