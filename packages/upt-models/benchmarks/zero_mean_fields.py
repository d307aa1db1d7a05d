"""Learning curve on zero-mean fields: reconstruct sin(2 pi x + phase) at new points.

    uv run python packages/upt-models/benchmarks/zero_mean_fields.py --init xavier
    uv run python packages/upt-models/benchmarks/zero_mean_fields.py --init torch
    uv run python packages/upt-models/benchmarks/zero_mean_fields.py --preset tiny --steps 2000

Mean pooling of a zero-mean field carries no information about its phase, so a freshly
initialized UPT starts on a plateau that predicts zero (loss 0.5, the variance of the sine); the
curve shows when training leaves it. `--init torch` re-initializes every Linear with PyTorch's
default instead of the package's xavier-uniform init.
"""

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from upt_models import UPT, ApproximatorConfig, DecoderConfig, EncoderConfig, UPTConfig, preset

CONFIG = UPTConfig(
    coord_dim=1,
    num_channels=1,
    encoder=EncoderConfig(
        gnn_dim=16,
        dim=16,
        depth=1,
        num_heads=2,
        perceiver_num_heads=2,
        num_supernodes=16,
        num_latent_tokens=8,
        max_neighbours=6,
    ),
    approximator=ApproximatorConfig(dim=16, depth=1, num_heads=2),
    decoder=DecoderConfig(dim=16, depth=1, num_heads=2, perceiver_dim=16, perceiver_num_heads=2),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", help="a preset instead of the 16-wide test model")
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--init", choices=["xavier", "torch"], default="xavier")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = preset(args.preset, coord_dim=1, num_channels=1) if args.preset else CONFIG
    model = UPT(config).train()
    if args.init == "torch":
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.reset_parameters()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(0)
    window = []
    for step in range(1, args.steps + 1):
        coords, queries = torch.rand(2, 16, args.points, 1, generator=gen)
        phase = 2 * torch.pi * torch.rand(16, 1, 1, generator=gen)
        prediction = model(torch.sin(2 * torch.pi * coords + phase), coords, queries)
        loss = F.mse_loss(prediction, torch.sin(2 * torch.pi * queries + phase))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        window.append(loss.item())
        if step % 250 == 0:
            mean = sum(window) / len(window)
            print(f"{args.preset or 'small'} lr={args.lr} step {step}: mean loss {mean:.4f}")
            window = []


if __name__ == "__main__":
    main()
