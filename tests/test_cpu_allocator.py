"""MODEL.FAST_PATH.REUSE_CPU_MEMORY: repeated inference reuses freed memory instead of faulting in
fresh pages (counted by the kernel: the process's minor page faults)."""
import subprocess
import sys

import pytest

from gn_det import cpu_allocator

# In a fresh process: minor page faults of the 2nd-4th inferences of four conv+GN+ReLU layers on
# 36 MiB activations (above glibc's largest dynamic mmap threshold, 32 MiB), with or without
# gn_det's allocator setting.
REPEATED_INFERENCE_FAULTS = """
import resource, sys, torch
from torch import nn
from gn_det.cpu_allocator import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
layers = [[nn.Conv2d(64, 64, 3, padding=1), nn.GroupNorm(32, 64), nn.ReLU()] for _ in range(4)]
net = nn.Sequential(*sum(layers, [])).eval()
x = torch.randn(1, 64, 384, 384)
with torch.no_grad():
    net(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        net(x)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def repeated_inference_faults(mode):
    result = subprocess.run([sys.executable, "-c", REPEATED_INFERENCE_FAULTS, mode],
                            capture_output=True, text=True, check=True)
    return int(result.stdout.split()[-1])


def transparent_huge_pages_always():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return "[always]" in f.read()
    except OSError:
        return False


@pytest.mark.skipif(cpu_allocator._glibc() is None, reason="glibc only")
@pytest.mark.skipif(transparent_huge_pages_always(), reason="2 MiB pages: faults are not counted "
                    "in 4 KiB pages")
def test_repeated_inference_reuses_memory_instead_of_faulting_it_in():
    # glibc's default maps each activation afresh: at least one activation's 4 KiB pages per call.
    default = repeated_inference_faults("default")
    assert default > 3 * 36 * 2**20 // 4096
    assert repeated_inference_faults("reuse") * 10 < default


def test_without_glibc_nothing_changes(monkeypatch):
    monkeypatch.setattr(cpu_allocator, "_glibc", lambda: None)
    cpu_allocator.reuse_freed_memory.cache_clear()
    try:
        assert cpu_allocator.reuse_freed_memory() is False
    finally:
        cpu_allocator.reuse_freed_memory.cache_clear()
