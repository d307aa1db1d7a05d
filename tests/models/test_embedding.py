import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from upt_models import SincosEmbedding


@pytest.mark.parametrize(("dim", "num_axes"), [(8, 1), (16, 2), (13, 3), (64, 3)])
def test_shape_and_zero_padding(dim: int, num_axes: int) -> None:
    embed = SincosEmbedding(dim, num_axes)
    out = embed(torch.rand(4, 5, num_axes))
    used = num_axes * 2 * (dim // num_axes // 2)
    assert out.shape == (4, 5, dim)
    assert torch.all(out[..., used:] == 0)


def test_values_are_sin_cos_of_scaled_positions() -> None:
    embed = SincosEmbedding(4, 1, scale=2.0, max_wavelength=100.0)
    x = torch.tensor([[0.3]])
    angles = [0.6 * 1.0, 0.6 / 10.0]  # frequencies 100**0 and 100**-0.5
    expected = [math.sin(angles[0]), math.sin(angles[1]), math.cos(angles[0]), math.cos(angles[1])]
    torch.testing.assert_close(embed(x)[0], torch.tensor(expected))


@given(st.lists(st.floats(0, 1), min_size=2, max_size=2))
def test_axes_are_embedded_independently(position: list[float]) -> None:
    embed = SincosEmbedding(8, 2)
    both = embed(torch.tensor([position]))
    other = embed(torch.tensor([[position[0], 0.0]]))
    torch.testing.assert_close(both[:, :4], other[:, :4])


def test_distinct_positions_get_distinct_embeddings() -> None:
    out = SincosEmbedding(32, 1)(torch.linspace(0, 1, 1024)[:, None])
    distances = torch.cdist(out, out) + torch.eye(1024) * 1e9
    assert distances.min() > 1e-2


def test_rejects_wrong_axes_and_too_small_dim() -> None:
    with pytest.raises(ValueError, match=r"2 axes.*got shape \(3, 3\)"):
        SincosEmbedding(8, 2)(torch.rand(3, 3))
    with pytest.raises(ValueError, match="too small"):
        SincosEmbedding(4, 3)
