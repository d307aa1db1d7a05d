"""UPT encoder, approximator and decoder."""

from upt_models.approximator import Approximator, ApproximatorConfig
from upt_models.checkpoint import CheckpointError, load_upt, read_config, save_upt
from upt_models.decoder import DecoderConfig, PerceiverDecoder
from upt_models.embedding import SincosEmbedding
from upt_models.encoder import EncoderConfig, PointEncoder
from upt_models.presets import PRESETS, preset
from upt_models.upt import UPT, UPTConfig

__all__ = [
    "PRESETS",
    "UPT",
    "Approximator",
    "ApproximatorConfig",
    "CheckpointError",
    "DecoderConfig",
    "EncoderConfig",
    "PerceiverDecoder",
    "PointEncoder",
    "SincosEmbedding",
    "UPTConfig",
    "load_upt",
    "preset",
    "read_config",
    "save_upt",
]
