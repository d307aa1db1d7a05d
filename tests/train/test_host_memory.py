"""Freed host memory is reused without page faults once `keep_freed_host_memory` applies."""

import platform
import subprocess
import sys

import pytest

# In a fresh interpreter (the setting is process-wide): the page faults of the last of four
# allocations of 64 MiB, each touched and freed, as a training step's activations are, before and
# after the setting (the first allocations after it may still take fresh blocks: an aligned
# request can need a few bytes more than a freed block of the same size holds).
SCRIPT = """
import resource
import torch
from upt_train import keep_freed_host_memory

def repeat_faults():
    for _ in range(3):
        torch.empty(2**24).fill_(1.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(2**24).fill_(1.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

print(repeat_faults(), keep_freed_host_memory(), repeat_faults())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")
def test_a_freed_block_is_reused_without_faulting_its_pages_in_again() -> None:
    output = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout
    before, applied, after = output.split()
    pages = 2**26 // 4096
    assert applied == "True"
    assert int(before) > pages // 2  # glibc maps 64 MiB afresh and faults it in page by page
    assert int(after) < pages // 100
