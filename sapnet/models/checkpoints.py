"""Checkpoint formats SAPNet weights come in, all loaded with ``weights_only=True``.

1. The reference code's ``state_dict`` (official SAPNet, possibly saved from ``nn.DataParallel``
   with a ``module.`` prefix): ``conv0.0``, ``res_convK.{0,1,3,4}``, ``conv_{i,f,g,o}.0``, ``conv.0``.
2. PReNet's published checkpoints: the same layout without attention (``res_convK.{0,2}``).
3. This project's format: safetensors weights with the architecture options in the file's
   metadata, so a file alone rebuilds the right model.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sapnet.files import atomic_write
from sapnet.models.sapnet import SAPNet, SAPNetConfig

CONFIG_KEY = "sapnet_config"
GATE_ORDER = ("i", "f", "g", "o")  # ConvLSTMCell.gates stacks the four gates in this order


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read as SAPNet weights."""


def _strip_data_parallel(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if state and all(key.startswith("module.") for key in state):
        return {key[len("module."):]: value for key, value in state.items()}
    return state


def is_reference_layout(state: dict[str, torch.Tensor]) -> bool:
    """Whether ``state`` uses the reference code's names (SAPNet or PReNet)."""
    return any(key.startswith("conv_i.") for key in _strip_data_parallel(state))


def convert_reference_state_dict(
    state: dict[str, torch.Tensor], stages: int = 6
) -> tuple[SAPNetConfig, dict[str, torch.Tensor]]:
    """Map a reference SAPNet or PReNet ``state_dict`` to this package's names.

    The architecture is read off the keys: CRA parameters mean SAPNet (``res_convK.1``/``.4``),
    their absence PReNet (``res_convK.0``/``.2``). Dilation cannot be read from weights, so it
    follows the attention: SAPNet's checkpoints are dilated, PReNet's are not.
    """
    state = _strip_data_parallel(state)
    has_cra = any(".conv_du." in key for key in state)
    second_conv = 3 if has_cra else 2
    channels = state["conv0.0.weight"].shape[0]
    config = SAPNetConfig(
        stages=stages,
        channels=channels,
        attention="cra" if has_cra else "none",
        dilation=has_cra,
        reduction=channels // state["res_conv1.1.conv_du.0.weight"].shape[0] if has_cra else 16,
    )
    converted: dict[str, torch.Tensor] = {}
    for suffix in ("weight", "bias"):
        converted[f"encoder.{suffix}"] = state[f"conv0.0.{suffix}"]
        converted[f"decoder.{suffix}"] = state[f"conv.0.{suffix}"]
        converted[f"lstm.gates.{suffix}"] = torch.cat(
            [state[f"conv_{gate}.0.{suffix}"] for gate in GATE_ORDER], dim=0
        )
    for k in range(5):
        src, dst = f"res_conv{k + 1}", f"blocks.{k}"
        for conv_index, conv_name in ((0, "conv1"), (second_conv, "conv2")):
            for suffix in ("weight", "bias"):
                converted[f"{dst}.{conv_name}.{suffix}"] = state[f"{src}.{conv_index}.{suffix}"]
        if has_cra:
            for att_index, att_name in ((1, "att1"), (4, "att2")):
                converted[f"{dst}.{att_name}.squeeze.weight"] = state[f"{src}.{att_index}.conv_du.0.weight"]
                converted[f"{dst}.{att_name}.excite.weight"] = state[f"{src}.{att_index}.conv_du.2.weight"]
                converted[f"{dst}.{att_name}.residual.weight"] = state[f"{src}.{att_index}.conv_1_1.weight"]
    return config, converted


def save_checkpoint(model: SAPNet, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write ``model`` as safetensors with its architecture in the metadata, atomically."""
    path = Path(path)
    header = {CONFIG_KEY: json.dumps(model.config.to_dict())}
    header.update(metadata or {})
    tensors = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        save_file(tensors, tmp, metadata=header)
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata stored in a safetensors checkpoint."""
    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


def _load_safetensors(path: Path) -> tuple[SAPNetConfig, dict[str, torch.Tensor]]:
    state: dict[str, torch.Tensor] = {}
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
        for key in handle.keys():
            state[key] = handle.get_tensor(key)
    if CONFIG_KEY not in metadata:
        raise CheckpointError(f"{path}: safetensors file has no '{CONFIG_KEY}' metadata (not a sapnet checkpoint)")
    return _config_from(path, lambda: json.loads(metadata[CONFIG_KEY])), state


def _config_from(path: Path, read_options) -> SAPNetConfig:
    """The architecture ``read_options()`` gives, or a CheckpointError saying what is wrong with it."""
    try:
        options = read_options()
        if not isinstance(options, dict):
            raise ValueError(f"expected a mapping of options, got {type(options).__name__}")
        return SAPNetConfig.from_dict(options)
    except (ValueError, TypeError) as error:  # bad JSON, unknown or out-of-range options
        raise CheckpointError(f"{path}: invalid architecture options in the checkpoint ({error})") from None


def _torch_load_problem(error: Exception) -> str:
    """PyTorch's several-line reason for refusing a file, as one line, without its advice to
    load with ``weights_only=False`` (which would run whatever code the file carries)."""
    if isinstance(error, pickle.UnpicklingError):
        advice = ("Weights only load failed", "Please file an issue", "Check the documentation")
        detail = [line.strip() for line in str(error).splitlines() if line.strip() and not line.strip().startswith(advice)]
        return "not a pickle of plain tensors; refused without running any of it" + (f": {' '.join(detail)}" if detail else "")
    first_sentence = str(error).split(". ")[0].strip() or error.__class__.__name__
    return f"not a PyTorch checkpoint, or a truncated or corrupt one: {first_sentence}"


def safe_torch_load(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; a file it refuses (empty, truncated,
    not a pickle, or a pickle of more than tensors) raises a one-line CheckpointError."""
    if Path(path).stat().st_size == 0:
        raise CheckpointError(f"{path}: not a loadable checkpoint (empty file, 0 bytes)")
    try:
        with warnings.catch_warnings():  # e.g. "pickle protocol 4": noise before the refusal
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and weights_only errors all mean "not loadable"
        raise CheckpointError(f"{path}: not a loadable checkpoint ({_torch_load_problem(error)})") from None


def _load_torch(path: Path, stages: int) -> tuple[SAPNetConfig, dict[str, torch.Tensor]]:
    state = safe_torch_load(path)
    if isinstance(state, dict) and isinstance(state.get("model"), dict) and "model_config" in state:
        # a training checkpoint of this project: weights plus the architecture options
        return _config_from(path, lambda: state["model_config"]), state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state_dict of tensors")
    if is_reference_layout(state):
        try:
            return convert_reference_state_dict(state, stages=stages)
        except KeyError as missing:
            raise CheckpointError(f"{path}: reference-layout checkpoint lacks {missing}") from None
    raise CheckpointError(f"{path}: unknown checkpoint layout (keys such as {sorted(state)[:3]})")


def load_checkpoint(path: str | os.PathLike, stages: int | None = None) -> SAPNet:
    """Build a :class:`SAPNet` from a checkpoint in any of the three formats.

    ``stages`` overrides the number of recurrent stages (reference checkpoints store none;
    they default to the paper's 6).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head[8:9] == b"{":  # safetensors: an 8-byte header length, then the JSON header
        try:
            config, state = _load_safetensors(path)
        except CheckpointError:
            raise
        except Exception as error:
            raise CheckpointError(f"{path}: not a valid safetensors file ({error})") from None
    else:
        config, state = _load_torch(path, stages or 6)
    if stages is not None and stages != config.stages:
        config = _config_from(path, lambda: {**config.to_dict(), "stages": stages})
    broken = [key for key, value in state.items() if isinstance(value, torch.Tensor) and not torch.isfinite(value).all()]
    if broken:
        raise CheckpointError(f"{path}: weights hold NaN or infinite values ({', '.join(sorted(broken)[:3])})")
    model = SAPNet(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit the architecture {config}: {first_line}") from None
    return model.eval()
