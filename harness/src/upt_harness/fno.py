"""The FNO peer: neuraloperator's own `FNO`, as a learner of upt-train's `run`.

It trains through upt-train's loop (`train_step`: the same optimizer, schedule, clipping, autocast
and non-finite stop) on the same store and batch schedule as UPT, with the same loss
(`training.loss`) and unrolled steps (`training.unroll_steps`), and is scored by the same
evaluator. It sees the full training grid in and predicts it one step ahead (the config's
`data.input_points` and `data.query_points` are set to null for it); it has no latent rollout.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn

from upt_train import Batch, Learner, RunConfig, TrainingData, next_step_loss

INSTALL_HINT = "uv sync --group peers (or pip install 'upt-harness[peers]')"


class PeerUnavailableError(RuntimeError):
    """The peer's package is not installed."""


def build_fno(
    channels: int, coord_dim: int, n_modes: int, hidden_channels: int, n_layers: int
) -> nn.Module:
    try:
        from neuralop.models import FNO
    except ImportError as error:
        raise PeerUnavailableError(f"neuraloperator is not installed: {INSTALL_HINT}") from error
    return FNO(
        n_modes=(n_modes,) * coord_dim,
        hidden_channels=hidden_channels,
        in_channels=channels,
        out_channels=channels,
        n_layers=n_layers,
    )


def step_ahead(model: nn.Module, fields: Tensor, coord_dim: int = 1) -> Tensor:
    """fields (B, N, C) on a regular grid of N = side^d points (row-major) -> the next frame."""
    if coord_dim == 1:
        return rearrange(model(rearrange(fields, "b n c -> b c n")), "b c n -> b n c")
    side = round(fields.shape[1] ** 0.5)
    grid = rearrange(fields, "b (x y) c -> b c x y", x=side)
    return rearrange(model(grid), "b c x y -> b (x y) c")


class FNOObjective(nn.Module):
    """forward(batch) -> {"next_step", "total"}: the FNO applied K times from the input frame,
    scored against each of the K target frames (the batch's queries are its grid)."""

    def __init__(self, model: nn.Module, loss: str, coord_dim: int) -> None:
        super().__init__()
        self.model, self.loss, self.coord_dim = model, loss, coord_dim

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        frame, terms = batch.fields, []
        for k in range(batch.target.shape[1]):
            frame = step_ahead(self.model, frame, self.coord_dim)
            terms.append(next_step_loss(self.loss, frame, batch.target[:, k]))
        loss = torch.stack(terms).mean()
        return {"next_step": loss, "total": loss}


class FNOForecaster:
    """The FNO as a forecaster: one step on the grid it was given (queries must be its inputs)."""

    any_points = False

    def __init__(self, model: nn.Module, coord_dim: int) -> None:
        self.model, self.coord_dim = model, coord_dim

    def one_step(
        self,
        fields: Tensor,
        coords: Tensor,
        query_coords: Tensor,
        cond: Tensor,
        mask: Tensor | None = None,
    ) -> Tensor:
        return step_ahead(self.model, fields, self.coord_dim)

    def eval(self) -> None:
        self.model.eval()


def fno_learner(options: dict[str, int]):
    """A learner factory for `upt_train.run` building the FNO with `options`."""

    def build(config: RunConfig, data: TrainingData) -> Learner:
        model = build_fno(data.num_channels, data.coord_dim, **options)
        objective = FNOObjective(model, config.training.loss, data.coord_dim)
        return Learner(model, objective, FNOForecaster(model, data.coord_dim))

    return build
