"""What a run cost: wall time per stage, peak resident memory, peak GPU memory.

    res = Resources()
    with res.stage("load"):
        ...
    res.report()  # {"wall_s": ..., "stages_s": {"load": ...}, "peak_rss_mb": ..., ...}

Peak RSS is the process's high-water mark (``VmHWM`` in /proc/self/status on Linux, else
``getrusage`` ru_maxrss); it covers the whole process, so it includes everything before the first
stage (Python, torch). Peak GPU memory is torch's allocator high-water mark, reported only when
CUDA was initialised.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MB = 1024.0 * 1024.0


def peak_rss_bytes() -> int:
    """High-water mark of this process's resident memory, in bytes."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # macOS: bytes; Linux: KiB


def peak_gpu_bytes() -> int | None:
    """torch's peak allocated CUDA memory (all devices), or None when CUDA was not used."""
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return None
    return int(sum(torch.cuda.max_memory_allocated(d) for d in range(torch.cuda.device_count())))


class Resources:
    """Wall time of named stages (a stage entered twice adds up) and the process's peaks."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.stages: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - t

    def wall(self) -> float:
        return time.perf_counter() - self.t0

    def report(self) -> dict:
        """Plain JSON-ready record: wall_s, stages_s, peak_rss_mb, peak_gpu_mb (or None)."""
        gpu = peak_gpu_bytes()
        return {
            "wall_s": round(self.wall(), 3),
            "stages_s": {k: round(v, 3) for k, v in self.stages.items()},
            "peak_rss_mb": round(peak_rss_bytes() / MB, 1),
            "peak_gpu_mb": None if gpu is None else round(gpu / MB, 1),
        }

    def summary(self) -> str:
        r = self.report()
        gpu = "" if r["peak_gpu_mb"] is None else f", peak GPU memory {r['peak_gpu_mb']:.0f} MiB"
        return f"total wall time {r['wall_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MiB{gpu}"
