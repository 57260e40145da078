"""sapnet: rain removal for photographs with SAPNet (Zheng et al., WACV 2022).

>>> import sapnet
>>> model = sapnet.load_model()          # the bundled default; or a name, a checkpoint, a .onnx
>>> clean = model.derain(image)          # PIL, NumPy or tensor in, the same kind out

The names below are imported on first use, so ``import sapnet`` (and ``sapnet --help``) stays
light; a command loads only what it runs.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "DerainModel": "sapnet.engine.infer.model",
    "load_model": "sapnet.engine.infer.model",
    "derain": "sapnet.api",
    "derain_video": "sapnet.api",
    "WEIGHTS": "sapnet.hub",
    "SAPNet": "sapnet.models.sapnet",
    "SAPNetConfig": "sapnet.models.sapnet",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sapnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
