"""Inference: the model object (:mod:`.model`), tiling for any image size (:mod:`.tiling`) and
the backends that run the network (:mod:`.backends`)."""
