"""``sapnet evaluate``: scores of models on data sets, written as reports (the work is done in
:mod:`sapnet.engine.evaluate`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sapnet.commands.common import add_model_arguments, positive_int, print_error
from sapnet.engine.evaluate import EvaluationError, Tiling, evaluate, parse_dataset, parse_model, unique_labels
from sapnet.engine.infer.backends import pick_device
from sapnet.engine.infer.tiling import DEFAULT_OVERLAP, DEFAULT_TILE
from sapnet.hub import WEIGHTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-m", "--models", nargs="+", required=True, metavar="[LABEL=]MODEL",
        help=f"weights names ({', '.join(WEIGHTS)}), checkpoint or .onnx files, or folders of already derained images "
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
    except (EvaluationError, RuntimeError, ValueError) as problem:
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
