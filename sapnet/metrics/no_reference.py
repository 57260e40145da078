"""No-reference metrics for real rain, where no clean image exists: BRISQUE here (through OpenCV),
NIQE in :mod:`sapnet.metrics.niqe_matlab`, and learned metrics through the optional pyiqa.

BRISQUE, the Blind/Referenceless Image Spatial Quality Evaluator (Mittal, Moorthy and Bovik, 2012),
is computed by OpenCV contrib's ``cv2.quality.QualityBRISQUE`` (pip package
``opencv-contrib-python-headless``), a port of the authors' C++ release, with the authors' SVR
model trained on LIVE (``brisque_model_live.yml``, ``brisque_range_live.yml``). Those two files are
not shipped with the pip package; Debian and Ubuntu ship them in ``opencv-data``. They are looked
up in, first to last: the ``model_dir`` argument, the ``SAPNET_BRISQUE_MODEL_DIR`` environment
variable, ``/usr/share/opencv4/quality``.

pyiqa is not a dependency of sapnet: it is under a non-commercial licence and downloads each
metric's weights on first use (to ``~/.cache/torch/hub/pyiqa``), so :func:`learned_score` works
only where pyiqa is installed and the weights are cached or downloadable; anything else raises a
RuntimeError that says which of the two is missing.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .images import ImageInput, as_rgb_array, quantize_8bit

BRISQUE_MODEL_DIR_ENV = "SAPNET_BRISQUE_MODEL_DIR"
DEFAULT_BRISQUE_MODEL_DIR = Path("/usr/share/opencv4/quality")  # Debian's opencv-data
BRISQUE_MODEL_FILE, BRISQUE_RANGE_FILE = "brisque_model_live.yml", "brisque_range_live.yml"


def brisque(image: ImageInput, model_dir: str | os.PathLike | None = None) -> float:
    """BRISQUE of an RGB image in [0, 1] (H×W×3 array or 3×H×W tensor); lower is better.

    Convention (OpenCV's, i.e. the authors' C++ release, not their MATLAB one): the image is
    quantised to 8 bits and converted to grey by OpenCV (0.299 R + 0.587 G + 0.114 B, rounded to
    8 bits), scaled to [0, 1]; features at full and half size (OpenCV bicubic, no antialiasing),
    no border crop; the SVR's prediction is clipped to [0, 100].
    """
    rgb_8bit = np.round(quantize_8bit(image) * 255.0).astype(np.uint8)
    bgr_8bit = np.ascontiguousarray(rgb_8bit[..., ::-1])  # OpenCV's channel order
    return float(_brisque_evaluator(*brisque_model_files(model_dir)).compute(bgr_8bit)[0])


def brisque_model_files(model_dir: str | os.PathLike | None = None) -> tuple[str, str]:
    """Paths of the BRISQUE model and range files; a FileNotFoundError that names the fix if absent."""
    directory = Path(model_dir or os.environ.get(BRISQUE_MODEL_DIR_ENV) or DEFAULT_BRISQUE_MODEL_DIR)
    paths = directory / BRISQUE_MODEL_FILE, directory / BRISQUE_RANGE_FILE
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"BRISQUE model files {missing} not found in {directory}. Install them with "
            f"'apt-get install opencv-data' (they go to {DEFAULT_BRISQUE_MODEL_DIR}), or point the "
            f"{BRISQUE_MODEL_DIR_ENV} environment variable or the model_dir argument at a folder holding "
            f"{BRISQUE_MODEL_FILE} and {BRISQUE_RANGE_FILE} (opencv_contrib: modules/quality/samples)."
        )
    return str(paths[0]), str(paths[1])


@lru_cache(maxsize=2)
def _brisque_evaluator(model_path: str, range_path: str):
    # Reading the 0.5 MB SVR model takes longer than scoring an image: load it once per path.
    try:
        from cv2 import quality
    except ImportError as error:
        raise ImportError(
            "BRISQUE needs OpenCV's contrib module cv2.quality: 'pip install opencv-contrib-python-headless' "
            "(and uninstall opencv-python / opencv-python-headless, whose cv2 lacks it and shadows it)"
        ) from error
    return quality.QualityBRISQUE_create(model_path, range_path)


def learned_score(image: ImageInput, metric: str) -> float:
    """pyiqa's ``metric`` (e.g. ``"musiq"``) of an RGB image in [0, 1], as pyiqa defines it.

    The image goes to pyiqa as a 1×3×H×W float32 RGB tensor in [0, 1], unquantised and uncropped;
    whether lower or higher is better depends on the metric (``pyiqa.create_metric(...).lower_better``).
    """
    try:
        import pyiqa
    except ImportError as error:
        raise RuntimeError(
            f"learned metric {metric!r} needs the optional package pyiqa ('pip install pyiqa'; "
            "non-commercial licence), which is not installed"
        ) from error
    try:
        model = pyiqa.create_metric(metric, device="cpu")
    except Exception as error:  # pyiqa surfaces download failures as many error types
        raise RuntimeError(
            f"pyiqa could not create {metric!r}: its weights are downloaded on first use, so cache "
            f"them in ~/.cache/torch/hub/pyiqa on a machine with network access ({error})"
        ) from error
    tensor = torch.from_numpy(as_rgb_array(image)).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        return float(model(tensor))
