"""The point-cloud peer: neuraloperator's own `GINO` (input GNO -> FNO on a latent grid -> output
GNO), as a learner of upt-train's `run`, on the same point clouds as UPT.

GINO's neighbour search here is neuraloperator's pure-torch one (no open3d, no torch_scatter).
Without torch_scatter neuraloperator reduces each neighbourhood in a Python loop over output
points (its fallback "for CPU-only CI runners"): a GINO step 2.7x slower here (a batch of eight
2000-point clouds) than with `segment_csr` below, the same reduction vectorized (index_add),
swapped in for the loop so that GINO is timed at what torch can do. GINO batches only clouds
that share their points, and every trajectory has its own cloud, so each sample of a batch runs
on its own (its real points only). Like UPT it answers at any point; it has no latent rollout.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from upt_harness.fno import INSTALL_HINT, PeerUnavailableError
from upt_train import Batch, Learner, RunConfig, TrainingData, next_step_loss


def segment_csr(src: Tensor, indptr: Tensor, reduction: str, use_scatter: bool = True) -> Tensor:
    """neuraloperator's `segment_csr` without its Python loop: src (N, C) or (B, N, C) rows
    indptr[i]:indptr[i + 1] summed (or averaged; empty segments give zeros) into output row i.
    Batched calls repeat the same splits per sample, so the first row's splits serve all."""
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduce must be one of 'mean', 'sum'; got {reduction!r}")
    splits = indptr[0] if indptr.ndim == 2 else indptr
    point_dim = src.ndim - 2
    counts = splits.diff()
    segment = torch.repeat_interleave(torch.arange(len(counts), device=src.device), counts)
    rows = src.narrow(point_dim, int(splits[0]), len(segment))
    shape = list(src.shape)
    shape[point_dim] = len(counts)
    out = src.new_zeros(shape).index_add(point_dim, segment, rows)
    if reduction == "mean":
        out = out / counts.clamp(min=1).to(out.dtype)[:, None]
    return out


def build_gino(
    channels: int,
    coord_dim: int,
    latent_side: int,
    n_modes: int,
    hidden_channels: int,
    n_layers: int,
    radius: float,
    gno_hidden: int,
) -> nn.Module:
    """GINO at the given sizes; both of its GNOs' kernel MLPs get two hidden layers of
    `gno_hidden` (neuraloperator's defaults, [80, 80, 80] in and [512, 256] out, are sized for
    3D car meshes on a GPU and made a step 3x as slow here)."""
    try:
        from neuralop.layers import integral_transform
        from neuralop.models import GINO
    except ImportError as error:
        raise PeerUnavailableError(f"neuraloperator is not installed: {INSTALL_HINT}") from error
    integral_transform.segment_csr = segment_csr
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
        in_gno_channel_mlp_hidden_layers=[gno_hidden, gno_hidden],
        out_gno_channel_mlp_hidden_layers=[gno_hidden, gno_hidden],
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
            int(options["gno_hidden"]),
        )
        step = GINOStep(model, latent_grid(side, data.coord_dim))
        return Learner(step, GINOObjective(step, config.training.loss), GINOForecaster(step))

    return build
