"""Shared plumbing for the validation benchmarks: seeding, timing, atomic result writing.

Every benchmark writes three kinds of output into its folder: ``results.json`` (all numbers, the
settings that produced them and the wall time), ``table.md`` (the headline table, also printed by
the CLI) and PNG plots (matplotlib, Agg backend). Each file is written atomically: to a temporary
file in the same folder, then ``os.replace``.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from genoattn.atomic import atomic_path


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch; return a numpy Generator seeded with ``seed``."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    """Context manager yielding a dict whose ``"s"`` entry holds the elapsed seconds on exit."""
    box = {"s": 0.0}
    t0 = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - t0


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temp file beside ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        write(str(tmp))


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and Paths to JSON types; non-finite floats become strings."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically."""
    text = json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n"
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8), atomically."""
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def fmt(x: Any) -> str:
    """Format one table cell: floats in 4 significant digits (scientific when tiny or huge)."""
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        x = float(x)
        if not math.isfinite(x):
            return str(x)
        if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
            return f"{x:.3e}"
        return f"{x:.4g}"
    return str(x)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Render a GitHub markdown table; cells go through :func:`fmt`."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for row in rows:
        assert len(row) == len(header), (row, header)
        lines.append("| " + " | ".join(fmt(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def save_figure(fig: Any, path: Path) -> None:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    _atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def new_figure(ncols: int = 1, width: float = 5.0, height: float = 3.8) -> tuple[Any, Any]:
    """A figure with ``ncols`` axes side by side, on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


def write_outputs(
    out_dir: Path, name: str, settings: dict[str, Any], results: dict[str, Any], table: str
) -> dict[str, Any]:
    """Write ``results.json`` and ``table.md`` into ``out_dir``; return the full record."""
    record = {"benchmark": name, "settings": settings, "results": results, "table": table}
    write_json(out_dir / "results.json", record)
    write_text(out_dir / "table.md", f"# {name}\n\n{table}")
    return record
