"""``sapnet compare`` and the figure helpers: panel layout, automatic crops, contact sheets, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sapnet.cli import main
from sapnet.engine.evaluate.figures import best_window, check_crop, choose_crop, comparison_figure, contact_sheet, thumbnail


def _rgb(height=40, width=60, seed=0):
    return (np.random.default_rng(seed).random((height, width, 3)) * 255).astype(np.uint8)


def _save(array, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def cli(capsys):
    def run(*args):
        code = main([*map(str, args)])
        return code, [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]

    return run


def test_best_window_and_choose_crop_find_the_rain():
    clean = np.zeros((40, 60, 3), np.uint8)
    rainy = clean.copy()
    rainy[12:20, 30:38] = 200  # the "rain"
    assert choose_crop(rainy, clean, size=8) == (30, 12, 8)
    left, top, size = choose_crop(rainy, clean)  # default: a quarter of the shorter side
    assert size == 10 and left <= 30 and left + size >= 38 - 2 and top <= 12 and top + size >= 20 - 2
    assert best_window(np.ones((5, 7)), 9) == (0, 0)  # a window larger than the image is the image


def test_check_crop():
    check_crop((0, 0, 40), (40, 60, 3))
    with pytest.raises(ValueError, match="crop 10×10 at \\(55, 0\\) does not fit in the 60×40 image"):
        check_crop((55, 0, 10), (40, 60, 3))


def test_comparison_figure_layout():
    panels = [("rainy", _rgb(seed=1)), ("model", _rgb(seed=2)), ("clean", _rgb(seed=3))]
    figure = comparison_figure(panels, (10, 5, 20), width=120, captions=["a", "b", "reference"])
    # three 120-pixel panels with 8-pixel margins; each: the image (120×80), a margin, the 120×120 crop
    assert figure.size[0] == 3 * 128 + 8
    assert figure.size[1] > 80 + 8 + 120
    pixels = np.asarray(figure)
    crop_top = 8 + 80 + 8
    zoom = pixels[crop_top + 6 : crop_top + 114, 8 + 6 : 8 + 114]  # inside the red frame of the first panel
    expected = np.asarray(Image.fromarray(panels[0][1][5:25, 10:30]).resize((120, 120), Image.Resampling.NEAREST))
    assert np.array_equal(zoom, expected[6:114, 6:114])


def test_contact_sheet_grid():
    rows = [(f"{i}.png", [thumbnail(_rgb(seed=i), 32), thumbnail(_rgb(seed=i + 5), 32)]) for i in range(3)]
    assert rows[0][1][0].size == (32, 21)  # aspect kept
    sheet = contact_sheet(["rainy", "model"], rows, size=32)
    assert sheet.size[0] > 2 * 40 and sheet.size[1] == 14 + 16 + 3 * 40


def test_compare_command_writes_figures_and_sheet(tmp_path, tiny_weights, cli):
    for i in range(3):
        _save(_rgb(seed=i), tmp_path / "data" / "rainy" / f"{i}.png")
        _save(_rgb(seed=10 + i), tmp_path / "data" / "clean" / f"{i}.png")
        _save(_rgb(seed=20 + i), tmp_path / "theirs" / f"{i}.jpg")
    out = tmp_path / "out"
    code, errors = cli("compare", "-d", f"syn={tmp_path / 'data'}", "-m", tiny_weights, tmp_path / "theirs", "-o", out, "--width", "64", "-q")
    assert (code, errors) == (0, [])
    figures = out / "figures" / "syn"
    assert sorted(p.name for p in figures.iterdir()) == ["0.png", "1.png", "2.png", "contact_sheet.png"]
    with Image.open(figures / "0.png") as figure:
        assert figure.width == 4 * (64 + 8) + 8  # rainy | tiny | theirs | clean
    assert sorted(p.name for p in (out / "derained" / "tiny" / "syn").glob("*.png")) == ["0.png", "1.png", "2.png"]
    # --images: only those figures, no sheet unless asked; cached outputs are reused
    code, errors = cli("compare", "-d", f"syn={tmp_path / 'data'}", "-m", tiny_weights, "-o", tmp_path / "out2", "--images", "1", "2.png", "-q")
    assert (code, errors) == (0, [])
    assert sorted(p.name for p in (tmp_path / "out2" / "figures" / "syn").iterdir()) == ["1.png", "2.png"]


def test_compare_without_ground_truth(tmp_path, tiny_weights, cli):
    _save(_rgb(seed=1), tmp_path / "real" / "a.jpg")
    code, errors = cli("compare", "-d", tmp_path / "real", "-m", tiny_weights, "-o", tmp_path / "out", "--crop", "0,0,16", "-q")
    assert (code, errors) == (0, [])
    with Image.open(tmp_path / "out" / "figures" / "real" / "a.png") as figure:
        assert figure.width == 2 * (320 + 8) + 8  # rainy | tiny


def test_compare_errors(tmp_path, tiny_weights, cli):
    _save(_rgb(seed=1), tmp_path / "real" / "a.png")
    _save(_rgb(seed=2), tmp_path / "real" / "b.png")
    code, errors = cli("compare", "-d", tmp_path / "real", "-m", tiny_weights, "-o", tmp_path / "out", "--images", "a", "zzz", "--crop", "50,0,20", "-q")
    assert code == 1
    assert errors == [
        "error: zzz: no such image in the data set",
        f"error: {tmp_path / 'real' / 'a.png'}: crop 20×20 at (50, 0) does not fit in the 60×40 image",
    ]
    _save(_rgb(40, 50), tmp_path / "theirs" / "b.png")
    code, errors = cli("compare", "-d", tmp_path / "real", "-m", tmp_path / "theirs", "-o", tmp_path / "out", "--images", "b", "-q")
    assert code == 1
    assert errors == [f"error: theirs: the output for {tmp_path / 'real' / 'b.png'} is 50×40, the rainy image 60×40"]
    code, errors = cli("compare", "-d", tmp_path / "missing", "-m", tiny_weights, "-o", tmp_path / "out", "-q")
    assert code == 2 and errors == [f"error: {tmp_path / 'missing'}: no such folder"]
