"""Structural similarity (Wang et al., 2004) as a differentiable PyTorch function.

Convention: an 11×11 Gaussian window (σ = 1.5), K = (0.01, 0.03), 'valid' filtering (no padding,
as MATLAB's ``ssim_index`` and scikit-image with ``use_sample_covariance=False``, ``gaussian_weights=True``
after cropping), no downsampling, computed per channel and averaged. Inputs are (N, C, H, W)
in ``[0, data_range]``; the result is one value per image. Shared by the evaluation metrics and
the training loss so that both measure the same thing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_kernel(size: int = 11, sigma: float = 1.5, dtype=torch.float32, device=None) -> torch.Tensor:
    """A normalised 1-D Gaussian kernel; the 2-D window is its outer product with itself."""
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Mean SSIM of each image pair in ``x``, ``y`` (N, C, H, W): a tensor of shape (N,)."""
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"ssim needs two (N, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if min(x.shape[-2:]) < window_size:
        raise ValueError(f"ssim needs images of at least {window_size}×{window_size}, got {tuple(x.shape[-2:])}")
    channels = x.shape[1]
    kernel = gaussian_kernel(window_size, sigma, x.dtype, x.device)
    column_kernel = kernel.view(1, 1, -1, 1).expand(channels, 1, -1, -1)
    row_kernel = kernel.view(1, 1, 1, -1).expand(channels, 1, -1, -1)

    def filt(t: torch.Tensor) -> torch.Tensor:
        # The Gaussian window is separable: two 1-D passes equal the 2-D one and are several
        # times faster (float64 on CPU especially, which the evaluation metrics use).
        return F.conv2d(F.conv2d(t, column_kernel, groups=channels), row_kernel, groups=channels)

    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mu_x, mu_y = filt(x), filt(y)
    sigma_x = filt(x * x) - mu_x**2
    sigma_y = filt(y * y) - mu_y**2
    sigma_xy = filt(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sigma_x + sigma_y + c2))
    return ssim_map.flatten(1).mean(dim=1)
