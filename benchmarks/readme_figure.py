"""The README's before/after picture: a photo that may be redistributed, with this project's
synthetic rain, derained by the bundled model (and any other models named).

    python benchmarks/readme_figure.py                                   # -> docs/images/coffee_rain.jpg
    python benchmarks/readme_figure.py official=../shared/weights/sapnet_official_model11.pth

The photo is scikit-image's ``coffee`` (CC0, Rachel Michetti), so the figure can be committed;
pictures of ``../shared/data/real_rain`` may not be (see ``sapnet compare`` in the README). The
rain is ``--preset`` (default ``downpour``: dense near-white streaks added and clipped, like
Rain100H), seeded, so the figure is the same on every run. Captions are PSNR-Y / SSIM-Y against the clean photo,
after 8-bit rounding, as ``sapnet evaluate`` scores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import skimage.data

import sapnet
from sapnet.data.rain import PRESETS, synthesize_rain
from sapnet.engine.evaluate.figures import choose_crop, comparison_figure
from sapnet.hub import DEFAULT_WEIGHTS, WeightsError
from sapnet.metrics import psnr_y, ssim_y


def rainy_coffee(seed: int, preset: str = "downpour") -> tuple[np.ndarray, np.ndarray]:
    """(clean, rainy) 8-bit RGB arrays: the coffee photo with synthetic rain of ``preset``."""
    clean = skimage.data.coffee()
    rainy = synthesize_rain(clean.astype(np.float32) / 255.0, preset, np.random.default_rng(seed))
    return clean, np.round(rainy * 255.0).astype(np.uint8)


def caption(image: np.ndarray, clean: np.ndarray) -> str:
    return f"{psnr_y(image, clean):.2f} dB / {ssim_y(image, clean):.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", metavar="[LABEL=]WEIGHTS", help="more models beside the bundled one")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--preset", choices=PRESETS, default="downpour", help="the rain (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("docs/images/coffee_rain.jpg"))
    args = parser.parse_args(argv)
    clean, rainy = rainy_coffee(args.seed, args.preset)
    panels, captions = [("rainy (synthetic)", rainy)], [caption(rainy, clean)]
    for text in [DEFAULT_WEIGHTS, *args.models]:
        label, _, weights = text.rpartition("=")
        try:
            derained = sapnet.derain(rainy, weights)
        except WeightsError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        panels.append((label or weights, derained))
        captions.append(caption(derained, clean))
    panels.append(("clean", clean))
    captions.append("PSNR-Y / SSIM-Y")
    figure = comparison_figure(panels, choose_crop(rainy, clean), width=300, captions=captions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.out, quality=90)
    for (label, _), text in zip(panels, captions):
        print(f"{label}: {text}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
