"""Does a model darken (or brighten) what it derains? Mean offsets, in levels of 255, for the model card:

    python benchmarks/brightness.py sapnet-synth-v5 runs/x/snapshots/step_1000.safetensors
    python benchmarks/brightness.py sapnet-synth-v5 --report reports/v6_candidates --data ../shared/data/rain100l
    python benchmarks/brightness.py sapnet-synth-v5 --dry ../shared/data/rain100l/clean --every 10

For each model: the mean of (output - clean) over the flat synthetic gradient of
``tests/test_bundled.py`` (96x96, seed-0 light rain on it, and the same gradient without rain, which
a model should give back unchanged). With ``--report`` (a ``sapnet evaluate`` output folder) and
``--data`` (a paired folder, rainy/ + clean/), also the mean offset of the cached derained images
of every model in the report over that data set's clean images, with its 10th and 90th
percentiles over the images. With ``--dry`` (a folder of rain-free photos), the mean offset of
each model's output on those photos as they are, which it should give back unchanged. A network
that takes clipped white streaks off learns to pull bright pixels down; these numbers show how
far that spills onto the scene.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import sapnet
from sapnet.data.files import list_images, read_rgb
from sapnet.data.rain import synthesize_rain


def flat_gradient() -> np.ndarray:
    y, x = np.mgrid[0:96, 0:96] / 96.0
    return np.stack([0.3 + 0.4 * x, 0.5 - 0.3 * y, 0.4 + 0.2 * np.sin(6 * x * y)], axis=2).astype(np.float32)


def gradient_offsets(weights: str) -> tuple[float, float]:
    """Mean offsets (levels of 255) on the rained-on and the dry gradient."""
    model = sapnet.load_model(weights)
    clean = flat_gradient()
    rainy = synthesize_rain(clean, "light", np.random.default_rng(0))
    return tuple(float((sapnet.derain(image, model) - clean).mean() * 255) for image in (rainy, clean))


def dry_offsets(weights: str, folder: Path, every: int = 1) -> np.ndarray:
    """Per-photo mean offsets (levels of 255) of a model's outputs on rain-free photos, every ``every``-th one."""
    model = sapnet.load_model(weights)
    offsets = []
    for path in list_images(folder)[::every]:
        clean = read_rgb(path).astype(np.float32) / 255
        offsets.append(float((sapnet.derain(clean, model) - clean).mean() * 255))
    return np.array(offsets)


def _spread(offsets: np.ndarray) -> str:
    low, high = np.percentile(offsets, [10, 90])
    return f"mean offset {offsets.mean():+.2f} levels (10-90 %: {low:+.2f} to {high:+.2f})"


def report_offsets(derained_dir: Path, clean_dir: Path) -> np.ndarray:
    """Per-image mean offsets (levels of 255) of the derained images matched to their clean ones by stem."""
    clean = {path.stem: path for path in list_images(clean_dir)}
    outputs = [path for path in list_images(derained_dir) if path.stem in clean]
    return np.array([(read_rgb(path).astype(float) - read_rgb(clean[path.stem]).astype(float)).mean() for path in outputs])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="weights names or files for the gradient offsets")
    parser.add_argument("--report", type=Path, help="a sapnet evaluate output folder (its derained/ cache)")
    parser.add_argument("--data", type=Path, help="the paired folder the report's data set came from")
    parser.add_argument("--dry", type=Path, help="a folder of rain-free photos, given to each model as they are")
    parser.add_argument("--every", type=int, default=1, help="with --dry, take every n-th photo (default: all)")
    args = parser.parse_args(argv)
    if (args.report is None) != (args.data is None):
        parser.error("--report and --data go together")
    if args.dry is not None and not args.models:
        parser.error("--dry needs models to give the photos to")
    if args.every < 1:
        parser.error("--every takes a whole number of at least 1")
    for weights in args.models:
        rained, dry = gradient_offsets(weights)
        print(f"{weights}: flat gradient {rained:+.2f} levels with light rain, {dry:+.2f} dry")
        if args.dry is not None:
            offsets = dry_offsets(weights, args.dry, args.every)
            print(f"{weights} on dry {args.dry} ({len(offsets)} photos): {_spread(offsets)}")
    if args.report is not None:
        for model_dir in sorted(path for path in (args.report / "derained").iterdir() if path.is_dir()):
            derained_dir = model_dir / args.data.name
            if not derained_dir.is_dir():
                print(f"error: {derained_dir}: no derained images of {args.data.name} in the report", file=sys.stderr)
                return 2
            offsets = report_offsets(derained_dir, args.data / "clean")
            print(f"{model_dir.name} on {args.data.name} ({len(offsets)} images): {_spread(offsets)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
