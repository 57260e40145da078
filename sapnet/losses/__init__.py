"""Training losses of SAPNet (Zheng et al., WACV 2022): negative SSIM, unsupervised background
segmentation (eq. 4), perceptual contrastive (eq. 5) and LPIPS (eq. 6), combined by
:class:`SAPNetLoss` from a config dict."""

from sapnet.losses.backbones import MissingWeightsError, load_backbone, load_lpips_linear
from sapnet.losses.brightness import SceneBrightnessLoss
from sapnet.losses.combined import DEFAULT_CONFIG, LOSS_TERMS, SAPNetLoss, build_loss, resolve_config
from sapnet.losses.contrastive import L1ContrastiveLoss, PerceptualContrastiveLoss, contrast_ratio
from sapnet.losses.features import FeatureTap
from sapnet.losses.lpisl import LPIPSLoss
from sapnet.losses.segmentation import FPNHead, SegmentationLoss, focal_loss
from sapnet.losses.ssim import SSIMLoss

__all__ = [
    "DEFAULT_CONFIG",
    "FPNHead",
    "FeatureTap",
    "L1ContrastiveLoss",
    "LOSS_TERMS",
    "LPIPSLoss",
    "MissingWeightsError",
    "PerceptualContrastiveLoss",
    "SAPNetLoss",
    "SceneBrightnessLoss",
    "SSIMLoss",
    "SegmentationLoss",
    "build_loss",
    "contrast_ratio",
    "focal_loss",
    "load_backbone",
    "load_lpips_linear",
    "resolve_config",
]
