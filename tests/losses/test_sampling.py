"""The query-point sampler: distinct real points, uniform, reproducible."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from upt_losses import gather_points, sample_query_indices


@st.composite
def masks(draw: st.DrawFn) -> torch.Tensor:
    batch, num_points = draw(st.integers(1, 4)), draw(st.integers(1, 30))
    rows = [
        draw(st.lists(st.booleans(), min_size=num_points, max_size=num_points).filter(any))
        for _ in range(batch)
    ]
    return torch.tensor(rows)


@given(masks(), st.integers(1, 40), st.integers(0, 2**31 - 1))
def test_samples_are_distinct_real_points(
    mask: torch.Tensor, num_query_points: int, seed: int
) -> None:
    coords = torch.zeros(*mask.shape, 2)
    generator = torch.Generator().manual_seed(seed)
    indices, sampled_mask = sample_query_indices(
        coords, num_query_points, mask=mask, generator=generator
    )
    assert (
        indices.shape == sampled_mask.shape == (mask.shape[0], min(num_query_points, mask.shape[1]))
    )
    for row_mask, row_indices, row_sampled in zip(mask, indices, sampled_mask, strict=True):
        chosen = row_indices[row_sampled].tolist()
        assert len(set(chosen)) == len(chosen) == min(num_query_points, int(row_mask.sum()))
        assert all(row_mask[i] for i in chosen)


@settings(max_examples=5)
@given(st.integers(2, 12), st.data())
def test_every_real_point_is_equally_likely(num_real: int, data: st.DataObject) -> None:
    num_query_points = data.draw(st.integers(1, num_real - 1))
    mask = torch.arange(num_real + 3) < num_real
    coords = torch.zeros(1, num_real + 3, 1)
    generator = torch.Generator().manual_seed(0)
    draws = 4000
    counts = torch.zeros(num_real + 3)
    for _ in range(draws):
        indices, _ = sample_query_indices(
            coords, num_query_points, mask=mask.unsqueeze(0), generator=generator
        )
        counts[indices[0]] += 1
    assert counts[num_real:].sum() == 0
    inclusion = num_query_points / num_real
    standard_deviation = (draws * inclusion * (1 - inclusion)) ** 0.5
    assert (counts[:num_real] - draws * inclusion).abs().max() <= 5 * standard_deviation


def test_the_generator_decides_the_sample() -> None:
    coords = torch.zeros(3, 50, 1)

    def draw(seed: int) -> torch.Tensor:
        return sample_query_indices(coords, 10, generator=torch.Generator().manual_seed(seed))[0]

    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))


def test_no_sampling_keeps_every_point_in_order() -> None:
    coords = torch.rand(2, 6, 3)
    for num_query_points in (None, 6, 9):
        indices, sampled_mask = sample_query_indices(coords, num_query_points)
        assert sampled_mask is None
        assert torch.equal(gather_points(coords, indices), coords)
