"""sapnet: rain removal for photographs with SAPNet (Zheng et al., WACV 2022)."""

from sapnet.api import derain
from sapnet.hub import WEIGHTS, load_model
from sapnet.models import SAPNet, SAPNetConfig

__version__ = "0.1.0"
__all__ = ["SAPNet", "SAPNetConfig", "WEIGHTS", "derain", "load_model", "__version__"]
