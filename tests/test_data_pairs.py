"""find_pairs: every supported layout, and a clear DataError for each way a folder can be wrong."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sapnet.data import DataError, find_pairs, read_rgb


def write_image(path: Path, size=(12, 10), value=128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)
    return path


@pytest.mark.parametrize("rainy_name, clean_name", [("rainy", "clean"), ("input", "target"), ("Input", "Target")])
def test_subfolder_layouts_pair_by_stem(tmp_path, rainy_name, clean_name):
    for stem in ("2", "10", "1"):
        write_image(tmp_path / rainy_name / f"{stem}.png")
        write_image(tmp_path / clean_name / f"{stem}.png")
    pairs = find_pairs(tmp_path)
    assert [(r.name, c.name) for r, c in pairs] == [("1.png", "1.png"), ("2.png", "2.png"), ("10.png", "10.png")]
    assert all(r.parent.name == rainy_name and c.parent.name == clean_name for r, c in pairs)


def test_extensions_may_differ_when_stems_match(tmp_path):
    write_image(tmp_path / "rainy" / "photo.jpg")
    write_image(tmp_path / "clean" / "photo.PNG")
    (tmp_path / "clean" / "notes.txt").write_text("not an image")
    (tmp_path / "clean" / ".hidden.png").write_bytes(b"")
    assert [(r.name, c.name) for r, c in find_pairs(tmp_path)] == [("photo.jpg", "photo.PNG")]


@pytest.mark.parametrize("numbers", [("1", "2", "11"), ("001", "002", "011")])
def test_prenet_and_rain100_file_names(tmp_path, numbers):
    for n in numbers:
        write_image(tmp_path / f"rain-{n}.png")
        write_image(tmp_path / f"norain-{n}.png")
    pairs = find_pairs(str(tmp_path))
    assert [(r.name, c.name) for r, c in pairs] == [(f"rain-{n}.png", f"norain-{n}.png") for n in numbers]


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        find_pairs(tmp_path / "nowhere")


def test_unknown_layout_names_what_was_found(tmp_path):
    write_image(tmp_path / "rainy" / "1.png")  # rainy/ without clean/
    write_image(tmp_path / "photo.png")
    with pytest.raises(DataError, match=r"unknown data layout.*rainy/ \+ clean/.*found rainy/ and 1 image") as info:
        find_pairs(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_empty_subfolder(tmp_path):
    write_image(tmp_path / "rainy" / "1.png")
    (tmp_path / "clean").mkdir()
    with pytest.raises(DataError, match=r"clean: folder has no images"):
        find_pairs(tmp_path)


def test_unpaired_files_are_listed(tmp_path):
    for n in range(8):
        write_image(tmp_path / "rainy" / f"{n}.png")
    write_image(tmp_path / "clean" / "0.png")
    write_image(tmp_path / "clean" / "extra.png")
    with pytest.raises(DataError, match="unpaired") as info:
        find_pairs(tmp_path)
    message = str(info.value)
    assert "7 rainy image(s) without a clean partner (1.png, 2.png, 3.png, 4.png, 5.png, … 2 more)" in message
    assert "1 clean image(s) without a rainy partner (extra.png)" in message


def test_unpaired_prenet_files(tmp_path):
    write_image(tmp_path / "rain-1.png")
    write_image(tmp_path / "norain-1.png")
    write_image(tmp_path / "rain-2.png")
    with pytest.raises(DataError, match=r"rainy image\(s\) without a clean partner \(rain-2.png\)"):
        find_pairs(tmp_path)


def test_two_files_with_one_stem(tmp_path):
    write_image(tmp_path / "rainy" / "1.png")
    write_image(tmp_path / "rainy" / "1.jpg")
    write_image(tmp_path / "clean" / "1.png")
    with pytest.raises(DataError, match=r"1\.(jpg|png) and .*1\.(jpg|png) both pair as '1'"):
        find_pairs(tmp_path)


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


def test_read_rgb_converts_to_rgb(tmp_path):
    Image.fromarray(np.full((4, 5), 200, np.uint8), mode="L").save(tmp_path / "gray.png")
    image = read_rgb(tmp_path / "gray.png")
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8 and (image == 200).all()


def test_read_rgb_scales_16_bit_grayscale_instead_of_clipping_it(tmp_path):
    # Pillow's convert("RGB") clips I;16 values above 255 to white; read_rgb must scale 0..65535.
    gray = np.linspace(20000, 40000, 4 * 6).reshape(4, 6).astype(np.uint16)
    Image.fromarray(gray).save(tmp_path / "gray16.png")
    assert Image.open(tmp_path / "gray16.png").mode.startswith("I;16")
    image = read_rgb(tmp_path / "gray16.png")
    assert image.shape == (4, 6, 3) and image.dtype == np.uint8
    assert np.array_equal(image[..., 0], image[..., 2])
    assert np.abs(image[..., 0] / 255.0 - gray / 65535.0).max() <= 0.5 / 255 + 1e-6  # 0.31 .. 0.61, not 1.0
    from sapnet.images import read_image  # the same pixels as sapnet derain sees, to 8 bits

    assert np.abs(image / 255.0 - read_image(tmp_path / "gray16.png").rgb.permute(1, 2, 0).numpy()).max() <= 0.5 / 255 + 1e-6


def test_read_rgb_refuses_float_pixels_outside_0_1(tmp_path):
    Image.fromarray(np.full((4, 4), 200.0, np.float32), mode="F").save(tmp_path / "float.tif")
    with pytest.raises(DataError, match=r"float\.tif: cannot read image: float pixel values outside \[0, 1\]"):
        read_rgb(tmp_path / "float.tif")


@pytest.mark.parametrize("content", [b"", b"not an image at all"])
def test_unreadable_image_is_named(tmp_path, content):
    broken = tmp_path / "broken.png"
    broken.write_bytes(content)
    with pytest.raises(DataError, match=r"broken\.png: cannot read image"):
        read_rgb(broken)


def test_truncated_image_is_named(tmp_path):
    path = write_image(tmp_path / "cut.jpg", size=(64, 64))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=r"cut\.jpg: cannot read image"):
        read_rgb(path)


def test_has_paired_layout_recognises_each_layout(tmp_path):
    from sapnet.data import has_paired_layout

    (tmp_path / "a" / "Rainy").mkdir(parents=True)
    (tmp_path / "a" / "clean").mkdir()
    (tmp_path / "b").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "b" / "norain-1.png")
    (tmp_path / "c").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "c" / "photo.png")
    assert has_paired_layout(tmp_path / "a") and has_paired_layout(tmp_path / "b")
    assert not has_paired_layout(tmp_path / "c") and not has_paired_layout(tmp_path / "missing")
