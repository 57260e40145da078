"""``sapnet derain``: derain images and videos (files, folders, glob patterns) into an output
folder: photos with :meth:`DerainModel.derain`, videos and frame sequences with :mod:`sapnet.video`
(imported only when there is one, as PyAV and OpenCV are)."""

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
)
from sapnet.signals import sigterm_as_interrupt
from sapnet.text import one_line
from sapnet.video.defaults import DEFAULT_CODEC, DEFAULT_CRF, TEMPORAL_MODES, VIDEO_EXTENSIONS
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


def _kind(source: Path) -> str:
    """``image`` or ``video``: by extension, else by probing with FFmpeg where PyAV is installed."""
    suffix = source.suffix.lower()
    if suffix in IMAGE_EXTENSIONS or suffix == ".gif":
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    try:
        from sapnet.video import is_video_file
    except ImportError:
        return "image"  # the image reader says what the file is not
    return "video" if is_video_file(source) else "image"


def _video_module():
    try:
        import sapnet.video
    except ImportError as missing:
        raise ImageError(f"videos need PyAV and OpenCV ({missing.name} is missing): pip install 'sapnet[video]'") from None
    return sapnet.video


class _Job:
    """One input and where it goes: an image, a video file, or a folder of numbered frames."""

    def __init__(self, source: Path, kind: str, out_dir: Path, fmt: str | None) -> None:
        self.source, self.kind = source, kind
        self.target = _output_path(source, out_dir, fmt) if kind == "image" else out_dir / source.name


def _derain_image(job: _Job, model, args: argparse.Namespace) -> None:
    loaded = model.derain_file(
        job.source, job.target, args.max_pixels, args.tile, args.overlap, args.max_megapixels, args.overwrite
    )
    if loaded.frames > 1:
        tqdm.write(f"warning: {one_line(f'{job.source}: {frames_note(loaded.frames)}')}", file=sys.stderr)


def _derain_frames(job: _Job, model, args: argparse.Namespace) -> None:
    """A video file or a frame folder, with a frame progress bar; Ctrl-C keeps what is finished."""
    video = _video_module()
    bar = tqdm(desc=job.source.name, unit="frame", disable=args.quiet, leave=False)

    def progress(done: int, total: int | None, fps: float) -> None:
        bar.total = total
        bar.update(done - bar.n)
        bar.set_postfix(fps=f"{fps:.2f}")

    def derain_frames(frames):
        return model.derain(frames, args.max_pixels, args.tile, args.overlap)

    try:
        if job.kind == "video":
            video.derain_video(
                job.source, job.target, derain_frames, temporal=args.temporal, crf=args.crf, codec=args.codec,
                progress=progress, overwrite=args.overwrite, model_id=model.source.sha256 or "",
            )
        else:
            video.derain_sequence(job.source, job.target, derain_frames, temporal=args.temporal, progress=progress, overwrite=args.overwrite)
    except KeyboardInterrupt:
        tqdm.write(one_line(f"{job.source}: stopped; the finished part is kept, run the same command again to resume"), file=sys.stderr)
        raise
    finally:
        bar.close()


def _derain_all(args: argparse.Namespace) -> int:
    error = print_error

    def exists(source: Path, target: Path) -> None:
        error(f"{source}: output {target} exists (pass --overwrite to replace it)")

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

    name_max = _name_max(out_dir)
    jobs = [_Job(source, _kind(source), out_dir, args.format) for source in sources]
    jobs += [_Job(folder, "sequence", out_dir, None) for folder in sequences]
    # realpath, not Path.resolve: it does not raise on a symlink loop
    inputs = {os.path.realpath(job.source) for job in jobs}
    claimed: set[str] = set()
    for job in tqdm(jobs, unit="input", disable=args.quiet or len(jobs) < 2):
        source, target = job.source, job.target
        resolved = os.path.realpath(target)
        name_bytes = len(os.fsencode(target.name))
        if resolved in inputs:
            error(f"{source}: output {target} is an input file; refusing to overwrite it (choose another -o)")
        elif resolved in claimed:
            error(f"{source}: output {target} is already written by another input of the same name")
        elif name_bytes > name_max:
            error(f"{source}: output name {target.name} is {name_bytes} bytes, over the {name_max} that {out_dir} allows")
        elif target.exists() and not args.overwrite and job.kind != "sequence":  # a sequence resumes
            exists(source, target)
        else:
            try:
                if job.kind == "image":
                    _derain_image(job, model, args)
                else:
                    _derain_frames(job, model, args)
                claimed.add(resolved)
                if not args.quiet and len(jobs) == 1:
                    print(one_line(f"{source} -> {target}"))
            except OutputExistsError:
                exists(source, target)  # another run wrote it while this one was deraining
            except (ImageError, VideoError) as problem:
                error(str(problem))
    total = len(jobs) + len(input_errors)
    failures = total - len(claimed)
    if not args.quiet and total > 1:
        print(f"derained {len(claimed)} of {total} inputs into {out_dir}" + (f"; {failures} failed" if failures else ""))
    return 1 if failures else 0
