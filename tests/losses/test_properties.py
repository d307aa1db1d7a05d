"""Property tests of the invariants DESIGN.md lists for the inverse losses."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from losses.reference_pairs import MeanPoolEncoder, PointwiseDecoder, SpectralPair
from torch import Tensor

from upt_losses import upt_inverse_decoding_loss, upt_inverse_encoding_loss


@dataclass
class Problem:
    """A batch of point clouds with a random linear encoder/decoder pair."""

    fields: Tensor  # (B, N, C)
    coords: Tensor  # (B, N, d)
    latent: Tensor  # (B, L, D)
    mask: Tensor | None  # (B, N)
    encoder: MeanPoolEncoder
    decoder: PointwiseDecoder

    @property
    def num_points(self) -> int:
        return self.coords.shape[1]

    def encoding_loss(self, **kwargs: object) -> Tensor:
        kwargs.setdefault("mask", self.mask)
        return upt_inverse_encoding_loss(
            self.fields, self.coords, self.latent, self.decoder, **kwargs
        )

    def decoding_loss(self, **kwargs: object) -> Tensor:
        kwargs.setdefault("mask", self.mask)
        return upt_inverse_decoding_loss(
            self.latent, self.decoder, self.encoder, self.coords, **kwargs
        )


@st.composite
def problems(draw: st.DrawFn, masked: bool | None = None, min_points: int = 1) -> Problem:
    batch = draw(st.integers(1, 3))
    num_points = draw(st.integers(min_points, 40))
    channels, coord_dim = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    num_tokens, latent_dim = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    use_mask = draw(st.booleans()) if masked is None else masked
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mask = None
    if use_mask:
        lengths = torch.randint(1, num_points + 1, (batch,), generator=generator)
        mask = torch.arange(num_points) < lengths.unsqueeze(1)
    return Problem(
        fields=torch.randn(batch, num_points, channels, generator=generator, dtype=torch.float64),
        coords=torch.rand(batch, num_points, coord_dim, generator=generator, dtype=torch.float64),
        latent=torch.randn(batch, num_tokens, latent_dim, generator=generator, dtype=torch.float64),
        mask=mask,
        encoder=MeanPoolEncoder(channels, coord_dim, num_tokens, latent_dim).double(),
        decoder=PointwiseDecoder(latent_dim, coord_dim, channels).double(),
    )


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


query_counts = st.one_of(st.none(), st.integers(1, 50))
seeds = st.integers(0, 2**31 - 1)


@given(problems(), query_counts, seeds)
def test_losses_are_non_negative(problem: Problem, num_query_points: int | None, seed: int) -> None:
    kwargs = {"num_query_points": num_query_points}
    assert problem.encoding_loss(generator=seeded(seed), **kwargs).item() >= 0
    assert problem.decoding_loss(generator=seeded(seed), **kwargs).item() >= 0


@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.booleans(), seeds)
def test_losses_vanish_for_an_exact_encoder_decoder_pair(
    num_modes: int, batch: int, channels: int, sample: bool, seed: int
) -> None:
    pair = SpectralPair(num_modes)
    generator = seeded(seed)
    num_points = 8 * pair.num_tokens
    coords = torch.rand(batch, num_points, 1, generator=generator, dtype=torch.float64)
    latent = torch.randn(batch, pair.num_tokens, channels, generator=generator, dtype=torch.float64)
    fields = pair.decode(latent, coords)
    num_query_points = 4 * pair.num_tokens if sample else None

    encoding = upt_inverse_encoding_loss(
        fields, coords, latent, pair.decode, num_query_points=num_query_points, generator=generator
    )
    decoding = upt_inverse_decoding_loss(
        latent,
        pair.decode,
        pair.encode,
        coords,
        num_query_points=num_query_points,
        generator=generator,
    )
    assert encoding.item() < 1e-24
    assert decoding.item() < 1e-20


@given(problems(), query_counts, st.floats(0, 1e3), seeds)
def test_losses_are_linear_in_weight(
    problem: Problem, num_query_points: int | None, weight: float, seed: int
) -> None:
    for loss in (problem.encoding_loss, problem.decoding_loss):
        unit = loss(num_query_points=num_query_points, generator=seeded(seed))
        weighted = loss(num_query_points=num_query_points, weight=weight, generator=seeded(seed))
        torch.testing.assert_close(weighted, weight * unit, rtol=1e-12, atol=0)


@given(problems(), st.integers(0, 5), seeds)
def test_sampling_all_points_is_the_full_loss(problem: Problem, surplus: int, seed: int) -> None:
    for loss in (problem.encoding_loss, problem.decoding_loss):
        full = loss(num_query_points=None)
        sampled = loss(num_query_points=problem.num_points + surplus, generator=seeded(seed))
        assert sampled.item() == full.item()


@given(problems(), seeds)
def test_full_losses_do_not_depend_on_point_order(problem: Problem, seed: int) -> None:
    order = torch.randperm(problem.num_points, generator=seeded(seed))
    permuted = Problem(
        fields=problem.fields[:, order],
        coords=problem.coords[:, order],
        latent=problem.latent,
        mask=None if problem.mask is None else problem.mask[:, order],
        encoder=problem.encoder,
        decoder=problem.decoder,
    )
    torch.testing.assert_close(permuted.encoding_loss(), problem.encoding_loss())
    torch.testing.assert_close(permuted.decoding_loss(), problem.decoding_loss())


@settings(max_examples=10)
@given(problems(min_points=4), st.data())
def test_sampled_inverse_encoding_loss_is_unbiased(problem: Problem, data: st.DataObject) -> None:
    num_query_points = data.draw(st.integers(1, problem.num_points - 1))
    full = problem.encoding_loss().item()
    draws = torch.stack(
        [
            problem.encoding_loss(num_query_points=num_query_points, generator=seeded(seed))
            for seed in range(400)
        ]
    ).detach()
    standard_error = draws.std() / len(draws) ** 0.5
    assert abs(draws.mean().item() - full) <= 5 * standard_error.item() + 1e-12


@given(problems(), query_counts, seeds)
def test_gradients_reach_decoder_and_encoder(
    problem: Problem, num_query_points: int | None, seed: int
) -> None:
    # A zero head weight would make some input gradients vanish by construction; keep it generic.
    problem.encoding_loss(num_query_points=num_query_points, generator=seeded(seed)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in problem.decoder.parameters())
    assert all(p.grad is None for p in problem.encoder.parameters())

    problem.decoder.zero_grad()
    problem.decoding_loss(num_query_points=num_query_points, generator=seeded(seed)).backward()
    for module in (problem.decoder, problem.encoder):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


@given(problems(), st.booleans())
def test_detached_target_receives_no_gradient(problem: Problem, detach_target: bool) -> None:
    def latent_blind_decoder(latent: Tensor, query_coords: Tensor) -> Tensor:
        return problem.decoder(torch.zeros_like(latent), query_coords)

    latent = problem.latent.clone().requires_grad_(True)
    loss = upt_inverse_decoding_loss(
        latent,
        latent_blind_decoder,
        problem.encoder,
        problem.coords,
        mask=problem.mask,
        detach_target=detach_target,
    )
    loss.backward()
    if detach_target:
        assert latent.grad is None
    else:
        assert latent.grad is not None
        assert latent.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@given(problem=problems(masked=False), seed=seeds)
def test_losses_stay_finite_under_low_precision_autocast(
    problem: Problem, seed: int, dtype: torch.dtype
) -> None:
    # Fields of size ~300 give squared errors ~1e5, past float16's largest value (65504).
    fields = 300.0 * problem.fields.float()
    decoder, encoder = problem.decoder.float(), problem.encoder.float()
    coords, latent = problem.coords.float(), problem.latent.float()
    reference = upt_inverse_encoding_loss(fields, coords, latent, decoder)
    with torch.autocast("cpu", dtype=dtype):
        assert decoder(latent, coords).dtype == dtype
        encoding = upt_inverse_encoding_loss(fields, coords, latent, decoder)
        decoding = upt_inverse_decoding_loss(latent, decoder, encoder, coords)
    assert encoding.dtype == torch.float32
    assert torch.isfinite(encoding)
    assert torch.isfinite(decoding)
    torch.testing.assert_close(encoding, reference, rtol=2e-2, atol=0)


@given(problems(), st.integers(1, 50), seeds)
def test_same_seed_gives_the_same_value(problem: Problem, num_query_points: int, seed: int) -> None:
    for loss in (problem.encoding_loss, problem.decoding_loss):
        first = loss(num_query_points=num_query_points, generator=seeded(seed))
        second = loss(num_query_points=num_query_points, generator=seeded(seed))
        assert first.item() == second.item()


@given(problems(masked=True), query_counts, seeds)
def test_padded_points_are_never_counted(
    problem: Problem, num_query_points: int | None, seed: int
) -> None:
    poisoned = Problem(
        fields=problem.fields.masked_fill(~problem.mask.unsqueeze(-1), float("nan")),
        coords=problem.coords.masked_fill(~problem.mask.unsqueeze(-1), float("inf")),
        latent=problem.latent,
        mask=problem.mask,
        encoder=problem.encoder,
        decoder=problem.decoder,
    )
    for loss in (poisoned.encoding_loss, poisoned.decoding_loss):
        value = loss(num_query_points=num_query_points, generator=seeded(seed))
        value.backward()
        assert torch.isfinite(value)
        for module in (problem.encoder, problem.decoder):
            assert all(p.grad is None or torch.isfinite(p.grad).all() for p in module.parameters())


@given(problems(masked=True))
def test_padded_batch_equals_mean_over_unpadded_samples(problem: Problem) -> None:
    for loss_fn, args in [
        (upt_inverse_encoding_loss, lambda f, c, z: (f, c, z, problem.decoder)),
        (upt_inverse_decoding_loss, lambda f, c, z: (z, problem.decoder, problem.encoder, c)),
    ]:
        batched = loss_fn(*args(problem.fields, problem.coords, problem.latent), mask=problem.mask)
        per_sample = []
        for i, row in enumerate(problem.mask):
            f, c, z = (
                problem.fields[i : i + 1, row],
                problem.coords[i : i + 1, row],
                problem.latent[i : i + 1],
            )
            per_sample.append(loss_fn(*args(f, c, z)))
        torch.testing.assert_close(batched, torch.stack(per_sample).mean())
