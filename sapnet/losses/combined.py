"""The SAPNet training objective: ``λ1·L_SSIM + λ2·L_UBS + λ3·L_PCL + λ4·L_LPISL``.

Every term and its weight is a config entry, so the paper's ablations are configs::

    {"contrastive": {"kind": "none"}}   # no PCL
    {"contrastive": {"kind": "l1"}}     # L1-CL instead of PCL (Table 3)
    {"lpips": 0}                        # no LPISL
    {"segmentation": 0}                 # no UBS
    {"l1": 1.0}                         # add a pixel L1 term (not in the paper; see below)

The paper trains with no pixel term; ``l1`` (weight 0 by default) is for fine-tuning: −SSIM
hardly sees a global brightness offset (a shift of 0.03 changes SSIM's luminance factor by
about 0.002), and a fine-tune of the official checkpoint on synthetic rain drifted 0.027 darker
on Rain100L, 4.6 dB of PSNR, until an L1 term held the brightness (docs/MODEL_CARD.md).

A term given as a number is just its weight. Missing entries and options take the paper's values
(:data:`DEFAULT_CONFIG`); a term of weight 0 is not built, so it needs no backbone.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sapnet.losses.contrastive import L1ContrastiveLoss, PerceptualContrastiveLoss
from sapnet.losses.lpisl import LPIPSLoss
from sapnet.losses.segmentation import SegmentationLoss
from sapnet.losses.ssim import SSIMLoss

# Options other than weight and kind are the keyword arguments of the term's class.
DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    "ssim": {"weight": 1.0},
    "contrastive": {"weight": 0.1, "kind": "pcl"},
    "lpips": {"weight": 0.1, "net": "alex", "size": 256},
    "segmentation": {"weight": 0.1, "encoder": "resnet101"},
    "l1": {"weight": 0.0},
}

CONTRASTIVE_KINDS: dict[str, type[nn.Module] | None] = {
    "pcl": PerceptualContrastiveLoss,
    "l1": L1ContrastiveLoss,
    "none": None,
}

# SSIM's variance terms (E[x²] − E[x]²) cancel badly in bfloat16, so it always runs in float32.
_FLOAT32_TERMS = {"ssim"}

_TERMS: dict[str, type[nn.Module]] = {"ssim": SSIMLoss, "lpips": LPIPSLoss, "segmentation": SegmentationLoss, "l1": nn.L1Loss}

# Which of (derained, clean, rainy) each term compares.
_INPUTS: dict[str, Callable[..., tuple[torch.Tensor, ...]]] = {
    "ssim": lambda derained, clean, rainy: (derained, clean),
    "contrastive": lambda derained, clean, rainy: (derained, clean, rainy),
    "lpips": lambda derained, clean, rainy: (derained, clean),
    "segmentation": lambda derained, clean, rainy: (derained,),
    "l1": lambda derained, clean, rainy: (derained, clean),
}


def term_options(name: str, kind: str | None = None) -> set[str]:
    """The options a loss term accepts: ``weight`` (and ``kind`` for contrastive) plus the
    keyword arguments of its class (for contrastive, of ``kind``'s class)."""
    cls = CONTRASTIVE_KINDS[kind] if name == "contrastive" else _TERMS[name]
    accepted = set() if cls is None else set(inspect.signature(cls).parameters)
    return accepted | {"weight"} | ({"kind"} if name == "contrastive" else set())


def resolve_config(config: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The full loss config: ``config`` merged over :data:`DEFAULT_CONFIG`, every term a dict.

    A config that cannot be built raises a ValueError whose message starts with the key at
    fault, e.g. ``contrastive.kind: unknown contrastive kind 'x' ...``.
    """
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"must be a mapping of terms, got {config!r}")
    resolved = copy.deepcopy(DEFAULT_CONFIG)
    for name, entry in (config or {}).items():
        if name not in resolved:
            raise ValueError(f"{name}: unknown loss term; terms are {', '.join(sorted(resolved))}")
        if not isinstance(entry, (dict, int, float)):
            raise ValueError(f"{name}: must be a weight or a mapping of options, got {entry!r}")
        resolved[name].update(entry if isinstance(entry, dict) else {"weight": entry})
    for name, entry in resolved.items():
        weight = entry["weight"]
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"{name}.weight: must be a non-negative number, got {weight!r}")
    kind = resolved["contrastive"]["kind"]
    if not isinstance(kind, str) or kind not in CONTRASTIVE_KINDS:
        raise ValueError(f"contrastive.kind: unknown contrastive kind {kind!r}; choose from {', '.join(sorted(CONTRASTIVE_KINDS))}")
    for name, entry in resolved.items():
        accepted = term_options(name, entry.get("kind"))
        for option in entry:
            if option not in accepted:
                raise ValueError(f"{name}.{option}: unknown option of this term; it takes {', '.join(sorted(accepted))}")
    return resolved


def _build_term(name: str, options: dict[str, Any]) -> nn.Module | None:
    if name == "contrastive":
        cls = CONTRASTIVE_KINDS[options.pop("kind")]
        return None if cls is None else cls(**options)
    return _TERMS[name](**options)


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
