"""The ONNX backend: export a SAPNet as ONNX, and run an exported model with ONNX Runtime.

The exported graph takes ``rainy`` (N, 3, H, W) float32 and returns ``derained`` (unclamped, as
the PyTorch model), with dynamic batch, height and width; ``sapnet export`` writes it.
"""

from __future__ import annotations

import io
import os
import warnings

import torch
from torch import nn

from sapnet.engine.infer.tiling import DEFAULT_MAX_PIXELS
from sapnet.models.checkpoints import CheckpointError

ONNX_INPUT, ONNX_OUTPUT = "rainy", "derained"
DEFAULT_OPSET = 17


class _ExportWrapper(nn.Module):
    """The network as exported: (N, 3, H, W) → final estimate, no options."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return self.model(rainy)


def export_onnx(model: nn.Module, target: str | os.PathLike | io.BytesIO, opset: int = DEFAULT_OPSET) -> None:
    """Write ``model`` as ONNX with dynamic batch, height and width (input ``rainy``, output
    ``derained``, float32 NCHW, unclamped like the PyTorch model).

    Uses the TorchScript-based exporter, which needs nothing beyond torch and onnx (the dynamo
    exporter needs the onnxscript package); the six stages are unrolled into one graph.
    """
    model = model.float().cpu().eval()
    example = torch.rand(1, 3, 64, 48)
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and exporter deprecation warnings
        torch.onnx.export(
            _ExportWrapper(model), (example,), target if isinstance(target, io.BytesIO) else str(target),
            input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
            dynamic_axes={ONNX_INPUT: axes, ONNX_OUTPUT: axes}, opset_version=opset, dynamo=False,
        )


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxBackend:
    """Runs an exported SAPNet (a path, ONNX bytes, or a model exported on the fly) with ONNX
    Runtime's CPU provider; called like the model on (N, 3, H, W) CPU tensors."""

    name = "onnxruntime"
    max_pixels = DEFAULT_MAX_PIXELS  # ONNX Runtime keeps about as much per pixel as eager PyTorch

    def __init__(self, source: nn.Module | str | os.PathLike | bytes, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise RuntimeError("the onnxruntime backend needs the onnxruntime package: pip install onnxruntime") from None
        if isinstance(source, nn.Module):
            buffer = io.BytesIO()
            export_onnx(source, buffer)
            source = buffer.getvalue()
        elif not isinstance(source, bytes):
            source = str(source)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        name = source if isinstance(source, str) else "ONNX model"
        try:
            self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own classes for each way a file is bad
            raise CheckpointError(f"{name}: not a loadable ONNX model ({str(error).splitlines()[0]})") from None
        self.device = torch.device("cpu")
        self._check_is_a_derain_export(name)

    def _check_is_a_derain_export(self, name: str) -> None:
        """Refuse, before any image, an ONNX model that is not an export of a derain network:
        its input and output names, and one small probe that must come back the same shape."""
        inputs = [arg.name for arg in self.session.get_inputs()]
        outputs = [arg.name for arg in self.session.get_outputs()]
        if inputs != [ONNX_INPUT] or ONNX_OUTPUT not in outputs:
            raise CheckpointError(
                f"{name}: not a 'sapnet export' model (inputs {inputs}, outputs {outputs}; "
                f"expected input '{ONNX_INPUT}' and output '{ONNX_OUTPUT}')"
            )
        probe = torch.zeros(1, 3, 8, 8)
        try:
            shape = tuple(self(probe).shape)
        except Exception as error:  # wrong input shape or type: onnxruntime's own error classes
            raise CheckpointError(f"{name}: not a 'sapnet export' model ({str(error).splitlines()[0]})") from None
        if shape != tuple(probe.shape):
            raise CheckpointError(f"{name}: not a 'sapnet export' model (a {tuple(probe.shape)} image gives {shape})")

    def __call__(self, rainy: torch.Tensor) -> torch.Tensor:
        array = rainy.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self.session.run([ONNX_OUTPUT], {ONNX_INPUT: array})[0])
