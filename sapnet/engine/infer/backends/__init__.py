"""How a SAPNet runs: one small interface, three backends.

A backend is called like the network, ``backend(rainy) -> estimate`` on (N, 3, H, W) float32 in
[0, 1] (unclamped, like the network), and states what the tiling needs:

- ``name``: ``eager`` (:mod:`.eager`, PyTorch on any device), ``fast`` (:mod:`.fast`, the
  band-tiled CPU engine, exact, about 3× eager on the CPU) or ``onnxruntime`` (:mod:`.onnx`);
- ``device``: where inputs go;
- ``max_pixels``: above this many pixels an image is tiled (about 2 GB of activations).

A new backend is a class with these three attributes and ``__call__``, added to
:func:`build_backend`. ``auto`` picks the fast engine where it can run the network (a float32
SAPNet on the CPU), else eager.
"""

from __future__ import annotations

from typing import Protocol

import torch

from sapnet.models.sapnet import SAPNet

BACKENDS = ("auto", "eager", "fast", "onnxruntime")
CPU_ONLY = ("fast", "onnxruntime")


class Backend(Protocol):
    name: str
    device: torch.device
    max_pixels: int

    def __call__(self, rainy: torch.Tensor) -> torch.Tensor: ...


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; ``cpu``/``cuda``/``cuda:N`` as given."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but PyTorch sees no CUDA device here; use --device cpu")
    return device


def device_for(backend: str, device: str | torch.device = "auto") -> torch.device:
    """The device ``backend`` runs on: the CPU for the CPU-only backends (an error if another
    device was asked for), else :func:`pick_device`."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend in CPU_ONLY:
        if device != "auto" and pick_device(device).type != "cpu":
            raise ValueError(f"the {backend} backend runs on the CPU: pass --device cpu (or --backend eager)")
        return torch.device("cpu")
    return pick_device(device)


def resolve_backend(network: SAPNet, backend: str = "auto") -> str:
    """The backend ``auto`` means for ``network``: the fast engine for float32 SAPNets on the CPU
    (it measured fastest, see benchmarks/inference_speed.py), else eager."""
    from sapnet.engine.infer.backends.fast import fast_support

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "auto":
        return backend
    return "fast" if fast_support(network) is None else "eager"


def build_backend(network: SAPNet, backend: str = "auto") -> Backend:
    """``network`` as ``backend`` runs it (see :data:`BACKENDS`); the backends import lazily, so
    a command loads only the one it uses."""
    backend = resolve_backend(network, backend)
    if backend == "eager":
        from sapnet.engine.infer.backends.eager import EagerBackend

        return EagerBackend(network)
    device = next(network.parameters()).device
    if device.type != "cpu":
        raise ValueError(f"the {backend} backend runs on the CPU; the model is on {device}")
    if backend == "fast":
        from sapnet.engine.infer.backends.fast import FastSAPNet

        return FastSAPNet(network)
    from sapnet.engine.infer.backends.onnx import OnnxBackend

    return OnnxBackend(network)
