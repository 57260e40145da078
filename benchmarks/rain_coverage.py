"""Does the synthetic rain span real rain? Rain-layer statistics of each preset against real sets.

    python benchmarks/rain_coverage.py                          # all presets, 30 photos each; both real sets
    python benchmarks/rain_coverage.py --presets light,storm --images 10 --real-images 20
    python benchmarks/rain_coverage.py --pairs ra1=.data/real_video_pairs/nturain_ra1 --figure reports/rain_coverage/with_video.png

For every data set the rain layer is the luma difference ``Y(rainy) − Y(clean)`` (MATLAB luma,
:func:`sapnet.metrics.images.rgb_to_y`, in [0, 1] units; Y spans 219/255 of the RGB range). The
real sets are Rain100L (light synthetic streaks) and RainCityscapes100 (heavy rendered rain with
fog), their first ``--real-images`` pairs in file-name order (default 100, all of them), and
any ``--pairs NAME=FOLDER`` (a ``rainy/`` + ``clean/`` folder), such as the real rainy video
frames against their temporal references that ``benchmarks/real_video_pairs.py`` writes: real
rain, measured as its excess over what the neighbouring frames saw there (where that folder has
``trusted/`` masks, untrusted pixels count as unchanged, since a flow error is not rain); each
preset of :mod:`sapnet.data.rain` rains on the first ``--images`` photos of ``clean_bsds``
(default 30), seeded per preset and photo (``--seed``), so runs repeat exactly. Defaults take
about two minutes on the 2-core CPU. Data come from ``$SAPNET_SHARED/data`` (default
``../shared``). Written: ``--out`` (default ``reports/rain_coverage/``) ``coverage.md`` (the table
printed) and ``coverage.json`` (summaries and per-image values), and ``--figure`` (default
``docs/images/rain_coverage.png``): per data set three rain layers (mid-grey is no change,
brighter adds light; the photos themselves are not shown), the streak-intensity histogram and an
orientation rose.

What is measured, per image, then averaged over images (table: mean, and the 10-90 % range of
the per-image values where it is given in brackets):

- **PSNR-Y**: rainy against clean, :func:`sapnet.metrics.psnr_y` (dB, MATLAB luma, peak 1).
- **Low-frequency part** (haze, fog): a 21-pixel median filter of the rain layer (run on the
  layer subsampled 2×, which is ten times faster and, for a median, nearly the same), smoothed;
  thin streaks fall out of a median that wide. *low mean*: its signed mean (> 0: the fog lifts
  the scene, < 0: it darkens it); *low share*: its share of the rain layer's energy,
  ``Σ low² / (Σ low² + Σ streak²)`` (near 1: fog dominates, near 0: streaks do).
- **Streak part**: rain layer − low part. Only its positive values count as streaks (streaks
  add light); under fog it also holds the scene's edges, ``(A − J)·(1 − t)`` being as detailed as
  the scene, so fogged sets read some edges as streaks. *density*: fraction of pixels whose
  streak part exceeds 0.03 (about 8 RGB levels, 3.5 σ of the presets' strongest sensor noise);
  *> 0.1, > 0.2, > 0.4*: the same at higher thresholds (the intensity histogram);
  *streak mean*: mean streak part over the density pixels.
- **Orientation**: the structure tensor (:func:`skimage.feature.structure_tensor`, σ 1) of the
  positive streak part, smoothed first (Gaussian σ 1: raw central differences pull thin lines'
  angles towards the axes); undefined where no pixel passes the density threshold. Each
  pixel's doubled-angle vector ``(A_cc − A_rr, −2 A_rc)`` has the length of its coherent energy
  λ1 − λ2, so their sum weights pixels by energy. *angle*: half the
  sum's angle, in degrees from vertical, positive when the streak's lower end leans right (as in
  ``sapnet/data/rain.py``); *spread*: the circular standard deviation of the energy-weighted
  orientations, ``√(−2 ln R) / 2`` with R the mean resultant length of the doubled angles, in
  degrees (about 0 for parallel streaks, 40 and more for no direction).
- **Shape**: connected components (8-connected, :func:`skimage.measure.label`) of the density
  mask; elongated ones (≥ 8 px, major/minor axis ≥ 2.5, :func:`skimage.measure.regionprops`)
  are streaks. *length* and *width*: median of their moment-equivalent segment (axis lengths
  × √3/2, so a w × l rectangle measures w and l), in pixels; crossing streaks merge and the
  frame cuts long ones, so long streaks measure short. *streaks/MP*: elongated components per
  megapixel.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage
from skimage.feature import structure_tensor
from skimage.measure import label, regionprops

from sapnet.data.rain import PRESETS, synthesize_rain
from sapnet.metrics import psnr_y
from sapnet.metrics.images import rgb_to_y

SHARED = Path(os.environ.get("SAPNET_SHARED", Path(__file__).resolve().parents[2] / "shared"))
REAL_SETS = {"Rain100L": "rain100l", "RainCityscapes100": "raincityscapes100"}

LOW_PASS_SIZE = 21  # px: several times the widest streak (5 px), so streaks leave the median
STREAK_THRESHOLD = 0.03
HISTOGRAM_THRESHOLDS = (0.1, 0.2, 0.4)
MIN_STREAK_AREA = 8
MIN_ELONGATION = 2.5
SEGMENT_PER_AXIS = np.sqrt(3) / 2  # a segment of length l has a moment-equivalent ellipse axis 2l/√3
HISTOGRAM_BINS = np.linspace(0.0, 0.6, 31)
ROSE_BINS = np.linspace(-90.0, 90.0, 19)  # 10° bins of the streak angle
EXAMPLES = 3


@dataclass
class DataSetResult:
    """Per-image statistics of one data set or preset, plus what the figure draws."""

    name: str
    per_image: list[dict[str, float]] = field(default_factory=list)
    examples: list[np.ndarray] = field(default_factory=list)  # luma rain layers
    intensity_histograms: list[np.ndarray] = field(default_factory=list)
    orientation_histograms: list[np.ndarray] = field(default_factory=list)


def luma_rain_layer(rainy: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """``Y(rainy) − Y(clean)``, H×W float64 (RGB images H×W×3 in [0, 1])."""
    if rainy.shape != clean.shape:
        raise ValueError(f"rainy image is {rainy.shape} but clean is {clean.shape}")
    return rgb_to_y(rainy) - rgb_to_y(clean)


def split_rain_layer(layer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low-frequency part, streak part) of a rain layer; they add up to it."""
    half_size = LOW_PASS_SIZE // 2 + 1
    low = ndimage.median_filter(layer[::2, ::2], size=half_size, mode="reflect")
    low = ndimage.zoom(low, (layer.shape[0] / low.shape[0], layer.shape[1] / low.shape[1]), order=1, grid_mode=True, mode="nearest")
    low = ndimage.gaussian_filter(low[: layer.shape[0], : layer.shape[1]], 2.0, mode="nearest")  # the median's steps
    return low, layer - low


def streak_orientation(streaks: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(angle, spread, energy-weighted angle histogram over :data:`ROSE_BINS`) of a streak part.

    Degrees from vertical, positive leaning the lower end right; see the module docstring."""
    positive = np.maximum(streaks, 0.0)
    if not np.any(positive > STREAK_THRESHOLD):
        return float("nan"), float("nan"), np.zeros(len(ROSE_BINS) - 1)
    # Gradients at scale σ 1: on raw 1-2 px lines the tensor's central differences pull angles
    # towards the axes (25° measured as 22.7°; 23.9° after smoothing).
    smoothed = ndimage.gaussian_filter(positive, 1.0, mode="reflect")
    a_rr, a_rc, a_cc = structure_tensor(smoothed, sigma=1.0, mode="reflect", order="rc")
    # A streak at angle θ runs along (row, col) = (cos θ, sin θ); its gradient is across it, so
    # A_cc − A_rr = cos 2θ and −2 A_rc = sin 2θ, scaled by the energy.
    doubled_x, doubled_y = a_cc - a_rr, -2.0 * a_rc
    energy = np.hypot(doubled_x, doubled_y)
    total = energy.sum()
    if total <= 0:
        return float("nan"), float("nan"), np.zeros(len(ROSE_BINS) - 1)
    angle = 0.5 * np.degrees(np.arctan2(doubled_y.sum(), doubled_x.sum()))
    resultant = np.clip(np.hypot(doubled_x.sum(), doubled_y.sum()) / total, 1e-12, 1.0)
    spread = np.degrees(np.sqrt(max(-2.0 * np.log(resultant), 0.0)) / 2.0)
    pixel_angles = 0.5 * np.degrees(np.arctan2(doubled_y, doubled_x))
    histogram, _ = np.histogram(pixel_angles, bins=ROSE_BINS, weights=energy)
    return float(angle), float(spread), histogram / total


def streak_shapes(streaks: np.ndarray) -> tuple[float, float, int]:
    """(median length, median width, number) of the elongated components of the streak mask."""
    components = label(streaks > STREAK_THRESHOLD, connectivity=2)
    lengths, widths = [], []
    for region in regionprops(components):
        major, minor = region.axis_major_length, region.axis_minor_length
        if region.area >= MIN_STREAK_AREA and major >= MIN_ELONGATION * max(minor, 1e-9):
            lengths.append(major * SEGMENT_PER_AXIS)
            widths.append(minor * SEGMENT_PER_AXIS)
    if not lengths:
        return float("nan"), float("nan"), 0
    return float(np.median(lengths)), float(np.median(widths)), len(lengths)


def measure_pair(rainy: np.ndarray, clean: np.ndarray) -> tuple[dict[str, float], np.ndarray, np.ndarray, np.ndarray]:
    """(statistics, luma rain layer, intensity histogram, orientation histogram) of one pair."""
    layer = luma_rain_layer(rainy, clean)
    low, streaks = split_rain_layer(layer)
    mask = streaks > STREAK_THRESHOLD
    angle, spread, orientation_histogram = streak_orientation(streaks)
    length, width, count = streak_shapes(streaks)
    low_energy, streak_energy = float(np.sum(low**2)), float(np.sum(streaks**2))
    stats = {
        "psnr_y": psnr_y(rainy, clean),
        "low_mean": float(low.mean()),
        "low_share": low_energy / (low_energy + streak_energy) if low_energy + streak_energy > 0 else float("nan"),
        "density": float(mask.mean()),
        **{f"above_{threshold:g}": float(np.mean(streaks > threshold)) for threshold in HISTOGRAM_THRESHOLDS},
        "streak_mean": float(streaks[mask].mean()) if mask.any() else float("nan"),
        "angle": angle,
        "angle_spread": spread,
        "length": length,
        "width": width,
        "streaks_per_mp": count / (layer.size / 1e6),
    }
    intensity_histogram, _ = np.histogram(streaks, bins=HISTOGRAM_BINS)
    return stats, layer, intensity_histogram / layer.size, orientation_histogram


def measure(name: str, pairs) -> DataSetResult:
    """Measure every (rainy, clean) pair of an iterable; keeps the first layers as examples."""
    result = DataSetResult(name)
    for rainy, clean in pairs:
        stats, layer, intensity_histogram, orientation_histogram = measure_pair(rainy, clean)
        result.per_image.append(stats)
        result.intensity_histograms.append(intensity_histogram)
        result.orientation_histograms.append(orientation_histogram)
        if len(result.examples) < EXAMPLES:
            result.examples.append(layer.astype(np.float32))
    return result


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def real_pairs(folder: Path, limit: int):
    """The first ``limit`` (rainy, clean) pairs of a ``rainy/`` + ``clean/`` folder, by file name;
    where ``trusted/NAME`` is beside them, the rainy image takes the clean one's values outside it."""
    for rainy_path in sorted((folder / "rainy").glob("*.png"))[:limit]:
        rainy, clean = load_rgb(rainy_path), load_rgb(folder / "clean" / rainy_path.name)
        trusted_path = folder / "trusted" / rainy_path.name
        if trusted_path.is_file():
            trusted = load_rgb(trusted_path)[..., :1] > 0.5
            rainy = np.where(trusted, rainy, clean)
        yield rainy, clean


def named_folder(text: str) -> tuple[str, Path]:
    """``NAME=FOLDER`` (or a bare folder, named after itself) for ``--pairs``."""
    name, _, folder = text.rpartition("=")
    return (name or Path(folder).name), Path(folder)


def preset_pairs(preset: str, clean_paths: list[Path], seed: int):
    """Rain of ``preset`` on each clean photo, each from its own seeded generator."""
    preset_index = PRESETS.index(preset)
    for image_index, path in enumerate(clean_paths):
        clean = load_rgb(path)
        rng = np.random.default_rng([seed, preset_index, image_index])
        yield synthesize_rain(clean, preset, rng).astype(np.float64), clean


def summarise(result: DataSetResult) -> dict[str, dict[str, float]]:
    """Per statistic: mean, 10th and 90th percentile over images (images where it is defined)."""
    summary = {}
    for key in result.per_image[0]:
        values = np.array([stats[key] for stats in result.per_image], dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            summary[key] = {"mean": None, "p10": None, "p90": None, "images": 0}
        else:
            p10, p90 = np.percentile(values, [10, 90])
            summary[key] = {"mean": float(values.mean()), "p10": float(p10), "p90": float(p90), "images": int(values.size)}
    return summary


# (column title, statistic, scale, decimals, show the 10-90 % range)
COLUMNS = (
    ("PSNR-Y dB", "psnr_y", 1, 1, True),
    ("low mean", "low_mean", 1, 3, True),
    ("low share", "low_share", 1, 2, True),
    ("density % (>0.03)", "density", 100, 1, True),
    (">0.1 %", "above_0.1", 100, 2, False),
    (">0.2 %", "above_0.2", 100, 2, False),
    (">0.4 %", "above_0.4", 100, 3, False),
    ("streak mean", "streak_mean", 1, 3, False),
    ("angle °", "angle", 1, 1, True),
    ("spread °", "angle_spread", 1, 1, False),
    ("length px", "length", 1, 1, True),
    ("width px", "width", 1, 2, False),
    ("streaks/MP", "streaks_per_mp", 1, 0, False),
)


def markdown_table(summaries: dict[str, dict[str, dict[str, float]]], counts: dict[str, int]) -> str:
    """One row per data set, mean (10–90 %) where the range is asked for."""

    def cell(entry: dict[str, float], scale: float, decimals: int, with_range: bool) -> str:
        if entry["mean"] is None:
            return "—"
        text = f"{entry['mean'] * scale:.{decimals}f}"
        if with_range:
            text += f" ({entry['p10'] * scale:.{decimals}f}–{entry['p90'] * scale:.{decimals}f})"
        return text

    lines = [
        "| data | images | " + " | ".join(title for title, *_ in COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    for name, summary in summaries.items():
        cells = [cell(summary[key], scale, decimals, with_range) for _, key, scale, decimals, with_range in COLUMNS]
        lines.append(f"| {name} | {counts[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# Figure, drawn with Pillow (matplotlib is not a dependency); greyscale keeps the PNG small.
TILE = (240, 160)
LABEL_WIDTH = 150
PLOT = 160
GAP = 8
HEADER = 28


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def layer_tile(layer: np.ndarray) -> Image.Image:
    """A rain layer as grey (mid-grey no change, +0.5 white), fitted into :data:`TILE` by area averaging."""
    grey = Image.fromarray(np.round(np.clip(0.5 + layer, 0.0, 1.0) * 255).astype(np.uint8), "L")
    scale = min(TILE[0] / grey.width, TILE[1] / grey.height)
    grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.BOX)
    tile = Image.new("L", TILE, 255)
    tile.paste(grey, ((TILE[0] - grey.width) // 2, (TILE[1] - grey.height) // 2))
    return tile


def histogram_panel(histogram: np.ndarray) -> Image.Image:
    """Fractions of pixels per streak-intensity bin, log scale from 1e-5 to 1."""
    panel = Image.new("L", (PLOT + 40, PLOT), 255)
    draw = ImageDraw.Draw(panel)
    left, bottom, top, right = 30, PLOT - 18, 6, PLOT + 34
    draw.rectangle((left, top, right, bottom), outline=160)
    bar_width = (right - left) / len(histogram)
    for index, fraction in enumerate(histogram):
        if fraction > 0:
            height = np.clip((np.log10(fraction) + 5) / 5, 0, 1) * (bottom - top)
            x0 = left + index * bar_width
            draw.rectangle((x0 + 1, bottom - height, x0 + bar_width - 1, bottom), fill=60)
    font = _font(10)
    for exponent in (0, -5):
        draw.text((2, top + (-exponent / 5) * (bottom - top) - 6), f"1e{exponent}" if exponent else "1", fill=0, font=font)
    draw.text((left, bottom + 3), "0", fill=0, font=font)
    draw.text((right - 18, bottom + 3), f"{HISTOGRAM_BINS[-1]:g}", fill=0, font=font)
    draw.text((left + 30, bottom + 3), "streak part", fill=0, font=font)
    return panel


def rose_panel(histogram: np.ndarray) -> Image.Image:
    """Energy per 10° of streak direction, drawn along the streaks (both ends: orientation is axial)."""
    panel = Image.new("L", (PLOT, PLOT), 255)
    draw = ImageDraw.Draw(panel)
    centre, radius = PLOT / 2, PLOT / 2 - 6
    draw.ellipse((centre - radius, centre - radius, centre + radius, centre + radius), outline=190)
    draw.line((centre, centre - radius, centre, centre + radius), fill=210)
    peak = histogram.max() if histogram.max() > 0 else 1.0
    for low, high, weight in zip(ROSE_BINS[:-1], ROSE_BINS[1:], histogram):
        length = radius * np.sqrt(weight / peak)  # area proportional to energy
        if length < 0.5:
            continue
        box = (centre - length, centre - length, centre + length, centre + length)
        # Pillow's angles run clockwise from 3 o'clock; a streak at θ from vertical points at 90° − θ.
        for offset in (0, 180):
            draw.pieslice(box, 90 - high + offset, 90 - low + offset, fill=60)
    draw.text((4, 2), "orientation", fill=0, font=_font(10))
    return panel


def coverage_figure(results: list[DataSetResult], summaries: dict[str, dict[str, dict[str, float]]]) -> Image.Image:
    """One row per data set: label, three rain layers, intensity histogram, orientation rose."""
    row_height = max(TILE[1], PLOT) + GAP
    width = LABEL_WIDTH + EXAMPLES * (TILE[0] + GAP) + (PLOT + 40) + GAP + PLOT + GAP
    figure = Image.new("L", (width, HEADER + row_height * len(results)), 255)
    draw = ImageDraw.Draw(figure)
    draw.text(  # an ASCII hyphen: Pillow's default font has no minus sign
        (GAP, 6),
        "Luma rain layers Y(rainy) - Y(clean): mid-grey = no change, lighter = light added, darker = darkened",
        fill=0, font=_font(13),
    )
    for row, result in enumerate(results):
        y = HEADER + row * row_height
        summary = summaries[result.name]

        def mean(key: str, decimals: int, scale: float = 1.0) -> str:
            value = summary[key]["mean"]
            return "—" if value is None else f"{value * scale:.{decimals}f}"

        draw.text((GAP, y + 4), result.name, fill=0, font=_font(15))
        notes = [
            f"PSNR-Y {mean('psnr_y', 1)} dB",
            f"low mean {mean('low_mean', 3)}",
            f"low share {mean('low_share', 2)}",
            f"density {mean('density', 1, 100)} %",
            f"angle {mean('angle', 0)}° ± {mean('angle_spread', 0)}°",
            f"length {mean('length', 0)} px",
            f"width {mean('width', 1)} px",
        ]
        for index, note in enumerate(notes):
            draw.text((GAP, y + 28 + 17 * index), note, fill=40, font=_font(12))
        x = LABEL_WIDTH
        for layer in result.examples:
            figure.paste(layer_tile(layer), (x, y))
            x += TILE[0] + GAP
        x = LABEL_WIDTH + EXAMPLES * (TILE[0] + GAP)
        figure.paste(histogram_panel(np.mean(result.intensity_histograms, axis=0)), (x, y))
        figure.paste(rose_panel(np.mean(result.orientation_histograms, axis=0)), (x + PLOT + 40 + GAP, y))
    return figure


def _finite_or_none(stats: dict[str, float]) -> dict[str, float | None]:
    """JSON has no NaN: statistics undefined for an image (no streak found) become null."""
    return {key: value if np.isfinite(value) else None for key, value in stats.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", default=",".join(PRESETS), help=f"comma-separated, from {', '.join(PRESETS)}")
    parser.add_argument("--images", type=int, default=30, help="clean BSDS photos each preset rains on")
    parser.add_argument("--real-images", type=int, default=100, help="first pairs of each real set")
    parser.add_argument("--pairs", nargs="+", type=named_folder, default=[], metavar="NAME=FOLDER",
                        help="more paired folders (rainy/ + clean/) measured beside the two real sets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=SHARED / "data", help="folder holding rain100l/, raincityscapes100/, clean_bsds/")
    parser.add_argument("--out", type=Path, default=Path("reports/rain_coverage"))
    parser.add_argument("--figure", type=Path, default=Path("docs/images/rain_coverage.png"))
    args = parser.parse_args(argv)
    presets = [name.strip() for name in args.presets.split(",") if name.strip()]
    unknown = [name for name in presets if name not in PRESETS]
    if unknown:
        print(f"error: unknown preset(s) {', '.join(unknown)}; choose from {', '.join(PRESETS)}", file=sys.stderr)
        return 2
    if args.images < 1 or args.real_images < 1:
        print("error: --images and --real-images must be at least 1", file=sys.stderr)
        return 2
    for folder in [args.data / folder for folder in REAL_SETS.values()] + [args.data / "clean_bsds"]:
        if not folder.is_dir():
            print(f"error: {folder} not found (pass --data or set SAPNET_SHARED to the shared folder)", file=sys.stderr)
            return 2
    for _, folder in args.pairs:
        if not (folder / "rainy").is_dir() or not (folder / "clean").is_dir():
            print(f"error: {folder}: --pairs needs a folder with rainy/ and clean/ inside", file=sys.stderr)
            return 2
    clean_paths = sorted((args.data / "clean_bsds").glob("*.jpg"))[: args.images]

    started = time.perf_counter()
    real_sets = [(name, args.data / folder) for name, folder in REAL_SETS.items()] + args.pairs
    results = [measure(name, real_pairs(folder, args.real_images)) for name, folder in real_sets]
    results += [measure(f"preset {preset}", preset_pairs(preset, clean_paths, args.seed)) for preset in presets]
    summaries = {result.name: summarise(result) for result in results}
    counts = {result.name: len(result.per_image) for result in results}
    table = markdown_table(summaries, counts)
    print(table)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "coverage.md").write_text(table)
    report = {
        "benchmark": "benchmarks/rain_coverage.py",
        "arguments": {key: str(value) for key, value in vars(args).items()},
        "conventions": {
            "rain_layer": "Y(rainy) - Y(clean), MATLAB luma in [0, 1]",
            "low_pass_median_px": LOW_PASS_SIZE,
            "streak_threshold": STREAK_THRESHOLD,
            "histogram_thresholds": list(HISTOGRAM_THRESHOLDS),
            "angle": "degrees from vertical, positive leans the lower end right",
            "length_width": "moment-equivalent segment of elongated components, px",
        },
        "summaries": summaries,
        "per_image": {result.name: [_finite_or_none(stats) for stats in result.per_image] for result in results},
        "seconds": round(time.perf_counter() - started, 1),
    }
    (args.out / "coverage.json").write_text(json.dumps(report, indent=1, allow_nan=False))
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    coverage_figure(results, summaries).save(args.figure, optimize=True)
    print(f"wrote {args.out / 'coverage.md'}, {args.out / 'coverage.json'} and {args.figure} in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
