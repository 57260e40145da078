"""Training configuration: YAML files of nested sections, merged over the defaults, with
``section.key=value`` overrides from the command line (values parsed as YAML).

Every setting is checked against :data:`SETTINGS` (its type and range) before a run starts, so a
wrong value is one :class:`ConfigError` of the form ``KEY: problem`` rather than a traceback
minutes into the run.
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml

from sapnet.data.rain import PRESETS, VeilPrior
from sapnet.losses.combined import resolve_config
from sapnet.models.attention import ATTENTION_KINDS
from sapnet.models.sapnet import SAPNetConfig

# The paper's recipe (§4.1): Adam 1e-3, batch 12, 100 epochs, LR ×0.2 at epochs 30, 50, 80.
DEFAULTS: dict[str, Any] = {
    "model": SAPNetConfig().to_dict(),
    "loss": {},  # see sapnet.losses.combined.DEFAULT_CONFIG; empty means the paper's four terms
    "data": {
        "train": None,  # a paired folder (rainy/ + clean/, input/ + target/, or rain-N/norain-N)
        "synthetic": None,  # or a folder (or list of folders) of clean photos: fresh synthetic rain every epoch
        "presets": ["light", "heavy"],
        "epoch_length": None,  # synthetic items per epoch (default: one per photo)
        "veil": None,  # {probability, maximum}: draw the haze veil apart from the presets (sapnet.data.rain.VeilPrior)
        "crop": 100,
        "augment": True,
        "subset": 1.0,
        "val": None,  # a paired folder, or a list of them, scored every `val_every` epochs
        "val_limit": 10,
        "workers": 2,
    },
    "optim": {
        "lr": 1e-3,
        "batch_size": 12,
        "epochs": 100,
        "milestones": [30, 50, 80],
        "gamma": 0.2,
        "max_steps": None,  # stop after this many optimiser steps (a budget for short runs)
        "grad_clip": None,  # clip the gradient norm to this (the paper does not clip)
    },
    "run": {
        "out_dir": "runs/sapnet",
        "seed": 0,
        "device": "auto",
        "amp": "bf16",  # mixed precision on CUDA: bf16 or off
        "amp_cpu": "auto",  # bf16, off, or auto: bf16 where the CPU has AMX units (2-3× faster steps)
        "init_from": None,  # start from these weights (a name from sapnet.hub or a checkpoint path)
        "checkpoint_every": 200,
        "snapshot_every": None,  # also keep the weights of every N-th step (snapshots/step_N.safetensors)
        "log_every": 10,
        "val_every": 1,
        "max_nonfinite": 20,  # consecutive non-finite losses before the run stops
        "fast": True,  # channels-last / compiled training step where it measures faster
    },
}


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-3`` as a string; accept YAML 1.2 floats, as people write them."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)


def _parse(text: str):
    return yaml.load(text, Loader=_Loader)


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message is ``KEY: problem``."""


# -- what each setting may hold -----------------------------------------------------------------
# A check takes a value and returns None, or what is wrong with it.
Check = Callable[[Any], "str | None"]


def _must(text: str, accepts: Callable[[Any], bool]) -> Check:
    return lambda value: None if accepts(value) else f"must be {text}, got {value!r}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike)) and str(value) != ""


def _integer(minimum: int) -> Check:
    return _must(f"an integer >= {minimum}", lambda value: _is_int(value) and value >= minimum)


def _optional(check: Check) -> Check:
    return lambda value: None if value is None else check(value)


def _one_of(*choices: Any) -> Check:
    return _must("one of " + ", ".join(map(str, choices)), lambda value: isinstance(value, str) and value in choices)


def _device(value: Any) -> str | None:
    if value == "auto":
        return None
    try:
        device = torch.device(value) if isinstance(value, str) else None
    except (RuntimeError, ValueError):
        device = None
    if device is None:
        return f"must be auto, cpu, cuda or cuda:N, got {value!r}"
    if device.type == "cuda" and not torch.cuda.is_available():
        return f"{value} asked for, but PyTorch sees no CUDA device here; use cpu or auto"
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        return f"{value} asked for, but there are only {torch.cuda.device_count()} CUDA devices"
    return None


def _veil(value: Any) -> str | None:
    expected = "{probability: 0..1, maximum: 0..1}"
    if not isinstance(value, dict):
        return f"must be {expected}, got {value!r}"
    try:
        VeilPrior(**value)
    except (TypeError, ValueError) as error:
        return f"must be {expected} ({error})"
    return None


_POSITIVE = _must("a number > 0", lambda value: _is_number(value) and value > 0)
_BOOLEAN = _must("true or false", lambda value: isinstance(value, bool))
_FOLDER = _must("a folder path", _is_path)
_FOLDERS = _must(
    "a folder path or a list of them",
    lambda value: _is_path(value) or (isinstance(value, list) and bool(value) and all(map(_is_path, value))),
)
_AMP_CHOICES = ("bf16", "off")  # YAML reads an unquoted off as false, which is accepted too
_AMP = _must("bf16 or off", lambda value: value is False or (isinstance(value, str) and value in _AMP_CHOICES))
_AMP_CPU = _must("bf16, off or auto", lambda value: value is False or (isinstance(value, str) and value in (*_AMP_CHOICES, "auto")))

# One check for every key of DEFAULTS but the free-form loss section (checked by
# sapnet.losses.combined.resolve_config).
SETTINGS: dict[str, dict[str, Check]] = {
    "model": {
        "stages": _integer(1),
        "channels": _integer(1),
        "attention": _one_of(*ATTENTION_KINDS),
        "dilation": _BOOLEAN,
        "reduction": _integer(1),
    },
    "data": {
        "train": _optional(_FOLDER),
        "synthetic": _optional(_FOLDERS),
        "presets": _must(
            f"a non-empty list of presets ({', '.join(PRESETS)})",
            lambda value: isinstance(value, list) and bool(value) and all(isinstance(p, str) and p in PRESETS for p in value),
        ),
        "epoch_length": _optional(_integer(1)),
        "veil": _optional(_veil),
        "crop": _integer(1),
        "augment": _BOOLEAN,
        "subset": _must("a fraction in (0, 1]", lambda value: _is_number(value) and 0 < value <= 1),
        "val": _optional(_FOLDERS),
        "val_limit": _optional(_integer(1)),
        "workers": _integer(0),
    },
    "optim": {
        "lr": _POSITIVE,
        "batch_size": _integer(1),
        "epochs": _integer(1),
        "milestones": _must(
            "a list of integers >= 1 (the epochs after which the LR drops)",
            lambda value: isinstance(value, list) and all(_is_int(m) and m >= 1 for m in value),
        ),
        "gamma": _POSITIVE,
        "max_steps": _optional(_integer(1)),
        "grad_clip": _optional(_POSITIVE),
    },
    "run": {
        "out_dir": _FOLDER,
        "seed": _integer(0),
        "device": _device,
        "amp": _AMP,
        "amp_cpu": _AMP_CPU,
        "init_from": _optional(_must("a model name or a checkpoint path", _is_path)),
        "checkpoint_every": _integer(1),
        "snapshot_every": _optional(_integer(1)),
        "log_every": _integer(1),
        "val_every": _integer(1),
        "max_nonfinite": _integer(1),
        "fast": _BOOLEAN,
    },
}


def validate_config(config: dict[str, Any]) -> None:
    """Raise a :class:`ConfigError` ``KEY: problem`` for the first setting that cannot be used."""
    for section, checks in SETTINGS.items():
        for key, check in checks.items():
            problem = check(config[section][key])
            if problem:
                raise ConfigError(f"{section}.{key}: {problem}")
    try:
        SAPNetConfig.from_dict(config["model"])
    except ValueError as error:
        raise ConfigError(f"model: {error}") from None
    try:
        resolve_config(config["loss"])
    except ValueError as error:  # its messages start with the term's key
        raise ConfigError(f"loss.{error}") from None
    data = config["data"]
    if (data["train"] is None) == (data["synthetic"] is None):
        raise ConfigError("data: set exactly one of data.train (paired folder) or data.synthetic (clean photos)")


# -- reading ------------------------------------------------------------------------------------
def _merge(base: dict, update: dict, where: str) -> dict:
    for key, value in update.items():
        name = f"{where}.{key}" if where else key
        if key not in base and where.split(".")[0] != "loss":  # loss terms are free-form
            raise ConfigError(f"{name}: unknown config key" if where else f"{name}: unknown config section")
        if not where and value is None:
            continue  # an empty section ("optim:" with nothing under it) changes nothing
        if not where and not isinstance(value, dict):
            raise ConfigError(f"{name}: must be a mapping of settings, got {value!r}")
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, name)
        else:
            base[key] = value
    return base


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's several-line complaint as one line."""
    problem = getattr(error, "problem", None) or str(error).strip().splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else problem


def _override(config: dict, assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(f"{assignment}: an override is of the form section.key=value")
    dotted, raw = assignment.split("=", 1)
    try:
        value = _parse(raw)
    except yaml.YAMLError as error:
        raise ConfigError(f"{dotted}: cannot parse {raw!r} ({_yaml_problem(error)})") from None
    keys = dotted.split(".")
    update: dict = {}
    cursor = update
    for key in keys[:-1]:
        cursor = cursor.setdefault(key, {})
    cursor[keys[-1]] = value
    _merge(config, update, "")


def load_config(path: str | os.PathLike | None = None, overrides: list[str] = ()) -> dict[str, Any]:
    """Defaults, then the YAML file at ``path`` (relative data paths resolve against the
    current folder), then each ``section.key=value`` override; then every setting is checked
    (:func:`validate_config`)."""
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        try:
            loaded = _parse(Path(path).read_text()) or {}
        except OSError as error:
            raise ConfigError(f"{path}: cannot read the config ({error.strerror or error})") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({_yaml_problem(error)})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a config is a mapping of sections, got {type(loaded).__name__}")
        try:
            _merge(config, loaded, "")
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
    for assignment in overrides:
        _override(config, assignment)
    validate_config(config)
    return config
