"""NIQE, the "completely blind" Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, 2013).

Lower is better. A re-implementation of the authors' MATLAB release (``niqe_release.zip``,
``computequality.m``) with its pristine model (``modelparameters.mat``: ``mu_prisparam``,
``cov_prisparam``), which BasicSR 1.4.2 ships as ``niqe_pris_params.npz``; that file is
redistributed here unchanged under the Apache License 2.0 (see ``niqe_pris_params.LICENSE``).

No library offers this offline with the official model and MATLAB's conventions (pyiqa downloads
its parameters at run time), and the convention is what makes scores comparable with published
tables, so the features are computed here, in float64: MATLAB's ``imfilter(..., 'replicate')``,
``circshift`` and bicubic, antialiased ``imresize`` are reproduced. Scores then equal the
release's to about 1e-12 on images without perfectly flat areas. Flat areas (saturated sky, black
borders) give normalised coefficients that are exactly zero here but ±1e-16 in MATLAB, depending
on its rounding; they shift the distribution fits, by up to a few percent of the score.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import correlate
from scipy.special import gamma

from .images import ImageInput, quantize_8bit, rgb_to_y

BLOCK_SIZE = 96  # the release's block size, the one its pristine model was fitted with
_PRISTINE_MODEL = Path(__file__).with_name("niqe_pris_params.npz")

# MATLAB's rgb2gray weights: the first row of the inverse of the NTSC (YIQ) matrix.
_GRAY_WEIGHTS = np.linalg.inv(np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]]))[0]

# estimateaggdparam.m fits the AGGD shape by a grid search over these values.
_SHAPE_GRID = np.arange(0.2, 10.001, 0.001)
_SHAPE_RATIO = gamma(2 / _SHAPE_GRID) ** 2 / (gamma(1 / _SHAPE_GRID) * gamma(3 / _SHAPE_GRID))


def niqe(image: ImageInput, luma: str = "gray", crop_border: int = 0) -> float:
    """NIQE of an RGB image in [0, 1] (H×W×3 array or 3×H×W tensor); lower is better.

    Convention (the MATLAB release's): the image is quantised to 8 bits, reduced to one channel on
    the 0–255 scale and rounded to integers, as MATLAB's ``rgb2gray`` does for a uint8 file:

    * ``luma="gray"`` (default): MATLAB ``rgb2gray`` (0.2989 R + 0.5870 G + 0.1140 B), as the
      official release and its published scores;
    * ``luma="y"``: MATLAB ``rgb2ycbcr`` luma (16 + 65.481 R + 128.553 G + 24.966 B), as BasicSR's
      ``calculate_niqe`` and the super-resolution literature.

    ``crop_border`` pixels are removed from each edge (none by default); the rest is cut to whole
    96×96 blocks from the top-left corner, and needs at least two of them.
    """
    if luma == "gray":
        channel = quantize_8bit(image) @ (255.0 * _GRAY_WEIGHTS)
    elif luma == "y":
        channel = rgb_to_y(quantize_8bit(image)) * 255.0
    else:
        raise ValueError(f"luma must be 'gray' or 'y', got {luma!r}")
    if crop_border:
        channel = channel[crop_border:-crop_border, crop_border:-crop_border]
    return niqe_of_channel(np.round(channel))


def niqe_of_channel(channel: np.ndarray) -> float:
    """NIQE of one grey channel on the 0–255 scale (H×W), as ``computequality.m`` with 96×96 blocks."""
    blocks_down, blocks_across = channel.shape[0] // BLOCK_SIZE, channel.shape[1] // BLOCK_SIZE
    if blocks_down * blocks_across < 2:
        raise ValueError(f"NIQE needs at least two {BLOCK_SIZE}×{BLOCK_SIZE} blocks, got an image of {channel.shape}")
    channel = channel[: blocks_down * BLOCK_SIZE, : blocks_across * BLOCK_SIZE].astype(np.float64)

    features_per_scale = []
    # A flat block has no negative or positive coefficients: its fits are NaN (with NumPy's
    # warnings), and the model fit below drops it, as MATLAB's nanmean and nancov do.
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for scaled, block_size in ((channel, BLOCK_SIZE), (_matlab_imresize_half(channel), BLOCK_SIZE // 2)):
            normalized = _mscn(scaled)
            features_per_scale.append(
                [
                    _block_features(normalized[row : row + block_size, col : col + block_size])
                    for row in range(0, blocks_down * block_size, block_size)
                    for col in range(0, blocks_across * block_size, block_size)
                ]
            )
    # Each block's row: its 18 features at full scale, then its 18 at half scale.
    features = np.concatenate(features_per_scale, axis=1)

    # MATLAB's nanmean, and nancov's default of dropping every block with a NaN feature.
    complete_blocks = features[~np.isnan(features).any(axis=1)]
    if len(complete_blocks) < 2:
        raise ValueError("NIQE is undefined here: fewer than two 96×96 blocks have any texture")
    mu_image = np.nanmean(features, axis=0)
    cov_image = np.cov(complete_blocks, rowvar=False)
    mu_pristine, cov_pristine = _pristine_model()
    difference = mu_pristine - mu_image
    return float(np.sqrt(difference @ np.linalg.pinv((cov_pristine + cov_image) / 2) @ difference))


@lru_cache(maxsize=1)
def _pristine_model() -> tuple[np.ndarray, np.ndarray]:
    with np.load(_PRISTINE_MODEL) as params:
        return params["mu_pris_param"][0], params["cov_pris_param"]


@lru_cache(maxsize=1)
def _gaussian_window() -> np.ndarray:
    """MATLAB's ``fspecial('gaussian', 7, 7/6)``."""
    coords = np.arange(7) - 3
    g = np.exp(-(coords**2) / (2 * (7 / 6) ** 2))
    window = np.outer(g, g)
    return window / window.sum()


def _mscn(channel: np.ndarray) -> np.ndarray:
    """Mean-subtracted, contrast-normalised coefficients, with MATLAB's replicate padding."""
    window = _gaussian_window()
    mu = correlate(channel, window, mode="nearest")
    sigma = np.sqrt(np.abs(correlate(channel * channel, window, mode="nearest") - mu * mu))
    return (channel - mu) / (sigma + 1)


def _block_features(block: np.ndarray) -> list[float]:
    """The 18 features of ``computefeature.m``: AGGD fits of the block and of neighbour products."""
    shape, left_scale, right_scale = _aggd_fit(block)
    features = [shape, (left_scale + right_scale) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        shape, left_scale, right_scale = _aggd_fit(block * np.roll(block, shift, axis=(0, 1)))
        mean = (right_scale - left_scale) * gamma(2 / shape) / gamma(1 / shape)
        features += [shape, mean, left_scale, right_scale]
    return features


def _aggd_fit(values: np.ndarray) -> tuple[float, float, float]:
    """Shape and left/right scales of an asymmetric generalised Gaussian (``estimateaggdparam.m``)."""
    values = values.ravel()
    left_std = np.sqrt(np.mean(values[values < 0] ** 2))
    right_std = np.sqrt(np.mean(values[values > 0] ** 2))
    gamma_hat = left_std / right_std
    r_hat = np.mean(np.abs(values)) ** 2 / np.mean(values**2)
    r_hat_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    shape = _SHAPE_GRID[np.argmin((_SHAPE_RATIO - r_hat_norm) ** 2)]
    spread = np.sqrt(gamma(1 / shape) / gamma(3 / shape))
    return shape, left_std * spread, right_std * spread


def _matlab_imresize_half(channel: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(channel, 0.5)``: bicubic, antialiased, symmetric borders, not rounded."""
    return _imresize_matrix(channel.shape[0], 0.5) @ channel @ _imresize_matrix(channel.shape[1], 0.5).T


@lru_cache(maxsize=32)
def _imresize_matrix(in_length: int, scale: float) -> np.ndarray:
    """The (out × in) matrix of MATLAB's 1-D bicubic shrink by ``scale`` < 1 (``contributions``)."""
    out_length = math.ceil(in_length * scale)
    kernel_width = 4 / scale  # the cubic's support, widened by the shrink factor to antialias
    centres = np.arange(1, out_length + 1) / scale + 0.5 * (1 - 1 / scale)
    taps = math.ceil(kernel_width) + 2
    indices = np.floor(centres - kernel_width / 2)[:, None] + np.arange(taps)  # 1-based, as MATLAB
    weights = scale * _cubic(scale * (centres[:, None] - indices))
    weights /= weights.sum(axis=1, keepdims=True)
    # Out-of-range taps reflect back into the image, repeating the edge pixel (MATLAB's 'symmetric').
    mirrored = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    columns = mirrored[(indices.astype(int) - 1) % (2 * in_length)]
    matrix = np.zeros((out_length, in_length))
    np.add.at(matrix, (np.repeat(np.arange(out_length), taps), columns.ravel()), weights.ravel())
    return matrix


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, MATLAB's 'bicubic'."""
    ax = np.abs(x)
    near = (1.5 * ax - 2.5) * ax**2 + 1
    far = ((-0.5 * ax + 2.5) * ax - 4) * ax + 2
    return np.where(ax <= 1, near, np.where(ax <= 2, far, 0.0))
