"""``sapnet derain``: derain image files, folders and glob patterns into an output folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from sapnet.engine.infer import DEFAULT_MAX_PIXELS, DEFAULT_OVERLAP, DEFAULT_TILE, derain_tensor, pick_device
from sapnet.hub import DEFAULT_WEIGHTS, WEIGHTS, WeightsError, load_model
from sapnet.images import DEFAULT_MAX_MEGAPIXELS, IMAGE_EXTENSIONS, ImageError, list_images, read_image, to_pil, write_image

HELP = "derain images (files, folders or glob patterns) into an output folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="image files, folders of images, or glob patterns")
    parser.add_argument("-o", "--output", default="derained", help="output folder (default: ./derained)")
    parser.add_argument(
        "--weights",
        default=DEFAULT_WEIGHTS,
        help=f"weights name ({', '.join(WEIGHTS)}) or checkpoint path (default: {DEFAULT_WEIGHTS or 'none bundled yet'})",
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument(
        "--format", choices=[ext.lstrip(".") for ext in IMAGE_EXTENSIONS], help="output format (default: the input's)"
    )
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="tile images larger than this many pixels")
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE, help="tile size in pixels")
    parser.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, help="overlap between tiles in pixels")
    parser.add_argument(
        "--max-megapixels", type=float, default=DEFAULT_MAX_MEGAPIXELS, help="refuse larger images (decompression-bomb guard)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files (never an input)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def _output_path(source: Path, out_dir: Path, fmt: str | None) -> Path:
    return out_dir / (source.stem + ("." + fmt if fmt else source.suffix.lower()))


def run(args: argparse.Namespace) -> int:
    def error(message: str) -> None:
        tqdm.write(f"error: {message}", file=sys.stderr)

    sources, input_errors = list_images(args.inputs)
    for message in input_errors:
        error(message)
    if not sources:
        return 2
    out_dir = Path(args.output)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as problem:
        error(f"{out_dir}: cannot create the output folder ({problem.strerror or problem})")
        return 2
    try:
        model = load_model(args.weights, device=pick_device(args.device))
    except (WeightsError, RuntimeError) as problem:
        error(str(problem))
        return 2

    inputs = {source.resolve() for source in sources}
    claimed: set[Path] = set()
    failures = len(input_errors)
    for source in tqdm(sources, unit="image", disable=args.quiet or len(sources) < 2):
        target = _output_path(source, out_dir, args.format)
        resolved = target.resolve()
        if resolved in inputs:
            error(f"{source}: output {target} is an input file; refusing to overwrite it (choose another -o)")
        elif resolved in claimed:
            error(f"{source}: output {target} is already written by another input of the same name")
        elif target.exists() and not args.overwrite:
            error(f"{source}: output {target} exists (pass --overwrite to replace it)")
        else:
            try:
                loaded = read_image(source, max_megapixels=args.max_megapixels)
                result = derain_tensor(model, loaded.rgb[None], args.max_pixels, args.tile, args.overlap)[0]
                write_image(to_pil(result, loaded, target.suffix), target)
                claimed.add(resolved)
                if not args.quiet and len(sources) == 1:
                    print(f"{source} -> {target}")
                continue
            except ImageError as problem:
                error(str(problem))
        failures += 1
    done = len(sources) - (failures - len(input_errors))
    if not args.quiet and len(sources) > 1:
        print(f"derained {done} of {len(sources)} images into {out_dir}" + (f"; {failures} failed" if failures else ""))
    return 1 if failures else 0
