"""Training configuration: YAML files of nested sections, merged over the defaults, with
``section.key=value`` overrides from the command line (values parsed as YAML 1.2).

One description, :data:`SCHEMA`, says what every setting is. Each section is a dataclass whose
fields are its settings: a field's annotation is its type (a dataclass there: a mapping of its
fields), its default the default, and its metadata the range (``minimum``, ``above``,
``maximum``, ``below``, ``choices``, named ``noun`` in messages; ``may_be_empty`` for a list) or an extra
``check``.
``model`` is :class:`~sapnet.models.sapnet.SAPNetConfig` itself, each ``loss`` term one of the
dataclasses of :data:`sapnet.losses.combined.LOSS_TERMS`, and ``data``, ``optim`` and ``run``
are declared below. The defaults (:data:`DEFAULTS`), the type and range checks and the
unknown-key check all come from it (:func:`resolve`), so a wrong setting is one
:class:`ConfigError` ``KEY: problem`` before a run starts, not a traceback minutes into it.

The schedule is counted in optimiser steps:

- ``optim.steps`` is the run's length. The LR is ``optim.lr`` times ``optim.gamma`` once for
  each of ``optim.milestones`` passed: ``milestones: [400, 600]`` trains steps 1-400 at ``lr``,
  401-600 at ``lr·gamma`` and the rest at ``lr·gamma²``.
- ``run.checkpoint_every``, ``run.snapshot_every``, ``run.log_every`` and ``run.val_every``
  count steps too.
- An epoch is only the unit of data order: one pass over the training pairs (or over
  ``data.epoch_length`` synthetic items) in a fresh seeded order, with fresh synthetic rain;
  it is items // ``optim.batch_size`` steps long.

A config written for the schedule counted in epochs (one that sets ``optim.epochs`` or
``optim.max_steps``) is refused, with its settings converted to steps in the message, rather
than read with another meaning.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from sapnet.data.rain import PRESETS, VeilPrior
from sapnet.losses.combined import LOSS_TERMS
from sapnet.models.sapnet import SAPNetConfig


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message is ``KEY: problem``."""


# -- checks beyond a type and a range -----------------------------------------------------------
def _device(value: str) -> str | None:
    if value == "auto":
        return None
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        return f"must be auto, cpu, cuda or cuda:N, got {value!r}"
    if device.type == "cuda" and not torch.cuda.is_available():
        return f"{value} asked for, but PyTorch sees no CUDA device here; use cpu or auto"
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        return f"{value} asked for, but there are only {torch.cuda.device_count()} CUDA devices"
    return None


def _increasing(value: list) -> str | None:
    return None if all(a < b for a, b in zip(value, value[1:])) else f"must increase, got {value}"


# -- the sections declared here -----------------------------------------------------------------
@dataclass(frozen=True)
class DataSettings:
    """``data``: what the network trains and is validated on."""

    train: str | None = None  # a paired folder (rainy/ + clean/, input/ + target/, or rain-N/norain-N)
    synthetic: str | list[str] | None = None  # or clean photos (a folder or a list): fresh synthetic rain every epoch
    presets: list[str] = field(default_factory=lambda: ["light", "heavy"], metadata={"choices": PRESETS, "noun": "preset"})
    epoch_length: int | None = field(default=None, metadata={"minimum": 1})  # synthetic items per epoch (null: one per photo)
    veil: VeilPrior | None = None  # {probability, maximum}: draw the haze veil apart from the presets
    dry: float = field(default=0.0, metadata={"minimum": 0, "below": 1})  # share of synthetic items left without rain
    scene_lines: float = field(default=0.0, metadata={"minimum": 0, "maximum": 1})  # share with thin lines drawn into the scene
    lit_edges: float = field(default=0.0, metadata={"minimum": 0, "maximum": 1})  # share with lit edges drawn into the scene
    # the presets whose rainy items keep their lines and edges (null: all); dry items always keep them
    scene_lines_presets: list[str] | None = field(default=None, metadata={"choices": PRESETS, "noun": "preset"})
    crop: int = field(default=100, metadata={"minimum": 1})
    augment: bool = True
    subset: float = field(default=1.0, metadata={"above": 0, "maximum": 1})  # a seeded fraction of the pairs (Table 3)
    val: str | list[str] | None = None  # a paired folder, or a list of them, scored every run.val_every steps
    val_limit: int | None = field(default=10, metadata={"minimum": 1})  # images scored per folder (null: all)
    workers: int = field(default=2, metadata={"minimum": 0})


@dataclass(frozen=True)
class OptimSettings:
    """``optim``: Adam, and the schedule in optimiser steps (see the module docstring).

    The defaults are the paper's recipe (§4.1): Adam 1e-3, batch 12, 100 epochs with the LR ×0.2
    at epochs 30, 50 and 80, on RainTrainH's 1,800 pairs, that is 1,800 // 12 = 150 steps an
    epoch: 100 × 150 = 15,000 steps, and drops after steps 30 × 150, 50 × 150 and 80 × 150.
    """

    lr: float = field(default=1e-3, metadata={"above": 0})
    batch_size: int = field(default=12, metadata={"minimum": 1})
    steps: int = field(default=15_000, metadata={"minimum": 1})  # the run's length
    milestones: list[int] = field(  # the LR is multiplied by gamma after each of these steps
        default_factory=lambda: [4_500, 7_500, 12_000], metadata={"minimum": 1, "may_be_empty": True, "check": _increasing}
    )
    gamma: float = field(default=0.2, metadata={"above": 0})
    grad_clip: float | None = field(default=None, metadata={"above": 0})  # clip the gradient norm to this (the paper does not clip)
    # decay of an exponential moving average of the weights (BasicSR's ema_decay; the paper keeps none):
    # with it, validation, snapshots and model.safetensors hold the average, updated after every step
    ema: float | None = field(default=None, metadata={"above": 0, "below": 1})


@dataclass(frozen=True)
class RunSettings:
    """``run``: where the run goes, on what, and how often it logs, validates and saves (steps)."""

    out_dir: str = "runs/sapnet"
    seed: int = field(default=0, metadata={"minimum": 0})
    device: str = field(default="auto", metadata={"check": _device})
    amp: str = field(default="bf16", metadata={"choices": ("bf16", "off")})  # mixed precision on CUDA
    # on the CPU; auto: bf16 where the CPU has AMX units (2-3× faster steps)
    amp_cpu: str = field(default="auto", metadata={"choices": ("bf16", "off", "auto")})
    init_from: str | None = None  # start from these weights (a name from sapnet.hub or a checkpoint path)
    checkpoint_every: int = field(default=200, metadata={"minimum": 1})
    # also keep the weights of every N-th step (snapshots/step_N.safetensors)
    snapshot_every: int | None = field(default=None, metadata={"minimum": 1})
    log_every: int = field(default=10, metadata={"minimum": 1})
    val_every: int = field(default=150, metadata={"minimum": 1})  # 150: once an epoch of the paper's recipe
    max_nonfinite: int = field(default=20, metadata={"minimum": 1})  # consecutive non-finite losses before the run stops
    fast: bool = True  # channels-last / compiled training step where it measures faster


@dataclass(frozen=True)
class Group:
    """Named members, each described by a section dataclass or another Group."""

    noun: str  # what a member is, in messages
    members: Mapping[str, Any]
    shorthand: str | None = None  # a member may be given as a number alone: this setting of it


LOSS = Group("loss term", LOSS_TERMS, shorthand="weight")
SCHEMA = Group("section", {"model": SAPNetConfig, "loss": LOSS, "data": DataSettings, "optim": OptimSettings, "run": RunSettings})


def defaults(description: Any) -> dict[str, Any]:
    """The default settings of a section dataclass or a :class:`Group`, as nested dicts."""
    if isinstance(description, Group):
        return {name: defaults(member) for name, member in description.members.items()}
    return dataclasses.asdict(description())


DEFAULTS: dict[str, Any] = defaults(SCHEMA)


# -- checking a setting against its field -------------------------------------------------------
def _within(limits: Mapping[str, Any], number: float) -> bool:
    return (
        number >= limits.get("minimum", -math.inf)
        and number > limits.get("above", -math.inf)
        and number <= limits.get("maximum", math.inf)
        and number < limits.get("below", math.inf)
    )


def _fits(hint: Any, limits: Mapping[str, Any], value: Any) -> bool:
    """Whether ``value`` is of type ``hint`` (an annotation) and within ``limits`` (choices apart)."""
    origin, options = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(option, limits, value) for option in options)
    if origin is list:
        return (
            isinstance(value, list)
            and (bool(value) or limits.get("may_be_empty", False))
            and all(_fits(options[0], limits, item) for item in value)
        )
    if dataclasses.is_dataclass(hint):
        return isinstance(value, dict)
    if hint is type(None) or hint is bool:
        return type(value) is hint
    if hint is str:
        return isinstance(value, str) and value != ""
    if hint in (int, float):
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return number and (hint is float or isinstance(value, int)) and _within(limits, value)
    raise TypeError(f"no check for settings of type {hint!r}")


def _describe(hint: Any, limits: Mapping[str, Any], noun: str, plural: bool = False) -> str:
    """``hint`` and ``limits`` in words: "an integer >= 1", "a non-empty list of strings", "null"."""
    origin, options = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(option, limits, noun, plural) for option in options)
    if origin is list:
        article = "a list of " if limits.get("may_be_empty") else "a non-empty list of "
        return article + _describe(options[0], limits, noun, plural=True)
    if "choices" in limits and hint is not type(None):
        choices = ", ".join(map(str, limits["choices"]))
        return f"{noun}s ({choices})" if plural else f"one of {choices}"
    if dataclasses.is_dataclass(hint):
        return f"a mapping of {', '.join(setting.name for setting in dataclasses.fields(hint))}"
    words = {type(None): ("null", "nulls"), bool: ("true or false", "true or false"), str: ("a string", "strings"),
             int: ("an integer", "integers"), float: ("a number", "numbers")}
    singular, several = words[hint]
    bounds = [f"{sign} {limits[key]}" for key, sign in (("minimum", ">="), ("above", ">"), ("maximum", "<="), ("below", "<")) if key in limits]
    if hint not in (int, float) or not bounds:
        return several if plural else singular
    if bounds == [">= 0"]:
        return f"non-negative {several}" if plural else f"a non-negative {several[:-1]}"
    return f"{several if plural else singular} {' and '.join(bounds)}"


def _problem(setting: dataclasses.Field, hint: Any, value: Any) -> str | None:
    """What is wrong with ``value`` for ``setting`` (of type ``hint``), or None."""
    limits = setting.metadata
    noun = limits.get("noun", "value")
    if not _fits(hint, limits, value):
        return f"must be {_describe(hint, limits, noun)}, got {value!r}"
    if value is None:
        return None
    for item in value if isinstance(value, list) else [value]:
        if "choices" in limits and item not in limits["choices"]:
            return f"unknown {noun} {item!r} (known: {', '.join(map(str, limits['choices']))})"
    return limits["check"](value) if "check" in limits else None


def _key(where: str, name: Any) -> str:
    return f"{where}.{name}" if where else str(name)


def _at(where: str, problem: str) -> ConfigError:
    return ConfigError(f"{where}: {problem}" if where else problem)


def resolve(description: Any, given: Any, base: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """``given`` (settings from a file or an override; None: none) merged over ``base`` (settings
    of ``description`` already checked), each given key and value checked against ``description``
    (a section dataclass or a :class:`Group`). Returns new dicts; raises a :class:`ConfigError`
    ``KEY: problem`` (``where`` leads each key) for the first setting that cannot be used."""
    if given is None:  # an empty section ("optim:" with nothing under it) changes nothing
        return copy.deepcopy(dict(base))
    if isinstance(description, Group):
        if not isinstance(given, dict):
            raise _at(where, f"must be a mapping of {description.noun}s, got {given!r}")
        resolved = {}
        for name in given:
            if name not in description.members:
                raise ConfigError(f"{_key(where, name)}: unknown {description.noun} (known: {', '.join(sorted(description.members))})")
        for name, member in description.members.items():
            value = given.get(name)
            if description.shorthand and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = {description.shorthand: value}
            elif description.shorthand and value is not None and not isinstance(value, dict):
                raise ConfigError(f"{_key(where, name)}: must be a number (its {description.shorthand}) or a mapping of settings, got {value!r}")
            resolved[name] = resolve(member, value, base[name], _key(where, name))
        return resolved
    if not isinstance(given, dict):
        raise _at(where, f"must be a mapping of settings, got {given!r}")
    settings = {setting.name: setting for setting in dataclasses.fields(description)}
    hints = typing.get_type_hints(description)
    resolved = copy.deepcopy({**base, **given})
    for name, value in given.items():
        if name not in settings:
            raise ConfigError(f"{_key(where, name)}: unknown key (known: {', '.join(sorted(settings))})")
        nested = next((option for option in typing.get_args(hints[name]) if dataclasses.is_dataclass(option)), None)
        if nested is not None and isinstance(value, dict):  # a setting that is a mapping of its own settings
            resolved[name] = resolve(nested, value, base[name] or defaults(nested), _key(where, name))
            try:
                nested(**resolved[name])  # and what it allows together
            except ValueError as error:
                raise ConfigError(f"{_key(where, name)}: {error}") from None
            continue
        problem = _problem(settings[name], hints[name], value)
        if problem:
            raise ConfigError(f"{_key(where, name)}: {problem}")
    return resolved


# -- configs of the schedule counted in epochs ---------------------------------------------------
def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _refuse_epoch_schedule(given: Mapping[str, Any], base: Mapping[str, Any]) -> None:
    """Refuse settings (a file's, or one override) that count the schedule in epochs, saying
    what to write instead."""
    optim = given.get("optim") if isinstance(given.get("optim"), dict) else {}
    retired = [key for key in ("epochs", "max_steps") if key in optim]
    if not retired:
        return
    if "milestones" in optim:
        problem = (f"optim.milestones: {optim['milestones']} are counted in steps since optim.epochs was retired, "
                   f"and this config counts them in epochs (it sets optim.{retired[0]})")
    else:
        problem = f"optim.{retired[0]}: retired when the schedule moved to optimiser steps"
    raise ConfigError(f"{problem}; {_in_steps(given, base)}")


def _in_steps(given: Mapping[str, Any], base: Mapping[str, Any]) -> str:
    """What to write in place of the epoch-counted settings of ``given``: the same schedule in
    steps where the steps in an epoch are known here (synthetic data of a set epoch_length)."""
    ours = {name: given[name] if isinstance(given.get(name), dict) else {} for name in ("data", "optim", "run")}
    data, optim = {**base["data"], **ours["data"]}, {**base["optim"], **ours["optim"]}
    in_epochs = {"optim.steps": optim.get("epochs"), "optim.milestones": ours["optim"].get("milestones"),
                 "run.val_every": ours["run"].get("val_every")}
    in_epochs = {key: value for key, value in in_epochs.items() if value is not None}
    per_epoch = 0
    if data["synthetic"] is not None and _whole(data["epoch_length"]) and _whole(optim["batch_size"]):
        per_epoch = data["epoch_length"] // optim["batch_size"]
    convertible = all(isinstance(value, list) and all(map(_whole, value)) if key == "optim.milestones" else _whole(value)
                      for key, value in in_epochs.items())
    written = {}
    if per_epoch and convertible:
        written = {key: [m * per_epoch for m in value] if isinstance(value, list) else value * per_epoch
                   for key, value in in_epochs.items()}
    if _whole(optim.get("max_steps")) and (written or not in_epochs):
        written["optim.steps"] = min(written.get("optim.steps", optim["max_steps"]), optim["max_steps"])
    if not written:
        return ("multiply optim.epochs (to write as optim.steps), each milestone and run.val_every by the steps in an "
                "epoch, training pairs // optim.batch_size (150 for RainTrainH's 1,800 pairs at batch 12)")
    epoch = f"at {per_epoch} steps an epoch (data.epoch_length {data['epoch_length']} // optim.batch_size {optim['batch_size']}) " if in_epochs else ""
    return epoch + "write " + ", ".join(f"{key}: {value}" for key, value in written.items())


# -- reading ------------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """YAML 1.2 scalars, as people write them: ``1e-3`` is a float (YAML 1.1 reads a string),
    and only true/false are booleans (YAML 1.1 reads ``off``, ``no`` and ``yes`` as booleans too)."""


_BOOL = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)


def _parse(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's several-line complaint as one line."""
    problem = getattr(error, "problem", None) or str(error).strip().splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else problem


def _override(assignment: str) -> dict[str, Any]:
    """``section.key=value`` as the nested settings it gives."""
    if "=" not in assignment:
        raise ConfigError(f"{assignment}: an override is of the form section.key=value")
    dotted, raw = assignment.split("=", 1)
    try:
        value = _parse(raw)
    except yaml.YAMLError as error:
        raise ConfigError(f"{dotted}: cannot parse {raw!r} ({_yaml_problem(error)})") from None
    for key in reversed(dotted.split(".")):
        value = {key: value}
    return value


def _apply(config: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    _refuse_epoch_schedule(given, config)
    return resolve(SCHEMA, given, config)


def load_config(path: str | os.PathLike | None = None, overrides: list[str] = ()) -> dict[str, Any]:
    """Defaults, then the YAML file at ``path`` (relative data paths resolve against the
    current folder), then each ``section.key=value`` override, each checked as it is merged
    (:func:`resolve`; a file's problems are prefixed with its path)."""
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
            config = _apply(config, loaded)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
    for assignment in overrides:
        config = _apply(config, _override(assignment))
    data = config["data"]
    if (data["train"] is None) == (data["synthetic"] is None):
        raise ConfigError("data: set exactly one of data.train (paired folder) or data.synthetic (clean photos)")
    return config
