"""``sapnet evaluate`` (scores of models on data sets, written as reports) and ``sapnet efficiency``
(parameters, FLOPs and latency of models); the work is done in :mod:`sapnet.engine.evaluate` and
:mod:`sapnet.engine.efficiency`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from sapnet.engine.efficiency import DEFAULT_SIZE, measure
from sapnet.engine.evaluate import EvaluationError, Tiling, evaluate, parse_dataset, parse_model, unique_labels
from sapnet.engine.fast import make_runner, resolve_backend
from sapnet.engine.infer import DEFAULT_OVERLAP, DEFAULT_TILE, pick_device
from sapnet.hub import WEIGHTS, WeightsError, load_model

HELP = "score models on data sets: per-image CSV, Markdown summary, settings JSON"
EFFICIENCY_HELP = "parameters, FLOPs and median latency of models (the paper's Figure 1)"
BACKEND_CHOICES = ("auto", "eager", "fast")


def print_error(message: str) -> None:
    tqdm.write(f"error: {message}", file=sys.stderr)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (or one number for a square) → (height, width)."""
    try:
        width, _, height = text.lower().partition("x")
        size = (int(height or width), int(width))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 512x512, got {text!r}") from None
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return size


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--device and --backend, shared by the commands that run models."""
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument(
        "--backend", choices=BACKEND_CHOICES, default="auto",
        help="'fast' (the cache-tiled CPU engine), 'eager' (plain PyTorch); auto (default): fast on the CPU, eager on a GPU",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m", "--models", nargs="+", required=True, metavar="[LABEL=]MODEL",
        help=f"weights names ({', '.join(WEIGHTS)}), checkpoint files, or folders of already derained images "
        "(matched to the rainy images by file stem); labelled by name, file stem or folder name unless LABEL= is given",
    )
    parser.add_argument(
        "-d", "--data", nargs="+", required=True, metavar="[NAME=]FOLDER",
        help="data sets: folders in a paired layout (rainy/+clean/, input/+target/, rain-N/norain-N) for PSNR/SSIM, "
        "or plain folders of rainy images for NIQE/BRISQUE",
    )
    parser.add_argument("-o", "--out", default="evaluation", help="report folder; derained images are cached in OUT/derained (default: ./evaluation)")
    add_model_arguments(parser)
    parser.add_argument("--limit", type=positive_int, help="evaluate only the first N images of each data set")
    parser.add_argument("--no-reference", action="store_true", help="also score NIQE/BRISQUE on data sets with ground truth")
    parser.add_argument("--max-pixels", type=int, default=None, help="tile images larger than this (default: as sapnet derain)")
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE, help="tile size in pixels")
    parser.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, help="overlap between tiles in pixels")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def run(args: argparse.Namespace) -> int:
    try:
        models = [parse_model(text) for text in args.models]
        datasets = [parse_dataset(text) for text in args.data]
        unique_labels([spec.label for spec in models], "models")
        unique_labels([name for name, _ in datasets], "data sets")
        pick_device(args.device)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
    except (EvaluationError, RuntimeError) as problem:
        print_error(str(problem))
        return 2
    except OSError as problem:
        print_error(f"{args.out}: cannot create the report folder ({problem.strerror or problem})")
        return 2
    settings = {"arguments": {key: value for key, value in vars(args).items() if key != "run"}}
    report = evaluate(
        models, datasets, out, device=args.device, backend=args.backend,
        tiling=Tiling(args.max_pixels, args.tile, args.overlap), limit=args.limit, no_reference=args.no_reference,
        progress=not args.quiet, settings=settings, on_error=print_error,
    )
    if not args.quiet:
        print((out / "summary.md").read_text())
        print(f"wrote {out / 'per_image.csv'}, {out / 'summary.md'}, {out / 'settings.json'}" + (f"; {len(report.errors)} problem(s)" if report.errors else ""))
    return 1 if report.errors else 0


def add_efficiency_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", metavar="[LABEL=]MODEL", help=f"weights names ({', '.join(WEIGHTS)}) or checkpoint files")
    parser.add_argument("--size", type=_size, default=DEFAULT_SIZE, help="input size WIDTHxHEIGHT (default: 512x512)")
    parser.add_argument("--repeats", type=positive_int, default=10, help="timed runs; the median is reported (default: 10)")
    add_model_arguments(parser)
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")


def run_efficiency(args: argparse.Namespace) -> int:
    height, width = args.size
    try:
        specs = [parse_model(text) for text in args.models]
        folders = [spec.source for spec in specs if spec.is_folder]
        if folders:
            raise EvaluationError(f"{folders[0]}: a folder of images has no network to measure")
        device = pick_device(args.device)
    except (EvaluationError, RuntimeError) as problem:
        print_error(str(problem))
        return 2
    results, failures = [], 0
    print(f"| model | parameters | GFLOPs | GMACs | latency at {width}×{height} (ms, median of {args.repeats}) | device | backend |")
    print("|---|---|---|---|---|---|---|")
    for spec in specs:
        try:
            model = load_model(spec.source, device=device)
            backend = resolve_backend(model, args.backend)
            numbers = measure(model, make_runner(model, backend), height, width, args.repeats)
        except (WeightsError, ValueError) as problem:
            print_error(f"{spec.label}: {problem}")
            failures += 1
            continue
        results.append({"label": spec.label, "source": spec.source, "backend": backend, **numbers})
        print(
            f"| {spec.label} | {numbers['parameters']:,} | {numbers['flops'] / 1e9:.2f} | {numbers['macs'] / 1e9:.2f} "
            f"| {numbers['latency_median_s'] * 1e3:.1f} | {numbers['device']} | {backend} |"
        )
    print("FLOPs: torch.utils.flop_counter.FlopCounterMode (convolutions and matrix products, 2 per multiply-add); MACs = FLOPs / 2.")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if failures else 0
