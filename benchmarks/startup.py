"""Start-up cost of the command line: what a person waits for before any deraining happens.

    python benchmarks/startup.py            # median of 5 fresh processes each

Times, in fresh interpreters (so nothing is cached in the process): ``import torch`` alone, the
floor of any command that runs a network; ``sapnet --help``, which should import no torch at
all; and ``sapnet derain`` of a 16×16 image with the bundled model, whose target is the torch
import plus at most half a second. Prints the median and the spread, and the CPU it ran on.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                flags = Path("/proc/cpuinfo").read_text()
                extras = [name for name, flag in (("AVX-512", "avx512f"), ("AMX", "amx_tile")) if f" {flag}" in flags]
                return f"{line.split(':', 1)[1].strip()} ({', '.join(extras) or 'no AVX-512'})"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per command (default: 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "tiny.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(image)
        sapnet = [sys.executable, "-m", "sapnet.cli"]
        commands = {
            "import torch": [sys.executable, "-c", "import torch"],
            "sapnet --help": [*sapnet, "--help"],
            "sapnet derain (16×16)": [*sapnet, "derain", str(image), "-o", str(Path(folder) / "out"), "--overwrite", "-q"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):  # interleaved, so that load from other processes hits all alike
            for name, command in commands.items():
                times[name].append(_seconds(command))
    print(f"Start-up, median of {args.repeats} fresh processes, {_cpu()}, {platform.python_version()}:")
    print("| command | median (s) | min–max (s) |\n|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f}–{max(values):.2f} |")
    overhead = statistics.median(times["sapnet derain (16×16)"]) - statistics.median(times["import torch"])
    print(f"sapnet derain beyond the torch import: {overhead:.2f} s (target: at most 0.5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
