"""UPT's inverse encoding and inverse decoding losses (Alkin et al. 2024, arXiv:2402.12365).

They work with any encoder and decoder following these call signatures:

    encoder(fields (B, N, C), coords (B, N, d)) -> latent (B, L, D)
    decoder(latent (B, L, D), query_coords (B, Q, d)) -> fields (B, Q, C)
"""

from upt_losses.inverse_decoding import upt_inverse_decoding_loss
from upt_losses.inverse_encoding import upt_inverse_encoding_loss
from upt_losses.protocols import Decoder, Encoder
from upt_losses.reduction import masked_mean_squared_error
from upt_losses.sampling import gather_points, sample_query_indices

__all__ = [
    "Decoder",
    "Encoder",
    "gather_points",
    "masked_mean_squared_error",
    "sample_query_indices",
    "upt_inverse_decoding_loss",
    "upt_inverse_encoding_loss",
]
