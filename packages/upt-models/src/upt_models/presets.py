"""Named model sizes. On the grid latent: `tiny` (the CPU default) and `grid-8m`, `grid-17m`,
`grid-68m` (GPU sizes near the paper's parameter counts). On the perceiver latent: `tiny-perceiver`
(the tiny size, for comparison) and the paper's UPT-8M / 17M / 68M (the official design)."""

import dataclasses
from collections.abc import Callable

from upt_models.approximator import ApproximatorConfig
from upt_models.decoder import DecoderConfig
from upt_models.encoder import EncoderConfig
from upt_models.upt import UPTConfig


def _official(
    enc_dim: int, latent_dim: int, enc_heads: int, latent_heads: int, dec_perceiver_heads: int
) -> dict:
    """ml-jku/UPT transient-flow configs: depth 4 everywhere, 2048 supernodes, 512 latent tokens,
    at most 32 neighbours; the decoder's perceiver runs at the encoder width; every block is
    adaLN-conditioned on two scalars (the official timestep and velocity)."""
    return dict(
        latent="perceiver",
        encoder=EncoderConfig(
            gnn_dim=enc_dim,
            dim=enc_dim,
            depth=4,
            num_heads=enc_heads,
            perceiver_num_heads=latent_heads,
            num_supernodes=2048,
            num_latent_tokens=512,
            max_neighbours=32,
        ),
        approximator=ApproximatorConfig(dim=latent_dim, depth=4, num_heads=latent_heads),
        decoder=DecoderConfig(
            dim=latent_dim,
            depth=4,
            num_heads=latent_heads,
            perceiver_dim=enc_dim,
            perceiver_num_heads=dec_perceiver_heads,
        ),
        num_cond_scalars=2,
        condition_codec=True,
    )


def _grid(
    dim: int,
    num_heads: int,
    depths: tuple[int, int, int],
    tokens: dict[int, int],
    neighbours: dict[int, int],
) -> Callable[[int], dict]:
    """A grid-latent size: encoder, approximator and decoder blocks (`depths`) at width `dim`;
    per number of coordinate axes, the latent grid's token count and the points each anchor
    pools; every query reads its 2^(d+1) nearest anchors."""

    def build(coord_dim: int) -> dict:
        return dict(
            encoder=EncoderConfig(
                dim=dim,
                depth=depths[0],
                num_heads=num_heads,
                num_latent_tokens=tokens[coord_dim],
                max_neighbours=neighbours[coord_dim],
            ),
            approximator=ApproximatorConfig(dim=dim, depth=depths[1], num_heads=num_heads),
            decoder=DecoderConfig(
                dim=dim, depth=depths[2], num_heads=num_heads, num_neighbours=2 ** (coord_dim + 1)
            ),
        )

    return build


def _constant(values: dict) -> Callable[[int], dict]:
    return lambda coord_dim: values


# Latent grids: 64 / 256 tokens in 1D, 16^2 in 2D, 8^3 in 3D.
SMALL_GRID, LARGE_GRID = {1: 64, 2: 256, 3: 512}, {1: 256, 2: 256, 3: 512}
NEIGHBOURS = {1: 8, 2: 16, 3: 16}

PRESETS: dict[str, Callable[[int], dict]] = {
    "tiny": _grid(64, 4, (2, 2, 1), SMALL_GRID, NEIGHBOURS),
    "grid-8m": _grid(256, 4, (2, 5, 2), LARGE_GRID, NEIGHBOURS),
    "grid-17m": _grid(384, 6, (2, 5, 2), LARGE_GRID, NEIGHBOURS),
    "grid-68m": _grid(768, 12, (2, 5, 2), LARGE_GRID, NEIGHBOURS),
    "tiny-perceiver": _constant(
        dict(
            latent="perceiver",
            encoder=EncoderConfig(
                gnn_dim=32,
                dim=64,
                depth=2,
                num_heads=2,
                perceiver_num_heads=2,
                num_supernodes=128,
                num_latent_tokens=32,
                max_neighbours=16,
            ),
            approximator=ApproximatorConfig(dim=64, depth=2, num_heads=2),
            decoder=DecoderConfig(
                dim=64, depth=1, num_heads=2, perceiver_dim=64, perceiver_num_heads=2
            ),
        )
    ),
    "upt-8m": _constant(_official(64, 128, enc_heads=2, latent_heads=2, dec_perceiver_heads=2)),
    "upt-17m": _constant(_official(96, 192, enc_heads=2, latent_heads=3, dec_perceiver_heads=2)),
    "upt-68m": _constant(_official(192, 384, enc_heads=3, latent_heads=6, dec_perceiver_heads=3)),
}


def preset(
    name: str,
    *,
    coord_dim: int,
    num_channels: int,
    periodic: bool = False,
    translation_invariant: bool = False,
    num_latent_tokens: int | None = None,
) -> UPTConfig:
    """The named preset for data with `coord_dim` coordinates and `num_channels` field channels,
    on a periodic domain or not (and with physics that is translation invariant or not),
    optionally with another number of latent tokens (for the grid latent, a `coord_dim`-th
    power). Perceiver presets ignore `periodic` and `translation_invariant`: the official design
    treats every domain as a box."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    if coord_dim not in (1, 2, 3):
        raise ValueError(f"presets cover 1, 2 or 3 coordinate axes; got coord_dim={coord_dim}")
    values = dict(PRESETS[name](coord_dim))
    if num_latent_tokens is not None:
        values["encoder"] = dataclasses.replace(
            values["encoder"], num_latent_tokens=num_latent_tokens
        )
    if values.get("latent") == "perceiver":
        periodic = translation_invariant = False  # the official design knows no periodic domains
    return UPTConfig(
        coord_dim=coord_dim,
        num_channels=num_channels,
        periodic=periodic,
        translation_invariant=translation_invariant,
        **values,
    )
