"""Small model configurations shared by the upt-models tests."""

from collections.abc import Callable

import pytest
import torch

from upt_models import UPT, ApproximatorConfig, DecoderConfig, EncoderConfig, UPTConfig


def _small_config(
    coord_dim: int = 2,
    num_channels: int = 2,
    num_supernodes: int = 16,
    num_cond_scalars: int = 0,
    condition_codec: bool = False,
    radius: float | None = None,
) -> UPTConfig:
    return UPTConfig(
        coord_dim=coord_dim,
        num_channels=num_channels,
        encoder=EncoderConfig(
            gnn_dim=16,
            dim=16,
            depth=1,
            num_heads=2,
            perceiver_num_heads=2,
            num_supernodes=num_supernodes,
            num_latent_tokens=8,
            max_neighbours=6,
            radius=radius,
        ),
        approximator=ApproximatorConfig(dim=16, depth=1, num_heads=2),
        decoder=DecoderConfig(
            dim=16, depth=1, num_heads=2, perceiver_dim=16, perceiver_num_heads=2
        ),
        num_cond_scalars=num_cond_scalars,
        condition_codec=condition_codec,
    )


@pytest.fixture(scope="session")
def small_config() -> Callable[..., UPTConfig]:
    """Factory of configs small enough for many property-test examples on a CPU
    (latent 8 tokens x 16 channels)."""
    return _small_config


@pytest.fixture(scope="session")
def make_model() -> Callable[..., UPT]:
    """Factory of seeded small models in eval mode."""

    def make(seed: int = 0, **kwargs) -> UPT:
        torch.manual_seed(seed)
        return UPT(_small_config(**kwargs)).eval()

    return make
