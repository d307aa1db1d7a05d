"""UPT plugs into upt-losses without glue, and gradients reach every parameter."""

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F

from upt_losses import upt_inverse_decoding_loss, upt_inverse_encoding_loss
from upt_models import UPT

ModelFactory = Callable[..., UPT]


def _batch(seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    coords = torch.rand(2, 40, 2, generator=gen)
    fields = torch.sin(4 * coords) + 0.1 * torch.randn(2, 40, 2, generator=gen)
    mask = torch.ones(2, 40, dtype=torch.bool)
    mask[1, 25:] = False
    return fields, coords, mask


def _grad_norms(model: UPT, loss: torch.Tensor) -> dict[str, float]:
    model.zero_grad()
    loss.backward()
    return {n: 0.0 if p.grad is None else p.grad.norm().item() for n, p in model.named_parameters()}


def test_inverse_encoding_loss_trains_encoder_and_decoder(make_model: ModelFactory) -> None:
    model = make_model().train()
    fields, coords, mask = _batch()
    latent = model.encode(fields, coords, mask=mask)
    loss = upt_inverse_encoding_loss(
        fields,
        coords,
        latent,
        model.decode,
        mask=mask,
        num_query_points=16,
        generator=torch.Generator().manual_seed(0),
    )
    assert loss.ndim == 0
    assert loss > 0
    grads = _grad_norms(model, loss)
    assert all(grads[n] > 0 for n in grads if n.startswith(("encoder.", "decoder.")))
    assert all(grads[n] == 0 for n in grads if n.startswith("approximator."))


def test_inverse_decoding_loss_re_encodes_padded_samples(make_model: ModelFactory) -> None:
    model = make_model().train()
    fields, coords, mask = _batch()
    latent = model.encode(fields, coords, mask=mask)
    # 30 sampled slots but sample 1 has only 25 real points: the loss passes mask= to encode
    loss = upt_inverse_decoding_loss(
        latent,
        model.decode,
        model.encode,
        coords,
        mask=mask,
        num_query_points=30,
        generator=torch.Generator().manual_seed(0),
    )
    assert loss.isfinite()
    assert loss > 0
    grads = _grad_norms(model, loss)
    assert all(grads[n] > 0 for n in grads if n.startswith(("encoder.", "decoder.")))


def test_full_objective_reaches_every_parameter(make_model: ModelFactory) -> None:
    model = make_model(num_cond_scalars=2, condition_codec=True).train()
    fields, coords, mask = _batch()
    cond = torch.tensor([[0.01, 0.5], [0.02, 0.5]])
    encode = functools.partial(model.encode, cond=cond)
    decode = functools.partial(model.decode, cond=cond)
    latent = encode(fields, coords, mask=mask)
    prediction = decode(model.step(latent, cond), coords)
    one_step = F.mse_loss(prediction[mask], torch.roll(fields, 1, dims=1)[mask])
    loss = (
        one_step
        + upt_inverse_encoding_loss(fields, coords, latent, decode, mask=mask)
        + upt_inverse_decoding_loss(latent, decode, encode, coords, mask=mask, num_query_points=30)
    )
    grads = _grad_norms(model, loss)
    assert [n for n, g in grads.items() if not g > 0] == []


def test_losses_vanish_for_an_exact_round_trip(make_model: ModelFactory) -> None:
    """Sanity check that the model's latent, not a copy, is what the losses compare."""
    model = make_model()
    fields, coords, _ = _batch()
    latent = model.encode(fields, coords)
    decoded = model.decode(latent, coords)
    loss = upt_inverse_encoding_loss(decoded, coords, latent, model.decode)
    torch.testing.assert_close(loss, torch.tensor(0.0))
