"""The models a server offers, and the one place where it loads them.

A client chooses a model by name from this list, never by path: paths come only from the
command line (``--weights``), read when the server starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sapnet import hub
from sapnet.engine.infer.model import DerainModel, load_model

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def load_served_model(source: str) -> DerainModel:
    """The model for a weights name or checkpoint path: every model the server uses is loaded here."""
    return load_model(source)


@dataclass(frozen=True)
class ServedModel:
    """A model the page can choose: its name, what to load, and what is known about it."""

    name: str
    source: str  # a name of :data:`sapnet.hub.WEIGHTS` or a checkpoint path from the command line
    origin: str  # "bundled", "official" or "file"
    meta: dict = field(default_factory=dict)

    def describe(self, default: bool) -> dict:
        """The JSON of ``GET /api/models`` for this model."""
        meta = self.meta
        return {
            "name": self.name,
            "origin": self.origin,
            "default": default,
            "description": meta.get("description") or meta.get("architecture") or "",
            "metrics": meta.get("metrics", {}),
            "meta": meta,
        }


class ModelCatalogue:
    """The offered models by name, each loaded on first use and kept: one in memory per name.

    :meth:`get` is called from the server's single worker thread only (and before the server
    starts), so the cache needs no lock."""

    def __init__(self, models: list[ServedModel], default: str, startup: list[str] | None = None) -> None:
        self.models = {model.name: model for model in models}
        if default not in self.models:
            raise ValueError(f"default model {default!r} is not among {', '.join(self.models)}")
        self.default = default
        # loaded before the server starts (the default and each --weights), so that weights
        # that cannot load stop the command at once rather than fail a request later
        self.startup = startup or [default]
        self._loaded: dict[str, object] = {}

    def describe(self) -> list[dict]:
        return [model.describe(name == self.default) for name, model in self.models.items()]

    def unknown_model_message(self, name: str) -> str:
        return f"unknown model {name!r}; choose one of {', '.join(self.models)} (GET /api/models)"

    def get(self, name: str):
        """The loaded model called ``name`` (a ``KeyError`` for a name not offered)."""
        if name not in self._loaded:
            self._loaded[name] = load_served_model(self.models[name].source)
        return self._loaded[name]


def _hub_model(name: str) -> ServedModel:
    entry = hub.WEIGHTS[name]
    return ServedModel(name, name, "bundled" if entry.bundled else "official", dict(entry.meta))


def _parse_weights_option(text: str) -> tuple[str | None, str]:
    """``[NAME=]WEIGHTS`` → (NAME or None, WEIGHTS); an existing file whose name has a ``=`` is
    taken whole."""
    label, separator, source = text.partition("=")
    if separator and _NAME.fullmatch(label) and not Path(text).is_file():
        return label, source
    return None, text


def build_catalogue(weights_options: list[str]) -> ModelCatalogue:
    """The bundled models, ``official`` when its file is in the hub cache, then each
    ``--weights [NAME=]WEIGHTS`` (a weights name, or a checkpoint file named NAME, else by its
    stem); the first ``--weights`` is the default, else :data:`sapnet.hub.DEFAULT_WEIGHTS`.

    Raises ``ValueError`` with a one-line message for an option that cannot work. Nothing is
    loaded here (see :meth:`ModelCatalogue.get`)."""
    models = {name: _hub_model(name) for name in hub.BUNDLED}
    if hub.OFFICIAL.path.is_file():
        models[hub.OFFICIAL.name] = _hub_model(hub.OFFICIAL.name)
    chosen: list[str] = []
    for text in weights_options:
        if text in hub.WEIGHTS:
            models.setdefault(text, _hub_model(text))
            chosen.append(text)
            continue
        label, source = _parse_weights_option(text)
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"--weights {text}: neither a weights name ({', '.join(hub.WEIGHTS)}) nor a checkpoint file")
        name = label or path.stem
        if not _NAME.fullmatch(name):
            raise ValueError(f"--weights {text}: {name!r} cannot name a model; give a name as NAME={source} (letters, digits, . _ -)")
        if name in models:
            raise ValueError(f"--weights {text}: the name {name!r} is already taken; give another as NAME={source}")
        models[name] = ServedModel(name, str(path), "file", {"description": f"checkpoint file {path.name}"})
        chosen.append(name)
    default = chosen[0] if chosen else hub.DEFAULT_WEIGHTS
    if default is None:
        raise ValueError("no bundled model is installed: pass --weights with a checkpoint file")
    return ModelCatalogue(list(models.values()), default, startup=chosen)
