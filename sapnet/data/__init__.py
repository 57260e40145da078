"""Training data for deraining: paired folders, synthetic rain, and the datasets built on them."""

from sapnet.data.datasets import PairedDataset, SyntheticRainDataset, select_subset
from sapnet.data.files import DataError, list_images, read_rgb
from sapnet.data.pairs import find_pairs, has_paired_layout
from sapnet.data.rain import PRESETS, RainParams, StreakLayer, sample_rain_params, synthesize_rain
from sapnet.images import IMAGE_EXTENSIONS

__all__ = [
    "IMAGE_EXTENSIONS",
    "PRESETS",
    "DataError",
    "PairedDataset",
    "RainParams",
    "StreakLayer",
    "SyntheticRainDataset",
    "find_pairs",
    "has_paired_layout",
    "list_images",
    "read_rgb",
    "sample_rain_params",
    "select_subset",
    "synthesize_rain",
]
