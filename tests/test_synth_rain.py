"""Rain synthesis: determinism, physical sanity (rain adds light), and preset strength."""

import time

import numpy as np
import pytest

from sapnet.data import PRESETS, RainParams, StreakLayer, sample_rain_params, synthesize_rain
from sapnet.data.rain import streak_kernel


def scene(height: int = 64, width: int = 80) -> np.ndarray:
    """A smooth, photo-like test image with dark and bright parts."""
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    return np.stack([0.2 + 0.6 * x, 0.5 * np.ones_like(x), 0.1 + 0.8 * y * x], axis=-1).astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.mark.parametrize("preset", PRESETS)
def test_same_seed_same_rain_other_seed_other_rain(preset):
    clean = scene()
    first = synthesize_rain(clean, preset, np.random.default_rng(5))
    assert np.array_equal(first, synthesize_rain(clean, preset, np.random.default_rng(5)))
    assert not np.array_equal(first, synthesize_rain(clean, preset, np.random.default_rng(6)))


@pytest.mark.parametrize("preset", PRESETS)
def test_rain_only_adds_light_and_stays_in_range(preset):
    clean = scene()
    clean[:8] = 1.0  # saturated sky must stay at 1, not overflow
    for seed in range(3):
        rainy = synthesize_rain(clean, preset, np.random.default_rng(seed))
        assert rainy.dtype == np.float32 and rainy.shape == clean.shape
        assert rainy.min() >= 0 and rainy.max() <= 1
        assert (rainy >= clean - 1e-6).all()
        assert (rainy > clean + 0.05).any()


def test_heavy_rain_is_stronger_than_light():
    clean = scene(96, 128)
    light = [psnr(synthesize_rain(clean, "light", np.random.default_rng(s)), clean) for s in range(5)]
    heavy = [psnr(synthesize_rain(clean, "heavy", np.random.default_rng(s)), clean) for s in range(5)]
    assert max(heavy) < min(light)
    assert 20 < np.mean(light) < 32 and 9 < np.mean(heavy) < 18  # near Rain100L (~25.5) / Rain100H (~14)


def test_light_rain_is_grey_like_rain100l():
    clean = scene()
    added = synthesize_rain(clean, "light", np.random.default_rng(0)) - clean
    unclipped = (clean + added.max(axis=-1, keepdims=True) < 1).all(axis=-1)
    assert np.allclose(added[unclipped], added[unclipped][:, :1], atol=1e-6)  # equal in R, G and B


def test_explicit_parameters():
    layer = StreakLayer(density=0.01, length=9, width=1.0, angle=0, brightness=0.5)
    clean = np.zeros((40, 40, 3), np.float32)
    no_veil = synthesize_rain(clean, RainParams(layers=(layer,)), np.random.default_rng(0))
    veiled = synthesize_rain(clean, RainParams(layers=(layer,), veil=0.2), np.random.default_rng(0))
    assert no_veil.min() == 0 and no_veil.max() > 0.3
    assert np.isclose(veiled.min(), 0.2)  # a uniform veil lifts black to the veil's strength
    assert np.array_equal(synthesize_rain(clean, RainParams(layers=()), np.random.default_rng(0)), clean)


def test_vertical_streak_kernel_is_a_vertical_line():
    kernel = streak_kernel(length=9, width=1.0, angle=0)
    centre = kernel.shape[1] // 2
    assert kernel.max() == 1 and kernel[:, centre - 1 : centre + 2].sum() > 0.95 * kernel.sum()
    assert np.count_nonzero(kernel[:, centre] > 0.5) >= 7


def test_tilted_kernel_leans_as_documented():
    kernel = streak_kernel(length=15, width=1.0, angle=30)
    top_rows, bottom_rows = kernel[:4], kernel[-4:]
    columns = np.arange(kernel.shape[1])
    # positive angle: the lower end is to the right of the upper end
    assert (bottom_rows.sum(0) @ columns) / bottom_rows.sum() > (top_rows.sum(0) @ columns) / top_rows.sum()


def test_tiny_images_smaller_than_a_streak():
    rainy = synthesize_rain(np.full((3, 2, 3), 0.5, np.float32), "heavy", np.random.default_rng(0))
    assert rainy.shape == (3, 2, 3) and (rainy >= 0.5).all() and rainy.max() <= 1


def test_errors():
    with pytest.raises(ValueError, match="unknown rain preset 'drizzle'; choose from light, heavy"):
        sample_rain_params("drizzle", np.random.default_rng(0))
    with pytest.raises(ValueError, match="H×W×3"):
        synthesize_rain(np.zeros((4, 4), np.float32), "light", np.random.default_rng(0))
    with pytest.raises(ValueError, match="positive"):
        streak_kernel(length=0, width=1, angle=0)


def test_fast_enough_for_on_the_fly_training():
    clean = np.random.default_rng(0).random((321, 481, 3), dtype=np.float32)
    for preset in PRESETS:
        start = time.perf_counter()
        synthesize_rain(clean, preset, np.random.default_rng(0))
        assert time.perf_counter() - start < 0.2, preset  # the brief's budget for a BSDS-sized photo
