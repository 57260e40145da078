"""benchmarks/rain_coverage.py measures what it says on rain layers it can predict."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from sapnet.data.rain import StreakLayer, render_streaks

from .conftest import SHARED, benchmark_script

coverage = benchmark_script("rain_coverage")

SIZE = 64


def textured_clean(seed: int) -> np.ndarray:
    """A smooth random scene in [0.2, 0.6] (room left for added light)."""
    rng = np.random.default_rng(seed)
    texture = ndimage.gaussian_filter(rng.uniform(0, 1, (SIZE, SIZE, 3)), (6, 6, 0))
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    return 0.2 + 0.4 * texture


def streaky_pair(angle: float, density: float = 0.004, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    clean = textured_clean(seed)
    layer = StreakLayer(density=density, length=24, width=1.5, angle=angle, brightness=0.5)
    sheet = render_streaks((SIZE, SIZE), layer, np.random.default_rng(seed))
    return np.clip(clean + sheet[..., None], 0, 1), clean


@pytest.mark.parametrize("angle", [0.0, 25.0, -30.0])
def test_streak_angle_is_measured_from_vertical_with_rain_py_sign(angle):
    angles = [coverage.measure_pair(*streaky_pair(angle, seed=seed))[0]["angle"] for seed in (0, 1)]
    assert np.all(np.abs(np.array(angles) - angle) < 2.5), angles


def test_parallel_streaks_have_a_small_spread():
    stats = coverage.measure_pair(*streaky_pair(10.0))[0]
    assert stats["angle_spread"] < 10


def test_a_denser_sheet_measures_a_higher_density():
    sparse = [coverage.measure_pair(*streaky_pair(0, density=0.001, seed=seed))[0] for seed in (0, 1)]
    dense = [coverage.measure_pair(*streaky_pair(0, density=0.006, seed=seed))[0] for seed in (0, 1)]
    for key in ("density", "streaks_per_mp"):
        assert np.mean([s[key] for s in dense]) > 1.5 * np.mean([s[key] for s in sparse]), key


def test_fog_goes_to_the_low_frequency_part_with_its_sign():
    rows = np.linspace(0, 1, SIZE)[:, None, None] * np.ones((1, SIZE, 3))
    clean = 0.3 + 0.2 * rows
    transmission = 0.5 + 0.3 * rows  # smooth, like depth-dependent fog
    lifted = coverage.measure_pair(clean * transmission + 0.9 * (1 - transmission), clean)[0]
    assert lifted["low_mean"] > 0.1 and lifted["low_share"] > 0.98
    assert lifted["density"] < 0.005 and lifted["streaks_per_mp"] == 0 and np.isnan(lifted["angle"])
    darkened = coverage.measure_pair(clean * transmission + 0.05 * (1 - transmission), clean)[0]
    assert darkened["low_mean"] < -0.05 and darkened["low_share"] > 0.98


def test_streak_length_and_width_of_drawn_bars():
    clean = np.full((SIZE, SIZE, 3), 0.3)
    rainy = clean.copy()
    rainy[10:40, 10:12] += 0.4  # a 2 × 30 px vertical bar
    rainy[20:50, 40:42] += 0.4
    length, width, count = coverage.streak_shapes(coverage.split_rain_layer(coverage.luma_rain_layer(rainy, clean))[1])
    assert count == 2
    assert 26 <= length <= 32 and 1.5 <= width <= 3.0


def test_presets_rain_deterministically_and_the_summary_table_has_a_row_each(tmp_path):
    paths = []
    for index in range(2):
        path = tmp_path / f"clean_{index}.png"
        Image.fromarray(np.round(textured_clean(index) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    first = coverage.measure("preset light", coverage.preset_pairs("light", paths, seed=3))
    again = coverage.measure("preset light", coverage.preset_pairs("light", paths, seed=3))
    assert first.per_image == again.per_image and len(first.per_image) == 2
    assert all(stats["density"] > 0 for stats in first.per_image)
    real = coverage.measure("pairs", [streaky_pair(0, seed=seed) for seed in (0, 1)])
    summaries = {result.name: coverage.summarise(result) for result in (real, first)}
    table = coverage.markdown_table(summaries, {"pairs": 2, "preset light": 2})
    rows = table.strip().splitlines()
    assert len(rows) == 4 and rows[2].startswith("| pairs | 2 |") and rows[3].startswith("| preset light | 2 |")
    figure = coverage.coverage_figure([real, first], summaries)
    assert figure.height > 2 * coverage.TILE[1]


def test_main_writes_the_table_json_and_figure(tmp_path, capsys):
    data = SHARED / "data"
    for folder in ("rain100l", "raincityscapes100", "clean_bsds"):
        if not (data / folder).is_dir():
            pytest.skip(f"{data / folder} not found (set SAPNET_SHARED to the shared data folder)")
    figure = tmp_path / "coverage.png"
    toy = tmp_path / "toy"
    for sub, image in zip(("rainy", "clean"), streaky_pair(0.0)):
        (toy / sub).mkdir(parents=True)
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(toy / sub / "001.png")
    code = coverage.main(
        ["--images", "2", "--real-images", "2", "--presets", "light", "--data", str(data), "--pairs", f"toy={toy}",
         "--out", str(tmp_path), "--figure", str(figure)]
    )
    assert code == 0
    table = (tmp_path / "coverage.md").read_text()
    assert table in capsys.readouterr().out
    rows = [line.split("|")[1].strip() for line in table.strip().splitlines()[2:]]
    assert rows == ["Rain100L", "RainCityscapes100", "toy", "preset light"]
    report = json.loads((tmp_path / "coverage.json").read_text())
    assert len(report["per_image"]["preset light"]) == 2
    assert report["summaries"]["Rain100L"]["psnr_y"]["mean"] > report["summaries"]["RainCityscapes100"]["psnr_y"]["mean"]
    with Image.open(figure) as image:
        assert image.width > 1000 and image.height > 3 * coverage.TILE[1]


def test_main_refuses_an_unknown_preset(tmp_path, capsys):
    assert coverage.main(["--presets", "hail", "--out", str(tmp_path)]) == 2
    assert "unknown preset" in capsys.readouterr().err


def test_paired_folders_count_untrusted_pixels_as_unchanged(tmp_path):
    rainy, clean = streaky_pair(0.0, density=0.01)
    for sub, image in (("rainy", rainy), ("clean", clean)):
        (tmp_path / sub).mkdir()
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(tmp_path / sub / "001.png")
    [(whole_rainy, _)] = coverage.real_pairs(tmp_path, limit=5)
    (tmp_path / "trusted").mkdir()
    trusted = np.zeros((SIZE, SIZE), dtype=np.uint8)
    trusted[:, : SIZE // 2] = 255
    Image.fromarray(trusted).save(tmp_path / "trusted" / "001.png")
    [(masked_rainy, masked_clean)] = coverage.real_pairs(tmp_path, limit=5)
    np.testing.assert_array_equal(masked_rainy[:, SIZE // 2 :], masked_clean[:, SIZE // 2 :])
    np.testing.assert_array_equal(masked_rainy[:, : SIZE // 2], whole_rainy[:, : SIZE // 2])
    assert not np.array_equal(whole_rainy[:, SIZE // 2 :], masked_clean[:, SIZE // 2 :])  # there was rain to hide
    assert coverage.named_folder(f"ra1={tmp_path}") == ("ra1", tmp_path)
    assert coverage.named_folder(str(tmp_path)) == (tmp_path.name, tmp_path)


def test_main_refuses_pairs_without_rainy_and_clean(tmp_path, capsys):
    data = SHARED / "data"
    for folder in ("rain100l", "raincityscapes100", "clean_bsds"):
        if not (data / folder).is_dir():
            pytest.skip(f"{data / folder} not found (set SAPNET_SHARED to the shared data folder)")
    assert coverage.main(["--data", str(data), "--pairs", f"x={tmp_path}", "--out", str(tmp_path)]) == 2
    assert "needs a folder with rainy/ and clean/" in capsys.readouterr().err
