"""``sapnet compare``: comparison figures (rainy | each model | clean, with an enlarged crop) and a
contact sheet of a data set's images. Derained images are cached exactly as ``sapnet evaluate``
caches them (``OUT/derained/<model>/<dataset>/``), so the two commands share one ``--out``."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sapnet.commands.common import add_model_arguments, positive_int, print_error
from sapnet.data import DataError
from sapnet.engine.evaluate import EvaluationError, load_dataset, open_model, parse_dataset, parse_model, read_item, unique_labels
from sapnet.engine.evaluate.figures import check_crop, choose_crop, comparison_figure, contact_sheet, thumbnail
from sapnet.engine.infer.backends import pick_device
from sapnet.hub import WEIGHTS, WeightsError
from sapnet.images import ImageError, write_image
from sapnet.metrics import score_pair



def _crop(text: str) -> tuple[int, int, int]:
    try:
        left, top, size = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LEFT,TOP,SIZE in pixels such as 120,40,80, got {text!r}") from None
    return left, top, size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-d", "--data", required=True, metavar="[NAME=]FOLDER", help="a data set folder (paired layout, or plain rainy images)")
    parser.add_argument(
        "-m", "--models", nargs="+", required=True, metavar="[LABEL=]MODEL",
        help=f"weights names ({', '.join(WEIGHTS)}), checkpoint files, or folders of derained images (as sapnet evaluate)",
    )
    parser.add_argument("-o", "--out", default="evaluation", help="writes OUT/figures/<dataset>/; caches outputs in OUT/derained (default: ./evaluation)")
    parser.add_argument("--images", nargs="+", metavar="NAME", help="figures for these images only (file names or stems; default: all)")
    parser.add_argument(
        "--sheet", action=argparse.BooleanOptionalAction, default=None,
        help="write contact_sheet.png of every image (default: only when --images is not given)",
    )
    parser.add_argument("--crop", type=_crop, help="enlarged region LEFT,TOP,SIZE in pixels (default: where the rainy image differs "
                        "most from the clean one or, without ground truth, from the first model's output)")
    parser.add_argument("--crop-size", type=positive_int, help="side of the automatic crop (default: a quarter of the shorter side)")
    parser.add_argument("--width", type=positive_int, default=320, help="width of each panel in pixels (default: 320)")
    parser.add_argument("--thumb", type=positive_int, default=160, help="thumbnail size of the contact sheet (default: 160)")
    parser.add_argument("--limit", type=positive_int, help="only the first N images of the data set")
    add_model_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def _select(names: list[str] | None, items: list) -> tuple[set[Path], list[str]]:
    """The rainy paths named by ``names`` (file name or stem; all when None) and an error per unknown name."""
    if names is None:
        return {rainy for rainy, _ in items}, []
    index = {key: rainy for rainy, _ in items for key in (rainy.name, rainy.stem)}
    unknown = [f"{name}: no such image in the data set" for name in names if name not in index]
    return {index[name] for name in names if name in index}, unknown


def _outputs(sources: list, dataset: str, rainy_path: Path, rainy: np.ndarray) -> list[np.ndarray]:
    """Each model's output for ``rainy_path``; a DataError for one that is not the rainy image's size."""
    outputs = []
    for source in sources:
        output = source.output(dataset, rainy_path, rainy)
        if output.shape != rainy.shape:
            raise DataError(f"{source.label}: the output for {rainy_path} is {output.shape[1]}×{output.shape[0]}, "
                            f"the rainy image {rainy.shape[1]}×{rainy.shape[0]}")
        outputs.append(output)
    return outputs


def _caption(output, clean) -> str:
    scores = score_pair(output, clean)
    return f"PSNR-Y {scores['psnr_y']:.2f} dB, SSIM-Y {scores['ssim_y']:.4f}"


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        name, root = parse_dataset(args.data)
        dataset = load_dataset(name, root, args.limit)
        specs = [parse_model(text) for text in args.models]
        unique_labels([spec.label for spec in specs], "models")
        device = pick_device(args.device)
        sources = [open_model(spec, out, device, args.backend) for spec in specs]
        for source in sources:
            source.prepare(dataset)
        figures_dir = out / "figures" / dataset.name
        figures_dir.mkdir(parents=True, exist_ok=True)
    except (DataError, EvaluationError, WeightsError, RuntimeError, ValueError, OSError) as problem:
        print_error(str(problem))
        return 2
    chosen, errors = _select(args.images, dataset.items)
    for message in errors:
        print_error(message)
    sheet = args.images is None if args.sheet is None else args.sheet
    labels = ["rainy", *(source.label for source in sources)] + (["clean"] if dataset.paired else [])
    rows, written = [], 0
    items = [item for item in dataset.items if sheet or item[0] in chosen]
    for rainy_path, clean_path in tqdm(items, unit="image", disable=args.quiet or len(items) < 2):
        try:
            rainy, clean = read_item(rainy_path, clean_path)
            images = [rainy, *_outputs(sources, dataset.name, rainy_path, rainy)] + ([clean] if clean is not None else [])
            if rainy_path in chosen:
                crop = args.crop or choose_crop(rainy, clean if clean is not None else images[1], args.crop_size)
                check_crop(crop, rainy.shape)
                captions = ([_caption(image, clean) for image in images[:-1]] + ["reference"]) if clean is not None else None
                figure = comparison_figure(list(zip(labels, images)), crop, args.width, captions)
                write_image(figure, figures_dir / f"{rainy_path.stem}.png")
                written += 1
            if sheet:
                rows.append((rainy_path.name, [thumbnail(image, args.thumb) for image in images]))
        except (DataError, ImageError) as problem:  # their messages name the file
            errors.append(str(problem))
            print_error(str(problem))
        except ValueError as problem:  # a crop that does not fit
            errors.append(f"{rainy_path}: {problem}")
            print_error(errors[-1])
    if rows:
        write_image(contact_sheet(labels, rows, args.thumb), figures_dir / "contact_sheet.png")
    if not args.quiet:
        print(f"wrote {written} figure(s){' and contact_sheet.png' if rows else ''} into {figures_dir}" + (f"; {len(errors)} problem(s)" if errors else ""))
    return 1 if errors else 0
