"""Evaluation reports: ``per_image.csv``, ``summary.md`` (mean scores, models × data sets, one
table per convention, and the images made worse than the rainy input) and ``settings.json``
(versions, machine, models, data, conventions)."""

from __future__ import annotations

import csv
import json
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

FULL_REFERENCE = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")
NO_REFERENCE = ("niqe", "brisque")
BASELINE = "rainy_psnr_y"  # the rainy input's own PSNR-Y against the clean image
CSV_COLUMNS = ("model", "dataset", "image", *FULL_REFERENCE, *NO_REFERENCE, BASELINE)
WORST_LISTED = 3
CONVENTIONS = {
    "quantisation": "every output is clamped to [0, 1] and rounded to 8 bits (round(255·x), ties to even; "
    "not truncated), as its saved PNG holds it, before it is scored",
    "y": "MATLAB convention of the deraining literature: Y = (16 + 65.481 R + 128.553 G + 24.966 B)/255 "
    "(not rounded); PSNR with peak 1; SSIM on Y·255, L = 255, 11×11 Gaussian window (σ 1.5), "
    "K = (0.01, 0.03), 'valid' filtering, no downsampling; no border crop",
    "rgb": "scikit-image, as the SAPNet paper: peak_signal_noise_ratio(clean, out, data_range=1), "
    "structural_similarity(clean, out, channel_axis=-1, data_range=1) (7×7 uniform window, channel mean); "
    "no border crop",
    "worse": "an image is made worse when the output's PSNR-Y is below the rainy input's own; "
    "the worst are listed with their change in dB",
    "niqe": "MATLAB release (rgb2gray luma, 96×96 blocks, pristine model of the release); lower is better",
    "brisque": "OpenCV cv2.quality.QualityBRISQUE with the authors' LIVE model; lower is better",
}



@dataclass
class Report:
    """What an evaluation produced: one row per scored image, and one line per failure."""

    rows: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    models: list[dict] = field(default_factory=list)
    datasets: list[dict] = field(default_factory=list)
    brisque: str = "not needed"


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def write_csv(rows: list[dict], path: Path) -> None:
    """One line per (model, data set, image); metrics that do not apply are left empty."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow([row["model"], row["dataset"], row["image"], *(_number(row.get(key)) for key in CSV_COLUMNS[3:])])


def mean_scores(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """(model, data set) → {"images": n, metric: mean over the images that have it}."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["dataset"]), []).append(row)
    means = {}
    for key, group in groups.items():
        values = {metric: [row[metric] for row in group if metric in row] for metric in FULL_REFERENCE + NO_REFERENCE}
        means[key] = {"images": len(group), **{metric: float(np.mean(v)) for metric, v in values.items() if v}}
    return means


def _cell(mean: dict | None, first: str, second: str, formats: tuple[str, str], expected: int) -> str:
    if mean is None or first not in mean:
        return "—"
    text = f"{mean[first]:{formats[0]}}" + (f" / {mean[second]:{formats[1]}}" if second in mean else "")
    return text if mean["images"] == expected else f"{text} ({mean['images']} of {expected})"


def _table(title: str, models: list[str], datasets: list[dict], means: dict, metrics: tuple[str, str], formats: tuple[str, str]) -> list[str]:
    lines = [f"## {title}", "", "| model | " + " | ".join(d["name"] for d in datasets) + " |", "|---" * (len(datasets) + 1) + "|"]
    for model in models:
        cells = [_cell(means.get((model, d["name"])), *metrics, formats, d["evaluated"]) for d in datasets]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines + [""]


def _worse_cell(group: list[dict]) -> str:
    changes = sorted((row["psnr_y"] - row[BASELINE], row["image"]) for row in group if row["psnr_y"] < row[BASELINE])
    if not changes:
        return f"none of {len(group)}"
    listed = ", ".join(f"{image} {change:+.2f}" for change, image in changes[:WORST_LISTED])
    return f"{len(changes)} of {len(group)}: {listed}" + (", …" if len(changes) > WORST_LISTED else "")


def _worse_table(models: list[str], datasets: list[dict], rows: list[dict]) -> list[str]:
    """Models × paired data sets: how many images each model leaves worse than the rainy input."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        if BASELINE in row and "psnr_y" in row:
            groups.setdefault((row["model"], row["dataset"]), []).append(row)
    lines = ["## Image by image: worse than the rainy input (PSNR-Y, dB)", ""]
    lines += ["| model | " + " | ".join(d["name"] for d in datasets) + " |", "|---" * (len(datasets) + 1) + "|"]
    for model in models:
        cells = [_worse_cell(groups[(model, d["name"])]) if (model, d["name"]) in groups else "—" for d in datasets]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines + ["", f"Worse: {CONVENTIONS['worse']}.", ""]


def summary_markdown(report: Report, no_reference: bool) -> str:
    """Mean scores, models × data sets: one table per convention, the conventions stated, and the
    images each model makes worse than their rainy input."""
    means = mean_scores(report.rows)
    models = [model["label"] for model in report.models]
    paired = [d for d in report.datasets if d["ground_truth"]]
    unpaired = [d for d in report.datasets if not d["ground_truth"] or no_reference]
    lines = [
        "# SAPNet evaluation",
        "",
        f"Mean scores over each data set's images; {CONVENTIONS['quantisation']}.",
        "",
    ]
    if paired:
        lines += _table("Y channel, MATLAB convention: PSNR (dB) / SSIM", models, paired, means, ("psnr_y", "ssim_y"), (".3f", ".4f"))
        lines += [f"Y: {CONVENTIONS['y']}.", ""]
        lines += _table("RGB, scikit-image convention: PSNR (dB) / SSIM", models, paired, means, ("psnr_rgb", "ssim_rgb"), (".3f", ".4f"))
        lines += [f"RGB: {CONVENTIONS['rgb']}.", ""]
        lines += _worse_table(models, paired, report.rows)
    if unpaired:
        lines += _table("No reference: NIQE / BRISQUE (lower is better)", models, unpaired, means, ("niqe", "brisque"), (".4f", ".3f"))
        lines += [f"NIQE: {CONVENTIONS['niqe']}. BRISQUE: {CONVENTIONS['brisque']} ({report.brisque}).", ""]
    lines += ["Data: " + "; ".join(
        f"{d['name']} = {d['path']} ({d['evaluated']} of {d['images']} images{'' if d['ground_truth'] else ', no ground truth'})"
        for d in report.datasets
    ) + ".", ""]
    if report.errors:
        lines += [f"**{len(report.errors)} problem(s)**; cells over fewer images than the data set say so:", ""]
        lines += [f"- {error}" for error in report.errors] + [""]
    return "\n".join(lines)


def library_versions() -> dict[str, str]:
    """Versions of Python and of every library that takes part in a score."""
    import PIL
    import scipy
    import skimage

    import sapnet

    versions = {"python": platform.python_version(), "sapnet": sapnet.__version__, "torch": torch.__version__}
    versions.update(numpy=np.__version__, scikit_image=skimage.__version__, scipy=scipy.__version__, pillow=PIL.__version__)
    try:
        import cv2

        versions["opencv"] = cv2.__version__
    except ImportError:
        versions["opencv"] = "not installed"
    return versions


def write_reports(report: Report, out: Path, device: torch.device, settings: dict, no_reference: bool) -> None:
    """``per_image.csv``, ``summary.md`` and ``settings.json`` in ``out``."""
    write_csv(report.rows, out / "per_image.csv")
    (out / "summary.md").write_text(summary_markdown(report, no_reference))
    record = {
        **settings,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "platform": platform.platform(),
        "device": str(device) if device.type != "cuda" else f"{device} ({torch.cuda.get_device_name(device)})",
        "threads": torch.get_num_threads(),
        "conventions": CONVENTIONS,
        "brisque": report.brisque,
        "models": report.models,
        "datasets": report.datasets,
        "scored": len(report.rows),
        "errors": report.errors,
    }
    (out / "settings.json").write_text(json.dumps(record, indent=2, allow_nan=False, default=str) + "\n")
