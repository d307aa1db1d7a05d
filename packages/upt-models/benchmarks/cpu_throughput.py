"""Parameter counts, forward+backward time and model FLOP utilization (MFU) on this CPU.

    uv run python packages/upt-models/benchmarks/cpu_throughput.py --threads 1

On a machine whose cores are shared with other busy processes, use fewer threads than cores:
OpenMP threads that wait on a descheduled sibling make every op slower (10x seen here).

MFU = (model FLOPs of one training step, counted by FlopCounterMode: matmuls and attention)
      / (median step time) / (best measured fp32 matmul rate of this machine).
"""

import argparse
import dataclasses
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from upt_models import UPT, preset
from upt_models.presets import PRESETS

PAPER_SIZES = {"upt-8m": 8e6, "upt-17m": 17e6, "upt-68m": 68e6}
# (preset, coord_dim, channels, batch, input points, query points)
WORKLOADS = [("tiny", 1, 1, 16, 1024, 1024), ("upt-17m", 2, 3, 1, 16384, 8192)]


def matmul_rate(n: int = 2048, repeats: int = 10) -> float:
    """Best fp32 FLOP/s of an n x n matmul."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def count_params(name: str, **overrides) -> int:
    config = dataclasses.replace(preset(name, coord_dim=2, num_channels=3), **overrides)
    with torch.device("meta"):
        return sum(p.numel() for p in UPT(config).parameters())


def training_step(model: UPT, batch: tuple[torch.Tensor, ...]) -> None:
    fields, coords, query_coords, target, cond = batch
    loss = F.mse_loss(model(fields, coords, query_coords, cond=cond), target)
    loss.backward()


def make_batch(config, batch: int, points: int, queries: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(0)
    cond = torch.rand(batch, config.num_cond_scalars, generator=gen) if config.cond_dim else None
    return (
        torch.randn(batch, points, config.num_channels, generator=gen),
        torch.rand(batch, points, config.coord_dim, generator=gen),
        torch.rand(batch, queries, config.coord_dim, generator=gen),
        torch.randn(batch, queries, config.num_channels, generator=gen),
        cond,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    print("\nparameters (coord_dim=2, 3 channels, as the transient-flow configs)")
    for name in PRESETS:
        n = count_params(name)
        paper = PAPER_SIZES.get(name)
        vs = f"  paper {paper / 1e6:.0f}M  ({n / paper - 1:+.1%})" if paper else ""
        bare = ""
        if paper:
            bare_n = count_params(name, num_cond_scalars=0, condition_codec=False)
            bare = f"  | without adaLN conditioning {bare_n / 1e6:.2f}M"
        print(f"  {name:8s} {n / 1e6:7.2f}M{vs}{bare}")

    rate = matmul_rate()
    print(f"\nfp32 matmul 2048^3: {rate / 1e9:.1f} GFLOP/s (best of 10)")

    for name, coord_dim, channels, batch, points, queries in WORKLOADS:
        config = preset(name, coord_dim=coord_dim, num_channels=channels)
        torch.manual_seed(0)
        model = UPT(config).train()
        data = make_batch(config, batch, points, queries)
        with FlopCounterMode(display=False) as counter:
            training_step(model, data)
        flops = counter.get_total_flops()
        times = []
        for _ in range(args.iters):
            model.zero_grad(set_to_none=True)
            start = time.perf_counter()
            training_step(model, data)
            times.append(time.perf_counter() - start)
        step = statistics.median(times)
        print(
            f"{name}: batch {batch}, {points} input points, {queries} queries, d={coord_dim}: "
            f"fwd+bwd {step * 1e3:.0f} ms (median of {args.iters}, min {min(times) * 1e3:.0f}), "
            f"{flops / 1e9:.1f} GFLOP -> {flops / step / 1e9:.1f} GFLOP/s, "
            f"MFU {flops / step / rate:.1%}"
        )


if __name__ == "__main__":
    main()
