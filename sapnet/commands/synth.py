"""``sapnet synth CLEAN_DIR OUT_DIR``: make a paired training set by raining on clean photos
(``--video``: a clean and a rainy clip per photo, for measuring video deraining).

Writes ``OUT_DIR/rainy/NAME.png`` and ``OUT_DIR/clean/NAME.png`` (the layout :func:`find_pairs`
reads). The clean side is the decoded photo re-saved losslessly, so the pair is pixel-aligned.
Existing outputs are left alone unless ``--overwrite``. An unreadable photo, or one whose
output exists, gets one ``error: FILE: problem`` line on stderr and the others go on; the exit
status is 1 if any photo failed, 2 if nothing could be started.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sapnet.commands.common import non_negative_int, positive_int, width_by_height
from sapnet.data.files import DataError, list_images
from sapnet.data.rain import PRESETS
from sapnet.data.synthetic_pairs import prepare_pair_folders, write_synthetic_pair

MIXED = "mixed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clean_dir", type=Path, help="folder of clean photos (its subfolders are not read)")
    parser.add_argument("out_dir", type=Path, help="output folder; gets rainy/ and clean/ subfolders")
    parser.add_argument(
        "--preset",
        choices=(*PRESETS, MIXED),
        default=MIXED,
        help="rain: drizzle, light (like Rain100L), heavy (wide near streaks at several depths), storm "
        "(rain in fog, like RainCityscapes), downpour (dense white streaks, like Rain100H), shower (dense "
        "short dashes, mostly JPEG-compressed, like real rain in web photos), or mixed: "
        "one of them picked per photo (default: %(default)s)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--limit", type=positive_int, help="use only the first N photos, in name order")
    parser.add_argument(
        "--no-fog",
        action="store_true",
        help="leave out the preset's fog and haze (the streaks stay the same)",
    )
    parser.add_argument(
        "--video", action="store_true",
        help="make OUT_DIR/NAME/ per photo: clean.mp4 and rainy.mp4 (a camera panning, zooming and shaking over the "
        "photo; rain falling coherently from frame to frame) and their frames, the same for a seed",
    )
    parser.add_argument("--frames", type=positive_int, default=24, help="--video: frames per clip (default: %(default)s)")
    parser.add_argument("--size", type=width_by_height, default=(640, 360), help="--video: WIDTHxHEIGHT, even (default: 640x360)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing pairs in OUT_DIR (by default they are kept)")


def run(args: argparse.Namespace) -> int:
    try:
        photos = list_images(args.clean_dir)[: args.limit]
        if args.video:
            args.out_dir.mkdir(parents=True, exist_ok=True)
        else:
            rainy_dir, clean_dir = prepare_pair_folders(args.out_dir, args.clean_dir)
    except (DataError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failures = 0
    taken: dict[str, Path] = {}
    for index, photo in enumerate(tqdm(photos, desc="synth", unit="photo")):
        try:
            # Outputs are named by stem, so photo.jpg and photo.png would overwrite each other.
            if photo.stem in taken:
                raise DataError(f"{photo}: skipped, same name as {taken[photo.stem].name}")
            taken[photo.stem] = photo
            # Seeded per photo by its place in the sorted folder: --limit N repeats a full run's first N.
            rng = np.random.default_rng((args.seed, index))
            preset = str(rng.choice(PRESETS)) if args.preset == MIXED else args.preset
            if args.video:
                _write_clip(photo, preset, int(rng.integers(2**31)), args)
            else:
                write_synthetic_pair(photo, preset, rng, rainy_dir, clean_dir, fog=not args.no_fog, overwrite=args.overwrite)
        except (DataError, OSError, ValueError) as error:  # ValueError: a VideoError, or an odd --size
            tqdm.write(f"error: {error}", file=sys.stderr)
            failures += 1
    if failures:
        print(f"sapnet synth: {failures} of {len(photos)} photos failed", file=sys.stderr)
    return 1 if failures else 0


def _write_clip(photo: Path, preset: str, seed: int, args: argparse.Namespace) -> None:
    from sapnet.video import synthesize_video

    out = args.out_dir / photo.stem
    if out.exists() and not args.overwrite:
        raise DataError(f"{out}: exists (pass --overwrite to replace it)")
    try:
        synthesize_video(photo, out, frames=args.frames, size=args.size, seed=seed, preset=preset, fog=not args.no_fog)
    except ValueError as error:
        raise DataError(f"{photo}: {error}") from None
