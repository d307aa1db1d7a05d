"""Small model configurations shared by the upt-models tests, for both latent designs."""

from collections.abc import Callable

import pytest
import torch

from upt_models import UPT, ApproximatorConfig, DecoderConfig, EncoderConfig, UPTConfig

# Latent tokens of the small models: 8, except a square number for the 2D grid latent.
LATENT_TOKENS = {"perceiver": {1: 8, 2: 8, 3: 8}, "grid": {1: 8, 2: 16, 3: 8}}


def _small_config(
    coord_dim: int = 2,
    num_channels: int = 2,
    num_supernodes: int = 16,
    num_cond_scalars: int = 0,
    condition_codec: bool = False,
    radius: float | None = None,
    latent: str = "perceiver",
    periodic: bool = False,
    translation_invariant: bool = False,
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
            num_latent_tokens=LATENT_TOKENS[latent][coord_dim],
            max_neighbours=6,
            radius=radius,
        ),
        approximator=ApproximatorConfig(dim=16, depth=1, num_heads=2),
        decoder=DecoderConfig(
            dim=16, depth=1, num_heads=2, perceiver_dim=16, perceiver_num_heads=2
        ),
        num_cond_scalars=num_cond_scalars,
        condition_codec=condition_codec,
        latent=latent,
        periodic=periodic,
        translation_invariant=translation_invariant,
    )


@pytest.fixture(scope="session")
def small_config() -> Callable[..., UPTConfig]:
    """Factory of configs small enough for many property-test examples on a CPU
    (latent 8 or 16 tokens x 16 channels)."""
    return _small_config


@pytest.fixture(scope="session", params=["grid", "perceiver"])
def latent(request: pytest.FixtureRequest) -> str:
    """Each test that builds models runs for both latent designs."""
    return request.param


@pytest.fixture(scope="session")
def make_model(latent: str) -> Callable[..., UPT]:
    """Factory of seeded small models in eval mode, of the `latent` design under test."""

    def make(seed: int = 0, **kwargs) -> UPT:
        torch.manual_seed(seed)
        return UPT(_small_config(**{"latent": latent, **kwargs})).eval()

    return make
