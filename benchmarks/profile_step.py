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
from collections.abc import Callable

import torch
from torch import Tensor

from upt_losses.sampling import gather_points, sample_query_indices
from upt_models import UPT
from upt_train import RunConfig

from .common import (
    interleaved_seconds,
    matmul_rate,
    median_seconds,
    periodic_model,
    step_config,
    step_flops,
    synthetic_batch,
    training_step,
)


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
    enc_coords, dec_coords = (
        gather_points(batch.coords, enc_index),
        gather_points(batch.coords, dec_index),
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


def passes_table(model: UPT, config: RunConfig, repeats: int, inverse_ms: float) -> str:
    rows = [
        "| pass (on its own) | calls per step | forward (ms) | backward (ms) | per step (ms) "
        "| vs. the inverse-loss step |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, calls, forward in phases(model, config):
        forward_ms = 1e3 * median_seconds(forward, repeats)
        both_ms = 1e3 * median_seconds(forward_backward(forward), repeats)
        rows.append(
            f"| {name} | {calls} | {forward_ms:.1f} | {both_ms - forward_ms:.1f} | "
            f"{calls * both_ms:.1f} | {calls * both_ms / inverse_ms:.0%} |"
        )
    return "\n".join(rows)


def steps_table(step_ms: dict[str, float]) -> str:
    golden = step_ms["golden"]
    rows = [
        "| training step | time (ms) | over golden |",
        "| --- | --- | --- |",
        *(f"| {label} | {ms:.1f} | {ms / golden:.3f}x |" for label, ms in step_ms.items()),
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="burgers")
    parser.add_argument("--preset", default=None, help="another model size on the same shapes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--bias-only", action="store_true", help="only the bias ratio and MFU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    overrides = () if args.preset is None else (f"model.preset={args.preset}",)
    configs = {
        label: step_config(label, "cpu", overrides, base=args.config)
        for label in ("golden", "inverse losses")
    }
    config = configs["inverse losses"]
    model = periodic_model(config)
    settings = config.training
    print(
        f"{args.config}, {config.model.preset} ({sum(p.numel() for p in model.parameters()):,} "
        f"parameters), batch {settings.batch_size}, {args.threads} thread(s), inverse-loss "
        f"query points {settings.inv_enc_query_points} / {settings.inv_dec_query_points}"
    )
    rate = matmul_rate()
    print(f"fp32 matmul rate (1024^3): {rate / 1e9:.1f} GFLOP/s")
    steps = {label: training_step(c, cpu) for label, c in configs.items()}
    if not args.bias_only:  # each term alone: the other weighted 0 is not computed
        for label, off in (("inverse encoding only", "dec"), ("inverse decoding only", "enc")):
            alone = (*overrides, f"training.lambda_inv_{off}=0")
            steps[label] = training_step(
                step_config("inverse losses", "cpu", alone, base=args.config), cpu
            )
    steps["golden, no attention bias"] = training_step(
        configs["golden"], cpu, periodic_model(configs["golden"], biased=False)
    )
    step_ms = {k: 1e3 * v for k, v in interleaved_seconds(steps, args.repeats).items()}
    print(steps_table(step_ms))
    print(f"inverse-loss overhead: {step_ms['inverse losses'] / step_ms['golden']:.3f}x")
    print(f"attention bias cost: {step_ms['golden'] / step_ms['golden, no attention bias']:.3f}x")
    for label in ("golden", "inverse losses"):
        flops = step_flops(training_step(configs[label], cpu))
        achieved = flops / (step_ms[label] / 1e3)
        print(
            f"MFU, {label}: {flops / 1e9:.2f} GFLOP per step, {achieved / 1e9:.1f} GFLOP/s, "
            f"{achieved / rate:.0%} of the matmul rate"
        )
    if not args.bias_only:
        print(passes_table(model, config, args.repeats, step_ms["inverse losses"]))


if __name__ == "__main__":
    main()
