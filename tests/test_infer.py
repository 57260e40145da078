import math

import numpy as np
import pytest
import torch
from PIL import Image

import sapnet
from sapnet.engine.infer.tiling import _tile_starts, derain_tensor
from tests.conftest import tiny_model


def _psnr(a, b):
    return 10 * math.log10(1 / ((a - b) ** 2).mean().item())


def _smooth_image(height, width, seed=0):
    """A photo-like test image: smooth colour fields plus thin bright streaks."""
    g = torch.Generator().manual_seed(seed)
    image = torch.nn.functional.interpolate(torch.rand(1, 3, height // 32, width // 32, generator=g), size=(height, width), mode="bicubic")
    streaks = (torch.rand(1, 1, height, width, generator=g) > 0.995).float()
    return (image + streaks).clamp(0, 1)


def test_tiles_cover_the_image_with_the_overlap():
    for length in (1, 511, 512, 513, 1024, 1500):
        starts = _tile_starts(length, min(512, length), 64)
        assert starts[0] == 0 and starts[-1] + min(512, length) == length
        assert all(b - a <= 512 - 64 for a, b in zip(starts, starts[1:]))


def test_tiled_result_is_visually_identical_to_untiled():
    model = tiny_model(stages=3, channels=8)
    rainy = _smooth_image(768, 1024)
    whole = derain_tensor(model, rainy)
    tiled = derain_tensor(model, rainy, max_pixels=256 * 256, tile=512, overlap=64)
    measured = _psnr(whole, tiled)
    print(f"tiled vs untiled PSNR on 1024x768: {measured:.1f} dB")
    assert measured >= 45


def test_tiling_handles_odd_sizes_and_small_images():
    model = tiny_model()
    rainy = torch.rand(1, 3, 37, 301)
    out = derain_tensor(model, rainy, max_pixels=100, tile=64, overlap=16)
    assert out.shape == rainy.shape and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="overlap"):
        derain_tensor(model, rainy, max_pixels=100, tile=32, overlap=32)


def test_api_accepts_pil_numpy_and_tensors():
    model = tiny_model()
    rgb = (np.random.default_rng(0).random((13, 17, 3)) * 255).astype(np.uint8)
    expected = derain_tensor(model, torch.from_numpy(rgb.transpose(2, 0, 1)).float()[None] / 255)[0]
    expected_u8 = np.round(expected.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)

    assert np.array_equal(sapnet.derain(rgb, model), expected_u8)
    assert np.array_equal(np.asarray(sapnet.derain(Image.fromarray(rgb), model)), expected_u8)
    assert torch.allclose(sapnet.derain(torch.from_numpy(rgb.transpose(2, 0, 1)).float() / 255, model), expected)
    batch = sapnet.derain(torch.rand(2, 3, 9, 11), model)
    assert batch.shape == (2, 3, 9, 11)

    rgba = np.dstack([rgb, np.full((13, 17), 7, np.uint8)])
    out = sapnet.derain(rgba, model)
    assert out.shape == rgba.shape and np.all(out[..., 3] == 7)
    gray16 = (np.random.default_rng(1).random((13, 17)) * 65535).astype(np.uint16)
    out = sapnet.derain(gray16, model)
    assert out.shape == gray16.shape and out.dtype == np.uint16
    floats = rgb.astype(np.float32) / 255
    assert sapnet.derain(floats, model).dtype == np.float32
    with pytest.raises(TypeError, match="dtype"):
        sapnet.derain(rgb.astype(np.int64), model)
    with pytest.raises(ValueError, match="shape"):
        sapnet.derain(np.zeros((4, 4, 2), np.uint8), model)


def test_api_loads_a_model_by_path(tiny_weights):
    model = sapnet.load_model(str(tiny_weights))
    image = Image.new("RGB", (12, 10), (120, 130, 140))
    assert sapnet.derain(image, str(tiny_weights)).size == (12, 10)
    assert model.config.channels == 8
