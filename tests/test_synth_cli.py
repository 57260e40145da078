"""The ``sapnet synth`` command function, end to end on tiny photos."""

import argparse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sapnet.data import PairedDataset, find_pairs
from sapnet.commands.synth import add_arguments, run


def synth(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sapnet synth")
    add_arguments(parser)
    return run(parser.parse_args([str(arg) for arg in argv]))


def make_photos(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "b.png"):
        Image.fromarray(rng.integers(0, 200, (24, 32, 3), dtype=np.uint8)).save(folder / name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


def test_end_to_end_with_a_broken_photo(tmp_path, capsys):
    photos = make_photos(tmp_path / "photos")
    before = {path.name: path.read_bytes() for path in photos.iterdir()}

    assert synth(photos, tmp_path / "out", "--preset", "heavy", "--seed", "3") == 1

    errors = capsys.readouterr().err
    assert "broken.jpg: cannot read image" in errors and "1 of 3 photos failed" in errors
    pairs = find_pairs(tmp_path / "out")
    assert [(r.relative_to(tmp_path), c.relative_to(tmp_path)) for r, c in pairs] == [
        (Path("out/rainy/a.png"), Path("out/clean/a.png")),
        (Path("out/rainy/b.png"), Path("out/clean/b.png")),
    ]
    clean_b = np.asarray(Image.open(tmp_path / "out" / "clean" / "b.png"))
    assert np.array_equal(clean_b, np.asarray(Image.open(photos / "b.png")))  # lossless copy
    rainy_b = np.asarray(Image.open(tmp_path / "out" / "rainy" / "b.png"))
    assert rainy_b.shape == clean_b.shape and rainy_b.mean() > clean_b.mean() + 5  # rain adds light
    assert {path.name: path.read_bytes() for path in photos.iterdir()} == before
    assert len(PairedDataset(tmp_path / "out", crop=16)) == 2


def test_seeded_and_limit_repeats_a_full_run(tmp_path):
    photos = make_photos(tmp_path / "photos")
    (photos / "broken.jpg").unlink()
    assert synth(photos, tmp_path / "full", "--seed", "1") == 0
    assert synth(photos, tmp_path / "first", "--seed", "1", "--limit", "1") == 0
    assert synth(photos, tmp_path / "other", "--seed", "2") == 0
    full, first, other = (tmp_path / name / "rainy" / "a.png" for name in ("full", "first", "other"))
    assert full.read_bytes() == first.read_bytes() != other.read_bytes()
    assert [path.name for path in (tmp_path / "first" / "rainy").iterdir()] == ["a.png"]


def test_photos_sharing_a_name_are_not_overwritten(tmp_path, capsys):
    photos = make_photos(tmp_path / "photos")
    (photos / "broken.jpg").unlink()
    (photos / "a.png").write_bytes((photos / "b.png").read_bytes())
    assert synth(photos, tmp_path / "out", "--preset", "light") == 1
    assert "a.png: skipped, same name as a.jpg" in capsys.readouterr().err
    clean_a = np.asarray(Image.open(tmp_path / "out" / "clean" / "a.png"))
    assert np.array_equal(clean_a, np.asarray(Image.open(photos / "a.jpg")))


def test_refuses_to_write_into_its_input(tmp_path, capsys):
    photos = make_photos(tmp_path / "clean")
    assert synth(photos, tmp_path) == 2
    assert "could overwrite the input photos" in capsys.readouterr().err
    assert not (tmp_path / "rainy").exists()


def test_missing_or_empty_input_folder(tmp_path, capsys):
    assert synth(tmp_path / "nowhere", tmp_path / "out") == 2
    (tmp_path / "empty").mkdir()
    assert synth(tmp_path / "empty", tmp_path / "out") == 2
    errors = capsys.readouterr().err
    assert "nowhere: no such folder" in errors and "empty: folder has no images" in errors


@pytest.mark.parametrize("argv", [["--preset", "hail"], ["--limit", "0"], ["--seed", "-1"]])
def test_bad_options(tmp_path, argv):
    with pytest.raises(SystemExit):
        synth(tmp_path, tmp_path / "out", *argv)


def test_no_fog_leaves_the_depth_dependent_fog_out(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.zeros((60, 60, 3), dtype=np.uint8)).save(photos / "black.png")
    assert synth(photos, tmp_path / "fog", "--preset", "storm", "--seed", "4") == 0
    assert synth(photos, tmp_path / "plain", "--preset", "storm", "--seed", "4", "--no-fog") == 0
    fogged, plain = (np.asarray(Image.open(tmp_path / name / "rainy" / "black.png")).astype(float) for name in ("fog", "plain"))
    # the fog lifts black towards its grey airlight, more far away (the pseudo-depth's top) than near
    assert np.median(fogged[:15]) > np.median(fogged[-15:]) + 20
    assert np.median(fogged[:15]) > np.median(plain[:15]) + 20 and plain.max() > 60  # streaks, and no fog


def test_existing_pairs_are_kept_without_overwrite(tmp_path, capsys):
    photos = make_photos(tmp_path / "photos")
    (photos / "broken.jpg").unlink()
    out = tmp_path / "out"
    assert synth(photos, out, "--seed", "1") == 0
    (out / "rainy" / "a.png").write_bytes(b"mine")  # an output that must not be lost
    before = {path: path.read_bytes() for path in out.rglob("*.png")}
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(photos / "c.png")  # a new photo: the rest goes on
    capsys.readouterr()

    assert synth(photos, out, "--seed", "1") == 1
    errors = capsys.readouterr().err.splitlines()
    assert [line for line in errors if line.startswith("error")] == [
        f"error: {out / 'rainy' / 'a.png'}: exists (pass --overwrite to replace it)",
        f"error: {out / 'rainy' / 'b.png'}: exists (pass --overwrite to replace it)",
    ]
    assert {path: path.read_bytes() for path in before} == before  # untouched
    assert (out / "rainy" / "c.png").exists() and (out / "clean" / "c.png").exists()

    assert synth(photos, out, "--seed", "1", "--overwrite") == 0
    assert Image.open(out / "rainy" / "a.png").size == (32, 24)  # replaced by a real pair
    assert not list(out.rglob(".*"))  # no temporary files left behind


def test_a_16_bit_grayscale_photo_is_not_clipped_to_white(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    gray = np.linspace(20000, 40000, 24 * 32).reshape(24, 32).astype(np.uint16)
    Image.fromarray(gray).save(photos / "gray16.png")
    assert synth(photos, tmp_path / "out", "--preset", "drizzle") == 0
    clean = np.asarray(Image.open(tmp_path / "out" / "clean" / "gray16.png")).astype(float) / 255
    assert clean.shape == (24, 32, 3) and np.abs(clean[..., 1] - gray / 65535).max() < 0.003  # 0.3..0.6, not 1.0
