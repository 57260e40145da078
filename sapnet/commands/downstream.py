"""``sapnet downstream``: does deraining help a detector or a segmenter? (the paper's §4.9, Table 7).
The work is done in :mod:`sapnet.downstream`."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sapnet.commands.common import add_model_arguments, positive_int, print_error
from sapnet.data import PRESETS, DataError
from sapnet.downstream import TASKS, TaskModelError, folder_dataset, load_task_model, run_downstream, synthetic_dataset
from sapnet.downstream.tasks import DEFAULT_TASK_MODELS, task_model_names
from sapnet.engine.evaluate import EvaluationError, Tiling, parse_model, unique_labels
from sapnet.engine.infer.backends import pick_device
from sapnet.hub import WEIGHTS



def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def report_folder(out: Path, task: str, task_model: str | None) -> Path:
    """``OUT/<task>-<task model>``, the task model's name made safe for a folder name."""
    return out / f"{task}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', task_model or DEFAULT_TASK_MODELS[task])}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=TASKS, required=True, help="detect (mAP@0.5, mAP@0.5:0.95) or segment (mPA, mIoU)")
    parser.add_argument(
        "-m", "--models", nargs="+", required=True, metavar="[LABEL=]MODEL",
        help=f"derain models: weights names ({', '.join(WEIGHTS)}), checkpoint files, or folders of derained images (as sapnet evaluate)",
    )
    parser.add_argument("--clean", type=Path, required=True, help="folder of clean images")
    rain = parser.add_mutually_exclusive_group()
    rain.add_argument("--rain", choices=PRESETS, help="synthesise this rain on the clean images (default: heavy)")
    rain.add_argument("--rainy", type=Path, help="folder of rainy images instead, matched to the clean images by file stem")
    parser.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the synthetic rain, as sapnet synth (default: 0)")
    parser.add_argument(
        "--annotations", type=Path, metavar="COCO_JSON",
        help="ground truth in COCO format, matched to the clean images by file stem (default: the task model's "
        "own output on the clean images is the reference)",
    )
    parser.add_argument(
        "--task-model", metavar="NAME",
        help=f"detector or segmenter: {', '.join(task_model_names('detect')[:-1])} (detect, offline), "
        "torchvision:BUILDER (any torchvision detection or segmentation model, pretrained weights from torch's hub cache), "
        f"or package.module:factory (default: {DEFAULT_TASK_MODELS['detect']} / {DEFAULT_TASK_MODELS['segment']})",
    )
    parser.add_argument(
        "--reference-score", type=float,
        help="without annotations: the score from which a detection on a clean image is a reference object (default: the detector's)",
    )
    parser.add_argument(
        "-o", "--out", type=Path, default=Path("downstream"),
        help="writes OUT/<task>-<task model>/summary.md, settings.json, figure.png; caches rainy and derained images "
        "in OUT (default: ./downstream)",
    )
    parser.add_argument("--limit", type=positive_int, help="only the first N images")
    parser.add_argument("--examples", type=_non_negative_int, default=4, help="images in the figure (default: 4)")
    add_model_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def run(args: argparse.Namespace) -> int:
    unusable: list[str] = []  # photos that could not be rained on

    def skip_photo(message: str) -> None:
        unusable.append(message)
        print_error(message)

    try:
        models = [parse_model(text) for text in args.models]
        unique_labels([spec.label for spec in models], "models")
        device = str(pick_device(args.device))
        task_model = load_task_model(args.task, args.task_model, device)
        args.out.mkdir(parents=True, exist_ok=True)
        if args.rainy is not None:
            dataset = folder_dataset(args.rainy, args.clean, args.limit)
        else:
            dataset = synthetic_dataset(args.clean, args.out, args.rain or "heavy", args.seed, args.limit, on_error=skip_photo)
        settings = {"arguments": {key: str(value) for key, value in vars(args).items() if key != "run"}}
        folder = report_folder(args.out, args.task, args.task_model)
        report = run_downstream(
            args.task, task_model, models, dataset, args.out, folder, annotations=args.annotations,
            reference_score=args.reference_score, examples=args.examples, device=device, backend=args.backend,
            tiling=Tiling(), progress=not args.quiet, settings=settings, on_error=print_error,
        )
    except (EvaluationError, TaskModelError, DataError, ImportError, RuntimeError, ValueError) as problem:
        print_error(str(problem))
        return 2
    except OSError as problem:
        print_error(f"{problem.filename or args.out}: {problem.strerror or problem}")
        return 2
    if not args.quiet:
        print((folder / "summary.md").read_text())
        written = ["summary.md", "settings.json"] + (["figure.png"] if report.examples else [])
        problems = len(unusable) + len(report.errors)
        print(f"wrote {', '.join(str(folder / name) for name in written)}" + (f"; {problems} problem(s)" if problems else ""))
    return 1 if unusable or report.errors else 0
