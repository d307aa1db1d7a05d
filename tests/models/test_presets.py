import pytest
import torch

from upt_models import PRESETS, UPT, preset

PAPER_SIZES = {"upt-8m": 8e6, "upt-17m": 17e6, "upt-68m": 68e6}
GRID_SIZES = {"grid-8m": 8e6, "grid-17m": 17e6, "grid-68m": 68e6}


def _num_params(name: str) -> int:
    with torch.device("meta"):
        model = UPT(preset(name, coord_dim=2, num_channels=3))
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(PAPER_SIZES | GRID_SIZES))
def test_parameter_counts_match_the_paper(name: str) -> None:
    assert abs(_num_params(name) / (PAPER_SIZES | GRID_SIZES)[name] - 1) < 0.10


@pytest.mark.parametrize("name", sorted(PAPER_SIZES))
def test_official_architecture(name: str) -> None:
    config = preset(name, coord_dim=2, num_channels=3)
    assert config.encoder.depth == config.approximator.depth == config.decoder.depth == 4
    assert config.encoder.num_supernodes == 2048
    assert config.encoder.num_latent_tokens == 512
    assert config.encoder.max_neighbours == 32


def test_tiny_runs_on_a_burgers_sized_input() -> None:
    model = UPT(preset("tiny", coord_dim=1, num_channels=1))
    coords = torch.linspace(0, 1, 1024)[None, :, None]
    out = model(torch.sin(6 * coords), coords, coords)
    assert out.shape == (1, 1024, 1)
    assert _num_params("tiny") < 1e6


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown preset 'upt-1b'.*tiny"):
        preset("upt-1b", coord_dim=2, num_channels=3)
    assert set(PRESETS) == {
        "tiny",
        "tiny-perceiver",
        "grid-8m",
        "grid-17m",
        "grid-68m",
        "upt-8m",
        "upt-17m",
        "upt-68m",
    }


@pytest.mark.parametrize("coord_dim", [1, 2, 3])
def test_grid_presets_fit_every_dimension(coord_dim: int) -> None:
    for name in ("tiny", "grid-8m"):
        config = preset(name, coord_dim=coord_dim, num_channels=2, periodic=True)
        side = round(config.encoder.num_latent_tokens ** (1 / coord_dim))
        assert side**coord_dim == config.encoder.num_latent_tokens
        assert config.decoder.num_neighbours == 2 ** (coord_dim + 1)


def test_perceiver_presets_treat_periodic_domains_as_boxes() -> None:
    config = preset("upt-17m", coord_dim=2, num_channels=3, periodic=True)
    assert config.latent == "perceiver"
    assert not config.periodic
    assert preset("tiny", coord_dim=2, num_channels=3, periodic=True).periodic
