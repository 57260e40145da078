"""Evaluation: models scored on data sets (:mod:`.scoring`), the report files (:mod:`.reports`),
comparison figures (:mod:`.figures`) and efficiency as the paper reports it (:mod:`.efficiency`)."""

from sapnet.engine.evaluate.scoring import (
    Dataset,
    EvaluationError,
    ModelSpec,
    Tiling,
    evaluate,
    load_dataset,
    open_model,
    parse_dataset,
    parse_model,
    read_item,
    unique_labels,
)

__all__ = [
    "Dataset",
    "EvaluationError",
    "ModelSpec",
    "Tiling",
    "evaluate",
    "load_dataset",
    "open_model",
    "parse_dataset",
    "parse_model",
    "read_item",
    "unique_labels",
]
