"""Full-reference metrics: conventions checked against scikit-image, and the Rain100L reference figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sapnet.metrics import psnr_rgb, psnr_y, quantize_8bit, rgb_to_y, score_pair, ssim_rgb, ssim_y
from tests.conftest import shared_file


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    """A smooth 'clean' image and a noisy 'output', both 8-bit valued floats in [0, 1]."""
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:64, 0:80] / 64.0
    clean = np.stack([np.sin(3 * rows) * 0.4 + 0.5, cols * 0.8, (rows + cols) / 3], axis=-1)
    output = clean + rng.normal(0.0, 0.05, clean.shape)
    return quantize_8bit(output), quantize_8bit(clean)


def y_by_formula(image: np.ndarray) -> np.ndarray:
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    return (16 + 65.481 * red + 128.553 * green + 24.966 * blue) / 255


def test_rgb_to_y_spans_matlab_studio_range():
    black, white, red = np.zeros((1, 1, 3)), np.ones((1, 1, 3)), np.array([[[1.0, 0.0, 0.0]]])
    assert rgb_to_y(black)[0, 0] == pytest.approx(16 / 255)
    assert rgb_to_y(white)[0, 0] == pytest.approx(235 / 255)
    assert rgb_to_y(red)[0, 0] == pytest.approx((16 + 65.481) / 255)


def test_quantize_rounds_to_nearest_level_and_clips():
    levels = np.array([[[10.4, 10.6, 254.7]]]) / 255
    assert np.array_equal(quantize_8bit(levels) * 255, [[[10, 11, 255]]])  # truncation would give 10, 10, 254
    assert np.array_equal(quantize_8bit(np.array([[[-0.2, 1.3, 0.5]]])), [[[0.0, 1.0, 128 / 255]]])


def test_tensor_and_uint8_inputs_follow_the_array_convention(pair):
    output, clean = pair
    as_tensor = torch.from_numpy(output).permute(2, 0, 1).float()
    as_uint8 = np.round(output * 255).astype(np.uint8)
    expected = score_pair(output, clean)
    for variant in (as_tensor, as_tensor[None], as_tensor.half(), as_uint8):
        assert score_pair(variant, clean) == pytest.approx(expected, abs=1e-9)


def test_scores_do_not_depend_on_the_memory_layout(pair):
    """A decoded image may be a transposed view (channels-first storage); its scores must be the
    very same bits as for a C-ordered copy (a strided matrix product rounded differently)."""
    output, clean = pair
    as_uint8 = np.round(output * 255).astype(np.uint8)
    planar = np.ascontiguousarray(as_uint8.transpose(2, 0, 1)).transpose(1, 2, 0)  # strides (W, 1, H·W)
    assert not planar.flags.c_contiguous and np.array_equal(planar, as_uint8)
    assert score_pair(planar, clean) == score_pair(as_uint8, clean)
    assert np.array_equal(rgb_to_y(planar.astype(np.float64) / 255), rgb_to_y(as_uint8.astype(np.float64) / 255))


def test_inputs_of_the_wrong_layout_are_refused(pair):
    output, clean = pair
    with pytest.raises(ValueError, match="H×W×3"):
        psnr_y(output[..., 0], clean[..., 0])
    with pytest.raises(ValueError, match="3×H×W"):
        psnr_y(torch.from_numpy(output), clean)  # an H×W×3 tensor: tensors are channels-first
    with pytest.raises(TypeError, match="dtype"):
        psnr_y(np.zeros((16, 16, 3), dtype=np.int64), clean)


def test_psnr_y_matches_skimage_on_the_y_arrays(pair):
    output, clean = pair
    y_output, y_clean = y_by_formula(output), y_by_formula(clean)
    expected = peak_signal_noise_ratio(y_clean, y_output, data_range=1)
    assert psnr_y(output, clean) == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(10 * np.log10(1 / np.mean((y_output - y_clean) ** 2)), abs=1e-9)


def test_ssim_y_matches_skimage_gaussian_valid_convention(pair):
    output, clean = pair
    expected = structural_similarity(
        y_by_formula(clean) * 255,
        y_by_formula(output) * 255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    assert ssim_y(output, clean) == pytest.approx(expected, abs=1e-7)
    assert 0.3 < expected < 0.99  # a meaningful pair, not a degenerate one


def test_rgb_metrics_are_skimage_defaults(pair):
    output, clean = pair
    assert psnr_rgb(output, clean) == pytest.approx(peak_signal_noise_ratio(clean, output, data_range=1), abs=1e-12)
    skimage_ssim = structural_similarity(clean, output, channel_axis=-1, data_range=1)
    assert ssim_rgb(output, clean) == pytest.approx(skimage_ssim, abs=1e-12)
    # skimage's default (7×7 uniform, sample covariance) differs from the Gaussian convention.
    gaussian = structural_similarity(clean, output, channel_axis=-1, data_range=1, gaussian_weights=True, sigma=1.5)
    assert abs(skimage_ssim - gaussian) > 1e-3


def test_identical_images_score_perfectly(pair):
    _, clean = pair
    with np.errstate(divide="ignore"):
        scores = score_pair(clean, clean)
    assert scores["psnr_y"] == scores["psnr_rgb"] == np.inf
    assert scores["ssim_y"] == pytest.approx(1.0) and scores["ssim_rgb"] == pytest.approx(1.0)


def test_score_pair_scores_the_8bit_png_the_output_would_be_saved_as(pair, tmp_path):
    output, clean = pair
    float_output = output + np.random.default_rng(1).uniform(-0.49, 0.49, output.shape) / 255
    float_output[0, 0] = [1.2, -0.3, 0.5]  # out of range: saving clips it
    png = tmp_path / "output.png"
    Image.fromarray(np.round(np.clip(float_output, 0, 1) * 255).astype(np.uint8)).save(png)
    saved = np.asarray(Image.open(png)) / 255
    assert score_pair(float_output, clean) == score_pair(saved, clean, quantize=False)
    unquantized = score_pair(float_output, clean, quantize=False)
    assert unquantized["psnr_y"] != pytest.approx(score_pair(saved, clean)["psnr_y"])


def load_rain100l_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rainy_dir, clean_dir = shared_file("data/rain100l/rainy"), shared_file("data/rain100l/clean")
    rainy_files = sorted(rainy_dir.glob("*.png"))
    assert len(rainy_files) == 100, f"Rain100L has 100 rainy images, {rainy_dir} holds {len(rainy_files)}"
    return [
        (np.asarray(Image.open(path).convert("RGB")), np.asarray(Image.open(clean_dir / path.name).convert("RGB")))
        for path in rainy_files
    ]


def test_rain100l_rainy_input_reference_figures():
    """The published 'rainy vs clean' figures of Rain100L (shared/README): averages of per-image values."""
    pairs = load_rain100l_pairs()
    averages = {
        name: np.mean([metric(rainy, clean) for rainy, clean in pairs])
        for name, metric in (("psnr_y", psnr_y), ("ssim_y", ssim_y), ("psnr_rgb", psnr_rgb))
    }
    assert averages["psnr_y"] == pytest.approx(26.901, abs=1e-3)
    assert averages["ssim_y"] == pytest.approx(0.8384, abs=1e-3)
    assert averages["psnr_rgb"] == pytest.approx(25.521, abs=1e-3)
