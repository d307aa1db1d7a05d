"""One optimizer step for any objective: accumulation, clipping, the non-finite guard, and the
optimizer's weight-decay groups."""

import pytest
import torch
from torch import nn

from upt_models import UPT, preset
from upt_train import NonFiniteGuard, NonFiniteLossError, make_optimizer, train_step


class LinearObjective(nn.Module):
    """A least-squares objective on (x, y) micro-batches: forward returns its loss terms."""

    def __init__(self) -> None:
        super().__init__()
        self.model = nn.Linear(3, 1)

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, y = batch
        loss = (self.model(x) - y).square().mean()
        return {"fit": loss, "total": loss}


def data(seed: int = 0, size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(size, 3, generator=generator), torch.randn(size, 1, generator=generator)


def stepped(micro_batches, grad_clip=None) -> tuple[LinearObjective, object]:
    torch.manual_seed(0)
    objective = LinearObjective()
    optimizer = torch.optim.SGD(objective.parameters(), lr=0.1)
    result = train_step(objective, optimizer, micro_batches, grad_clip=grad_clip)
    return objective, result


def test_accumulated_micro_batches_equal_one_batch() -> None:
    x, y = data()
    whole, whole_result = stepped([(x, y)])
    split, split_result = stepped([(x[:4], y[:4]), (x[4:], y[4:])])
    for a, b in zip(whole.parameters(), split.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(split_result.losses["total"], whole_result.losses["total"])
    assert set(split_result.losses) == {"fit", "total"}
    assert isinstance(split_result.losses["total"], torch.Tensor)


def test_the_gradient_norm_is_reported_before_clipping_and_clipped_in_the_update() -> None:
    x, y = data()
    free, free_result = stepped([(x, 10 * y)])
    clipped, clipped_result = stepped([(x, 10 * y)], grad_clip=0.5)
    torch.testing.assert_close(free_result.grad_norm, clipped_result.grad_norm)
    assert free_result.grad_norm > 0.5
    torch.manual_seed(0)
    start = LinearObjective()
    moves = [
        torch.cat(
            [(p - q).flatten() for p, q in zip(m.parameters(), start.parameters(), strict=True)]
        )
        for m in (free, clipped)
    ]
    torch.testing.assert_close(moves[1].norm(), torch.tensor(0.1 * 0.5))
    torch.testing.assert_close(moves[1] / moves[1].norm(), moves[0] / moves[0].norm())


def test_the_guard_names_the_first_non_finite_step() -> None:
    guard = NonFiniteGuard(torch.device("cpu"))
    objective = LinearObjective()
    optimizer = torch.optim.SGD(objective.parameters(), lr=0.1)
    x, y = data()
    for step in range(3):
        guard.update(step, train_step(objective, optimizer, [(x, y)]))
    guard.check()
    bad_y = y.clone()
    bad_y[0] = torch.nan
    guard.update(3, train_step(objective, optimizer, [(x, bad_y)]))
    guard.update(4, train_step(objective, optimizer, [(x, y)]))  # weights are NaN now
    with pytest.raises(NonFiniteLossError, match="the loss became non-finite at step 3; see"):
        guard.check("; see")


def test_weight_decay_only_on_weight_matrices() -> None:
    model = UPT(preset("tiny", coord_dim=1, num_channels=1))
    optimizer = make_optimizer(model, lr=1e-3, weight_decay=0.05)
    decayed, free = optimizer.param_groups
    assert decayed["weight_decay"] == 0.05
    assert free["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"])
    assert all(p.dim() < 2 for p in free["params"])
    assert len(decayed["params"]) + len(free["params"]) == len(list(model.parameters()))
