"""Rain synthesis: each component is deterministic for a seed and changes the image the way it claims."""

import numpy as np
import pytest
from scipy import ndimage

from sapnet.data import PRESETS, RainParams, StreakLayer, sample_rain_params, synthesize_rain
from sapnet.data.rain import Capture, Fog, apply_capture, pseudo_depth, render_streaks, streak_kernel
from sapnet.metrics import psnr_y


def scene(height: int = 64, width: int = 80) -> np.ndarray:
    """A smooth, photo-like test image with dark and bright parts."""
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    return np.stack([0.2 + 0.6 * x, 0.5 * np.ones_like(x), 0.1 + 0.8 * y * x], axis=-1).astype(np.float32)


def streaks_only(params: RainParams) -> RainParams:
    """The same rain without what may darken a pixel (fog, noise, JPEG)."""
    return RainParams(layers=params.layers, blend=params.blend)


def orientation(sheet: np.ndarray) -> float:
    """Dominant line direction of an H×W image in degrees from vertical, from the structure tensor
    (gradients run across a line, so the line lies perpendicular to the mean gradient direction)."""
    smooth = ndimage.gaussian_filter(sheet, 1.0)  # Sobel on a smoothed image is close to isotropic
    gx, gy = ndimage.sobel(smooth, axis=1), ndimage.sobel(smooth, axis=0)
    jxx, jyy, jxy = (gx * gx).sum(), (gy * gy).sum(), (gx * gy).sum()
    gradient_angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # from the x axis, image rows pointing down
    # A line leaning its lower end to the right has gradients pointing up-right, i.e. negative angle here.
    return float(np.rad2deg(-gradient_angle))


@pytest.mark.parametrize("preset", PRESETS)
def test_same_seed_same_rain_other_seed_other_rain(preset):
    clean = scene()
    first = synthesize_rain(clean, preset, np.random.default_rng(5))
    assert np.array_equal(first, synthesize_rain(clean, preset, np.random.default_rng(5)))
    assert not np.array_equal(first, synthesize_rain(clean, preset, np.random.default_rng(6)))


@pytest.mark.parametrize("preset", PRESETS)
def test_streaks_only_add_light_and_everything_stays_in_range(preset):
    clean = scene()
    clean[:8] = 1.0  # saturated sky must stay at 1, not overflow
    for seed in range(3):
        rng = np.random.default_rng(seed)
        params = sample_rain_params(preset, rng)
        rainy = synthesize_rain(clean, params, rng)
        assert rainy.dtype == np.float32 and rainy.shape == clean.shape
        assert rainy.min() >= 0 and rainy.max() <= 1 and np.isfinite(rainy).all()
        streaked = synthesize_rain(clean, streaks_only(params), np.random.default_rng(seed))
        assert (streaked >= clean - 1e-6).all()
        assert (streaked > clean + 0.05).any()


def test_presets_span_drizzle_to_downpour():
    clean = scene(96, 128)
    strength = {
        preset: np.mean([psnr_y(synthesize_rain(clean, preset, np.random.default_rng(s)), clean) for s in range(6)])
        for preset in PRESETS
    }
    assert strength["heavy"] < strength["light"] and strength["heavy"] < strength["drizzle"]
    assert strength["storm"] < strength["light"]
    assert 20 < strength["light"] < 34 and 8 < strength["heavy"] < 19  # near Rain100L (26.9 dB Y) / Rain100H (13.6)
    assert strength["downpour"] < strength["light"] and 11 < strength["downpour"] < 17
    assert strength["downpour"] < strength["shower"] < strength["light"]


def test_shower_is_dense_short_dashes_mostly_compressed():
    """Real rain as web and phone photos show it: two to four sheets of short, moderately bright
    dashes, added light over much of the picture, JPEG-compressed on most draws."""
    clean = scene(96, 128)
    compressed = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        params = sample_rain_params("shower", rng)
        assert params.blend == "add" and 2 <= len(params.layers) <= 4
        assert all(layer.length <= 20 and layer.brightness <= 0.45 for layer in params.layers)
        rainy = synthesize_rain(clean, streaks_only(params), rng)
        assert ((rainy - clean).max(axis=-1) > 0.05).mean() > 0.15
        compressed += params.capture.jpeg_quality is not None
    assert compressed >= 5


def test_downpour_is_dense_near_vertical_light_that_clips_to_white():
    """Rain100H's kind: several dense near-vertical sheets added to the scene, bright drops saturating."""
    clean = scene(96, 128)
    for seed in range(4):
        rng = np.random.default_rng(seed)
        params = sample_rain_params("downpour", rng)
        assert params.blend == "add" and 3 <= len(params.layers) <= 5
        assert all(abs(layer.angle) <= 23 and 1.0 <= layer.width <= 2.2 for layer in params.layers)
        rainy = synthesize_rain(clean, streaks_only(params), rng)
        added = (rainy - clean).max(axis=-1)
        assert (added > 0.1).mean() > 0.2  # dense: a fifth of the pixels or more under a streak
        assert (rainy >= 0.999).all(axis=-1).mean() > 0.02  # white where the light clipped (clean max is 0.9)
        assert abs(orientation(added)) < 20


def test_light_rain_is_grey_like_rain100l():
    clean = scene()
    rng = np.random.default_rng(0)
    added = synthesize_rain(clean, streaks_only(sample_rain_params("light", rng)), rng) - clean
    unclipped = (clean + added.max(axis=-1, keepdims=True) < 1).all(axis=-1)
    assert np.allclose(added[unclipped], added[unclipped][:, :1], atol=1e-6)  # equal in R, G and B


@pytest.mark.parametrize("angle", [-25.0, 0.0, 20.0, 40.0])
def test_a_streak_sheet_adds_light_along_its_angle(angle):
    layer = StreakLayer(density=0.004, length=40, width=1.5, angle=angle, brightness=0.6)
    sheet = render_streaks((160, 160), layer, np.random.default_rng(1))
    assert sheet.min() >= 0 and sheet.max() > 0.3
    assert abs(orientation(sheet) - angle) < 3


def test_streaks_can_span_the_whole_frame():
    layer = StreakLayer(density=0.0005, length=400, width=1.0, angle=0, brightness=0.8)
    sheet = render_streaks((120, 90), layer, np.random.default_rng(2))
    lit_columns = (sheet > 0.2).all(axis=0)  # lit from the top row to the bottom one
    assert lit_columns.any() and not lit_columns.all()


def test_angle_spread_and_defocus_change_the_sheet_as_stated():
    base = StreakLayer(density=0.004, length=30, width=1.0, angle=0, brightness=0.6)
    sharp = render_streaks((128, 128), base, np.random.default_rng(3))
    blurred = render_streaks((128, 128), StreakLayer(**{**base.__dict__, "blur": 2.0}), np.random.default_rng(3))
    assert np.abs(np.diff(blurred, axis=1)).mean() < 0.6 * np.abs(np.diff(sharp, axis=1)).mean()
    spread = render_streaks((128, 128), StreakLayer(**{**base.__dict__, "angle_spread": 15.0}), np.random.default_rng(3))
    assert not np.allclose(spread, sharp)


def test_screen_blend_never_exceeds_one_and_brightens_less_than_adding():
    layer = StreakLayer(density=0.01, length=20, width=2.0, angle=5, brightness=0.9)
    clean = scene()
    added = synthesize_rain(clean, RainParams(layers=(layer,), blend="add"), np.random.default_rng(4))
    screened = synthesize_rain(clean, RainParams(layers=(layer,), blend="screen"), np.random.default_rng(4))
    assert (screened <= added + 1e-6).all() and (screened >= clean - 1e-6).all()
    assert (screened < added - 0.01).any()


def test_fog_grows_with_depth_toward_the_airlight():
    clean = np.zeros((50, 40, 3), np.float32)
    depth = np.repeat(np.linspace(1.0, 0.0, 50)[:, None], 40, axis=1)  # far at the top
    fog = Fog(density=2.0, airlight=(0.8, 0.7, 0.6))
    rainy = synthesize_rain(clean, RainParams(layers=(), fog=fog), np.random.default_rng(0), depth=depth)
    transmission = np.exp(-2.0 * depth)[..., None]
    assert np.allclose(rainy, np.asarray(fog.airlight) * (1 - transmission), atol=1e-6)
    rows = rainy.mean(axis=(1, 2))
    assert (np.diff(rows) < 0).all()  # thicker at every step farther away
    assert np.isclose(rainy[-1].max(), 0.0)  # nothing at depth 0


def test_a_far_sheet_is_hidden_behind_nearer_scene_parts():
    layer = StreakLayer(density=0.01, length=15, width=1.0, angle=0, brightness=0.7, depth=0.5)
    depth = np.full((60, 60), 0.9)
    depth[:, :30] = 0.2  # the left half is a wall in front of the sheet
    rainy = synthesize_rain(np.zeros((60, 60, 3), np.float32), RainParams(layers=(layer,)), np.random.default_rng(0), depth=depth)
    assert rainy[:, :28].max() == 0 and rainy[:, 32:].max() > 0.3


def test_pseudo_depth_is_seeded_bounded_and_farther_towards_the_top():
    first = pseudo_depth((90, 120), np.random.default_rng(7))
    assert np.array_equal(first, pseudo_depth((90, 120), np.random.default_rng(7)))
    assert first.shape == (90, 120) and first.min() >= 0 and first.max() <= 1
    for seed in range(5):
        depth = pseudo_depth((90, 120), np.random.default_rng(seed))
        assert depth[:20].mean() > depth[-20:].mean() + 0.2


def test_capture_adds_noise_and_jpeg_deterministically():
    clean = scene()
    noisy = apply_capture(clean, Capture(noise=0.02), np.random.default_rng(1))
    assert np.array_equal(noisy, apply_capture(clean, Capture(noise=0.02), np.random.default_rng(1)))
    assert 0.01 < np.std(noisy - clean) < 0.03 and abs(np.mean(noisy - clean)) < 0.003
    compressed = apply_capture(clean, Capture(jpeg_quality=70), np.random.default_rng(1))
    assert not np.array_equal(compressed, clean) and psnr_y(compressed, clean) > 30
    assert np.array_equal(apply_capture(clean, Capture(), np.random.default_rng(1)), clean)


def test_without_fog_the_streaks_stay_the_same():
    for seed in range(4):
        with_fog, without = sample_rain_params("storm", np.random.default_rng(seed)), sample_rain_params("storm", np.random.default_rng(seed), fog=False)
        assert with_fog.fog is not None and without.fog is None and without.veil == 0
        assert with_fog.layers == without.layers


def test_explicit_parameters_and_the_uniform_veil():
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


@pytest.mark.parametrize("preset", PRESETS)
def test_tiny_images_smaller_than_a_streak(preset):
    rainy = synthesize_rain(np.full((3, 2, 3), 0.5, np.float32), preset, np.random.default_rng(0))
    assert rainy.shape == (3, 2, 3) and rainy.min() >= 0 and rainy.max() <= 1


def test_errors():
    with pytest.raises(ValueError, match="unknown rain preset 'hail'; choose from drizzle, light, heavy, storm"):
        sample_rain_params("hail", np.random.default_rng(0))
    with pytest.raises(ValueError, match="H×W×3"):
        synthesize_rain(np.zeros((4, 4), np.float32), "light", np.random.default_rng(0))
    with pytest.raises(ValueError, match="depth map"):
        synthesize_rain(np.zeros((4, 4, 3), np.float32), "light", np.random.default_rng(0), depth=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="blend"):
        RainParams(layers=(), blend="multiply")
    with pytest.raises(ValueError, match="positive"):
        streak_kernel(length=0, width=1, angle=0)
