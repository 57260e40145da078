"""``sapnet export``: write a SAPNet as ONNX (dynamic batch, height and width) and check it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from sapnet.engine.infer.backends.onnx import DEFAULT_OPSET, OnnxBackend, export_onnx, onnxruntime_available
from sapnet.engine.infer.model import load_model
from sapnet.hub import DEFAULT_WEIGHTS, WEIGHTS, WeightsError

FORMATS = ("onnx",)
TOLERANCE = 1e-4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, help="the file to write (e.g. sapnet.onnx)")
    parser.add_argument(
        "--weights",
        default=DEFAULT_WEIGHTS,
        help=f"weights name ({', '.join(WEIGHTS)}) or checkpoint path (default: {DEFAULT_WEIGHTS or 'none bundled yet'})",
    )
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="export format (default: onnx)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default: {DEFAULT_OPSET})")
    parser.add_argument("--stages", type=int, default=None, help="recurrent stages (default: the checkpoint's, 6 for reference files)")
    parser.add_argument(
        "--no-check", action="store_true",
        help=f"skip comparing ONNX Runtime with PyTorch on two random images (max abs difference ≤ {TOLERANCE})",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def check_export(model: torch.nn.Module, path: Path) -> float:
    """Max abs difference between ONNX Runtime and PyTorch on random images of two sizes."""
    runner = OnnxBackend(path)
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    for shape in ((1, 3, 48, 64), (2, 3, 37, 29)):
        rainy = torch.rand(shape, generator=generator)
        with torch.inference_mode():
            expected = model(rainy)
        worst = max(worst, (runner(rainy) - expected).abs().max().item())
    return worst


def run(args: argparse.Namespace) -> int:
    def error(message: str) -> int:
        print(f"error: {message}", file=sys.stderr)
        return 2

    output = Path(args.output)
    if output.exists() and not args.overwrite:
        return error(f"{output} exists (pass --overwrite to replace it)")
    if str(args.weights).lower().endswith(".onnx"):
        return error(f"{args.weights}: is already an ONNX file; export takes a weights name or a PyTorch checkpoint")
    try:
        model = load_model(args.weights, device="cpu", backend="eager", stages=args.stages).network
    except (WeightsError, RuntimeError, ValueError) as problem:
        return error(str(problem))
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(model, output, opset=args.opset)
    except OSError as problem:
        return error(f"{output}: cannot write ({problem.strerror or problem})")
    except Exception as problem:  # exporter errors: report them in one line
        return error(f"ONNX export failed ({problem.__class__.__name__}: {problem})")
    if not args.quiet:
        print(f"wrote {output} ({output.stat().st_size / 1e6:.2f} MB, opset {args.opset}, dynamic batch/height/width)")
    if args.no_check:
        return 0
    if not onnxruntime_available():
        print("note: onnxruntime is not installed, so the export was not checked (pip install onnxruntime)", file=sys.stderr)
        return 0
    difference = check_export(model, output)
    if difference > TOLERANCE:
        return error(f"ONNX Runtime differs from PyTorch by {difference:.2e} (> {TOLERANCE}); the file may be wrong")
    if not args.quiet:
        print(f"checked with ONNX Runtime: max abs difference from PyTorch {difference:.1e} (≤ {TOLERANCE})")
    return 0
