"""``sapnet evaluate`` and ``sapnet efficiency`` on tiny generated data and tiny models: metric
conventions, report files, folders of derained images, resuming, efficiency numbers by hand, and
every error path."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from sapnet.cli import main
from sapnet.data import read_rgb
from sapnet.engine.evaluate import reports, scoring
from sapnet.engine.evaluate.efficiency import count_flops, count_parameters, latencies, measure
from sapnet.engine.infer.model import DerainModel
from sapnet.engine.infer.tiling import derain_tensor
from sapnet.hub import WEIGHTS, sha256_of
from sapnet.metrics import niqe, score_pair
from sapnet.models import load_checkpoint

from .conftest import shared_file, tiny_model


def _rgb(height=24, width=32, seed=0):
    return (np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8)


def _save(array, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _paired(root, count=3, size=(24, 32)):
    """rainy/ + clean/ folders of ``count`` random pairs; returns {name: (rainy, clean)} arrays."""
    pairs = {}
    for index in range(count):
        clean = _rgb(*size, seed=index)
        rainy = np.clip(clean.astype(int) + _rgb(*size, seed=100 + index) // 4, 0, 255).astype(np.uint8)
        _save(rainy, root / "rainy" / f"{index}.png")
        _save(clean, root / "clean" / f"{index}.png")
        pairs[f"{index}.png"] = rainy, clean
    return pairs


def _csv(out):
    with open(out / "per_image.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process; returns (exit code, stdout, error lines)."""

    def run(*args):
        code = main([*map(str, args)])
        captured = capsys.readouterr()
        return code, captured.out, [line for line in captured.err.splitlines() if line.startswith("error")]

    return run


# -- conventions and report files ---------------------------------------------------------------

def test_checkpoint_outputs_are_rounded_like_the_png_and_scored_by_score_pair(tmp_path, tiny_weights, cli):
    pairs = _paired(tmp_path / "data")
    out = tmp_path / "out"
    code, stdout, errors = cli("evaluate", "-m", tiny_weights, "-d", f"syn={tmp_path / 'data'}", "-o", out, "--backend", "eager")
    assert (code, errors) == (0, [])
    model = load_checkpoint(tiny_weights)
    rows = _csv(out)
    assert [(r["model"], r["dataset"], r["image"]) for r in rows] == [("tiny", "syn", name) for name in pairs]
    for row in rows:
        rainy, clean = pairs[row["image"]]
        result = derain_tensor(model, torch.from_numpy(rainy).permute(2, 0, 1).float()[None] / 255)[0]
        cached = read_rgb(out / "derained" / "tiny" / "syn" / row["image"])
        assert np.array_equal(cached, np.round(result.numpy().transpose(1, 2, 0) * 255))  # rounded, not truncated
        expected = score_pair(result, clean)  # quantises the float output as the PNG holds it
        assert {key: float(row[key]) for key in expected} == pytest.approx(expected, rel=1e-12)
        assert row["niqe"] == row["brisque"] == ""
    assert "| tiny |" in stdout


def test_report_files_are_well_formed(tmp_path, tiny_weights, cli):
    _paired(tmp_path / "data", count=2)
    out = tmp_path / "out"
    assert cli("evaluate", "-m", tiny_weights, "-d", f"syn={tmp_path / 'data'}", "-o", out, "--limit", "1", "-q")[0] == 0
    assert list(_csv(out)[0]) == list(reports.CSV_COLUMNS)
    summary = (out / "summary.md").read_text()
    assert "rounded to 8 bits (round(255·x)" in summary and "not truncated" in summary
    assert "## Y channel, MATLAB convention" in summary and "## RGB, scikit-image convention" in summary
    assert "## Image by image: worse than the rainy input" in summary
    assert summary.count("| model | syn |") == 3 and summary.count("| tiny | ") == 3  # Y, RGB, worse
    assert "No reference" not in summary
    settings = json.loads((out / "settings.json").read_text())
    assert settings["arguments"]["limit"] == 1
    assert {"torch", "numpy", "scikit_image", "sapnet", "pillow"} <= set(settings["versions"])
    assert settings["device"] == "cpu" and settings["errors"] == [] and settings["scored"] == 1
    (model,) = settings["models"]
    assert model["sha256"] == sha256_of(tiny_weights) and model["config"]["stages"] == 2
    assert settings["datasets"] == [
        {"name": "syn", "path": str((tmp_path / "data").resolve()), "ground_truth": True, "images": 2, "evaluated": 1}
    ]
    assert "quantisation" in settings["conventions"]


def test_folder_of_derained_images_is_matched_by_stem(tmp_path, cli):
    pairs = _paired(tmp_path / "data")
    outputs = {}
    for index, name in enumerate(pairs):
        outputs[name] = _rgb(24, 32, seed=50 + index)
        _save(outputs[name], tmp_path / "theirs" / name.replace(".png", ".bmp"))  # any format, same stem
    out = tmp_path / "out"
    code, _, errors = cli("evaluate", "-m", tmp_path / "theirs", "-d", tmp_path / "data", "-o", out, "-q")
    assert (code, errors) == (0, [])
    for row in _csv(out):
        assert (row["model"], row["dataset"]) == ("theirs", "data")
        expected = score_pair(outputs[row["image"]], pairs[row["image"]][1])
        assert {key: float(row[key]) for key in expected} == pytest.approx(expected, abs=1e-12)
    assert not (out / "derained").exists()  # nothing to cache for a folder


def test_images_made_worse_than_the_rainy_input_are_counted_and_named(tmp_path, cli):
    pairs = _paired(tmp_path / "data", count=3)
    for name, (rainy, clean) in pairs.items():
        # 0.png: the clean image (better); 1.png: the rainy input (equal, not worse); 2.png: noise (worse).
        output = {"0.png": clean, "1.png": rainy, "2.png": _rgb(24, 32, seed=77)}[name]
        _save(output, tmp_path / "mixed" / name)
    out = tmp_path / "out"
    assert cli("evaluate", "-m", tmp_path / "mixed", "-d", f"syn={tmp_path / 'data'}", "-o", out, "-q")[:3:2] == (0, [])
    rows = {row["image"]: row for row in _csv(out)}
    for name, (rainy, clean) in pairs.items():
        assert float(rows[name]["rainy_psnr_y"]) == pytest.approx(score_pair(rainy, clean)["psnr_y"], abs=1e-12)
    change = float(rows["2.png"]["psnr_y"]) - float(rows["2.png"]["rainy_psnr_y"])
    assert change < 0
    summary = (out / "summary.md").read_text()
    assert "## Image by image: worse than the rainy input" in summary
    assert f"| mixed | 1 of 3: 2.png {change:+.2f} |" in summary


def test_rerun_reuses_cached_outputs(tmp_path, tiny_weights, cli, monkeypatch):
    _paired(tmp_path / "data", count=2)
    out = tmp_path / "out"
    args = ("evaluate", "-m", tiny_weights, "-d", tmp_path / "data", "-o", out, "-q")
    assert cli(*args)[0] == 0
    first = _csv(out)
    marker = _rgb(24, 32, seed=9)
    _save(marker, out / "derained" / "tiny" / "data" / "1.png")  # a cached output is reused as it is

    def no_deraining(*_, **__):
        raise AssertionError("derained again")

    monkeypatch.setattr(DerainModel, "derain", no_deraining)
    assert cli(*args)[0] == 0
    second = _csv(out)
    assert second[0] == first[0]
    clean = read_rgb(tmp_path / "data" / "clean" / "1.png")
    assert float(second[1]["psnr_rgb"]) == pytest.approx(score_pair(marker, clean)["psnr_rgb"])


def test_cache_of_other_weights_is_refused(tmp_path, tiny_weights, cli):
    _paired(tmp_path / "data", count=1)
    out = tmp_path / "out"
    assert cli("evaluate", "-m", tiny_weights, "-d", tmp_path / "data", "-o", out, "-q")[0] == 0
    from sapnet.models import save_checkpoint

    other = save_checkpoint(tiny_model(seed=1), tmp_path / "other" / "tiny.safetensors")
    code, _, errors = cli("evaluate", "-m", other, "-d", tmp_path / "data", "-o", out, "-q")
    assert code == 1
    assert len(errors) == 1 and "model tiny:" in errors[0] and "other weights" in errors[0]


def test_cache_of_another_folder_under_the_same_name_is_refused(tmp_path, tiny_weights, cli):
    _paired(tmp_path / "one", count=1)
    _paired(tmp_path / "two", count=1)
    out = tmp_path / "out"
    assert cli("evaluate", "-m", tiny_weights, "-d", f"x={tmp_path / 'one'}", "-o", out, "-q")[0] == 0
    code, _, errors = cli("evaluate", "-m", tiny_weights, "-d", f"x={tmp_path / 'two'}", f"y={tmp_path / 'two'}", "-o", out, "-q")
    assert code == 1
    assert errors == [(
        f"error: model tiny on x: {out / 'derained' / 'tiny' / 'x'}: cached outputs are of {(tmp_path / 'one' / 'rainy').resolve()}, "
        f"not {(tmp_path / 'two' / 'rainy').resolve()}; delete that folder, choose another --out, or name this data set differently"
    )]
    assert [row["dataset"] for row in _csv(out)] == ["y"]


def test_data_without_ground_truth_gets_niqe_and_brisque(tmp_path, cli):
    images = {f"{name}.png": _save(_rgb(100, 200, seed=i), tmp_path / "real" / f"{name}.png") for i, name in enumerate("ab")}
    out = tmp_path / "out"
    code, _, errors = cli("evaluate", "-m", f"same={tmp_path / 'real'}", "-d", tmp_path / "real", "-o", out, "-q")
    assert (code, errors) == (0, [])
    settings = json.loads((out / "settings.json").read_text())
    assert settings["datasets"][0]["ground_truth"] is False
    for row in _csv(out):
        assert row["psnr_y"] == "" and float(row["niqe"]) == pytest.approx(niqe(read_rgb(images[row["image"]])), abs=1e-12)
        assert (row["brisque"] != "") == (settings["brisque"] == "available")
    assert "## No reference: NIQE / BRISQUE" in (out / "summary.md").read_text()


def test_brisque_unavailable_is_recorded_once(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("SAPNET_BRISQUE_MODEL_DIR", str(tmp_path / "nowhere"))
    for i in range(2):
        _save(_rgb(100, 200, seed=i), tmp_path / "real" / f"{i}.png")
    out = tmp_path / "out"
    code, _, errors = cli("evaluate", "-m", tmp_path / "real", "-d", tmp_path / "real", "-o", out, "-q")
    assert (code, errors) == (0, [])  # BRISQUE missing is not an error of any image
    settings = json.loads((out / "settings.json").read_text())
    assert settings["brisque"].startswith("unavailable: BRISQUE model files")
    assert all(row["brisque"] == "" and row["niqe"] for row in _csv(out))
    assert (out / "summary.md").read_text().count("unavailable:") == 1


def test_no_reference_flag_adds_niqe_on_paired_data(tmp_path, cli):
    _paired(tmp_path / "data", count=1, size=(100, 200))
    out = tmp_path / "out"
    code, _, errors = cli("evaluate", "-m", tmp_path / "data" / "clean", "-d", tmp_path / "data", "-o", out, "-q", "--no-reference")
    assert (code, errors) == (0, [])
    (row,) = _csv(out)
    assert row["psnr_y"] == "inf" and float(row["ssim_rgb"]) == 1.0 and row["niqe"] != ""


def test_parse_labels():
    assert scoring.parse_model("official") == scoring.ModelSpec("official", "official", False)
    assert scoring.parse_dataset("rl=some/where") == ("rl", scoring.Path("some/where"))
    assert scoring.parse_dataset("some/where")[0] == "where"
    with pytest.raises(scoring.EvaluationError, match="neither a weights name"):
        scoring.parse_model("no/such/file.pth")
    with pytest.raises(scoring.EvaluationError, match="cannot be used as a label"):
        scoring.parse_dataset("a|b=x")


# -- error paths ------------------------------------------------------------------------------

def test_mismatched_sizes_fail_that_image_only(tmp_path, tiny_weights, cli):
    _paired(tmp_path / "data", count=2)
    _save(_rgb(20, 32), tmp_path / "data" / "clean" / "0.png")
    out = tmp_path / "out"
    code, _, errors = cli("evaluate", "-m", tiny_weights, "-d", tmp_path / "data", "-o", out, "-q")
    assert code == 1
    assert errors == [(f"error: {tmp_path / 'data' / 'rainy' / '0.png'} (32×24) and its clean image "
                       f"{tmp_path / 'data' / 'clean' / '0.png'} (32×20) differ in size")]
    assert [row["image"] for row in _csv(out)] == ["1.png"]
    assert "(1 of 2)" in (out / "summary.md").read_text()


def test_derained_folder_of_wrong_size_or_missing_image(tmp_path, cli):
    _paired(tmp_path / "data", count=3)
    _save(_rgb(24, 30), tmp_path / "theirs" / "0.png")
    _save(_rgb(24, 32), tmp_path / "theirs" / "1.png")
    code, _, errors = cli("evaluate", "-m", tmp_path / "theirs", "-d", tmp_path / "data", "-o", tmp_path / "out", "-q")
    assert code == 1
    rainy = tmp_path / "data" / "rainy"
    assert errors == [
        f"error: theirs: {rainy / '0.png'}: output is 30×24 but the clean image is 32×24",
        f"error: theirs: {tmp_path / 'theirs'}: no derained image named 2.* for {rainy / '2.png'}",
    ]


def test_missing_ground_truth_names_the_file_and_other_data_go_on(tmp_path, cli):
    _paired(tmp_path / "good", count=1)
    _paired(tmp_path / "bad", count=2)
    (tmp_path / "bad" / "clean" / "1.png").unlink()
    out = tmp_path / "out"
    code, _, errors = cli("evaluate", "-m", tmp_path / "good" / "rainy", "-d", tmp_path / "good", tmp_path / "bad", "-o", out, "-q")
    assert code == 1
    assert len(errors) == 1 and errors[0].startswith("error: data set bad: ")
    assert "1 rainy image(s) without a clean partner (1.png)" in errors[0]
    assert [row["dataset"] for row in _csv(out)] == ["good"]


def test_unreadable_files_are_named(tmp_path, tiny_weights, cli):
    _paired(tmp_path / "data", count=2)
    (tmp_path / "data" / "rainy" / "0.png").write_bytes(b"not a png")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    code, _, errors = cli("evaluate", "-m", tmp_path / "theirs", "-d", tmp_path / "data", "-o", tmp_path / "out", "-q")
    assert code == 1
    assert len(errors) == 2
    assert errors[0].startswith(f"error: {tmp_path / 'data' / 'rainy' / '0.png'}: cannot read image")
    assert errors[1].startswith(f"error: theirs: {tmp_path / 'theirs' / '1.png'}: cannot read image")


def test_bad_arguments_exit_2_with_one_line(tmp_path, tiny_weights, cli):
    _paired(tmp_path / "data", count=1)
    code, _, errors = cli("evaluate", "-m", tmp_path / "nope.pth", "-d", tmp_path / "data", "-o", tmp_path / "out")
    assert code == 2 and errors == [f"error: {tmp_path / 'nope.pth'}: neither a weights name ({', '.join(WEIGHTS)}), a checkpoint file, nor a folder of derained images"]
    code, _, errors = cli("evaluate", "-m", tiny_weights, f"tiny={tmp_path / 'data' / 'rainy'}", "-d", tmp_path / "data", "-o", tmp_path / "out")
    assert code == 2 and errors == ["error: two models are labelled 'tiny'; name them apart with LABEL=…"]


def test_unknown_layout_and_niqe_on_tiny_images(tmp_path, cli):
    (tmp_path / "empty").mkdir()
    _save(_rgb(24, 32), tmp_path / "small" / "x.png")
    code, _, errors = cli("evaluate", "-m", tmp_path / "small", "-d", tmp_path / "empty", tmp_path / "small", "-o", tmp_path / "out", "-q")
    assert code == 1
    assert errors[0].startswith(f"error: data set empty: {tmp_path / 'empty'}: folder has no images")
    assert errors[1] == f"error: small: {tmp_path / 'small' / 'x.png'}: NIQE: NIQE needs at least two 96×96 blocks, got an image of (24, 32)"


def test_checkpoint_that_is_not_one(tmp_path, cli):
    _paired(tmp_path / "data", count=1)
    (tmp_path / "junk.pth").write_bytes(b"junk")
    code, _, errors = cli("evaluate", "-m", tmp_path / "junk.pth", "-d", tmp_path / "data", "-o", tmp_path / "out", "-q")
    assert code == 1 and len(errors) == 1 and errors[0].startswith(f"error: model junk: {tmp_path / 'junk.pth'}: not a loadable checkpoint")


# -- efficiency -------------------------------------------------------------------------------

def test_parameters_and_flops_of_a_convolution():
    conv = nn.Conv2d(3, 5, 3, padding=1)
    assert count_parameters(conv) == 5 * 3 * 9 + 5
    assert count_flops(conv, 512, 512) == 2 * (5 * 3 * 9) * 512 * 512  # biases are not counted


def test_parameters_and_flops_of_a_one_stage_tiny_sapnet():
    c, hidden, size = 8, 2, 64  # channels, channels // reduction, input side
    model = tiny_model(stages=1, channels=c, reduction=4)
    convs = 6 * c * 9 + 2 * c * 4 * c * 9 + 10 * c * c * 9 + c * 3 * 9  # encoder, LSTM gates, 5 blocks × 2, decoder
    attention = 10 * (c * hidden + hidden * c + c * c)  # CRA: squeeze, excite, residual (bias-free 1×1)
    biases = c + 4 * c + 10 * c + 3
    assert count_parameters(model) == convs + attention + biases
    # every 3×3 convolution runs on all pixels; the attention's 1×1 convolutions on the pooled 1×1 map
    assert count_flops(model, size, size) == 2 * (convs * size * size + attention)
    assert count_flops(tiny_model(stages=3, channels=c, reduction=4), size, size) == 3 * count_flops(model, size, size)


def test_latency_and_measure():
    model = tiny_model(stages=1)
    times = latencies(model, 32, 48, repeats=3)
    assert len(times) == 3 and all(t > 0 for t in times)
    numbers = measure(model, height=32, width=48, repeats=2)
    assert numbers["flops"] == count_flops(model, 32, 48) and numbers["macs"] == numbers["flops"] // 2
    assert numbers["latency_min_s"] <= numbers["latency_median_s"] <= numbers["latency_max_s"]
    assert numbers["device"] == "cpu" and numbers["size"] == [32, 48]
    with pytest.raises(ValueError, match="repeats"):
        latencies(model, repeats=0)


def test_efficiency_command(tmp_path, tiny_weights, cli):
    code, stdout, errors = cli("efficiency", tiny_weights, "--size", "48x32", "--repeats", "2", "--json", tmp_path / "e.json")
    assert (code, errors) == (0, [])
    (result,) = json.loads((tmp_path / "e.json").read_text())
    model = load_checkpoint(tiny_weights)
    assert result["parameters"] == count_parameters(model) and result["flops"] == count_flops(model, 32, 48)
    assert f"| tiny | {count_parameters(model):,} |" in stdout
    code, _, errors = cli("efficiency", tmp_path, "--repeats", "1")
    assert code == 2 and errors == [f"error: {tmp_path}: a folder of images has no network to measure"]


# -- the shared Rain100L data -----------------------------------------------------------------

def test_folder_model_on_five_rain100l_images_equals_score_pair(tmp_path, cli):
    root = shared_file("data/rain100l")
    out = tmp_path / "out"
    code, _, errors = cli("evaluate", "-m", f"rainy={root / 'rainy'}", "-d", f"rain100l={root}", "-o", out, "--limit", "5", "-q")
    assert (code, errors) == (0, [])
    rows = _csv(out)
    assert [row["image"] for row in rows] == [f"00{i}.png" for i in range(1, 6)]
    for row in rows:
        expected = score_pair(read_rgb(root / "rainy" / row["image"]), read_rgb(root / "clean" / row["image"]))
        assert {key: float(row[key]) for key in expected} == expected
    settings = json.loads((out / "settings.json").read_text())
    assert settings["datasets"][0]["images"] == 100 and settings["datasets"][0]["evaluated"] == 5
