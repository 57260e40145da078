"""SAPNet and its building blocks."""

from sapnet.models.attention import ChannelAttention, ChannelResidualAttention, SqueezeExcitation
from sapnet.models.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from sapnet.models.sapnet import ConvLSTMCell, ResidualBlock, SAPNet, SAPNetConfig

__all__ = [
    "ChannelAttention",
    "ChannelResidualAttention",
    "CheckpointError",
    "ConvLSTMCell",
    "ResidualBlock",
    "SAPNet",
    "SAPNetConfig",
    "SqueezeExcitation",
    "load_checkpoint",
    "save_checkpoint",
]
