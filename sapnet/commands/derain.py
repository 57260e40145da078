"""``sapnet derain``: derain image files, folders and glob patterns into an output folder."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm

from sapnet.commands.common import add_model_arguments, add_weights_argument, print_error
from sapnet.engine.infer.model import load_model
from sapnet.engine.infer.tiling import DEFAULT_MAX_PIXELS, DEFAULT_OVERLAP, DEFAULT_TILE, FAST_MAX_PIXELS, check_tiling
from sapnet.hub import WeightsError
from sapnet.images import (
    DEFAULT_MAX_MEGAPIXELS,
    IMAGE_EXTENSIONS,
    ImageError,
    OutputExistsError,
    expand_inputs,
    frames_note,
    output_suffix,
    read_image,
    to_pil,
    write_image,
)
from sapnet.signals import sigterm_as_interrupt
from sapnet.text import one_line



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="image files, folders of images, or glob patterns")
    parser.add_argument("-o", "--output", default="derained", help="output folder (default: ./derained)")
    add_weights_argument(parser)
    add_model_arguments(parser)
    parser.add_argument(
        "--format", choices=[ext.lstrip(".") for ext in IMAGE_EXTENSIONS], help="output format (default: the input's)"
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help=f"tile images larger than this many pixels (default: {FAST_MAX_PIXELS} with the fast engine, "
        f"{DEFAULT_MAX_PIXELS} otherwise: about 2 GB of activations either way)",
    )
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE, help="tile size in pixels")
    parser.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, help="overlap between tiles in pixels")
    parser.add_argument(
        "--max-megapixels", type=float, default=DEFAULT_MAX_MEGAPIXELS, help="refuse larger images (decompression-bomb guard)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files (never an input)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def _output_path(source: Path, out_dir: Path, fmt: str | None) -> Path:
    """The input's name in ``out_dir``, as ``fmt``, else in the input's format where it is one of
    :data:`IMAGE_EXTENSIONS`, else as PNG (lossless): a ``.heic`` or extensionless input still
    gets an output Pillow can write."""
    return out_dir / (source.stem + output_suffix(source.name, fmt))


def _name_max(folder: Path) -> int:
    """The longest file name, in bytes, ``folder`` takes (255 where the system cannot say)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows), or no answer
        return 255


def _option_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the numeric options, found before anything is loaded."""
    try:
        check_tiling(args.max_pixels, args.tile, args.overlap)
    except ValueError as problem:
        return str(problem)
    if not args.max_megapixels > 0:  # also refuses NaN, which would disable the limit
        return f"--max-megapixels must be positive, got {args.max_megapixels}"
    return None


def run(args: argparse.Namespace) -> int:
    with sigterm_as_interrupt():  # ends as Ctrl-C does: the file being written is removed
        return _derain_all(args)


def _derain_all(args: argparse.Namespace) -> int:
    error = print_error

    def exists(source: Path, target: Path) -> None:
        error(f"{source}: output {target} exists (pass --overwrite to replace it)")

    problem = _option_problem(args)
    if problem:
        error(problem)
        return 2
    sources, input_errors = expand_inputs(args.inputs)
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
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as problem:
        error(f"{out_dir}: cannot write in the output folder ({problem.strerror or problem})")
        return 2
    try:
        model = load_model(args.weights, device=args.device, backend=args.backend)
    except (WeightsError, RuntimeError, ValueError) as problem:
        error(str(problem))
        return 2

    name_max = _name_max(out_dir)
    # realpath, not Path.resolve: it does not raise on a symlink loop
    inputs = {os.path.realpath(source) for source in sources}
    claimed: set[str] = set()
    for source in tqdm(sources, unit="image", disable=args.quiet or len(sources) < 2):
        target = _output_path(source, out_dir, args.format)
        resolved = os.path.realpath(target)
        name_bytes = len(os.fsencode(target.name))
        if resolved in inputs:
            error(f"{source}: output {target} is an input file; refusing to overwrite it (choose another -o)")
        elif resolved in claimed:
            error(f"{source}: output {target} is already written by another input of the same name")
        elif name_bytes > name_max:
            error(f"{source}: output name {target.name} is {name_bytes} bytes, over the {name_max} that {out_dir} allows")
        elif target.exists() and not args.overwrite:
            exists(source, target)
        else:
            try:
                loaded = read_image(source, max_megapixels=args.max_megapixels)
                if loaded.frames > 1:
                    tqdm.write(f"warning: {one_line(f'{source}: {frames_note(loaded.frames)}')}", file=sys.stderr)
                try:
                    result = model.derain(loaded.rgb, args.max_pixels, args.tile, args.overlap)
                except ImageError as problem:
                    raise ImageError(f"{source}: {problem}") from None
                write_image(to_pil(result, loaded, target.suffix), target, overwrite=args.overwrite)
                claimed.add(resolved)
                if not args.quiet and len(sources) == 1:
                    print(one_line(f"{source} -> {target}"))
            except OutputExistsError:
                exists(source, target)  # another run wrote it while this one was deraining
            except ImageError as problem:
                error(str(problem))
    total = len(sources) + len(input_errors)
    failures = total - len(claimed)
    if not args.quiet and total > 1:
        print(f"derained {len(claimed)} of {total} inputs into {out_dir}" + (f"; {failures} failed" if failures else ""))
    return 1 if failures else 0
