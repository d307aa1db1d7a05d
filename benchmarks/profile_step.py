"""Where a training step's time goes, what the inverse losses and the attention biases cost, and
the step's model FLOP utilisation (MFU).

    OMP_NUM_THREADS=1 uv run python -m benchmarks.profile_step                    # CPU default
    OMP_NUM_THREADS=1 uv run python -m benchmarks.profile_step --config burgers_upt_losses
    OMP_NUM_THREADS=1 uv run python -m benchmarks.profile_step --preset upt-17m --bias-only
    uv run python -m benchmarks.profile_step --config burgers_upt_losses --device cuda

Everything runs on one Burgers-shaped batch of the config's shapes (`common.synthetic_batch`)
with the config's model and inverse-loss settings. Each phase of the objective runs on its own
(inputs detached, then differentiated), forward alone and forward + backward, median of
`--repeats`; whole steps go through upt-train's `train_step`, golden and inverse losses
interleaved, so their ratio is measured in one run (`--compile`: each step's objective through
torch.compile, as `training.compile` trains). MFU = the step's matmul and attention FLOPs
(torch's FlopCounterMode, forward + backward) / its time / the measured matmul rate: fp32 on the
CPU's threads; on CUDA bf16 when the config trains under autocast (`training.amp`), else fp32.
The bias ratio is the step time with the attention biases (the grid latent's relative position
bias; the perceiver latent's anchor distance bias) over the same step with
them switched off. On the CPU it also counts one step's page faults and kernel time: upt-train
keeps freed host memory for reuse (`upt_train.keep_freed_host_memory`), and `--default-allocator`
leaves glibc's malloc as it is, to see what that saves.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

import torch
from torch import Tensor
from torch.profiler import ProfilerActivity, profile

from upt_losses.sampling import gather_points, sample_query_indices
from upt_models import UPT
from upt_train import RunConfig
from upt_train.objective import inverse_samples

from .common import (
    host_cost,
    interleaved_seconds,
    matmul_rate,
    median_seconds,
    periodic_model,
    step_config,
    step_flops,
    synchronized,
    synthetic_batch,
    training_step,
)


def phases(
    model: UPT, config: RunConfig, device: torch.device
) -> list[tuple[str, int, Callable[[], Tensor]]]:
    """(name, calls per step, forward) for each part of the objective, on detached inputs."""
    settings = config.training
    batch = synthetic_batch(config, device)

    cond = batch.cond if model.config.num_cond_scalars else None
    codec = cond if model.config.condition_codec else None

    def encode(fields: Tensor, coords: Tensor, codec: Tensor | None = codec) -> Tensor:
        return model.encode(fields, coords, cond=codec)

    def decode(latent: Tensor, coords: Tensor, codec: Tensor | None = codec) -> Tensor:
        return model.decode(latent, coords, codec)

    def leaf(value: Tensor) -> Tensor:
        return value.detach().requires_grad_()

    with torch.no_grad():
        latent = encode(batch.fields, batch.coords)
        next_latent = model.step(latent, cond)
    latent, next_latent = leaf(latent), leaf(next_latent)
    # the inverse losses' passes run on the batch's first n samples (inv_loss_batch_fraction)
    n = inverse_samples(settings.inv_loss_batch_fraction, len(latent))
    part_codec = None if codec is None else codec[:n]
    coords, query_coords = batch.coords[:n], batch.query_coords[:n]
    generator = torch.Generator().manual_seed(0)
    enc_index, _ = sample_query_indices(coords, settings.inv_enc_query_points, generator=generator)
    dec_index, _ = sample_query_indices(
        query_coords, settings.inv_dec_query_points, generator=generator
    )
    enc_coords = gather_points(coords, enc_index)
    dec_coords = gather_points(query_coords, dec_index)
    part_latent, part_next = leaf(latent[:n]), leaf(next_latent[:n])
    decoded = leaf(decode(part_next, dec_coords, part_codec))
    unroll = settings.unroll_steps
    return [
        ("encode the input frame", 1, lambda: encode(batch.fields, batch.coords)),
        ("approximator step", unroll, lambda: model.step(latent, cond)),
        ("decode at the query points", unroll, lambda: decode(latent, batch.query_coords)),
        ("inverse encoding: decode", 1, lambda: decode(part_latent, enc_coords, part_codec)),
        ("inverse decoding: decode", 1, lambda: decode(part_next, dec_coords, part_codec)),
        ("inverse decoding: re-encode", 1, lambda: encode(decoded, dec_coords, part_codec)),
    ]


def autocast(config: RunConfig, device: torch.device) -> torch.autocast:
    """The autocast `train_step` runs the forward under: bf16 on CUDA with `training.amp`."""
    enabled = config.training.amp and device.type == "cuda"
    return torch.autocast(device.type, torch.bfloat16, enabled=enabled)


def forward_backward(forward: Callable[[], Tensor], amp: torch.autocast) -> Callable[[], None]:
    def run() -> None:
        with amp:
            out = forward()
        out.backward(torch.ones_like(out))

    return run


def forward_only(forward: Callable[[], Tensor], amp: torch.autocast) -> Callable[[], None]:
    def run() -> None:
        with amp:
            forward()

    return run


def passes_table(
    model: UPT, config: RunConfig, device: torch.device, repeats: int, inverse_ms: float
) -> str:
    rows = [
        "| pass (on its own) | calls per step | forward (ms) | backward (ms) | per step (ms) "
        "| vs. the inverse-loss step |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    amp = autocast(config, device)
    for name, calls, forward in phases(model.to(device), config, device):
        forward_ms = 1e3 * median_seconds(synchronized(forward_only(forward, amp), device), repeats)
        both = synchronized(forward_backward(forward, amp), device)
        both_ms = 1e3 * median_seconds(both, repeats)
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


def trace_table(step: Callable[[], None], device: torch.device, rows: int = 15) -> str:
    """The ops that take most of three steps' time (self time on the device on CUDA, else on
    the CPU), by torch.profiler, and the kernels launched per step."""
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    step()
    with profile(activities=activities) as profiler:
        for _ in range(3):
            step()
    events = profiler.key_averages()
    launches = sum(e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel"))
    sort = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return f"kernel launches per step: {launches / 3:.0f}\n" + events.table(
        sort_by=sort, row_limit=rows
    )


def where(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"the CPU, {torch.get_num_threads()} thread(s)"


def reference_rate(config: RunConfig, device: torch.device) -> float:
    """The matmul rate MFU is measured against (printed): fp32 1024^3 on the CPU; on CUDA a
    8192^3 product in bf16 under `training.amp`, else in fp32."""
    if device.type == "cpu":
        size, dtype = 1024, torch.float32
    else:
        size, dtype = 8192, torch.bfloat16 if config.training.amp else torch.float32
    rate = matmul_rate(size, device=device, dtype=dtype)
    name = str(dtype).removeprefix("torch.")
    print(f"{name} matmul rate ({size}^3): {rate / 1e12:.3f} TFLOP/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="burgers")
    parser.add_argument("--preset", default=None, help="another model size on the same shapes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--bias-only", action="store_true", help="only the bias ratio and MFU")
    parser.add_argument(
        "--compile", action="store_true", help="steps through torch.compile (training.compile)"
    )
    parser.add_argument(
        "--compile-mode",
        default=None,
        help="training.compile_mode (implies --compile; reduce-overhead: CUDA graphs on a GPU)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a config override"
    )
    parser.add_argument("--trace", action="store_true", help="also the top ops of a step")
    parser.add_argument(
        "--default-allocator",
        action="store_true",
        help="leave glibc's malloc as it is (upt-train keeps freed host memory for reuse)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    overrides = () if args.preset is None else (f"model.preset={args.preset}",)
    compiled = args.compile or args.compile_mode is not None
    overrides += (f"training.compile={str(compiled).lower()}", *args.set)
    if args.compile_mode is not None:
        overrides += (f"training.compile_mode={args.compile_mode}",)
    # `--config` with the inverse losses off / on, whatever the device ("cpu" selects that form)
    configs = {
        label: step_config(label, "cpu", overrides, base=args.config)
        for label in ("golden", "inverse losses")
    }
    config = configs["inverse losses"]
    model = periodic_model(config)
    settings = config.training
    print(
        f"{args.config}, {config.model.preset} ({sum(p.numel() for p in model.parameters()):,} "
        f"parameters), batch {settings.batch_size}, inverse-loss query points "
        f"{settings.inv_enc_query_points} / {settings.inv_dec_query_points}, on {where(device)}"
    )
    rate = reference_rate(config, device)
    keep = not args.default_allocator
    steps = {label: training_step(c, device, keep_host_memory=keep) for label, c in configs.items()}
    if not args.bias_only:  # each term alone: the other weighted 0 is not computed
        for label, off in (("inverse encoding only", "dec"), ("inverse decoding only", "enc")):
            alone = (*overrides, f"training.lambda_inv_{off}=0")
            steps[label] = training_step(
                step_config("inverse losses", "cpu", alone, base=args.config),
                device,
                keep_host_memory=keep,
            )
    steps["golden, no attention bias"] = training_step(
        configs["golden"],
        device,
        periodic_model(configs["golden"], biased=False),
        keep_host_memory=keep,
    )
    step_ms = {k: 1e3 * v for k, v in interleaved_seconds(steps, args.repeats).items()}
    print(steps_table(step_ms))
    print(f"inverse-loss overhead: {step_ms['inverse losses'] / step_ms['golden']:.3f}x")
    print(f"attention bias cost: {step_ms['golden'] / step_ms['golden, no attention bias']:.3f}x")
    if device.type == "cpu":
        for label in ("golden", "inverse losses"):
            faults, kernel_seconds = host_cost(steps[label])
            print(f"host, {label}: {faults:,} page faults, {kernel_seconds:.2f} s in the kernel")
    for label in ("golden", "inverse losses"):
        eager = dataclasses.replace(
            configs[label], training=dataclasses.replace(configs[label].training, compile=False)
        )
        flops = step_flops(training_step(eager, device, keep_host_memory=keep))
        achieved = flops / (step_ms[label] / 1e3)
        print(
            f"MFU, {label}: {flops / 1e9:.2f} GFLOP per step, {achieved / 1e9:.1f} GFLOP/s, "
            f"{achieved / rate:.0%} of the matmul rate"
        )
    if args.trace:
        print(trace_table(steps["inverse losses"], device))
    if not args.bias_only:
        print(passes_table(model, config, device, args.repeats, step_ms["inverse losses"]))


if __name__ == "__main__":
    main()
