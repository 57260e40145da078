"""Rain100L scores of derain models, for the README: all 100 test pairs, both conventions.

    python benchmarks/rain100l.py ../shared/weights/sapnet_official_model11.pth runs/x/model.safetensors
    python benchmarks/rain100l.py official --limit 3 --out /tmp/rain100l      # a quick check

Models are what ``sapnet evaluate --models`` takes ([LABEL=]weights name, checkpoint or folder of
derained images). The rainy input itself is scored too (the "Rainy" row of the paper's tables)
unless ``--no-rainy``. Outputs are cached under ``--out`` (default ``reports/rain100l``), so an
interrupted run resumes; the tables printed are ``OUT/summary.md``, beside ``per_image.csv`` and
``settings.json``. Rain100L is read from ``--data``, default ``$SAPNET_SHARED/data/rain100l``
(``SAPNET_SHARED`` defaults to ``../shared``). On the 2-core CPU the official checkpoint takes
about 1.5 s per image with the fast engine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sapnet.engine.evaluate import EvaluationError, ModelSpec, Tiling, evaluate, parse_model

SHARED = Path(os.environ.get("SAPNET_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="[LABEL=]MODEL")
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "rain100l", help="the Rain100L folder (rainy/ + clean/)")
    parser.add_argument("--name", default="Rain100L", help="the data set's name in the tables (e.g. RainCityscapes100 with its --data)")
    parser.add_argument("--out", type=Path, default=Path("reports/rain100l"))
    parser.add_argument("--limit", type=int, help="only the first N images (for a quick check)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backend", default="auto", choices=("auto", "eager", "fast"))
    parser.add_argument("--no-rainy", action="store_true", help="leave out the rainy-input row")
    args = parser.parse_args(argv)
    if not (args.data / "rainy").is_dir():
        print(f"error: {args.data}: Rain100L not found (pass --data or set SAPNET_SHARED)", file=sys.stderr)
        return 2
    try:
        models = [parse_model(text) for text in args.models]
    except EvaluationError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if not args.no_rainy:
        models.insert(0, ModelSpec("rainy input", str(args.data / "rainy"), is_folder=True))
    settings = {"benchmark": "benchmarks/rain100l.py", "arguments": {key: str(value) for key, value in vars(args).items()}}
    report = evaluate(
        models, [(args.name, args.data)], args.out, device=args.device, backend=args.backend, tiling=Tiling(),
        limit=args.limit, settings=settings, on_error=lambda message: print(f"error: {message}", file=sys.stderr),
    )
    print((args.out / "summary.md").read_text())
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
