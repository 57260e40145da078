"""The SAPNet training objective: ``λ1·L_SSIM + λ2·L_UBS + λ3·L_PCL + λ4·L_LPISL``.

Every term and its weight is a config entry, so the paper's ablations are configs::

    {"contrastive": {"kind": "none"}}   # no PCL
    {"contrastive": {"kind": "l1"}}     # L1-CL instead of PCL (Table 3)
    {"lpips": 0}                        # no LPISL
    {"segmentation": 0}                 # no UBS
    {"l1": 1.0}                         # add a pixel L1 term (not in the paper; see below)
    {"brightness": 1.0}                 # add a scene-brightness term (not in the paper; see below)

The paper trains with no pixel term; ``l1`` (weight 0 by default) is for fine-tuning: −SSIM
hardly sees a global brightness offset (a shift of 0.03 changes SSIM's luminance factor by
about 0.002), and a fine-tune of the official checkpoint on synthetic rain drifted 0.027 darker
on Rain100L, 4.6 dB of PSNR, until an L1 term held the brightness (docs/MODEL_CARD.md).
``brightness`` (weight 0 by default) holds it where L1 does not: the mean offset over the pixels
the rain left alone (:class:`SceneBrightnessLoss`).

A term given as a number is just its weight. Each term is described by a dataclass of
:data:`LOSS_TERMS`: its weight (the paper's by default) and the options of its class, with the
class's own defaults. They are the ``loss`` section of the training configuration's one
description (:mod:`sapnet.engine.train.config`), which checks every entry, so a term or option that is
misspelt, of the wrong type or out of range is refused naming it. Missing entries take the
defaults (:data:`DEFAULT_CONFIG`); a term of weight 0 is not built, so it needs no backbone.
Not options: PCL's ``extractor`` (a callable, for the Python API) and ``layer_weights`` (eq. 5's,
one per VGG-16 layer it taps), and ``nn.L1Loss``'s reduction arguments (the total needs the mean).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from sapnet.losses.backbones import LPIPS_BACKBONES
from sapnet.losses.brightness import SceneBrightnessLoss
from sapnet.losses.contrastive import L1ContrastiveLoss, PerceptualContrastiveLoss
from sapnet.losses.lpisl import LPIPSLoss
from sapnet.losses.segmentation import ENCODERS, SegmentationLoss
from sapnet.losses.ssim import SSIMLoss

CONTRASTIVE_KINDS: dict[str, type[nn.Module] | None] = {
    "pcl": PerceptualContrastiveLoss,
    "l1": L1ContrastiveLoss,
    "none": None,
}


# -- the terms and their options (field metadata: the ranges sapnet.engine.train.config checks) -------
def _weight(default: float) -> Any:
    return field(default=default, metadata={"minimum": 0})


def _option(cls: type, name: str, **limits: Any) -> Any:
    """The option ``name`` of a term: that keyword argument of ``cls``, with its default."""
    return field(default=inspect.signature(cls).parameters[name].default, metadata=limits)


@dataclass(frozen=True)
class SSIMTerm:
    """−SSIM (:class:`SSIMLoss`)."""

    weight: float = _weight(1.0)
    window_size: int = _option(SSIMLoss, "window_size", minimum=1)
    sigma: float = _option(SSIMLoss, "sigma", above=0)
    data_range: float = _option(SSIMLoss, "data_range", above=0)


@dataclass(frozen=True)
class ContrastiveTerm:
    """The contrastive term of ``kind`` pcl (eq. 5, :class:`PerceptualContrastiveLoss`), l1 (the
    same ratio of L1 distances on pixels, :class:`L1ContrastiveLoss`) or none; ``weights``, those
    of PCL's VGG-16, is for pcl only."""

    weight: float = _weight(0.1)
    kind: str = field(default="pcl", metadata={"choices": tuple(CONTRASTIVE_KINDS), "noun": "contrastive kind"})
    weights: str = _option(PerceptualContrastiveLoss, "weights")
    eps: float = _option(PerceptualContrastiveLoss, "eps", above=0)


@dataclass(frozen=True)
class LPIPSTerm:
    """LPISL (eq. 6, :class:`LPIPSLoss`); ``size`` null compares the images at their own size."""

    weight: float = _weight(0.1)
    net: str = _option(LPIPSLoss, "net", choices=tuple(LPIPS_BACKBONES))
    size: int | None = _option(LPIPSLoss, "size", minimum=1)
    weights: str = _option(LPIPSLoss, "weights")
    linear: str = _option(LPIPSLoss, "linear")


@dataclass(frozen=True)
class SegmentationTerm:
    """UBS (eq. 4, :class:`SegmentationLoss`)."""

    weight: float = _weight(0.1)
    encoder: str = _option(SegmentationLoss, "encoder", choices=tuple(ENCODERS))
    weights: str = _option(SegmentationLoss, "weights")
    classes: int = _option(SegmentationLoss, "classes", minimum=1)
    init_std: float = _option(SegmentationLoss, "init_std", above=0)
    seed: int = _option(SegmentationLoss, "seed", minimum=0)
    alpha: float = _option(SegmentationLoss, "alpha", minimum=0)
    gamma: float = _option(SegmentationLoss, "gamma", minimum=0)


@dataclass(frozen=True)
class L1Term:
    """Pixel L1 (:class:`torch.nn.L1Loss`), not in the paper (see above)."""

    weight: float = _weight(0.0)


@dataclass(frozen=True)
class BrightnessTerm:
    """The mean offset over the pixels the rain left alone (:class:`SceneBrightnessLoss`), not in the
    paper (see above)."""

    weight: float = _weight(0.0)
    tolerance: float = _option(SceneBrightnessLoss, "tolerance", minimum=0)
    min_share: float = _option(SceneBrightnessLoss, "min_share", minimum=0, maximum=1)


LOSS_TERMS: dict[str, type] = {
    "ssim": SSIMTerm,
    "contrastive": ContrastiveTerm,
    "lpips": LPIPSTerm,
    "segmentation": SegmentationTerm,
    "l1": L1Term,
    "brightness": BrightnessTerm,
}
DEFAULT_CONFIG: dict[str, dict[str, Any]] = {name: asdict(term()) for name, term in LOSS_TERMS.items()}

# SSIM's variance terms (E[x²] − E[x]²) cancel badly in bfloat16, and the brightness term's offsets
# are a fraction of one level of 255, so both always run in float32.
_FLOAT32_TERMS = {"ssim", "brightness"}

_TERMS: dict[str, type[nn.Module]] = {
    "ssim": SSIMLoss,
    "lpips": LPIPSLoss,
    "segmentation": SegmentationLoss,
    "l1": nn.L1Loss,
    "brightness": SceneBrightnessLoss,
}

# Which of (derained, clean, rainy) each term compares.
_INPUTS: dict[str, Callable[..., tuple[torch.Tensor, ...]]] = {
    "ssim": lambda derained, clean, rainy: (derained, clean),
    "contrastive": lambda derained, clean, rainy: (derained, clean, rainy),
    "lpips": lambda derained, clean, rainy: (derained, clean),
    "segmentation": lambda derained, clean, rainy: (derained,),
    "l1": lambda derained, clean, rainy: (derained, clean),
    "brightness": lambda derained, clean, rainy: (derained, clean, rainy),
}


def resolve_config(config: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The full loss config: ``config`` merged over :data:`DEFAULT_CONFIG`, every term a dict.

    A config that cannot be used raises a ValueError (a ConfigError) whose message starts with
    the key at fault, e.g. ``contrastive.kind: unknown contrastive kind 'x' (known: ...)``.
    """
    # imported here because sapnet.engine.train.config, which checks every section, imports LOSS_TERMS
    from sapnet.engine.train.config import LOSS, resolve

    return resolve(LOSS, config, DEFAULT_CONFIG)


def _build_term(name: str, options: dict[str, Any]) -> nn.Module | None:
    cls = CONTRASTIVE_KINDS[options.pop("kind")] if name == "contrastive" else _TERMS[name]
    if cls is None:
        return None
    accepted = inspect.signature(cls).parameters  # a contrastive kind takes only its own options
    return cls(**{option: value for option, value in options.items() if option in accepted})


class SAPNetLoss(nn.Module):
    """The weighted sum of the configured terms; see the module docstring for ``config``.

    ``forward(derained, clean, rainy)`` takes (N, 3, H, W) images in [0, 1] (``derained`` straight
    from the network, unclamped) and returns ``(total, terms)``: the scalar to back-propagate and
    a dict of Python floats for logging — each built term's unweighted value under its config
    name, and ``"total"``. Under ``torch.autocast`` the backbone terms run in its precision and
    SSIM in float32; the total is float32.
    """

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.config = resolve_config(config)
        self.terms = nn.ModuleDict()
        self.weights: dict[str, float] = {}
        for name, entry in self.config.items():
            options = dict(entry)
            weight = float(options.pop("weight"))
            term = _build_term(name, options) if weight > 0 else None
            if term is not None:
                self.terms[name] = term
                self.weights[name] = weight
        if not self.terms:
            raise ValueError("the loss config leaves no term with a positive weight")

    def weights_sources(self) -> dict[str, str]:
        """Where each built term's pretrained networks came from, for the training log."""
        return {name: term.weights_source for name, term in self.terms.items() if hasattr(term, "weights_source")}

    def forward(
        self, derained: torch.Tensor, clean: torch.Tensor, rainy: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        total = derained.new_zeros(())
        logged = {}
        for name, term in self.terms.items():
            inputs = _INPUTS[name](derained, clean, rainy)
            if name in _FLOAT32_TERMS:
                with torch.autocast(derained.device.type, enabled=False):
                    value = term(*(tensor.float() for tensor in inputs))
            else:  # the pretrained backbones follow the caller's autocast (half the time in bf16)
                value = term(*inputs)
            total = total + self.weights[name] * value.float()
            logged[name] = float(value.detach())
        logged["total"] = float(total.detach())
        return total, logged


def build_loss(config: dict[str, Any] | None = None) -> SAPNetLoss:
    """The SAPNet objective for a config dict (``None``: the paper's, which needs ResNet-101)."""
    return SAPNetLoss(config)
