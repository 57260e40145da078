"""Training configuration: YAML files of nested sections, merged over the defaults, with
``section.key=value`` overrides from the command line (values parsed as YAML)."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import yaml

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
    """A config file or override that cannot be used."""


def _merge(base: dict, update: dict, where: str) -> dict:
    for key, value in update.items():
        if key not in base and where.split(".")[0] != "loss":  # loss terms are free-form
            raise ConfigError(f"unknown config key '{where}.{key}'" if where else f"unknown config section '{key}'")
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, f"{where}.{key}" if where else key)
        else:
            base[key] = value
    return base


def _override(config: dict, assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(f"override '{assignment}' is not of the form section.key=value")
    dotted, raw = assignment.split("=", 1)
    keys = dotted.split(".")
    update: dict = {}
    cursor = update
    for key in keys[:-1]:
        cursor = cursor.setdefault(key, {})
    cursor[keys[-1]] = _parse(raw)
    _merge(config, update, "")


def load_config(path: str | os.PathLike | None = None, overrides: list[str] = ()) -> dict[str, Any]:
    """Defaults, then the YAML file at ``path`` (relative data paths resolve against the
    current folder), then each ``section.key=value`` override."""
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        try:
            loaded = _parse(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"{path}: cannot read the config ({error})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a config is a mapping of sections, got {type(loaded).__name__}")
        _merge(config, loaded, "")
    for assignment in overrides:
        _override(config, assignment)
    SAPNetConfig.from_dict(config["model"])  # validate early
    data = config["data"]
    if (data["train"] is None) == (data["synthetic"] is None):
        raise ConfigError("set exactly one of data.train (paired folder) or data.synthetic (clean photos)")
    return config
