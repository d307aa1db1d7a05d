import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from upt_models.geometry import squared_distance, squared_distance_by_axis
from upt_models.graph import canonical_order, morton_code, neighbour_graph, select_supernodes


def _padded_mask(sizes: list[int], width: int) -> torch.Tensor:
    return torch.arange(width)[None, :] < torch.tensor(sizes)[:, None]


@settings(max_examples=30)
@given(st.integers(1, 40), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_canonical_order_depends_on_the_set_not_the_order(n: int, d: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    coords = torch.rand(1, n, d, generator=gen)
    perm = torch.randperm(n, generator=gen)
    sorted_a = coords[0, canonical_order(coords, torch.ones(1, n, dtype=torch.bool))[0]]
    shuffled = coords[:, perm]
    sorted_b = shuffled[0, canonical_order(shuffled, torch.ones(1, n, dtype=torch.bool))[0]]
    assert torch.equal(sorted_a, sorted_b)


def test_canonical_order_follows_the_z_curve() -> None:
    # a 2 x 2 grid in Z order: (0, 0), (1, 0), (0, 1), (1, 1) with axis 0 as the lowest bit
    coords = torch.tensor([[[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert canonical_order(coords, mask).tolist() == [[3, 2, 1, 0]]
    codes = morton_code(coords, mask)[0]
    assert codes.tolist() == sorted(codes.tolist(), reverse=True)


def test_eval_supernodes_put_one_in_each_aligned_block_of_a_grid() -> None:
    """The even stride along the Z curve spreads supernodes over both axes: on a 16 x 16 grid,
    16 supernodes land one in each 4 x 4 block (a lexicographic stride would fill one row)."""
    axis = torch.arange(16)
    cells = torch.cartesian_prod(axis, axis)
    coords = (cells / 15.0)[torch.randperm(256)][None]
    mask = torch.ones(1, 256, dtype=torch.bool)
    order = canonical_order(coords, mask)
    index, _ = select_supernodes(mask, 16, random=False)
    chosen = (coords[0, order[0, index[0]]] * 15).round().long()
    blocks = {(int(i) // 4, int(j) // 4) for i, j in chosen}
    assert len(blocks) == 16


def test_canonical_order_puts_padding_last() -> None:
    coords = torch.tensor([[[0.5], [0.1], [-5.0], [0.3]]])
    mask = torch.tensor([[True, True, False, True]])
    assert canonical_order(coords, mask).tolist() == [[1, 3, 0, 2]]


@pytest.mark.parametrize("random", [False, True])
def test_supernodes_are_distinct_real_points(random: bool) -> None:
    mask = _padded_mask([50, 20, 7], width=50)
    index, valid = select_supernodes(mask, num_supernodes=10, random=random)
    assert index.shape == valid.shape == (3, 10)
    for row, real, ok in zip(index, mask, valid, strict=True):
        chosen = row[ok]
        assert len(set(chosen.tolist())) == len(chosen)
        assert real[chosen].all()
    # a cloud with fewer real points than supernodes uses all of them, the rest are invalid
    assert valid.sum(1).tolist() == [10, 10, 7]
    assert sorted(index[2, valid[2]].tolist()) == list(range(7))


def test_supernodes_deterministic_in_eval_random_in_training() -> None:
    mask = torch.ones(1, 100, dtype=torch.bool)
    assert torch.equal(select_supernodes(mask, 10, False)[0], select_supernodes(mask, 10, False)[0])
    assert torch.equal(select_supernodes(mask, 10, False)[0], torch.arange(0, 100, 10)[None])
    draws = {tuple(sorted(select_supernodes(mask, 10, True)[0][0].tolist())) for _ in range(5)}
    assert len(draws) > 1


def test_fewer_points_than_supernodes_shrinks_the_slots() -> None:
    index, valid = select_supernodes(torch.ones(2, 5, dtype=torch.bool), 16, random=False)
    assert index.shape == (2, 5)
    assert valid.all()


@settings(max_examples=30)
@given(st.integers(2, 30), st.integers(1, 3), st.integers(1, 8), st.booleans(), st.integers(0, 999))
def test_neighbours_are_the_nearest_real_points(
    n: int, d: int, k: int, use_radius: bool, seed: int
) -> None:
    gen = torch.Generator().manual_seed(seed)
    coords = torch.rand(1, n + 3, d, generator=gen)
    mask = _padded_mask([n], n + 3)
    radius = 0.4 if use_radius else None
    index, valid = select_supernodes(mask, 4, random=False)
    neighbours, edge_valid = neighbour_graph(coords, mask, index, valid, k, radius)
    assert not edge_valid[~valid].any()
    for s in valid[0].nonzero()[:, 0].tolist():
        centre = coords[0, index[0, s]]
        distance = (coords[0, :n] - centre).norm(dim=-1)
        expected = distance.argsort()[: min(k, n)]
        if radius is not None:
            expected = expected[distance[expected] <= radius]
        chosen = neighbours[0, s][edge_valid[0, s]]
        assert index[0, s] in chosen.tolist()  # self loop
        assert mask[0, chosen].all()
        torch.testing.assert_close(distance[chosen].sort().values, distance[expected].sort().values)


@settings(max_examples=30)
@given(st.integers(1, 20), st.integers(1, 20), st.integers(1, 3), st.integers(0, 999))
def test_both_squared_distances_are_the_textbook_sums(q: int, k: int, d: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    queries, keys = torch.rand(2, q, d, generator=gen), torch.rand(2, k, d, generator=gen)
    pairs = zip(queries.double().tolist(), keys.double().tolist(), strict=True)
    sums = [
        [[sum((a - b) ** 2 for a, b in zip(x, y, strict=True)) for y in ks] for x in qs]
        for qs, ks in pairs
    ]
    textbook = torch.tensor(sums, dtype=torch.float64)
    for squared in (squared_distance(queries, keys), squared_distance_by_axis(queries, keys)):
        assert squared.dtype == torch.float32
        torch.testing.assert_close(squared.double(), textbook, rtol=1e-6, atol=1e-7)
