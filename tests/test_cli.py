"""``sapnet derain`` end to end on tiny generated images, every input kind and every bad input."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sapnet.cli import main


def _rgb(width=23, height=17, seed=0):
    return (np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8)


@pytest.fixture
def derain(tiny_weights, capsys):
    """Run the CLI in-process; returns (exit code, stderr lines)."""

    def run(*args):
        code = main(["derain", *map(str, args), "--weights", str(tiny_weights), "--quiet"])
        return code, [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]

    return run


def test_derains_a_folder_keeping_names_sizes_and_formats(tmp_path, derain):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rgb(23, 17)).save(src / "odd.png")
    Image.fromarray(_rgb(40, 30)).save(src / "photo.jpg")
    Image.fromarray(_rgb(8, 9)).save(src / "small.bmp")
    Image.fromarray(_rgb(16, 16)).save(src / "t.tiff")
    Image.fromarray(_rgb(16, 12)).save(src / "w.webp")
    code, errors = derain(src, "-o", tmp_path / "out")
    assert (code, errors) == (0, [])
    for name, size in {"odd.png": (23, 17), "photo.jpg": (40, 30), "small.bmp": (8, 9), "t.tiff": (16, 16), "w.webp": (16, 12)}.items():
        with Image.open(tmp_path / "out" / name) as out:
            assert out.size == size and out.mode == "RGB"


def test_format_option_glob_and_single_file(tmp_path, derain):
    for i in range(2):
        Image.fromarray(_rgb(seed=i)).save(tmp_path / f"img{i}.png")
    code, _ = derain(tmp_path / "img*.png", "-o", tmp_path / "out", "--format", "jpg")
    assert code == 0 and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.jpg", "img1.jpg"]


def test_special_modes_follow_the_documented_rules(tmp_path, derain):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rgb()[..., 0], mode="L").save(src / "gray.png")
    alpha = np.tile(np.arange(23, dtype=np.uint8) * 10, (17, 1))
    Image.fromarray(np.dstack([_rgb(), alpha]), mode="RGBA").save(src / "rgba.png")
    Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE).save(src / "palette.png")
    Image.fromarray((np.random.default_rng(3).random((17, 23)) * 65535).astype(np.uint16)).save(src / "deep.png")
    rotated = Image.fromarray(_rgb(30, 20))
    exif = rotated.getexif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    rotated.save(src / "exif.jpg", exif=exif)
    code, errors = derain(src, "-o", tmp_path / "out")
    assert (code, errors) == (0, [])
    out = tmp_path / "out"
    assert Image.open(out / "gray.png").mode == "L"
    rgba = Image.open(out / "rgba.png")
    assert rgba.mode == "RGBA" and np.array_equal(np.asarray(rgba)[..., 3], alpha)
    assert Image.open(out / "palette.png").mode == "RGB"
    deep = Image.open(out / "deep.png")
    assert deep.mode.startswith("I") and np.asarray(deep).max() > 255
    upright = Image.open(out / "exif.jpg")
    assert upright.size == (20, 30) and upright.getexif().get(0x0112) is None


def test_every_bad_input_gets_one_line_and_the_rest_still_runs(tmp_path, derain):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rgb()).save(src / "good.png")
    (src / "notes.png").write_text("this is not an image")
    (src / "empty.jpg").write_bytes(b"")
    full = tmp_path / "full.png"
    Image.fromarray(_rgb(200, 200)).save(full)
    (src / "truncated.png").write_bytes(full.read_bytes()[:400])
    Image.new("L", (3000, 2000)).save(src / "huge.png")
    code, errors = derain(src, tmp_path / "missing.png", "-o", tmp_path / "out", "--max-megapixels", "1")
    assert code == 1
    assert (tmp_path / "out" / "good.png").exists()
    assert len(errors) == 5
    text = "\n".join(errors)
    assert "notes.png: not an image" in text
    assert "empty.jpg: empty file" in text
    assert "truncated.png:" in text and "truncated" in text.split("truncated.png:")[1]
    assert "huge.png: 3000×2000 is 6 megapixels, over the 1 MP limit" in text
    assert "missing.png: no such file" in text


def test_unwritable_output_folder(tmp_path, derain):
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, errors = derain(tmp_path / "a.png", "-o", blocker / "out")
    assert code == 2 and len(errors) == 1 and "cannot create the output folder" in errors[0]


def test_never_overwrites_inputs_or_existing_outputs(tmp_path, derain):
    original = _rgb()
    Image.fromarray(original).save(tmp_path / "a.png")
    code, errors = derain(tmp_path / "a.png", "-o", tmp_path)
    assert code == 1 and "is an input file" in errors[0]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), original)

    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_text("keep me")
    code, errors = derain(tmp_path / "a.png", "-o", out)
    assert code == 1 and "exists" in errors[0] and (out / "a.png").read_text() == "keep me"
    code, errors = derain(tmp_path / "a.png", "-o", out, "--overwrite")
    assert code == 0 and Image.open(out / "a.png").size == (23, 17)


def test_same_name_from_two_folders_is_not_silently_lost(tmp_path, derain):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        Image.fromarray(_rgb()).save(tmp_path / folder / "a.png")
    code, errors = derain(tmp_path / "x", tmp_path / "y", "-o", tmp_path / "out")
    assert code == 1 and "already written by another input" in errors[0]


def test_missing_weights_is_a_clear_error(tmp_path, capsys):
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    code = main(["derain", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--weights", str(tmp_path / "none.pth")])
    assert code == 2 and "neither a weights name" in capsys.readouterr().err


def test_console_script_runs(tmp_path, tiny_weights):
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    result = subprocess.run(
        [sys.executable, "-m", "sapnet.cli", "derain", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--weights", str(tiny_weights)],
        capture_output=True, text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "a.png ->" in result.stdout and (tmp_path / "o" / "a.png").exists()
