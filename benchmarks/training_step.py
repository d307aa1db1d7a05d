"""Time and peak memory of one training step: the golden config against the inverse losses.

On the CPU the workload is the tiny default (configs/burgers.yaml, inverse losses off / on); with
CUDA, the golden GPU config (upt-8m, configs/burgers_golden.yaml) against
configs/burgers_upt_losses.yaml. CUDA cases are skipped on a machine without a GPU.
"""

from typing import ClassVar

import torch

from .common import (
    LABELS,
    host_cost,
    interleaved_seconds,
    matmul_rate,
    periodic_model,
    require_device,
    step_config,
    step_flops,
    training_step,
)

DEVICES = ["cpu", "cuda"]


class TrainingStep:
    params = (list(LABELS), DEVICES)
    param_names: ClassVar[list[str]] = ["config", "device"]
    number = 1
    repeat = (5, 10, 20.0)
    warmup_time = 0
    timeout = 300

    def setup(self, config, device):
        self.device = require_device(device)
        self.step = training_step(step_config(config, device), self.device)
        self.step()  # warm-up: lazy initialization, optimizer state, kernels

    def time_training_step(self, config, device):
        """Forward, backward, clipping and AdamW step of one batch."""
        self.step()

    def peakmem_training_step(self, config, device):
        """Resident-set peak of the process (interpreter and torch included) over three steps."""
        for _ in range(3):
            self.step()


def track_inverse_loss_overhead(device):
    """Median step time with the inverse losses / median step time without (interleaved runs)."""
    device_ = require_device(device)
    steps = {label: training_step(step_config(label, device), device_) for label in LABELS}
    seconds = interleaved_seconds(steps, repeats=5)
    return seconds["inverse losses"] / seconds["golden"]


track_inverse_loss_overhead.setup = require_device
track_inverse_loss_overhead.params = DEVICES
track_inverse_loss_overhead.param_names = ["device"]
track_inverse_loss_overhead.unit = "ratio"
track_inverse_loss_overhead.timeout = 300


def track_host_page_faults():
    """Page faults of one CPU inverse-loss step of the default at batch 256, after two warm-up
    steps. Its largest activations (33.5 MiB) lie above glibc's mmap threshold, so unless freed
    host memory is kept for reuse (`upt_train.keep_freed_host_memory`, as training keeps it) every
    step faults them in afresh: 230,000-320,000 faults a step then, against 0-16,000 kept."""
    device = require_device("cpu")
    config = step_config("inverse losses", "cpu", ("training.batch_size=256",))
    step = training_step(config, device)
    for _ in range(2):
        step()
    return host_cost(step)[0]


track_host_page_faults.unit = "page faults"
track_host_page_faults.timeout = 300


def track_cuda_peak_memory(config):
    """torch.cuda.max_memory_allocated over three steps of the GPU configs (MiB)."""
    device = require_device("cuda")
    step = training_step(step_config(config, "cuda"), device)
    torch.cuda.reset_peak_memory_stats(device)
    for _ in range(3):
        step()
    return torch.cuda.max_memory_allocated(device) / 2**20


track_cuda_peak_memory.setup = lambda config: require_device("cuda")
track_cuda_peak_memory.params = list(LABELS)
track_cuda_peak_memory.param_names = ["config"]
track_cuda_peak_memory.unit = "MiB"


# The model sizes whose attention-bias cost and MFU are tracked on the CPU, on the default's shapes.
CPU_PRESETS = ["tiny", "upt-17m"]


def _golden(preset: str):
    return step_config("golden", "cpu", (f"model.preset={preset}",))


def _bias_cost(config, device: torch.device) -> float:
    steps = {
        "biased": training_step(config, device),
        "unbiased": training_step(config, device, periodic_model(config, biased=False)),
    }
    seconds = interleaved_seconds(steps, repeats=5)
    return seconds["biased"] / seconds["unbiased"]


def _mfu(config, device: torch.device, rate: float) -> float:
    step = training_step(config, device)
    flops = step_flops(step)
    seconds = interleaved_seconds({"step": step}, repeats=5)["step"]
    return flops / seconds / rate


def track_attention_bias_cost(preset):
    """Golden step time with the attention biases / without them (interleaved, one thread): the
    grid latent's relative position bias (tiny) or the anchored perceiver latent (upt-17m)."""
    return _bias_cost(_golden(preset), require_device("cpu"))


track_attention_bias_cost.setup = lambda preset: require_device("cpu")
track_attention_bias_cost.params = CPU_PRESETS
track_attention_bias_cost.param_names = ["preset"]
track_attention_bias_cost.unit = "ratio"
track_attention_bias_cost.timeout = 600


def track_mfu(preset):
    """Model FLOP utilisation of a golden training step on one thread: its counted FLOPs
    (FlopCounterMode, forward + backward) per second over the measured fp32 matmul rate."""
    return _mfu(_golden(preset), require_device("cpu"), matmul_rate())


track_mfu.setup = lambda preset: require_device("cpu")
track_mfu.params = CPU_PRESETS
track_mfu.param_names = ["preset"]
track_mfu.unit = "fraction of the fp32 matmul rate"
track_mfu.timeout = 600


# On CUDA: the golden GPU config's model (grid-8m) and the anchored perceiver on its shapes.
CUDA_PRESETS = ["grid-8m", "upt-17m"]


def _cuda_golden(preset: str):
    return step_config("golden", "cuda", (f"model.preset={preset}",))


def track_cuda_attention_bias_cost(preset):
    """`track_attention_bias_cost` on the GPU configs (bf16 autocast)."""
    return _bias_cost(_cuda_golden(preset), require_device("cuda"))


track_cuda_attention_bias_cost.setup = lambda preset: require_device("cuda")
track_cuda_attention_bias_cost.params = CUDA_PRESETS
track_cuda_attention_bias_cost.param_names = ["preset"]
track_cuda_attention_bias_cost.unit = "ratio"


def track_cuda_mfu(preset):
    """MFU of a golden step of the GPU configs (bf16 autocast) over the measured rate of a
    bf16 8192^3 matmul on the same GPU."""
    cuda = require_device("cuda")
    return _mfu(_cuda_golden(preset), cuda, matmul_rate(8192, device=cuda, dtype=torch.bfloat16))


track_cuda_mfu.setup = lambda preset: require_device("cuda")
track_cuda_mfu.params = CUDA_PRESETS
track_cuda_mfu.param_names = ["preset"]
track_cuda_mfu.unit = "fraction of the bf16 matmul rate"
