"""One model object behind every command: ``sapnet.load_model`` → ``DerainModel`` for names,
checkpoints and ONNX files, loaded once, with its source, backend and tiling; and the start-up
cost of the command line (what ``sapnet --help`` and ``sapnet derain`` import)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import sapnet
from sapnet import api
from sapnet.cli import main
from sapnet.engine.infer.backends.fast import FastSAPNet
from sapnet.engine.infer.model import DerainModel, load_model
from sapnet.engine.infer.tiling import DEFAULT_MAX_PIXELS, FAST_MAX_PIXELS
from sapnet.hub import DEFAULT_WEIGHTS, WEIGHTS, WeightsError, sha256_of

from .conftest import tiny_model


def test_a_bundled_name_carries_its_registry_entry():
    model = sapnet.load_model()
    entry = WEIGHTS[DEFAULT_WEIGHTS]
    assert isinstance(model, DerainModel) and model.name == DEFAULT_WEIGHTS
    assert model.source.sha256 == entry.sha256 == sha256_of(model.source.path)
    assert model.source.meta["metrics"] == entry.meta["metrics"]
    assert model.config.stages == 6 and model.parameter_count == sum(p.numel() for p in model.network.parameters())
    assert model.backend_name == "fast" and model.device == torch.device("cpu") and model.max_pixels == FAST_MAX_PIXELS
    info = model.info()
    assert info["name"] == DEFAULT_WEIGHTS and info["backend"] == "fast" and info["config"] == model.config.to_dict()


def test_a_checkpoint_file_is_labelled_by_its_stem_and_hashed(tiny_weights):
    model = load_model(tiny_weights, backend="eager")
    assert model.name == "tiny" and model.source.name is None
    assert model.source.sha256 == sha256_of(tiny_weights)
    assert model.backend_name == "eager" and model.max_pixels == DEFAULT_MAX_PIXELS
    with pytest.raises(WeightsError, match="neither a weights name"):
        load_model(tiny_weights.parent / "missing.pth")
    with pytest.raises(ValueError, match="backend must be one of"):
        load_model(tiny_weights, backend="tensorrt")


def test_derain_returns_the_kind_it_was_given_and_matches_the_network(tiny_weights):
    model = load_model(tiny_weights)
    rgb = np.random.default_rng(0).integers(0, 256, (20, 28, 3), dtype=np.uint8)
    tensor = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    with torch.inference_mode():
        expected = model.network(tensor[None]).clamp(0, 1)[0]
    got_tensor = model.derain(tensor)
    assert got_tensor.shape == tensor.shape and (got_tensor - expected).abs().max() < 1e-5
    assert model.derain(tensor[None]).shape == (1, 3, 20, 28)
    array = model.derain(rgb)
    assert array.dtype == np.uint8 and array.shape == rgb.shape
    assert np.abs(array.astype(int) - np.round(expected.permute(1, 2, 0).numpy() * 255)).max() <= 1
    image = model.derain(Image.fromarray(rgb))
    assert isinstance(image, Image.Image) and image.size == (28, 20)
    assert torch.equal(model(tensor[None]), model.backend(tensor[None]))  # the raw forward


def test_the_fast_backend_is_built_once_and_keeps_its_buffers(tiny_weights):
    model = load_model(tiny_weights)
    engine = model.backend
    assert isinstance(engine, FastSAPNet)
    for _ in range(2):
        model.derain(torch.rand(3, 16, 24))
        assert model.backend is engine and engine._maps_key == (1, 16, 24)


def test_the_api_loads_a_name_once(monkeypatch):
    api._named_model.cache_clear()
    loads = []
    real = api.load_model
    monkeypatch.setattr(api, "load_model", lambda spec=None, **kw: loads.append(spec) or real(spec, **kw))
    for _ in range(3):
        sapnet.derain(torch.rand(3, 8, 8))
    assert loads == [None]
    network = tiny_model()
    assert sapnet.derain(torch.rand(3, 8, 8), network).shape == (3, 8, 8)  # a bare network is wrapped
    assert loads == [None]
    api._named_model.cache_clear()


def test_an_onnx_file_is_a_model_for_derain_and_evaluate(tmp_path, tiny_weights, capsys):
    pytest.importorskip("onnxruntime")
    onnx_file = tmp_path / "tiny.onnx"
    assert main(["export", "--weights", str(tiny_weights), "-o", str(onnx_file), "-q"]) == 0
    model = load_model(onnx_file)
    assert model.backend_name == "onnxruntime" and model.config is None and model.network is None
    assert model.source.sha256 == sha256_of(onnx_file) and model.name == "tiny"
    rainy = torch.rand(3, 17, 23)
    reference = load_model(tiny_weights, backend="eager").derain(rainy)
    assert (model.derain(rainy) - reference).abs().max() < 1e-4
    with pytest.raises(ValueError, match="runs with --backend onnxruntime"):
        load_model(onnx_file, backend="fast")
    assert main(["export", "--weights", str(onnx_file), "-o", str(tmp_path / "again.onnx")]) == 2
    assert "already an ONNX file" in capsys.readouterr().err

    data = tmp_path / "data"
    for folder in ("rainy", "clean"):
        (data / folder).mkdir(parents=True)
        Image.fromarray(np.full((12, 16, 3), 100, np.uint8)).save(data / folder / "1.png")
    capsys.readouterr()
    assert main(["evaluate", "-m", str(onnx_file), "-d", str(data), "-o", str(tmp_path / "out"), "-q"]) == 0


def _imported_by(code: str) -> set[str]:
    """Top-level packages a fresh interpreter has imported after running ``code``."""
    probe = f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_the_command_line_offers_every_backend():
    from sapnet.commands.common import BACKEND_CHOICES
    from sapnet.engine.infer.backends import BACKENDS

    assert BACKEND_CHOICES == BACKENDS  # written out there so that parsing imports no torch


def test_help_imports_no_torch_and_derain_no_evaluation_libraries():
    assert "torch" not in _imported_by("from sapnet.cli import build_parser; build_parser().format_help()")
    derain = _imported_by("from sapnet.cli import build_parser; build_parser('derain')")
    assert "torch" in derain
    assert not derain & {"scipy", "skimage", "cv2", "av", "lpips", "torchvision", "torchmetrics", "onnxruntime"}
