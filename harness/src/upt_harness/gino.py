"""The point-cloud peer: neuraloperator's own `GINO` (input GNO -> FNO on a latent grid -> output
GNO), as a learner of upt-train's `run`, on the same point clouds as UPT.

GINO's neighbour search here is neuraloperator's pure-torch one (no open3d, no torch_scatter).
GINO batches only clouds that share their points, and every trajectory has its own cloud, so
each sample of a batch runs on its own (its real points only). Like UPT it answers at any point;
it has no latent rollout.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from upt_harness.fno import INSTALL_HINT, PeerUnavailableError
from upt_train import Batch, Learner, RunConfig, TrainingData, next_step_loss


def build_gino(
    channels: int,
    coord_dim: int,
    latent_side: int,
    n_modes: int,
    hidden_channels: int,
    n_layers: int,
    radius: float,
) -> nn.Module:
    try:
        from neuralop.models import GINO
    except ImportError as error:
        raise PeerUnavailableError(f"neuraloperator is not installed: {INSTALL_HINT}") from error
    return GINO(
        in_channels=channels,
        out_channels=channels,
        gno_coord_dim=coord_dim,
        in_gno_radius=radius,
        out_gno_radius=radius,
        fno_n_modes=(n_modes,) * coord_dim,
        fno_hidden_channels=hidden_channels,
        fno_n_layers=n_layers,
        gno_use_open3d=False,
        gno_use_torch_scatter=False,
    )


def latent_grid(side: int, coord_dim: int) -> Tensor:
    """GINO's latent queries: the nodes j / side of a regular grid, (1, side, ..., side, d)."""
    axis = torch.arange(side, dtype=torch.float32) / side
    return torch.stack(torch.meshgrid(*[axis] * coord_dim, indexing="ij"), dim=-1)[None]


def _real(values: Tensor, mask: Tensor | None, index: int) -> Tensor:
    """Sample `index` of a padded batch (B, N, ...), its real points only, kept batched."""
    sample = values[index : index + 1]
    return sample if mask is None else sample[:, mask[index]]


class GINOStep(nn.Module):
    """One step ahead, sample by sample: fields (B, N, C) at coords (B, N, d) -> (B, Q, C)."""

    def __init__(self, model: nn.Module, latent: Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("latent", latent, persistent=False)

    def forward(
        self,
        fields: Tensor,
        coords: Tensor,
        query_coords: Tensor,
        mask: Tensor | None = None,
    ) -> Tensor:
        outputs = []
        for index in range(len(fields)):
            out = self.model(
                input_geom=_real(coords, mask, index),
                latent_queries=self.latent,
                output_queries=query_coords[index : index + 1],
                x=_real(fields, mask, index),
            )
            outputs.append(out)
        return torch.cat(outputs)


class GINOObjective(nn.Module):
    """forward(batch) -> {"next_step", "total"}: GINO applied K times from the input frame (each
    prediction read at the input points to feed the next step), the last of each scored at the
    query points against the K target frames."""

    def __init__(self, step: GINOStep, loss: str) -> None:
        super().__init__()
        self.step, self.loss = step, loss

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        frame, terms = batch.fields, []
        steps = batch.target.shape[1]
        for k in range(steps):
            prediction = self.step(frame, batch.coords, batch.query_coords, batch.mask)
            terms.append(
                next_step_loss(self.loss, prediction, batch.target[:, k], batch.query_mask)
            )
            if k + 1 < steps:
                frame = self.step(frame, batch.coords, batch.coords, batch.mask)
        loss = torch.stack(terms).mean()
        return {"next_step": loss, "total": loss}


class GINOForecaster:
    """GINO as a forecaster: it answers at any query points."""

    any_points = True

    def __init__(self, step: GINOStep) -> None:
        self.step = step

    def one_step(
        self,
        fields: Tensor,
        coords: Tensor,
        query_coords: Tensor,
        cond: Tensor,
        mask: Tensor | None = None,
    ) -> Tensor:
        return self.step(fields, coords, query_coords, mask)

    def eval(self) -> None:
        self.step.eval()


def gino_learner(options: dict[str, float]):
    """A learner factory for `upt_train.run` building GINO with `options`."""

    def build(config: RunConfig, data: TrainingData) -> Learner:
        side = int(options["latent_side"])
        model = build_gino(
            data.num_channels,
            data.coord_dim,
            side,
            int(options["n_modes"]),
            int(options["hidden_channels"]),
            int(options["n_layers"]),
            float(options["radius"]),
        )
        step = GINOStep(model, latent_grid(side, data.coord_dim))
        return Learner(step, GINOObjective(step, config.training.loss), GINOForecaster(step))

    return build
