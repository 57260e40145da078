"""Image quality metrics, each stating its convention (range, channels, luma, crop, rounding).

Full-reference (derained output against clean): :func:`psnr_y`, :func:`ssim_y` (MATLAB luma
convention of the deraining literature), :func:`psnr_rgb`, :func:`ssim_rgb` (scikit-image, as the
SAPNet paper), and :func:`score_pair` for all four after 8-bit quantisation of the output.
No-reference (real rain): :func:`niqe`, :func:`brisque`, and pyiqa's learned metrics through
:func:`learned_score` where pyiqa is installed. :func:`ssim` is the differentiable SSIM shared with
the training loss.
"""

from .full_reference import psnr_rgb, psnr_y, score_pair, ssim_rgb, ssim_y
from .images import quantize_8bit, rgb_to_y
from .niqe_matlab import niqe
from .no_reference import brisque, learned_score
from .ssim import ssim

__all__ = [
    "brisque",
    "learned_score",
    "niqe",
    "psnr_rgb",
    "psnr_y",
    "quantize_8bit",
    "rgb_to_y",
    "score_pair",
    "ssim",
    "ssim_rgb",
    "ssim_y",
]
