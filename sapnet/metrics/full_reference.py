"""Full-reference metrics (PSNR, SSIM) of a derained output against its clean image.

Two conventions, both on RGB images in ``[0, 1]`` (H×W×3 arrays or 3×H×W tensors, see
:mod:`sapnet.metrics.images`), with no border crop:

* RGB, as the SAPNet paper reports them: scikit-image's ``peak_signal_noise_ratio(clean, out,
  data_range=1)`` and ``structural_similarity(clean, out, channel_axis=-1, data_range=1)``, i.e.
  a 7×7 uniform window with sample covariance over each channel, averaged over channels.
* Y, the MATLAB convention of the deraining literature: luma ``Y = (16 + 65.481 R + 128.553 G +
  24.966 B) / 255`` (not rounded); PSNR with peak 1; SSIM on ``Y·255`` with L = 255, an 11×11
  Gaussian window (σ 1.5), K = (0.01, 0.03), 'valid' filtering and no downsampling.

These functions score the images as given. :func:`score_pair` first quantises the output to
8 bits, as a saved PNG would be, so that scores of in-memory outputs match scores of saved files.
"""

from __future__ import annotations

import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .images import ImageInput, as_rgb_array, quantize_8bit, rgb_to_y
from .ssim import ssim


def psnr_rgb(output: ImageInput, clean: ImageInput) -> float:
    """PSNR in dB over all RGB values, peak 1 (scikit-image's convention); ``inf`` for identical images."""
    return float(peak_signal_noise_ratio(as_rgb_array(clean), as_rgb_array(output), data_range=1.0))


def ssim_rgb(output: ImageInput, clean: ImageInput) -> float:
    """SSIM in RGB by scikit-image's defaults: 7×7 uniform window, sample covariance, channel mean."""
    return float(structural_similarity(as_rgb_array(clean), as_rgb_array(output), channel_axis=-1, data_range=1.0))


def psnr_y(output: ImageInput, clean: ImageInput) -> float:
    """PSNR in dB of the MATLAB luma Y in [0, 1], peak 1; ``inf`` for identical images."""
    return float(peak_signal_noise_ratio(rgb_to_y(clean), rgb_to_y(output), data_range=1.0))


def ssim_y(output: ImageInput, clean: ImageInput) -> float:
    """SSIM of the MATLAB luma on the 0–255 scale: 11×11 Gaussian (σ 1.5), L = 255, 'valid' filtering."""
    # float64, as MATLAB computes it: float32 sums move a Rain100L score by up to 3e-6.
    y_output, y_clean = (torch.from_numpy(rgb_to_y(image) * 255.0)[None, None] for image in (output, clean))
    return float(ssim(y_output, y_clean, data_range=255.0))


def score_pair(output: ImageInput, clean: ImageInput, quantize: bool = True) -> dict[str, float]:
    """PSNR and SSIM in Y and RGB of ``output`` against ``clean``.

    With ``quantize`` (the default) the output is first clipped and rounded to 8 bits
    (:func:`~sapnet.metrics.images.quantize_8bit`), as the saved PNG it would be evaluated from;
    the clean image is taken as given (ground truths are 8-bit files already).
    """
    output = quantize_8bit(output) if quantize else as_rgb_array(output)
    clean = as_rgb_array(clean)
    return {
        "psnr_y": psnr_y(output, clean),
        "ssim_y": ssim_y(output, clean),
        "psnr_rgb": psnr_rgb(output, clean),
        "ssim_rgb": ssim_rgb(output, clean),
    }
