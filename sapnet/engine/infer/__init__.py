"""Inference: the model object (:mod:`.model`), tiling for any image size (:mod:`.tiling`) and
the backends that run the network (:mod:`.backends`)."""

from sapnet.engine.infer.backends import pick_device
from sapnet.engine.infer.model import DerainModel, WeightsSource, load_model
from sapnet.engine.infer.tiling import derain_tensor

__all__ = ["DerainModel", "WeightsSource", "derain_tensor", "load_model", "pick_device"]
