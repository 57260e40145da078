"""Shared fixtures: the read-only ``../shared`` data (overridable with SAPNET_SHARED) and tiny models."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from sapnet.models import SAPNet, SAPNetConfig, save_checkpoint

SHARED = Path(os.environ.get("SAPNET_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def shared_file(relative: str) -> Path:
    """A file of ../shared, or skip the test with the reason it is missing."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{path} not found (set SAPNET_SHARED to the shared data folder)")
    return path


def benchmark_script(name: str) -> ModuleType:
    """A script of ``benchmarks/`` (not a package) imported as a module, once; registered in
    ``sys.modules``, where dataclasses look their module up."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def tiny_model(seed: int = 0, **options) -> SAPNet:
    torch.manual_seed(seed)
    config = SAPNetConfig(**{"stages": 2, "channels": 8, "reduction": 4, **options})
    return SAPNet(config).eval()


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)


@pytest.fixture
def tiny_weights(tmp_path) -> Path:
    """A small random SAPNet saved in the project's checkpoint format."""
    return save_checkpoint(tiny_model(), tmp_path / "tiny.safetensors")
