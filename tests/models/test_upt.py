from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from upt_models import UPT

ModelFactory = Callable[..., UPT]


def _cloud(b: int, n: int, d: int, c: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(b, n, c, generator=gen), torch.rand(b, n, d, generator=gen)


def _tokens(model: UPT) -> int:
    return model.config.encoder.num_latent_tokens


@pytest.mark.parametrize("coord_dim", [1, 2, 3])
def test_shapes(make_model: ModelFactory, coord_dim: int) -> None:
    model = make_model(coord_dim=coord_dim)
    fields, coords = _cloud(3, 40, coord_dim)
    latent = model.encode(fields, coords)
    tokens = _tokens(model)
    assert latent.shape == (3, tokens, 16)
    assert model.step(latent).shape == (3, tokens, 16)
    assert model.rollout(latent, 4).shape == (3, 4, tokens, 16)
    assert model.decode(latent, torch.rand(3, 11, coord_dim)).shape == (3, 11, 2)
    assert model(fields, coords, torch.rand(3, 5, coord_dim)).shape == (3, 5, 2)


@settings(max_examples=15)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=3),
    extra=st.integers(0, 10),
    coord_dim=st.integers(1, 3),
    radius=st.sampled_from([None, 0.3]),
    seed=st.integers(0, 2**16),
)
def test_padded_batch_equals_each_cloud_alone(
    make_model: ModelFactory,
    sizes: list[int],
    extra: int,
    coord_dim: int,
    radius: float | None,
    seed: int,
) -> None:
    model = make_model(coord_dim=coord_dim, radius=radius)
    width = max(sizes) + extra
    fields = torch.full((len(sizes), width, 2), torch.nan)
    coords = torch.full((len(sizes), width, coord_dim), torch.nan)
    mask = torch.arange(width)[None, :] < torch.tensor(sizes)[:, None]
    clouds = [_cloud(1, n, coord_dim, seed=seed + i) for i, n in enumerate(sizes)]
    for i, (f, x) in enumerate(clouds):
        fields[i, : sizes[i]], coords[i, : sizes[i]] = f[0], x[0]
    batched = model.encode(fields, coords, mask=mask)
    assert batched.isfinite().all()
    for i, (f, x) in enumerate(clouds):
        torch.testing.assert_close(batched[i : i + 1], model.encode(f, x), atol=1e-5, rtol=1e-5)


@settings(max_examples=15)
@given(n=st.integers(1, 60), coord_dim=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_encoder_is_invariant_to_point_order(
    make_model: ModelFactory, n: int, coord_dim: int, seed: int
) -> None:
    model = make_model(coord_dim=coord_dim)
    fields, coords = _cloud(2, n, coord_dim, seed=seed)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(
        model.encode(fields[:, perm], coords[:, perm]), model.encode(fields, coords)
    )


def test_order_invariance_on_a_regular_grid_with_distance_ties(make_model: ModelFactory) -> None:
    model = make_model(coord_dim=2)
    grid = torch.stack(torch.meshgrid(torch.arange(12.0), torch.arange(12.0), indexing="ij"), -1)
    coords = grid.reshape(1, -1, 2) / 12
    fields = torch.sin(6 * coords).repeat(1, 1, 1)
    perm = torch.randperm(coords.shape[1], generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        model.encode(fields[:, perm], coords[:, perm]), model.encode(fields, coords)
    )


def test_latent_depends_on_the_fields(make_model: ModelFactory) -> None:
    model = make_model()
    fields, coords = _cloud(1, 40, 2)
    assert not torch.allclose(model.encode(fields, coords), model.encode(2 * fields, coords))


def test_training_mode_draws_random_supernodes(small_config) -> None:
    torch.manual_seed(0)
    model = UPT(small_config(latent="perceiver")).train()
    fields, coords = _cloud(1, 200, 2)
    assert not torch.allclose(model.encode(fields, coords), model.encode(fields, coords))
    torch.manual_seed(3)
    first = model.encode(fields, coords)
    torch.manual_seed(3)
    torch.testing.assert_close(model.encode(fields, coords), first)


def test_grid_encoder_is_deterministic_in_training_mode(small_config) -> None:
    model = UPT(small_config(latent="grid")).train()
    fields, coords = _cloud(1, 200, 2)
    torch.testing.assert_close(model.encode(fields, coords), model.encode(fields, coords))


def test_fewer_real_points_than_supernodes_or_neighbours(make_model: ModelFactory) -> None:
    model = make_model(num_supernodes=64)
    fields, coords = _cloud(2, 10, 2)
    latent = model.encode(fields, coords)
    assert latent.isfinite().all()
    torch.testing.assert_close(latent[1:], model.encode(fields[1:], coords[1:]))


@settings(max_examples=10)
@given(num_queries=st.integers(1, 30), seed=st.integers(0, 2**16))
def test_decoding_at_once_equals_one_by_one(
    make_model: ModelFactory, num_queries: int, seed: int
) -> None:
    model = make_model()
    latent = model.encode(*_cloud(2, 30, 2, seed=seed))
    queries = torch.rand(2, num_queries, 2, generator=torch.Generator().manual_seed(seed))
    at_once = model.decode(latent, queries)
    one_by_one = torch.cat(
        [model.decode(latent, queries[:, i : i + 1]) for i in range(num_queries)], dim=1
    )
    torch.testing.assert_close(at_once, one_by_one, atol=1e-5, rtol=1e-5)


def test_decoding_at_a_finer_grid_contains_the_coarse_one(make_model: ModelFactory) -> None:
    model = make_model(coord_dim=1)
    coarse = torch.linspace(0, 1, 33)[None, :, None]
    fine = torch.linspace(0, 1, 257)[None, :, None]
    latent = model.encode(torch.sin(6 * coarse).repeat(1, 1, 2), coarse)
    fine_out = model.decode(latent, fine)
    assert fine_out.shape == (1, 257, 2)
    torch.testing.assert_close(fine_out[:, ::8], model.decode(latent, coarse), atol=1e-5, rtol=0)


def test_rollout_repeats_step(make_model: ModelFactory) -> None:
    model = make_model(num_cond_scalars=1)
    latent = model.encode(*_cloud(2, 30, 2))
    cond = torch.tensor([[0.1], [0.7]])
    rolled = model.rollout(latent, 3, cond)
    expected = model.step(model.step(model.step(latent, cond), cond), cond)
    torch.testing.assert_close(rolled[:, 2], expected)
    torch.testing.assert_close(rolled[:, 0], model.step(latent, cond))


def test_conditioning_changes_the_step(make_model: ModelFactory) -> None:
    model = make_model(num_cond_scalars=2)
    latent = model.encode(*_cloud(1, 30, 2))
    a = model.step(latent, torch.tensor([[0.1, 0.5]]))
    b = model.step(latent, torch.tensor([[0.2, 0.5]]))
    assert not torch.allclose(a, b)


def test_condition_codec_conditions_encoder_and_decoder(make_model: ModelFactory) -> None:
    model = make_model(num_cond_scalars=1, condition_codec=True)
    fields, coords = _cloud(1, 30, 2)
    a, b = torch.tensor([[0.1]]), torch.tensor([[0.9]])
    assert not torch.allclose(
        model.encode(fields, coords, cond=a), model.encode(fields, coords, cond=b)
    )
    latent = model.encode(fields, coords, cond=a)
    assert not torch.allclose(
        model.decode(latent, coords, cond=a), model.decode(latent, coords, cond=b)
    )
    with pytest.raises(ValueError, match=r"conditioned on 1 scalars: pass cond of shape \(1, 1\)"):
        model.encode(fields, coords)


def test_bfloat16_autocast_on_cpu(make_model: ModelFactory) -> None:
    model = make_model()
    fields, coords = _cloud(2, 30, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(fields, coords, coords)
    assert out.isfinite().all()
    torch.testing.assert_close(out.float(), model(fields, coords, coords), atol=0.1, rtol=0.1)


BAD_INPUTS = [
    (
        lambda m, t: m.encode(torch.rand(2, 5, 3), torch.rand(2, 5, 2)),
        r"fields must have shape \(batch, points, channels=2\); got \(2, 5, 3\)",
    ),
    (
        lambda m, t: m.encode(torch.rand(2, 5, 2), torch.rand(2, 4, 2)),
        r"coords must have shape \(batch=2, points=5, coord_dim=2\); got \(2, 4, 2\)",
    ),
    (
        lambda m, t: m.encode(torch.rand(2, 5, 2), torch.rand(2, 5, 2), torch.ones(2, 5)),
        "mask must be bool",
    ),
    (
        lambda m, t: m.encode(
            torch.rand(2, 5, 2), torch.rand(2, 5, 2), torch.zeros(2, 5, dtype=torch.bool)
        ),
        "at least one real point",
    ),
    (
        lambda m, t: m.decode(torch.rand(2, t, 16), torch.rand(3, 4, 2)),
        r"query_coords must have shape \(batch=2, queries, coord_dim=2\); got \(3, 4, 2\)",
    ),
    (
        lambda m, t: m.step(torch.rand(2, t - 1, 16)),
        r"latent must have shape \(batch, tokens=\d+, dim=16\); got \(2, \d+, 16\)",
    ),
    (lambda m, t: m.step(torch.rand(2, t, 16), torch.rand(2, 1)), "num_cond_scalars=0"),
    (lambda m, t: m.rollout(torch.rand(2, t, 16), 0), "num_steps must be >= 1"),
]


@pytest.mark.parametrize(("call", "message"), BAD_INPUTS)
def test_bad_inputs_raise_value_errors(make_model: ModelFactory, call, message: str) -> None:
    model = make_model()
    with pytest.raises(ValueError, match=message):
        call(model, _tokens(model))


def test_wrong_cond_shape_is_named(make_model: ModelFactory) -> None:
    model = make_model(num_cond_scalars=2)
    latent = torch.rand(2, _tokens(model), 16)
    with pytest.raises(ValueError, match=r"cond must have shape .*; got \(2, 3\)"):
        model.step(latent, torch.rand(2, 3))
    with pytest.raises(ValueError, match="pass cond"):
        model.step(latent)
