"""``sapnet efficiency``: parameters, FLOPs and median latency of models (the paper's Figure 1),
measured by :mod:`sapnet.engine.evaluate.efficiency`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sapnet.commands.common import add_model_arguments, positive_int, print_error, width_by_height
from sapnet.engine.evaluate import EvaluationError, parse_model
from sapnet.engine.evaluate.efficiency import DEFAULT_SIZE, measure
from sapnet.engine.infer.backends import pick_device
from sapnet.engine.infer.model import load_model
from sapnet.hub import WEIGHTS, WeightsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", metavar="[LABEL=]MODEL", help=f"weights names ({', '.join(WEIGHTS)}) or checkpoint files")
    parser.add_argument("--size", type=width_by_height, default=DEFAULT_SIZE[::-1], help="input size WIDTHxHEIGHT (default: 512x512)")
    parser.add_argument("--repeats", type=positive_int, default=10, help="timed runs; the median is reported (default: 10)")
    add_model_arguments(parser)
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")


def run(args: argparse.Namespace) -> int:
    width, height = args.size
    try:
        specs = [parse_model(text) for text in args.models]
        folders = [spec.source for spec in specs if spec.is_folder]
        if folders:
            raise EvaluationError(f"{folders[0]}: a folder of images has no network to measure")
        device = pick_device(args.device)
    except (EvaluationError, RuntimeError, ValueError) as problem:
        print_error(str(problem))
        return 2
    results, failures = [], 0
    print(f"| model | parameters | GFLOPs | GMACs | latency at {width}×{height} (ms, median of {args.repeats}) | device | backend |")
    print("|---|---|---|---|---|---|---|")
    for spec in specs:
        try:
            model = load_model(spec.source, device=device, backend=args.backend)
            if model.network is None:
                raise ValueError(f"{spec.source}: an ONNX file has no PyTorch network to count parameters and FLOPs of")
            backend = model.backend_name
            numbers = measure(model.network, model.backend, height, width, args.repeats)
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
