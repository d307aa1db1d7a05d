"""The grid latent: anchors, nearest neighbours, the relative position bias, the kernel pooling,
and what a periodic domain buys (commuting with shifts by whole cells)."""

import itertools

import pytest
import torch
from einops import repeat
from hypothesis import given, settings
from hypothesis import strategies as st

from upt_models import UPT
from upt_models.geometry import displacement, grid_anchors, grid_side, nearest, nearest_anchors
from upt_models.relative_position import RelativePositionBias


def test_grid_anchors_are_the_cell_centres() -> None:
    anchors = grid_anchors(16, 2)
    assert anchors.shape == (16, 2)
    centres = (torch.arange(4) + 0.5) / 4
    expected = torch.tensor(list(itertools.product(centres.tolist(), repeat=2)))
    torch.testing.assert_close(anchors, expected)
    torch.testing.assert_close(grid_anchors(8, 1)[:, 0], (torch.arange(8) + 0.5) / 8)


def test_a_token_count_that_is_no_grid_is_refused() -> None:
    assert grid_side(27, 3) == 3
    with pytest.raises(ValueError, match=r"12 latent tokens do not form a regular grid in 2D"):
        grid_side(12, 2)


def test_periodic_displacement_takes_the_nearest_image() -> None:
    to, origin = torch.tensor([0.95, 0.1, 0.5]), torch.tensor([0.05, 0.9, 0.2])
    torch.testing.assert_close(
        displacement(to, origin, periodic=True), torch.tensor([-0.1, 0.2, 0.3])
    )
    torch.testing.assert_close(displacement(to, origin, periodic=False), to - origin)


@settings(max_examples=25)
@given(
    num_keys=st.integers(1, 30),
    k=st.integers(1, 8),
    coord_dim=st.integers(1, 3),
    periodic=st.booleans(),
    radius=st.sampled_from([None, 0.3]),
    seed=st.integers(0, 2**16),
)
def test_nearest_matches_a_brute_force_search(
    num_keys: int, k: int, coord_dim: int, periodic: bool, radius: float | None, seed: int
) -> None:
    gen = torch.Generator().manual_seed(seed)
    queries = torch.rand(2, 5, coord_dim, generator=gen)
    keys = torch.rand(2, num_keys, coord_dim, generator=gen)
    mask = torch.rand(2, num_keys, generator=gen) < 0.7
    index, offset, valid = nearest(queries, keys, k, periodic, mask, radius)
    for b, q in itertools.product(range(2), range(5)):
        images = [
            (float(torch.linalg.vector_norm(delta)), j, delta)
            for j in range(num_keys)
            if mask[b, j]
            for delta in [displacement(keys[b, j], queries[b, q], periodic)]
        ]
        images.sort(key=lambda item: (item[0], item[1]))
        chosen = [i for i in images if radius is None or i[0] <= radius][:k]
        rows = zip(index[b, q], offset[b, q], valid[b, q], strict=True)
        found = [(int(j), o) for j, o, ok in rows if ok]
        assert [j for j, _ in found] == [j for _, j, _ in chosen]
        for (_, o), (_, _, delta) in zip(found, chosen, strict=True):
            torch.testing.assert_close(o, delta)


@settings(max_examples=40)
@given(
    coord_dim=st.integers(1, 3),
    side=st.integers(2, 9),
    k_log=st.integers(0, 3),
    periodic=st.booleans(),
    on_a_grid=st.sampled_from([None, 2, 4, 6]),
    seed=st.integers(0, 2**16),
)
def test_the_windowed_anchor_search_equals_the_full_search(
    coord_dim: int, side: int, k_log: int, periodic: bool, on_a_grid: int | None, seed: int
) -> None:
    """Queries at random points and on finer grids (where distances tie), every k up to
    2^(d + 1) (beyond it the full search runs), with and without wrapping."""
    anchors = grid_anchors(side**coord_dim, coord_dim)
    k = min(2**k_log, len(anchors))
    gen = torch.Generator().manual_seed(seed)
    if on_a_grid is None:
        queries = torch.rand(2, 64, coord_dim, generator=gen)
    else:
        queries = grid_anchors((on_a_grid * side) ** coord_dim, coord_dim)
        chosen = torch.randperm(len(queries), generator=gen)[:64]
        queries = repeat(queries[chosen] - 0.5 / (on_a_grid * side), "q d -> b q d", b=2)
    expected_index, expected_offset, _ = nearest(
        queries, repeat(anchors, "l d -> b l d", b=2), k, periodic
    )
    index, offset = nearest_anchors(queries, anchors, k, periodic)
    torch.testing.assert_close(index, expected_index, rtol=0, atol=0)
    torch.testing.assert_close(offset, expected_offset, rtol=0, atol=0)


@pytest.mark.parametrize(("coord_dim", "side"), [(1, 8), (2, 4), (2, 5), (3, 3)])
@pytest.mark.parametrize("periodic", [False, True])
def test_relative_bias_sees_each_pair_by_its_offset_alone(
    coord_dim: int, side: int, periodic: bool
) -> None:
    bias = RelativePositionBias(side, coord_dim, periodic, num_heads=2, num_blocks=1)
    anchors = grid_anchors(side**coord_dim, coord_dim)
    offsets = displacement(anchors[None], anchors[:, None], periodic) * side
    used = bias.offsets[bias.table_index]
    difference = used - offsets
    if periodic:  # both are images of the same offset; a half-period tie may pick either
        difference = difference.remainder(side)
        difference = torch.minimum(difference, side - difference)
    assert difference.abs().max() < 1e-4
    values = bias()
    assert values.shape == (1, 1, 2, side**coord_dim, side**coord_dim)
    same = (bias.table_index[:, :, None, None] == bias.table_index[None, None]).nonzero()[:50]
    for i, j, p, q in same.tolist():
        torch.testing.assert_close(values[0, 0, :, i, j], values[0, 0, :, p, q])


@pytest.mark.parametrize("num_points", [30, 120])
def test_pooling_is_the_mean_of_kernel_weighted_field_embeddings(small_config, num_points) -> None:
    """Against a loop over each anchor's nearest points, written from the docstring's formula;
    with fewer and with more points than the 16 x 6 pooled slots (the encoder embeds the points
    first, or the gathered slots)."""
    torch.manual_seed(0)
    model = UPT(small_config(latent="grid", coord_dim=2)).eval()
    encoder = model.encoder
    assert len(encoder.anchors) * encoder.config.max_neighbours == 96
    fields, coords = torch.randn(1, num_points, 2), torch.rand(1, num_points, 2)
    captured = {}
    encoder.blocks[0].register_forward_pre_hook(lambda _, args: captured.update(x=args[0]))
    encoder(fields, coords)
    k = encoder.config.max_neighbours
    for anchor_index, anchor in enumerate(encoder.anchors):
        distance = torch.linalg.vector_norm(coords[0] - anchor, dim=-1)
        chosen = distance.argsort(stable=True)[:k]
        offsets = (coords[0, chosen] - anchor) / encoder.spacing
        messages = encoder.kernel(encoder.offset_features(offsets)) * encoder.field_embed(
            fields[0, chosen]
        )
        expected = messages.mean(0) + encoder.position(anchor[None])[0]
        torch.testing.assert_close(captured["x"][0, anchor_index], expected, atol=1e-5, rtol=1e-5)


def _periodic_model(small_config, seed: int = 0) -> UPT:
    torch.manual_seed(seed)
    config = small_config(
        latent="grid", coord_dim=1, num_channels=1, periodic=True, translation_invariant=True
    )
    return UPT(config).eval()


@settings(max_examples=10)
@given(shift=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_a_periodic_model_commutes_with_shifts_by_whole_cells(
    small_config, shift: int, seed: int
) -> None:
    model = _periodic_model(small_config)
    tokens = model.config.encoder.num_latent_tokens
    points = 4 * tokens
    coords = ((torch.arange(points) + 0.5) / points)[None, :, None]
    fields = torch.randn(1, points, 1, generator=torch.Generator().manual_seed(seed))
    shifted = fields.roll(4 * shift, dims=1)  # the field moved right by `shift` cells
    latent, latent_shifted = model.encode(fields, coords), model.encode(shifted, coords)
    torch.testing.assert_close(latent_shifted, latent.roll(shift, dims=1), atol=1e-5, rtol=1e-5)
    stepped = model.step(latent)
    torch.testing.assert_close(
        model.step(latent_shifted), stepped.roll(shift, dims=1), atol=1e-5, rtol=1e-5
    )
    queries = torch.rand(1, 9, 1)
    moved = (queries + shift / tokens).remainder(1.0)
    torch.testing.assert_close(
        model.decode(latent_shifted, moved), model.decode(latent, queries), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("periodic", [False, True])
def test_a_model_with_positions_knows_where_it_is(small_config, periodic: bool) -> None:
    torch.manual_seed(0)
    model = UPT(small_config(latent="grid", coord_dim=1, num_channels=1, periodic=periodic))
    coords = ((torch.arange(32) + 0.5) / 32)[None, :, None]
    fields = torch.randn(1, 32, 1)
    shifted = model.encode(fields.roll(4, dims=1), coords)
    assert not torch.allclose(shifted, model.encode(fields, coords).roll(1, dims=1), atol=1e-3)


def test_periodic_needs_the_grid_latent(small_config) -> None:
    with pytest.raises(ValueError, match="periodic domains need the grid latent"):
        small_config(latent="perceiver", periodic=True)
    with pytest.raises(ValueError, match="translation_invariant=True needs a periodic domain"):
        small_config(latent="grid", translation_invariant=True)
