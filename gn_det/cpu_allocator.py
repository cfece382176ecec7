"""glibc's malloc set up for a detector's CPU tensors: freed memory is reused, not unmapped.

By default glibc maps every allocation above its mmap threshold (128 KiB, rising to at most
32 MiB as large blocks are freed) with fresh pages and unmaps it on free, and returns freed memory
at the top of its heap to the system. A Mask R-CNN inference on an 800x1067 image allocates about
1 GB of such activations, so every call faults in (and the kernel zeroes) ~250k pages: on this
project's 2-core machine the GN preset infers 1.28-1.40x faster without them
(``tools/benchmark.py --parts allocator``). With
:func:`reuse_freed_memory`, allocations up to 1 GiB come from the heap and freed memory stays there
for the next call, as jemalloc or tcmalloc would keep it. The process's resident memory then stays
near its peak instead of shrinking between calls.

The setting is process-wide and applies to every later allocation (of any library). gn_det makes it
when it builds a model for the CPU with ``MODEL.FAST_PATH.REUSE_CPU_MEMORY`` on (the default on
the CPU). Where the C library is not glibc (macOS, musl) nothing changes.
"""
import ctypes
import functools
import logging

logger = logging.getLogger(__name__)

# mallopt parameters (glibc's malloc.h) and the values set.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Allocations above this are still mapped (and unmapped on free): 1 GiB, or 32 MiB where glibc
# refuses more (versions that cap it at half its 64 MiB thread heaps).
MMAP_THRESHOLDS_BYTES = (2**30, 32 * 2**20)
TRIM_THRESHOLD_BYTES = 2**31 - 1  # the largest value mallopt takes (a C int): never trim


def _glibc():
    try:
        libc = ctypes.CDLL(None)
    except (OSError, TypeError):  # TypeError: Windows (CDLL(None) not allowed)
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None  # only glibc has it


@functools.cache  # once per process
def reuse_freed_memory():
    """Make glibc serve allocations up to 1 GiB from its heap and keep freed memory for reuse
    (``mallopt``); once per process. Returns True when set (now or earlier), False where the C
    library is not glibc or refused."""
    libc = _glibc()
    if libc is None:
        logger.info("gn_det fast path: MODEL.FAST_PATH.REUSE_CPU_MEMORY has no effect here "
                    "(the C library is not glibc).")
        return False
    threshold = next((t for t in MMAP_THRESHOLDS_BYTES if libc.mallopt(M_MMAP_THRESHOLD, t)), None)
    trim = bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    logger.info("gn_det fast path (MODEL.FAST_PATH.REUSE_CPU_MEMORY, process-wide): glibc malloc "
                "%s allocations up to %s from its heap and %s freed memory.",
                "serves" if threshold else "refused to serve",
                f"{threshold // 2**20} MiB" if threshold else "1 GiB",
                "keeps" if trim else "refused to keep")
    return threshold is not None and trim
