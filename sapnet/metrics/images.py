"""Image conventions shared by the metrics: array layout, 8-bit quantisation, luma.

Every metric takes RGB images in ``[0, 1]``: a NumPy array laid out H×W×3, or a torch tensor in
the network's layout, 3×H×W or 1×3×H×W. Here they become float64 NumPy H×W×3 arrays, the form
that scikit-image and the MATLAB-convention code below expect.
"""

from __future__ import annotations

import numpy as np
import torch

ImageInput = np.ndarray | torch.Tensor

# ITU-R BT.601 luma for RGB in [0, 1], as MATLAB's rgb2ycbcr: Y in [16, 235] / 255.
_Y_OFFSET = 16.0
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])


def as_rgb_array(image: ImageInput) -> np.ndarray:
    """The image as a float64 H×W×3 C-ordered NumPy array (values unchanged; uint8 is divided by 255)."""
    if isinstance(image, torch.Tensor):
        tensor = image.detach().cpu()
        if tensor.is_floating_point():
            tensor = tensor.double()  # NumPy has no bfloat16
        if tensor.dim() == 4 and tensor.shape[0] == 1:
            tensor = tensor[0]
        if tensor.dim() != 3 or tensor.shape[0] != 3:
            raise ValueError(f"expected a 3×H×W or 1×3×H×W RGB tensor, got shape {tuple(image.shape)}")
        array = tensor.permute(1, 2, 0).numpy()
    else:
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"expected an H×W×3 RGB array, got shape {array.shape}")
    # C order always: NumPy's matrix product (rgb_to_y) rounds differently for other memory
    # layouts on some CPUs, and a score must not depend on how its image was decoded.
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array, dtype=np.float64) / 255.0
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"expected float values in [0, 1] or uint8, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float64)


def quantize_8bit(image: ImageInput) -> np.ndarray:
    """The image as a saved 8-bit PNG would hold it: clipped to [0, 1], then ``round(x·255)/255``.

    Rounds to nearest (ties to even, as NumPy and torch do), never truncates: truncation would bias
    every pixel down by half a level on average and cost a measurable fraction of a dB.
    """
    return np.round(np.clip(as_rgb_array(image), 0.0, 1.0) * 255.0) / 255.0


def rgb_to_y(image: ImageInput) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` luma of an RGB image in [0, 1]: ``(16 + 65.481 R + 128.553 G + 24.966 B) / 255``.

    Returns an H×W float64 array in [16/255, 235/255], not rounded.
    """
    return (_Y_OFFSET + as_rgb_array(image) @ _Y_WEIGHTS) / 255.0
