"""What several commands share: argument types, the model options, and the error line."""

from __future__ import annotations

import argparse
import sys

from sapnet.hub import DEFAULT_WEIGHTS, WEIGHTS
from sapnet.text import one_line

BACKEND_CHOICES = ("auto", "eager", "fast", "onnxruntime")  # sapnet.engine.infer.backends.BACKENDS, without torch


def print_error(message: str) -> None:
    """``error: message`` on stderr, one line, without breaking a progress bar."""
    from tqdm import tqdm

    tqdm.write(f"error: {one_line(message)}", file=sys.stderr)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def width_by_height(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (or one number for a square) → (width, height)."""
    try:
        width, _, height = text.lower().partition("x")
        size = (int(width), int(height or width))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 512x512, got {text!r}") from None
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return size


def add_weights_argument(parser: argparse.ArgumentParser) -> None:
    """--weights: anything :func:`sapnet.load_model` takes."""
    parser.add_argument(
        "--weights",
        default=DEFAULT_WEIGHTS,
        help=f"weights name ({', '.join(WEIGHTS)}), checkpoint path, or a .onnx file from 'sapnet export' "
        f"(default: {DEFAULT_WEIGHTS or 'none bundled yet'})",
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--device and --backend, shared by the commands that run models."""
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        default="auto",
        help="how the network runs: 'fast' (cache-tiled CPU engine, same results as 'eager' to 1e-5), "
        "'onnxruntime' (CPU; exports the model on the fly unless the weights are a .onnx file), 'eager' "
        "(plain PyTorch); auto (default): fast on the CPU, eager on a GPU, onnxruntime for .onnx weights",
    )
