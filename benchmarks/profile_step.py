"""Where a training step's time goes, what the inverse losses and the attention biases cost, and
the step's model FLOP utilisation (MFU).

    OMP_NUM_THREADS=1 uv run python -m benchmarks.profile_step                    # CPU default
    OMP_NUM_THREADS=1 uv run python -m benchmarks.profile_step --config burgers_upt_losses
    OMP_NUM_THREADS=1 uv run python -m benchmarks.profile_step --preset upt-17m --bias-only

Everything runs on one Burgers-shaped batch of the config's shapes (`common.synthetic_batch`)
with the config's model and inverse-loss settings. Each phase of the objective runs on its own
(inputs detached, then differentiated), forward alone and forward + backward, median of
`--repeats`; whole steps go through upt-train's `train_step`, golden and inverse losses
interleaved, so their ratio is measured in one run. MFU = the step's matmul and attention FLOPs
(torch's FlopCounterMode, forward + backward) / its time / the measured fp32 matmul rate on the
same threads. The bias ratio is the step time with the attention biases (the grid latent's
relative position bias; the perceiver latent's anchor distance bias) over the same step with
them switched off.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from upt_losses.sampling import gather_points, sample_query_indices
from upt_models import UPT
from upt_models.relative_position import RelativePositionBias
from upt_train import (
    RunConfig,
    UPTObjective,
    build_model,
    load_config,
    make_optimizer,
    train_step,
)

from .common import synthetic_batch


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def matmul_rate(size: int = 1024, repeats: int = 10) -> float:
    """Measured fp32 FLOP/s of one (size x size) @ (size x size) product on this thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    return 2 * size**3 / median_seconds(lambda: a @ b, repeats)


def model_for(config: RunConfig, preset: str | None, biased: bool = True) -> UPT:
    """The config's model for periodic 1D data (or `preset` instead); `biased=False` switches
    its attention biases off: the perceiver's anchored latent, the grid's relative bias."""
    if preset is not None:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, preset=preset))
    torch.manual_seed(0)
    model = build_model(
        config, coord_dim=1, num_channels=1, periodic=True, translation_invariant=True
    )
    if not biased and model.config.latent == "perceiver":
        torch.manual_seed(0)
        model = UPT(dataclasses.replace(model.config, anchored_latent=False))
    elif not biased:
        for module in model.modules():
            if isinstance(module, RelativePositionBias):
                module.forward = lambda count=module.num_blocks: [None] * count
    return model


def step_fn(model: UPT, config: RunConfig, inverse: bool) -> Callable[[], None]:
    settings = dataclasses.replace(config.training, use_upt_inverse_losses=inverse)
    objective = UPTObjective(model, settings)
    optimizer = make_optimizer(model, settings.lr, settings.weight_decay)
    batch = synthetic_batch(config, torch.device("cpu"))
    return lambda: train_step(objective, optimizer, [batch], grad_clip=settings.grad_clip)


def step_flops(model: UPT, config: RunConfig, inverse: bool) -> int:
    step = step_fn(model, config, inverse)
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def phases(model: UPT, config: RunConfig) -> list[tuple[str, int, Callable[[], Tensor]]]:
    """(name, calls per step, forward) for each part of the objective, on detached inputs."""
    settings = config.training
    batch = synthetic_batch(config, torch.device("cpu"))

    cond = batch.cond if model.config.num_cond_scalars else None
    codec = cond if model.config.condition_codec else None

    def encode(fields: Tensor, coords: Tensor) -> Tensor:
        return model.encode(fields, coords, cond=codec)

    def decode(latent: Tensor, coords: Tensor) -> Tensor:
        return model.decode(latent, coords, codec)

    def leaf(value: Tensor) -> Tensor:
        return value.detach().requires_grad_()

    with torch.no_grad():
        latent = encode(batch.fields, batch.coords)
        next_latent = model.step(latent, cond)
    latent, next_latent = leaf(latent), leaf(next_latent)
    generator = torch.Generator().manual_seed(0)
    enc_index, _ = sample_query_indices(
        batch.coords, settings.inv_enc_query_points, generator=generator
    )
    dec_index, _ = sample_query_indices(
        batch.coords, settings.inv_dec_query_points, generator=generator
    )
    enc_coords, dec_coords = gather_points(batch.coords, enc_index), gather_points(
        batch.coords, dec_index
    )
    decoded = leaf(decode(next_latent, dec_coords))
    unroll = settings.unroll_steps
    return [
        ("encode the input frame", 1, lambda: encode(batch.fields, batch.coords)),
        ("approximator step", unroll, lambda: model.step(latent, cond)),
        ("decode at the query points", unroll, lambda: decode(latent, batch.query_coords)),
        ("inverse encoding: decode", 1, lambda: decode(latent, enc_coords)),
        ("inverse decoding: decode", 1, lambda: decode(next_latent, dec_coords)),
        ("inverse decoding: re-encode", 1, lambda: encode(decoded, dec_coords)),
    ]


def forward_backward(forward: Callable[[], Tensor]) -> Callable[[], None]:
    def run() -> None:
        out = forward()
        out.backward(torch.ones_like(out))

    return run


def profile_table(model: UPT, config: RunConfig, repeats: int, step_ms: dict[str, float]) -> str:
    rows = [
        "| phase | calls per step | forward (ms) | backward (ms) | per step (ms) | share of the "
        "inverse-loss step |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    total = 0.0
    for name, calls, forward in phases(model, config):
        forward_ms = 1e3 * median_seconds(forward, repeats)
        both_ms = 1e3 * median_seconds(forward_backward(forward), repeats)
        per_step = calls * both_ms
        total += per_step
        rows.append(
            f"| {name} | {calls} | {forward_ms:.1f} | {both_ms - forward_ms:.1f} | "
            f"{per_step:.1f} | {per_step / step_ms['inverse losses']:.0%} |"
        )
    rest = step_ms["inverse losses"] - total
    rows.append(
        f"| the rest (losses, sampling, clipping, AdamW) | 1 | | | {rest:.1f} | "
        f"{rest / step_ms['inverse losses']:.0%} |"
    )
    return "\n".join(rows)


def interleaved_ms(steps: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {label: [] for label in steps}
    for step in steps.values():
        step()
    for _ in range(repeats):
        for label, step in steps.items():
            started = time.perf_counter()
            step()
            times[label].append(time.perf_counter() - started)
    return {label: 1e3 * statistics.median(values) for label, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="burgers")
    parser.add_argument("--preset", default=None, help="another model size on the same shapes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--bias-only", action="store_true", help="only the bias ratio and MFU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    model = model_for(config, args.preset)
    name = args.preset or config.model.preset
    settings = config.training
    print(
        f"{args.config}, {name} ({sum(p.numel() for p in model.parameters()):,} parameters), "
        f"batch {settings.batch_size}, {args.threads} thread(s), inverse-loss query points "
        f"{settings.inv_enc_query_points} / {settings.inv_dec_query_points}"
    )
    rate = matmul_rate()
    print(f"fp32 matmul rate (1024^3): {rate / 1e9:.1f} GFLOP/s")
    unbiased = model_for(config, args.preset, biased=False)
    labels = {"golden": False, "inverse losses": True}
    steps = {label: step_fn(model, config, on) for label, on in labels.items()}
    steps["golden, no attention bias"] = step_fn(unbiased, config, False)
    step_ms = interleaved_ms(steps, args.repeats)
    for label, value in step_ms.items():
        print(f"step, {label}: {value:.1f} ms")
    print(f"inverse-loss overhead: {step_ms['inverse losses'] / step_ms['golden']:.3f}x")
    print(f"bias cost: {step_ms['golden'] / step_ms['golden, no attention bias']:.3f}x")
    for label, on in labels.items():
        flops = step_flops(model_for(config, args.preset), config, on)
        achieved = flops / (step_ms[label] / 1e3)
        print(
            f"MFU, {label}: {flops / 1e9:.2f} GFLOP per step, {achieved / 1e9:.1f} GFLOP/s, "
            f"{achieved / rate:.0%} of the matmul rate"
        )
    if not args.bias_only:
        print(profile_table(model, config, args.repeats, step_ms))


if __name__ == "__main__":
    main()
