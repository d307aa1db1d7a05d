"""The training objective: loss terms, unrolled steps, gradients of the inverse losses, and
switching them off."""

import dataclasses

import pytest
import torch

from upt_models import UPT, preset
from upt_train import (
    Batch,
    TrainingConfig,
    UPTObjective,
    compile_objective,
    relative_squared_error,
)


def make_batch(steps: int = 1, seed: int = 1, size: int = 2, queries: int = 32) -> Batch:
    """`size` samples of 64 points; the first `queries` of them are the query points (all 64:
    the input points themselves, one tensor, as upt-train batches them)."""
    generator = torch.Generator().manual_seed(0)
    coords = torch.rand(size, 64, 1, generator=generator)
    query_coords = coords if queries == 64 else coords[:, :queries]
    target = torch.stack([torch.cos(6.28 * query_coords + k) for k in range(steps)], dim=1)
    return Batch(
        fields=torch.sin(6.28 * coords),
        coords=coords,
        query_coords=query_coords,
        target=target,
        seed=seed,
    )


@pytest.fixture
def batch() -> Batch:
    return make_batch()


def objective(**overrides: object) -> UPTObjective:
    torch.manual_seed(0)
    settings = {"inv_enc_query_points": 16, "inv_dec_query_points": 16} | overrides
    config = dataclasses.replace(TrainingConfig(), **settings)
    return UPTObjective(UPT(preset("tiny", coord_dim=1, num_channels=1)), config)


def gradients(objective: UPTObjective, batch: Batch, term: str) -> dict[str, torch.Tensor]:
    objective.zero_grad()
    objective(batch)[term].backward()
    return {n: p.grad for n, p in objective.model.named_parameters() if p.grad is not None}


def test_terms_sum_to_the_total(batch: Batch) -> None:
    losses = objective()(batch)
    assert set(losses) == {"next_step", "inv_enc", "inv_dec", "total"}
    torch.testing.assert_close(
        losses["total"], losses["next_step"] + losses["inv_enc"] + losses["inv_dec"]
    )


def test_next_step_term_is_the_configured_loss_of_the_decoded_step(batch: Batch) -> None:
    for loss in ("relative", "mse"):
        target = objective(loss=loss, use_upt_inverse_losses=False)
        model = target.model
        prediction = model.decode(
            model.step(model.encode(batch.fields, batch.coords)), batch.query_coords
        )
        truth = batch.target[:, 0]
        expected = (
            relative_squared_error(prediction, truth)
            if loss == "relative"
            else (prediction - truth).square().mean()
        )
        torch.testing.assert_close(target(batch)["next_step"], expected)


def test_unrolled_steps_average_the_loss_of_each_decoded_step() -> None:
    batch = make_batch(steps=3)
    target = objective(use_upt_inverse_losses=False)
    model = target.model
    latent = model.encode(batch.fields, batch.coords)
    terms = []
    for k in range(3):
        latent = model.step(latent)
        terms.append(
            relative_squared_error(model.decode(latent, batch.query_coords), batch.target[:, k])
        )
    torch.testing.assert_close(target(batch)["next_step"], torch.stack(terms).mean())


def test_the_relative_loss_weighs_every_sample_alike() -> None:
    """Hand values: sample 0 is off by 10% of its norm, sample 1 by 20%, at any amplitude."""
    target = torch.tensor([[[3.0], [4.0]], [[0.0], [0.05]]])
    prediction = target.clone()
    prediction[0, 0, 0] += 0.5  # ||error|| / ||target|| = 0.5 / 5
    prediction[1, 1, 0] -= 0.01  # 0.01 / 0.05
    expected = (0.1**2 + 0.2**2) / 2
    torch.testing.assert_close(relative_squared_error(prediction, target), torch.tensor(expected))
    mask = torch.tensor([[True, True], [False, True]])
    prediction[1, 0, 0] = torch.nan  # padding never counts
    torch.testing.assert_close(
        relative_squared_error(prediction, target, mask), torch.tensor(expected)
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
    losses = objective(use_upt_inverse_losses=False)(batch)
    assert set(losses) == {"next_step", "total"}
    torch.testing.assert_close(losses["total"], losses["next_step"])


def test_lambdas_scale_the_terms(batch: Batch) -> None:
    base = objective()(batch)
    doubled = objective(lambda_inv_enc=1.0, lambda_inv_dec=1.0)(batch)
    for term in ("inv_enc", "inv_dec"):
        torch.testing.assert_close(doubled[term], 2 * base[term])


def test_the_batch_seed_drives_the_inverse_losses_sampling() -> None:
    target = objective()
    same = [target(make_batch(seed=4))["inv_enc"] for _ in range(2)]
    torch.testing.assert_close(same[0], same[1])
    assert not torch.allclose(same[0], target(make_batch(seed=5))["inv_enc"])


def counted_geometry(model: UPT) -> dict[str, int]:
    """Counts, live, the grid decoder's readouts and blocks and the grid encoder's poolings."""
    calls = {"readout": 0, "pooling": 0, "tokens": 0}
    for name, module in (
        ("readout", model.decoder),
        ("pooling", model.encoder),
        ("tokens", model.decoder),
    ):
        original = getattr(module, name)

        def counted(*args, _original=original, _name=name):
            calls[_name] += 1
            return _original(*args)

        setattr(module, name, counted)
    return calls


def test_shared_geometry_changes_no_loss_or_gradient_and_is_reused() -> None:
    """Two unrolled steps at the same queries and inverse decoding at every query point: the
    readout is computed once per distinct query tensor, the first stepped latent is decoded at
    the queries once for both the loss and inverse decoding, the pooling once per point set,
    and the losses and gradients equal those of a step that recomputes everything."""
    batch = make_batch(steps=2)
    torch.manual_seed(0)
    config = TrainingConfig(inv_enc_query_points=16, inv_dec_query_points=None, unroll_steps=2)
    model = UPT(preset("tiny", coord_dim=1, num_channels=1))
    shared = UPTObjective(model, config)
    calls = counted_geometry(model)
    losses = shared(batch)
    losses["total"].backward()
    # readout: the unrolled queries (inverse decoding's too), inverse encoding's sample;
    # pooling: the input points, the re-encode at the queries; tokens: the input latent (inverse
    # encoding) and the two stepped latents, whose first decode inverse decoding reuses
    assert calls == {"readout": 2, "pooling": 2, "tokens": 3}
    expected_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    model.zero_grad()
    recomputed = shared._terms(batch)  # outside `sharing_geometry`: nothing is kept
    recomputed["total"].backward()
    assert calls == {"readout": 2 + 4, "pooling": 2 + 2, "tokens": 3 + 4}
    for key in losses:
        torch.testing.assert_close(losses[key], recomputed[key])
    for name, parameter in model.named_parameters():
        if name in expected_grads:
            torch.testing.assert_close(parameter.grad, expected_grads[name])


@pytest.mark.parametrize("inv_dec_query_points", [None, 16])
def test_a_batch_fraction_computes_the_inverse_losses_on_the_first_samples(
    inv_dec_query_points: int | None,
) -> None:
    """inv_loss_batch_fraction 0.5 of 4 samples: the inverse terms and their gradients are those
    of the first 2 samples alone, and with every query point (here the input points) the
    whole batch's geometry serves them: no pooling, readout or decoder blocks of their own but
    inverse encoding's decode."""
    batch = make_batch(steps=2, size=4, queries=64)
    first_two = make_batch(steps=2, size=2, queries=64)
    settings = {"inv_dec_query_points": inv_dec_query_points, "unroll_steps": 2}
    part = objective(inv_loss_batch_fraction=0.5, **settings)
    whole = objective(**settings)
    calls = counted_geometry(part.model)
    part_terms, whole_terms = part(batch), whole(first_two)
    if inv_dec_query_points is None:
        assert calls == {"readout": 2, "pooling": 1, "tokens": 3}
    for term in ("inv_enc", "inv_dec"):
        torch.testing.assert_close(part_terms[term], whole_terms[term])
    (part_terms["inv_enc"] + part_terms["inv_dec"]).backward()
    (whole_terms["inv_enc"] + whole_terms["inv_dec"]).backward()
    for (name, p), q in zip(whole.model.named_parameters(), part.model.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, msg=name)


def test_a_term_weighted_zero_is_skipped_without_changing_the_others_sample(batch: Batch) -> None:
    both = objective(lambda_inv_enc=0.5, lambda_inv_dec=0.5)(batch)
    decoding_only = objective(lambda_inv_enc=0.0, lambda_inv_dec=0.5)(batch)
    encoding_only = objective(lambda_inv_enc=0.5, lambda_inv_dec=0.0)(batch)
    assert decoding_only["inv_enc"] == 0
    assert encoding_only["inv_dec"] == 0
    torch.testing.assert_close(decoding_only["inv_dec"], both["inv_dec"])
    torch.testing.assert_close(encoding_only["inv_enc"], both["inv_enc"])


def test_the_compiled_objective_gives_the_eager_losses_and_gradients(batch: Batch) -> None:
    # `training.compile` wraps the objective in torch.compile; the eager backend traces it as
    # inductor would (the inverse losses' seeding runs outside the graph) without code generation
    eager = objective()
    torch._dynamo.reset()
    compiled = torch.compile(objective(), backend="eager")
    expected, actual = eager(batch), compiled(batch)
    for term in expected:
        torch.testing.assert_close(actual[term], expected[term])
    expected["total"].backward()
    actual["total"].backward()
    for (name, p), q in zip(
        eager.model.named_parameters(), compiled.model.parameters(), strict=True
    ):
        torch.testing.assert_close(q.grad, p.grad, msg=name)


@pytest.mark.parametrize("fraction", [1.0, 0.5])
def test_the_objective_traces_into_few_graphs(fraction: float) -> None:
    """Only the inverse losses' seeding and sampling break the graph (six graphs; seven when
    they see part of the batch): the shared geometry matches tensors by identity, which traces,
    never by data pointer, which breaks it at every lookup."""
    torch._dynamo.reset()
    target = objective(inv_loss_batch_fraction=fraction, inv_dec_query_points=None, unroll_steps=2)
    explained = torch._dynamo.explain(target)(make_batch(steps=2, size=4, queries=64))
    assert explained.graph_count <= 7, [str(b.reason)[:200] for b in explained.break_reasons]


def test_compile_objective_compiles_in_the_configured_mode(monkeypatch) -> None:
    modes = []
    monkeypatch.setattr(torch, "compile", lambda module, mode: modes.append(mode) or module)
    target = objective()
    assert compile_objective(target, target.config) is target
    settings = dataclasses.replace(target.config, compile=True, compile_mode="reduce-overhead")
    assert compile_objective(target, settings) is target
    assert modes == ["reduce-overhead"]
