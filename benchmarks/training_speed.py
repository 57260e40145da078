"""SAPNet training-step speed: forward + loss + backward + Adam, in the ways the trainer could
run it, interleaved step by step in one process (load from other processes hits every mode alike).

    python benchmarks/training_speed.py                        # batch 12×3×100×100, CPU
    python benchmarks/training_speed.py --modes eager,prepared --repeats 3 --loss l1
    python benchmarks/training_speed.py --device cuda --modes eager,channels_last,compile

Modes (``--modes``): ``eager`` (plain NCHW float32), ``channels_last``, ``compile``
(torch.compile), ``prepared`` (:func:`sapnet.engine.train.compile.prepare_for_training`, what
the trainer runs in float32) and ``prepared_bf16`` (the same under bfloat16 autocast, what the
trainer runs on CPUs with AMX). The loss is configs/bundled.yaml's four terms (``--loss l1``:
L1 alone). Reported: the median of ``--repeats`` timed steps after two untimed ones (the first
compiles, its time is printed).

Measured (2026-11-25, then inside ``benchmarks/inference_speed.py``; its
``benchmarks/results/inference_speed_cpu_2core.txt`` holds the run): 2-core Xeon (AVX-512,
AMX), torch 2.14.1, batch 12 × 100², bundled loss, 3 steps each, machine idle: eager 6.07 s,
channels-last 5.59 s (1.08×), prepared 5.15 s (1.18×), prepared + bf16 autocast 2.55 s (2.38×).
An earlier quiet run: eager 3.91 s, channels-last 3.51 s (1.12×), torch.compile 2.97 s (1.32×,
compiling takes about a minute on first use); under load 9.18 / 7.90 / 7.41 s. H100 (torch
2.11): channels-last 1.18×, torch.compile 1.13× (40 s compile), so CUDA models train
channels-last and CPU models compiled.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
MODES = ("eager", "channels_last", "compile", "prepared", "prepared_bf16")


def training_loss(name: str, device: torch.device):
    """``l1``, or the loss of configs/bundled.yaml (SSIM + PCL + LPISL + UBS, as the trainer runs it)."""
    if name == "l1":
        return lambda derained, clean, rainy: (derained - clean).abs().mean()
    import yaml

    from sapnet.losses import build_loss

    loss = build_loss(yaml.safe_load((ROOT / "configs" / "bundled.yaml").read_text())["loss"]).to(device)
    return lambda derained, clean, rainy: loss(derained, clean, rainy)[0]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_step(mode: str, rainy: torch.Tensor, clean: torch.Tensor, loss_fn, stages: int):
    """One optimiser step of a fresh SAPNet (seed 0) run the way ``mode`` says."""
    from sapnet.engine.train.compile import prepare_for_training
    from sapnet.models import SAPNet

    torch.manual_seed(0)
    model = SAPNet(stages=stages).to(rainy.device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = rainy
    if mode == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = rainy.contiguous(memory_format=torch.channels_last)
        forward = model
    elif mode == "compile":
        forward = torch.compile(model)
    elif mode in ("prepared", "prepared_bf16"):
        forward = prepare_for_training(model)
    else:
        forward = model
    precision = torch.autocast(rainy.device.type, dtype=torch.bfloat16) if mode.endswith("bf16") else nullcontext()

    def step() -> None:
        with precision:
            loss = loss_fn(forward(x), clean, x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def measure(modes: list[str], device: torch.device, batch: int, crop: int, stages: int, repeats: int, loss_name: str) -> list[dict]:
    """Seconds per step of each mode, interleaved step by step."""
    torch.manual_seed(0)
    rainy = torch.rand(batch, 3, crop, crop, device=device)
    clean = torch.rand_like(rainy)
    loss_fn = training_loss(loss_name, device)
    records, steps = [], []
    for mode in modes:
        record = {"mode": mode, "times_s": []}
        start = time.perf_counter()
        try:
            step = build_step(mode, rainy, clean, loss_fn, stages)
            step()
            sync(device)
            record["first_step_s"] = time.perf_counter() - start  # includes compilation
            step()
        except Exception as error:
            record["error"] = f"{error.__class__.__name__}: {str(error).splitlines()[0][:200]}"
            step = None
        records.append(record)
        steps.append(step)
    for _ in range(repeats):
        for record, step in zip(records, steps):
            if step is None:
                continue
            start = time.perf_counter()
            step()
            sync(device)
            record["times_s"].append(time.perf_counter() - start)
    for record in records:
        if record["times_s"]:
            record["median_step_s"] = statistics.median(record["times_s"])
            record["steps_per_s"] = 1 / record["median_step_s"]
    return records


def report(records: list[dict], loss_name: str, batch: int, crop: int) -> None:
    eager = next((r for r in records if r["mode"] == "eager" and r.get("median_step_s")), None)
    loss_text = "L1" if loss_name == "l1" else "configs/bundled.yaml loss"
    print(f"training step (batch {batch}×3×{crop}×{crop}, forward + {loss_text} + backward + Adam), modes interleaved:")
    for record in records:
        if "error" in record:
            print(f"  {record['mode']:>13} failed: {record['error']}")
            continue
        speed = f" ({eager['median_step_s'] / record['median_step_s']:.2f}× eager)" if eager else ""
        print(f"  {record['mode']:>13} {record['steps_per_s']:.3f} steps/s, {record['median_step_s']:.2f} s/step{speed}; "
              f"first step {record['first_step_s']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="eager,channels_last,prepared,prepared_bf16", help=f"comma-separated, from {', '.join(MODES)}")
    parser.add_argument("--loss", choices=["bundled", "l1"], default="bundled", help="configs/bundled.yaml's four terms (default) or L1")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per mode; the median is reported (default 5)")
    parser.add_argument("--batch", type=int, default=12, help="crops per step (default 12, the paper's)")
    parser.add_argument("--crop", type=int, default=100, help="crop side (default 100, the paper's)")
    parser.add_argument("--stages", type=int, default=6, help="recurrent stages (default 6)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads (default: all)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for mode in modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device visible")
    torch.set_num_threads(args.threads)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"SAPNet training-step benchmark — {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {args.threads} threads, device {device}"
          + (f", load average {load[0]:.2f} at start" if load else ""))
    records = measure(modes, device, args.batch, args.crop, args.stages, args.repeats, args.loss)
    report(records, args.loss, args.batch, args.crop)
    if args.json:
        Path(args.json).write_text(json.dumps({"loss": args.loss, "batch": args.batch, "crop": args.crop,
                                               "threads": args.threads, "device": str(device), "modes": records}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
