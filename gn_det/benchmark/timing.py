"""Timing, memory and machine facts for side-by-side benchmarks.

Compared calls are timed interleaved, each round starting one call later (A, B, C, B, C, A, C, A,
B, ...), so load from other processes affects all of them alike and no call always follows the same
one (what a call leaves behind, in caches or the allocator, is spread over all); results are the
median and range over the repeats.
"""
import ctypes
import os
import platform
import statistics
import threading
import time

import torch
from torch import nn


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device):
    """(seconds, result) of ``fn()``, the device synchronized before and after."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - start, result


def summary(seconds):
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds),
            "repeats": len(seconds), "all": seconds}


def interleaved(calls, repeats, device):
    """Time each of ``calls`` (name -> fn) ``repeats`` times, round-robin, each round starting one
    call later; name -> summary."""
    seconds = {name: [] for name in calls}
    names = list(calls)
    for round_index in range(repeats):
        start = round_index % len(names)
        for name in names[start:] + names[:start]:
            seconds[name].append(timed(calls[name], device)[0])
    return {name: summary(values) for name, values in seconds.items()}


def machine_description(device):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    description = {"cpu": cpu, "logical_cpus": os.cpu_count(), "threads": torch.get_num_threads(),
                   "torch": torch.__version__, "python": platform.python_version(),
                   "load_average_start": os.getloadavg()}
    if torch.device(device).type == "cuda":
        description["gpu"] = torch.cuda.get_device_name()
    return description


def peak_flops(device, repeats=5):
    """The machine's limit: the best fp32 FLOP/s of the two kernels a detector's time goes to, each
    best of ``repeats`` (the best is the closest to what the hardware can do): a 2048 x 2048 matmul
    (2 n^3 FLOPs; BLAS) and a 256-channel 3x3 convolution on a 200x272 map, channels-last (oneDNN
    on the CPU, cuDNN on CUDA). Both are reported: on AMD CPUs MKL's matmul reaches less than half
    of oneDNN's convolution, so a matmul alone understates the limit. Returns {kernel: FLOP/s}."""
    a, b = torch.randn(2048, 2048, device=device), torch.randn(2048, 2048, device=device)
    conv = nn.Conv2d(256, 256, 3, padding=1, bias=False).to(device,
                                                            memory_format=torch.channels_last)
    x = torch.randn(1, 256, 200, 272, device=device).to(memory_format=torch.channels_last)
    kernels = {"matmul 2048x2048": (lambda: a @ b, 2 * 2048 ** 3),
               "conv 3x3 256ch 200x272": (lambda: conv(x), 2 * 256 * 256 * 9 * 200 * 272)}
    peaks = {}
    with torch.no_grad():
        for name, (call, flops) in kernels.items():
            timed(call, device)  # warm-up (thread pool, library handles, kernel choice)
            peaks[name] = flops / min(timed(call, device)[0] for _ in range(repeats))
    return peaks


class PeakMemory:
    """Peak memory growth during a call: RSS sampled every 2 ms on the CPU, peak allocated on
    CUDA."""

    def __init__(self, device):
        self.cuda = torch.device(device).type == "cuda"

    def __enter__(self):
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
            return self
        _release_free_heap_memory()
        self.start = self.peak = _rss_bytes()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.002)

    def __exit__(self, *exc):
        if self.cuda:
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self.running = False
            self.thread.join()
            self.peak = max(self.peak, _rss_bytes())

    @property
    def growth_mb(self):
        return (self.peak - self.start) / 2**20


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _release_free_heap_memory():
    # So that one model's freed memory does not hide the next one's growth (glibc only).
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def top_ops(fn, row_limit=12):
    """The profile that explains a time: ``fn``'s top operators by self CPU time, as a table."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA]
                                           if torch.cuda.is_available() else [])
    with profile(activities=activities) as prof:
        fn()
    sort = "self_cuda_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort, row_limit=row_limit)
