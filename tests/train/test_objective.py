"""The training objective: loss terms, gradients of the inverse losses, and switching them off."""

import dataclasses

import pytest
import torch

from upt_models import UPT, preset
from upt_train.config import TrainingConfig
from upt_train.objective import Batch, UPTObjective


@pytest.fixture
def batch() -> Batch:
    generator = torch.Generator().manual_seed(0)
    coords = torch.rand(2, 64, 1, generator=generator)
    return Batch(
        fields=torch.sin(6.28 * coords),
        coords=coords,
        query_coords=coords[:, :32],
        target=torch.cos(6.28 * coords[:, :32]),
    )


def objective(**overrides: object) -> UPTObjective:
    torch.manual_seed(0)
    config = dataclasses.replace(
        TrainingConfig(), inv_enc_query_points=16, inv_dec_query_points=16, **overrides
    )
    return UPTObjective(UPT(preset("tiny", coord_dim=1, num_channels=1)), config)


def gradients(objective: UPTObjective, batch: Batch, term: str) -> dict[str, torch.Tensor]:
    objective.zero_grad()
    objective(batch, torch.Generator().manual_seed(1))[term].backward()
    return {n: p.grad for n, p in objective.model.named_parameters() if p.grad is not None}


def test_terms_sum_to_the_total(batch: Batch) -> None:
    losses = objective()(batch, torch.Generator().manual_seed(1))
    assert set(losses) == {"next_step", "inv_enc", "inv_dec", "total"}
    torch.testing.assert_close(
        losses["total"], losses["next_step"] + losses["inv_enc"] + losses["inv_dec"]
    )


def test_inverse_loss_gradients_reach_encoder_and_decoder(batch: Batch) -> None:
    target = objective()
    for term in ("inv_enc", "inv_dec"):
        grads = gradients(target, batch, term)
        for part in ("encoder.", "decoder."):
            touched = [g for n, g in grads.items() if n.startswith(part)]
            assert touched, f"{term} gives no gradient to the {part[:-1]}"
            assert any(g.abs().sum() > 0 for g in touched)


def test_switched_off_inverse_losses_are_not_computed(batch: Batch, monkeypatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("an inverse loss was computed although switched off")

    monkeypatch.setattr("upt_train.objective.upt_inverse_encoding_loss", fail)
    monkeypatch.setattr("upt_train.objective.upt_inverse_decoding_loss", fail)
    losses = objective(use_upt_inverse_losses=False)(batch, torch.Generator().manual_seed(1))
    assert set(losses) == {"next_step", "total"}
    torch.testing.assert_close(losses["total"], losses["next_step"])


def test_lambdas_scale_the_terms(batch: Batch) -> None:
    base = objective()(batch, torch.Generator().manual_seed(1))
    doubled = objective(lambda_inv_enc=1.0, lambda_inv_dec=1.0)(
        batch, torch.Generator().manual_seed(1)
    )
    for term in ("inv_enc", "inv_dec"):
        torch.testing.assert_close(doubled[term], 2 * base[term])
