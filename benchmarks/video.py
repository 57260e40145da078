"""Video deraining: fidelity and temporal consistency, frame by frame and with the temporal stage.

    python benchmarks/video.py                               # ~5 minutes on the 2-core CPU
    python benchmarks/video.py --frames 48 --size 960x540 --preset light --limit 20

1. **Synthetic clip with ground truth** (:func:`sapnet.video.synthesize_video`): a camera
   panning, zooming and shaking over the first photo of ``clean_urban100`` (else
   ``clean_bsds``; or ``--photo``) in coherently falling rain of ``--preset`` (default heavy),
   ``--frames`` frames (24) of ``--size`` (640×360), seed ``--seed``. Rows: the rainy frames,
   the bundled model (``sapnet.load_model(None)``, or ``--weights``) frame by frame, the same
   frames through the temporal stage (:class:`sapnet.video.TemporalStabiliser`), and the clean
   frames. Columns: mean PSNR-Y / SSIM-Y against the clean frames (MATLAB luma, outputs rounded
   to 8 bits) and the warping error (×10³: mean squared RGB difference in [0, 1] between each
   frame and the previous one warped onto it, on pixels where the flow passes the
   forward-backward check), the flow computed on the *clean* frames, so every row is measured
   against the same true motion; the clean row is the floor that resampling between views leaves.
2. **Real rainy clips** (``real_rain_video/*``, the first ``--limit`` frames, default 10): the
   warping error of the rainy, derained and stabilised frames. There is no ground truth, so each
   row's flow comes from that row's own frames: it says how self-consistent each is, and rain
   that moves with the flow is not told from scene.
3. **Speed**: :func:`sapnet.video.derain_video` (decode, derain, temporal stage, H.264 encode,
   overlapped; remux excluded) on ``--speed-frames`` frames (6) at each ``--speed-sizes``
   (640×360, 1280×720), and the temporal stage alone in milliseconds a frame.

Data come from ``--shared`` (default ``$SAPNET_SHARED`` or ``../shared``); a missing folder skips
its part with a message. Written: ``--out`` (default ``reports/video``) ``video.md`` (the tables
printed) and ``video.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sapnet  # noqa: E402
from sapnet.commands.common import width_by_height  # noqa: E402
from sapnet.images import IMAGE_EXTENSIONS  # noqa: E402
from sapnet.video import (  # noqa: E402
    TemporalStabiliser,
    VideoWriter,
    derain_video,
    list_frames,
    score_frames,
    synthesize_video,
    warping_error,
)
from sapnet.video.frames import derain_arrays  # noqa: E402


def _read(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _first_photo(shared: Path) -> Path | None:
    for folder in ("clean_urban100", "clean_bsds"):
        photos = sorted(p for p in (shared / "data" / folder).glob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if photos:
            return photos[0]
    return None


def _derain_all(frames: list[np.ndarray], derain_frames) -> tuple[list[np.ndarray], float]:
    """Each frame derained on its own (float32 outputs), and the seconds a frame took."""
    started = time.perf_counter()
    outputs = [derain_arrays([frame], derain_frames)[0] for frame in frames]
    return outputs, (time.perf_counter() - started) / max(len(frames), 1)


def _stabilised(frames: list[np.ndarray]) -> list[np.ndarray]:
    stabiliser = TemporalStabiliser()
    return [stabiliser(frame) for frame in frames]


def _quantized(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [frame if frame.dtype == np.uint8 else np.round(np.clip(frame, 0, 1) * 255).astype(np.uint8) for frame in frames]


def synthetic_part(args, photo: Path, derain_frames, out: Path) -> dict:
    clip = synthesize_video(photo, out / "synthetic", frames=args.frames, size=args.size, seed=args.seed, preset=args.preset)
    clean = [_read(p) for p in list_frames(clip.clean_frames)]
    rainy = [_read(p) for p in list_frames(clip.rainy_frames)]
    derained, seconds = _derain_all(rainy, derain_frames)
    rows = {
        "rainy": rainy,
        "derained, frame by frame": _quantized(derained),
        "derained + temporal stage": _quantized(_stabilised(derained)),
        "clean": clean,
    }
    table = {}
    for name, frames in rows.items():
        scores = score_frames(frames, clean)
        table[name] = {
            "psnr_y": float(np.mean([s["psnr_y"] for s in scores])),
            "ssim_y": float(np.mean([s["ssim_y"] for s in scores])),
            "warping_error_e3": 1e3 * warping_error(frames, clean),
        }
    return {"photo": str(photo), "rain": repr(clip.rain), "seconds_per_frame": seconds, "rows": table}


def real_part(args, folder: Path, derain_frames) -> dict:
    results = {}
    for clip in sorted(p for p in folder.iterdir() if p.is_dir()):
        rainy = [_read(p) for p in list_frames(clip)[: args.limit]]
        derained, seconds = _derain_all(rainy, derain_frames)
        rows = {"rainy": rainy, "derained": _quantized(derained), "stabilised": _quantized(_stabilised(derained))}
        results[clip.name] = {
            "frames": len(rainy),
            "size": f"{rainy[0].shape[1]}×{rainy[0].shape[0]}",
            "seconds_per_frame": seconds,
            **{name: 1e3 * warping_error(frames) for name, frames in rows.items()},
        }
    return results


def speed_part(args, source_frames: list[np.ndarray], derain_frames, out: Path) -> dict:
    results = {}
    for width, height in args.speed_sizes:
        frames = [cv2.resize(source_frames[i % len(source_frames)], (width, height), interpolation=cv2.INTER_CUBIC) for i in range(args.speed_frames)]
        clip = out / f"speed_{width}x{height}.mp4"
        with VideoWriter(clip, fps=24) as writer:
            for frame in frames:
                writer.write(frame)
        report = derain_video(clip, out / f"speed_{width}x{height}_derained.mp4", derain_frames, overwrite=True)
        stabiliser = TemporalStabiliser()
        floats = [frame.astype(np.float32) / 255 for frame in frames]
        stabiliser(floats[0])
        started = time.perf_counter()
        for frame in floats[1:]:
            stabiliser(frame)
        temporal_ms = 1e3 * (time.perf_counter() - started) / max(len(floats) - 1, 1)
        results[f"{width}×{height}"] = {"frames": report.frames, "fps": report.fps, "temporal_ms_per_frame": temporal_ms}
    return results


def _markdown(results: dict) -> str:
    lines = []
    synthetic = results.get("synthetic")
    if synthetic:
        lines += [
            f"Synthetic clip: {results['args']['frames']} frames of {results['args']['size']}, preset {results['args']['preset']}, "
            f"seed {results['args']['seed']}, photo {Path(synthetic['photo']).name}; "
            f"model {results['model']} at {synthetic['seconds_per_frame']:.2f} s a frame",
            "",
            "| frames | PSNR-Y | SSIM-Y | warping error ×10³ (flow of the clean frames) |",
            "|---|---|---|---|",
        ]
        for name, row in synthetic["rows"].items():
            fidelity = "— | —" if name == "clean" else f"{row['psnr_y']:.3f} | {row['ssim_y']:.4f}"  # the reference itself
            lines.append(f"| {name} | {fidelity} | {row['warping_error_e3']:.3f} |")
        lines.append("")
    real = results.get("real")
    if real:
        lines += [
            "Real rainy clips, warping error ×10³, each row's flow from its own frames (no ground truth):",
            "",
            "| clip | frames | size | rainy | derained | stabilised |",
            "|---|---|---|---|---|---|",
        ]
        for name, row in real.items():
            lines.append(f"| {name} | {row['frames']} | {row['size']} | {row['rainy']:.3f} | {row['derained']:.3f} | {row['stabilised']:.3f} |")
        lines.append("")
    speed = results.get("speed")
    if speed:
        lines += [
            "Speed of derain_video (decode + derain + temporal stage + H.264 encode, overlapped):",
            "",
            "| size | frames | frames per second | temporal stage alone, ms a frame |",
            "|---|---|---|---|",
        ]
        for size, row in speed.items():
            lines.append(f"| {size} | {row['frames']} | {row['fps']:.3f} | {row['temporal_ms_per_frame']:.1f} |")
        lines.append("")
    for note in results["skipped"]:
        lines.append(f"skipped: {note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shared", type=Path, default=Path(os.environ.get("SAPNET_SHARED", ROOT.parent / "shared")))
    parser.add_argument("--photo", type=Path, help="the clean photo for the synthetic clip (default: the first of clean_urban100)")
    parser.add_argument("--weights", default=None, help="model name or checkpoint (default: the bundled model)")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", type=width_by_height, default=(640, 360), help="WIDTHxHEIGHT of the synthetic clip")
    parser.add_argument("--preset", default="heavy", help="rain preset of sapnet.data.rain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=10, help="frames of each real clip")
    parser.add_argument("--speed-frames", type=int, default=6)
    parser.add_argument("--speed-sizes", type=lambda text: [width_by_height(part) for part in text.split(",")], default=[(640, 360), (1280, 720)])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "video")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)

    model = sapnet.load_model(args.weights)

    def derain_frames(batch: torch.Tensor) -> torch.Tensor:
        return sapnet.derain(batch, model)

    results: dict = {"args": {**vars(args), "size": "×".join(map(str, args.size)), "shared": str(args.shared), "photo": str(args.photo), "out": str(args.out), "speed_sizes": [f"{w}×{h}" for w, h in args.speed_sizes]}, "model": args.weights or "bundled default", "skipped": []}
    photo = args.photo or _first_photo(args.shared)
    speed_source = None
    if photo is None or not photo.is_file():
        results["skipped"].append(f"synthetic clip: no photo in {args.shared / 'data' / 'clean_urban100'} or clean_bsds (pass --photo or --shared)")
    else:
        results["synthetic"] = synthetic_part(args, photo, derain_frames, args.out)
        speed_source = [_read(p) for p in list_frames(args.out / "synthetic" / "rainy")]
    real_folder = args.shared / "data" / "real_rain_video"
    if real_folder.is_dir():
        results["real"] = real_part(args, real_folder, derain_frames)
    else:
        results["skipped"].append(f"real clips: {real_folder} not found (pass --shared)")
    if speed_source is not None:
        results["speed"] = speed_part(args, speed_source, derain_frames, args.out)
    else:
        results["skipped"].append("speed: needs the synthetic clip's frames")

    table = _markdown(results)
    print(table)
    (args.out / "video.md").write_text(table + "\n")
    (args.out / "video.json").write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
