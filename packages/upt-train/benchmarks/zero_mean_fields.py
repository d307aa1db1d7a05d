"""Learning curve on zero-mean fields: reconstruct sqrt(2) sin(2 pi k x + phase) at new points.

    uv run python packages/upt-train/benchmarks/zero_mean_fields.py
    uv run python packages/upt-train/benchmarks/zero_mean_fields.py --official

The fields have variance 1 and random phases, as Burgers initial conditions do, so a model that
predicts zero scores 1: the predict-zero plateau. `--official` builds the official UPT design
(unanchored latent tokens); the default is the anchored perceiver latent of `upt_models.anchors`
(preset tiny-perceiver unless `--preset` names another).
`--xavier-field-embedding` keeps the plain xavier init of the field embedding instead of
balancing it against the position embedding. The step is upt-train's `train_step`, so the script
lives here rather than beside the models.
"""

import argparse
import dataclasses
import math
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from upt_models import UPT, preset
from upt_train import train_step


class Reconstruction(nn.Module):
    """The objective: decode(encode(field)) at new points against the field there."""

    def __init__(self, model: UPT) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: tuple[Tensor, Tensor, Tensor, Tensor]) -> dict[str, Tensor]:
        fields, coords, target, queries = batch
        loss = F.mse_loss(self.model.decode(self.model.encode(fields, coords), queries), target)
        return {"total": loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny-perceiver")
    parser.add_argument("--official", action="store_true", help="unanchored latent tokens")
    parser.add_argument("--xavier-field-embedding", action="store_true")
    parser.add_argument("--points", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = preset(args.preset, coord_dim=1, num_channels=1)
    model = UPT(dataclasses.replace(config, anchored_latent=not args.official)).train()
    if args.xavier_field_embedding:
        layer = model.encoder.pool.field_embed[-1]
        torch.nn.init.xavier_uniform_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    objective = Reconstruction(model)
    gen = torch.Generator().manual_seed(0)
    window, started = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        coords, queries = torch.rand(2, args.batch, args.points, 1, generator=gen)
        phase = 2 * torch.pi * torch.rand(args.batch, 1, 1, generator=gen)
        wavenumber = torch.randint(1, 5, (args.batch, 1, 1), generator=gen)
        fields, target = (
            math.sqrt(2) * torch.sin(2 * torch.pi * wavenumber * x + phase)
            for x in (coords, queries)
        )
        result = train_step(objective, optimizer, [(fields, coords, target, queries)])
        window.append(result.losses["total"].item())
        if step % 100 == 0:
            seconds = time.perf_counter() - started
            mean = sum(window) / len(window)
            print(f"step {step}: mean loss {mean:.3f} ({seconds:.0f} s)", flush=True)
            window = []


if __name__ == "__main__":
    main()
