"""The model can learn: a short optimization of one advection step drives the loss down."""

from collections.abc import Callable

import torch
import torch.nn.functional as F

from upt_models import UPT, UPTConfig


def _advection_batch(gen: torch.Generator, batch: int = 16, points: int = 64) -> tuple:
    """u(x) = a + sin(2 pi x + phase) on random points; the target is u advected by 0.1."""
    coords = torch.rand(batch, points, 1, generator=gen)
    offset = torch.randn(batch, 1, 1, generator=gen)
    phase = 2 * torch.pi * torch.rand(batch, 1, 1, generator=gen)
    fields = offset + torch.sin(2 * torch.pi * coords + phase)
    queries = torch.rand(batch, points, 1, generator=gen)
    target = offset + torch.sin(2 * torch.pi * (queries - 0.1) + phase)
    return fields, coords, queries, target


def test_one_step_loss_drops(small_config: Callable[..., UPTConfig]) -> None:
    torch.manual_seed(0)
    model = UPT(small_config(coord_dim=1, num_channels=1)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(600):
        fields, coords, queries, target = _advection_batch(gen)
        loss = F.mse_loss(model(fields, coords, queries), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    start, end = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    assert end < 0.15 * start, (start, end)
