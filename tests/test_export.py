"""ONNX export with dynamic sizes, ONNX Runtime against PyTorch, and the CLI round trip:
``sapnet export`` then ``sapnet derain --backend onnxruntime`` / ``--weights model.onnx``."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from sapnet.cli import main
from sapnet.engine.infer.backends import build_backend
from sapnet.engine.infer.backends.onnx import OnnxBackend, export_onnx
from tests.conftest import tiny_model

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _rgb(width=23, height=17, seed=0):
    return (np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8)


def test_onnx_runtime_matches_pytorch_at_any_size():
    import onnx

    model = tiny_model(stages=2)
    buffer = io.BytesIO()
    export_onnx(model, buffer)
    graph = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(graph)
    dims = [d.dim_param or d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    runner = OnnxBackend(buffer.getvalue())
    for shape in ((1, 3, 64, 48), (2, 3, 37, 53), (1, 3, 9, 130)):
        rainy = torch.rand(shape)
        with torch.inference_mode():
            expected = model(rainy)
        assert (runner(rainy) - expected).abs().max().item() <= 1e-4


def test_onnx_export_of_every_attention_kind():
    for attention, dilation in (("se", True), ("ca", False), ("none", True)):
        model = tiny_model(attention=attention, dilation=dilation, stages=1)
        runner = build_backend(model, "onnxruntime")
        rainy = torch.rand(1, 3, 33, 21)
        with torch.inference_mode():
            assert (runner(rainy) - model(rainy)).abs().max().item() <= 1e-4


def test_export_command_then_derain_with_onnx_runtime(tmp_path, tiny_weights, capsys):
    onnx_file = tmp_path / "tiny.onnx"
    assert main(["export", "--weights", str(tiny_weights), "-o", str(onnx_file)]) == 0
    out = capsys.readouterr().out
    assert onnx_file.is_file() and "checked with ONNX Runtime" in out
    assert main(["export", "--weights", str(tiny_weights), "-o", str(onnx_file)]) == 2  # exists
    assert "exists" in capsys.readouterr().err

    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    results = {}
    for name, extra in {
        "eager": ["--weights", str(tiny_weights), "--backend", "eager"],
        "fast": ["--weights", str(tiny_weights)],  # auto: the fast engine on the CPU
        "ort": ["--weights", str(tiny_weights), "--backend", "onnxruntime"],
        "file": ["--weights", str(onnx_file)],
    }.items():
        code = main(["derain", str(tmp_path / "a.png"), "-o", str(tmp_path / name), "--quiet", *extra])
        assert code == 0, name
        results[name] = np.asarray(Image.open(tmp_path / name / "a.png")).astype(int)
    for name in ("fast", "ort", "file"):
        assert results[name].shape == (17, 23, 3)
        assert np.abs(results[name] - results["eager"]).max() <= 1, name  # 8-bit rounding at most

    code = main(["derain", str(tmp_path / "a.png"), "-o", str(tmp_path / "x"), "--weights", str(onnx_file), "--backend", "fast"])
    assert code == 2 and "onnxruntime" in capsys.readouterr().err
