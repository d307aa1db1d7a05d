"""Time and peak memory of one training step: the golden config against the inverse losses.

On the CPU the workload is the tiny default (configs/burgers.yaml, inverse losses off / on); with
CUDA, the golden GPU config (upt-8m, configs/burgers_golden.yaml) against
configs/burgers_upt_losses.yaml. CUDA cases are skipped on a machine without a GPU.
"""

import statistics
import time
from typing import ClassVar

import torch

from .common import LABELS, require_device, step_config, training_step

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
    times = {label: [] for label in LABELS}
    for _ in range(6):
        for label, step in steps.items():
            started = time.perf_counter()
            step()
            times[label].append(time.perf_counter() - started)
    golden, inverse = (statistics.median(times[label][1:]) for label in LABELS)
    return inverse / golden


track_inverse_loss_overhead.setup = require_device
track_inverse_loss_overhead.params = DEVICES
track_inverse_loss_overhead.param_names = ["device"]
track_inverse_loss_overhead.unit = "ratio"
track_inverse_loss_overhead.timeout = 300


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
