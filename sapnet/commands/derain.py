"""``sapnet derain``: derain images and videos (files, folders, glob patterns) into an output
folder. The command parses, checks the options and the output folder before the model loads, and
prints; the batch (outputs, refusals, the work) is :mod:`sapnet.engine.infer.batch`."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm

from sapnet.commands.common import add_model_arguments, add_weights_argument, print_error
from sapnet.engine.infer.batch import DerainSettings, Job, OutputClaims, exists_message, plan_jobs, run_job
from sapnet.engine.infer.model import load_model
from sapnet.engine.infer.tiling import DEFAULT_MAX_PIXELS, DEFAULT_OVERLAP, DEFAULT_TILE, FAST_MAX_PIXELS, check_tiling
from sapnet.hub import WeightsError
from sapnet.images import DEFAULT_MAX_MEGAPIXELS, IMAGE_EXTENSIONS, ImageError, OutputExistsError, expand_inputs
from sapnet.signals import sigterm_as_interrupt
from sapnet.text import one_line
from sapnet.video.defaults import DEFAULT_CODEC, DEFAULT_CRF, TEMPORAL_MODES
from sapnet.video.errors import VideoError



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="image or video files, folders of images, or glob patterns")
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
    parser.add_argument(
        "--sequence", action="store_true",
        help="folders are videos stored as numbered frames (frame_0001.png, …): each is derained into OUT/FOLDER/ "
        "with the same names and the temporal stage (without it a folder is a set of photos)",
    )
    parser.add_argument(
        "--temporal", choices=TEMPORAL_MODES, default="flow",
        help="videos and --sequence: 'flow' (default) blends each frame with the previous one warped by optical flow "
        "where the flow is reliable, against flicker; 'off' derains each frame on its own",
    )
    parser.add_argument(
        "--crf", type=int, default=DEFAULT_CRF,
        help=f"video quality, the encoder's constant rate factor (lower is better; default {DEFAULT_CRF})",
    )
    parser.add_argument("--codec", default=DEFAULT_CODEC, help=f"video encoder (default {DEFAULT_CODEC}; H.265: libx265, AV1: libsvtav1)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files (never an input)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")


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


def _progress_bar(job: Job, quiet: bool):
    """A frame progress bar for a video or frame folder, and the callback that moves it."""
    bar = tqdm(desc=job.source.name, unit="frame", disable=quiet, leave=False)

    def progress(done: int, total: int | None, fps: float) -> None:
        bar.total = total
        bar.update(done - bar.n)
        bar.set_postfix(fps=f"{fps:.2f}")

    return bar, progress


def _derain_one(job: Job, model, settings: DerainSettings, quiet: bool) -> None:
    if job.kind == "image":
        warnings = run_job(job, model, settings)
    else:
        bar, progress = _progress_bar(job, quiet)
        try:
            warnings = run_job(job, model, settings, progress)
        except KeyboardInterrupt:
            tqdm.write(one_line(f"{job.source}: stopped; the finished part is kept, run the same command again to resume"), file=sys.stderr)
            raise
        finally:
            bar.close()
    for warning in warnings:
        tqdm.write(f"warning: {one_line(warning)}", file=sys.stderr)


def _derain_all(args: argparse.Namespace) -> int:
    error = print_error
    problem = _option_problem(args)
    if problem:
        error(problem)
        return 2
    sequences = [Path(item) for item in args.inputs if args.sequence and Path(item).is_dir()]
    sources, input_errors = expand_inputs([item for item in args.inputs if Path(item) not in sequences])
    for message in input_errors:
        error(message)
    if not sources and not sequences:
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

    jobs = plan_jobs(sources, sequences, out_dir, args.format)
    claims = OutputClaims(jobs, out_dir, args.overwrite)
    settings = DerainSettings(
        args.max_pixels, args.tile, args.overlap, args.max_megapixels, args.overwrite, args.temporal, args.crf, args.codec
    )
    for job in tqdm(jobs, unit="input", disable=args.quiet or len(jobs) < 2):
        refusal = claims.refusal(job)
        if refusal:
            error(refusal)
            continue
        try:
            _derain_one(job, model, settings, args.quiet)
        except OutputExistsError:
            error(exists_message(job))  # another run wrote it while this one was deraining
        except (ImageError, VideoError) as problem:
            error(str(problem))
        else:
            claims.claim(job)
            if not args.quiet and len(jobs) == 1:
                print(one_line(f"{job.source} -> {job.target}"))
    total = len(jobs) + len(input_errors)
    failures = total - claims.written
    if not args.quiet and total > 1:
        print(f"derained {claims.written} of {total} inputs into {out_dir}" + (f"; {failures} failed" if failures else ""))
    return 1 if failures else 0
