"""What a run cost: wall time per stage, peak resident memory, peak GPU memory.

    res = Resources()
    with res.stage("load"):
        ...
    res.report()  # {"wall_s": ..., "stages_s": {"load": ...}, "stages_cpu_s": ..., ...}

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
    """Wall and CPU time of named stages (a stage entered twice adds up) and the process's
    peaks. CPU time is the process's (every thread), the steadier figure on a shared machine."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.stages: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t, time.process_time() - c)

    def add(self, name: str, wall: float, cpu: float) -> None:
        """Count ``wall`` / ``cpu`` seconds to stage ``name`` (e.g. measured inside a route)."""
        self.stages[name] = self.stages.get(name, 0.0) + wall
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu

    def wall(self) -> float:
        return time.perf_counter() - self.t0

    def report(self) -> dict:
        """Plain JSON-ready record: wall_s, stages_s, peak_rss_mb, peak_gpu_mb (or None)."""
        gpu = peak_gpu_bytes()
        return {
            "wall_s": round(self.wall(), 3),
            "stages_s": {k: round(v, 3) for k, v in self.stages.items()},
            "stages_cpu_s": {k: round(v, 3) for k, v in self.cpu.items()},
            "peak_rss_mb": round(peak_rss_bytes() / MB, 1),
            "peak_gpu_mb": None if gpu is None else round(gpu / MB, 1),
        }

    def summary(self) -> str:
        r = self.report()
        gpu = "" if r["peak_gpu_mb"] is None else f", peak GPU memory {r['peak_gpu_mb']:.0f} MiB"
        return f"total wall time {r['wall_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MiB{gpu}"
