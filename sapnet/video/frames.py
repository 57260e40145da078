"""Calling the caller's derainer on frames held as NumPy arrays.

The derainer is any callable ``derain_frames(batch) -> batch`` on (N, 3, H, W) float32 RGB
tensors in [0, 1], for instance ``lambda x: sapnet.derain(x, model)``, which tiles large frames
so that memory stays bounded at 4K.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

DerainFrames = Callable[[torch.Tensor], torch.Tensor]


def derain_arrays(frames: Sequence[np.ndarray], derain_frames: DerainFrames, quarter_turns: int = 0) -> list[np.ndarray]:
    """Derain H×W×3 frames (uint8, or float in [0, 1]) in one batch; returns float32 H×W×3 in [0, 1].

    ``quarter_turns`` (counter-clockwise) turns the frames upright for the derainer and back:
    a phone video stored sideways has its rain running sideways, which a network trained on
    falling rain does not recognise.
    """
    upright = np.stack([np.rot90(frame, quarter_turns) for frame in frames])
    batch = torch.from_numpy(upright).permute(0, 3, 1, 2).float()
    if upright.dtype == np.uint8:
        batch = batch.div_(255.0)
    result = derain_frames(batch)
    if not isinstance(result, torch.Tensor) or tuple(result.shape) != tuple(batch.shape):
        shape = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
        raise ValueError(f"derain_frames must return a tensor of the input's shape {tuple(batch.shape)}, got {shape}")
    derained = result.detach().to("cpu", torch.float32).clamp(0.0, 1.0).permute(0, 2, 3, 1).numpy()
    return [np.ascontiguousarray(np.rot90(frame, -quarter_turns)) for frame in derained]


def quarter_turns(rotation: int) -> int:
    """Counter-clockwise quarter turns that show a frame of display ``rotation`` (degrees, as
    PyAV's ``VideoFrame.rotation``) upright; 0 for an angle that is not a multiple of 90."""
    return (rotation // 90) % 4 if rotation % 90 == 0 else 0
