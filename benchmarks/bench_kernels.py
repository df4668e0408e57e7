"""Kernel benchmark: factorised SA_lin and CP HyperAttention (order 3) vs naive dense einsum.

Measures forward + backward time (gradients of every parameter table) of

* ``sa_fast``:  ``sa_lin_cohort_factorised`` (gathers + associativity, O(l r) per sample);
* ``sa_naive``: dense one-hot X (b, l, s), Q = X Wq, K = X Wk, v = X w, explicit (b, l, l) scores
  (Q K^T) and y = sum (Q K^T) v;
* ``ha_fast``:  ``hyper_attention`` on gathered CP factor tables, O(l R P) per sample;
* ``ha_naive``: dense one-hot X, the explicit order-3 score tensor A_ijk = sum_r q_ir k_jr k'_kr
  (built in query chunks under activation checkpointing so it fits in memory) and the explicit
  value tensor V_jk = sum_p v_jp v'_kp c_p, out_i = sum_jk A_ijk V_jk;

at L = 2,000 with one-hot tokens over |S| = 3L (three states per locus) and rank 16, the growth of
the fast kernels' time when L doubles (1,000 -> 2,000 -> 4,000), and the peak resident memory of
each measurement (each runs in its own process; peak RSS minus the RSS before inputs were made).

    python benchmarks/bench_kernels.py            # default run, ~1-2 min on 2 CPU cores
    python benchmarks/bench_kernels.py --quick    # smaller L, for a smoke test

Writes a table to stdout and JSON to benchmarks/results/kernels.json (atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.checkpoint import checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genoattn.models.kernels import hyper_attention, sa_lin_cohort_factorised  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "kernels.json"


def _tokens(b: int, l: int, seed: int) -> torch.Tensor:
    """(b, l) int64 one-hot tokens: locus i in state g is token 3 i + g + 1; 1% missing (0)."""
    g = torch.Generator().manual_seed(seed)
    states = torch.randint(0, 3, (b, l), generator=g)
    tokens = 3 * torch.arange(l) + states + 1
    return tokens.masked_fill(torch.rand(b, l, generator=g) < 0.01, 0)


def _params(shapes: list[tuple[int, ...]], seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [(0.1 * torch.randn(s, generator=g)).requires_grad_() for s in shapes]


def _one_hot(tokens: torch.Tensor, s: int) -> torch.Tensor:
    """Dense (b, l, s) float32 one-hot, zero rows for padding."""
    X = torch.nn.functional.one_hot(tokens, s).float()
    X[..., 0] = 0.0
    return X


def _setup(kernel: str, b: int, l: int, r: int, rows: int = 0):
    """Return a closure running one forward + backward pass.

    ``rows`` > 0 limits ha_naive to its first ``rows`` query rows: every query chunk costs the
    same, so the full-L time is extrapolated linearly from two row counts (see ``main``).
    """
    s = 3 * l + 1
    tokens = _tokens(b, l, seed=l)
    if kernel.startswith("sa"):
        Wq, Wk, w = _params([(s, r), (s, r), (s,)], seed=1)
        if kernel == "sa_fast":
            return lambda: sa_lin_cohort_factorised(tokens, Wq, Wk, w).sum().backward()
        X = _one_hot(tokens, s)  # (b, l, s)

        def sa_naive():
            q, k, v = X @ Wq, X @ Wk, X @ w  # (b, l, r), (b, l, r), (b, l)
            scores = torch.einsum("bir,bjr->bij", q, k)  # (b, l, l)
            (scores @ v.unsqueeze(-1)).sum().backward()

        return sa_naive
    p = r
    Qt, K1, K2, V1, V2, c = _params([(s, r), (s, r), (s, r), (s, p), (s, p), (p, 1)], seed=2)
    if kernel == "ha_fast":

        def ha_fast():
            out = hyper_attention(Qt[tokens], [K1[tokens], K2[tokens]], [V1[tokens], V2[tokens]], c)
            out.sum().backward()

        return ha_fast
    X = _one_hot(tokens, s)
    chunk = 16

    def chunk_out(q_c: torch.Tensor, kr: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        A = torch.einsum("bir,bjkr->bijk", q_c, kr)  # (b, chunk, l, l): explicit scores
        return torch.einsum("bijk,bjkd->bid", A, V)  # (b, chunk, d)

    def ha_naive():
        q, k1, k2 = X @ Qt, X @ K1, X @ K2  # (b, l, r)
        v1, v2 = X @ V1, X @ V2  # (b, l, p)
        kr = k1.unsqueeze(2) * k2.unsqueeze(1)  # (b, l, l, r)
        V = (v1.unsqueeze(2) * v2.unsqueeze(1)) @ c  # (b, l, l, 1): explicit values
        outs = [
            checkpoint(chunk_out, q[:, i : i + chunk], kr, V, use_reentrant=False)
            for i in range(0, rows or l, chunk)
        ]
        torch.cat(outs, 1).sum().backward()

    return ha_naive


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(kernel: str, b: int, l: int, r: int, reps: int, rows: int = 0) -> dict:
    """Time ``reps`` forward+backward passes after one warm-up; peak RSS above the start."""
    base = _rss_bytes()
    step = _setup(kernel, b, l, r, rows)
    # warm-up pass (for ha_naive on its first query chunk only: every chunk costs the same)
    _setup(kernel, b, l, r, min(rows, 16))() if kernel == "ha_naive" and rows else step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return {
        "kernel": kernel,
        "batch": b,
        "L": l,
        "vocab": 3 * l + 1,
        "rank": r,
        "reps": reps,
        "rows": rows or l,
        "threads": torch.get_num_threads(),
        "seconds": statistics.median(times),
        "min_seconds": min(times),
        "samples_per_s": b / statistics.median(times),
        "peak_mib": max(peak, 0) / 2**20,
    }


def growth(kernel: str, b: int, lengths: list[int], r: int, rounds: int) -> list[dict]:
    """Median step time per length, timed round-robin over the lengths so that a change in the load
    of a shared machine hits every length alike."""
    steps = [_setup(kernel, b, l, r) for l in lengths]
    for step in steps:
        step()
    times: list[list[float]] = [[] for _ in lengths]
    for _ in range(rounds):
        for step, t in zip(steps, times, strict=True):
            t0 = time.perf_counter()
            step()
            t.append(time.perf_counter() - t0)
    return [
        {
            "kernel": kernel,
            "batch": b,
            "L": l,
            "vocab": 3 * l + 1,
            "rank": r,
            "reps": rounds,
            "rows": l,
            "threads": torch.get_num_threads(),
            "seconds": statistics.median(t),
            "min_seconds": min(t),
            "samples_per_s": b / statistics.median(t),
            "peak_mib": float("nan"),
        }
        for l, t in zip(lengths, times, strict=True)
    ]


def _in_child(kernel: str, b: int, l: int, r: int, reps: int, rows: int = 0) -> dict:
    """Run ``measure`` in a fresh process so that its peak memory is its own."""
    cmd = [sys.executable, __file__, "--child", kernel, str(b), str(l), str(r), str(reps)]
    cmd += [str(rows), str(torch.get_num_threads())]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _extrapolate(short: dict, long: dict, l: int) -> dict:
    """Full-L ha_naive time from two row counts: T(rows) = setup + rows * per_row."""
    per_row = (long["seconds"] - short["seconds"]) / (long["rows"] - short["rows"])
    seconds = short["seconds"] + per_row * (l - short["rows"])
    return {
        **long,
        "rows": l,
        "seconds": seconds,
        "min_seconds": None,
        "samples_per_s": long["batch"] / seconds,
        "extrapolated_from_rows": [short["rows"], long["rows"]],
        "dense_score_tensor_gib": long["batch"] * l**3 * 4 / 2**30,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--L", type=int, default=2000, help="sequence length of the fast/naive ratio")
    ap.add_argument("--rank", type=int, default=16, help="rank r (and value rank P)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per measurement (1 by default: on a shared machine, contended "
        "OpenMP threads slow small kernels by 10x and more)",
    )
    ap.add_argument("--quick", action="store_true", help="L = 500, for a smoke test")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        k, b, l, r, reps, rows, threads = args.child
        torch.set_num_threads(int(threads))
        print(json.dumps(measure(k, int(b), int(l), int(r), int(reps), int(rows))))
        return
    torch.set_num_threads(args.threads)
    L = 500 if args.quick else args.L
    r = args.rank
    t0 = time.perf_counter()
    ha_short = _in_child("ha_naive", 1, L, r, 1, rows=16)
    ha_long = _in_child("ha_naive", 1, L, r, 1, rows=48)
    ratio = {
        "sa_fast": _in_child("sa_fast", 4, L, r, 20),
        "sa_naive": _in_child("sa_naive", 4, L, r, 2),
        "ha_fast": _in_child("ha_fast", 1, L, r, 20),
        "ha_naive": _extrapolate(ha_short, ha_long, L),
    }
    # in this process (no memory figure), interleaved over the lengths
    lengths = [L // 2, L, 2 * L]
    grow = growth("sa_fast", 16, lengths, r, 40) + growth("ha_fast", 16, lengths, r, 40)
    summary = {
        "sa_speedup": ratio["sa_naive"]["seconds"] / ratio["sa_fast"]["seconds"],
        "ha_speedup": ratio["ha_naive"]["seconds"] / ratio["ha_fast"]["seconds"],
    }
    for k in ("sa_fast", "ha_fast"):
        t = [x["seconds"] for x in grow if x["kernel"] == k]
        summary[f"{k}_growth"] = [t[1] / t[0], t[2] / t[1]]
    summary["total_seconds"] = time.perf_counter() - t0
    report = {
        "torch": torch.__version__,
        "threads": args.threads,
        "timing": "seconds: median of `reps` forward + backward steps (min_seconds too); "
        "peak_mib: peak RSS minus RSS at start, per measurement process (not for growth rows)",
        "ratio": list(ratio.values()),
        "ha_naive_partial": [ha_short, ha_long],
        "growth": grow,
        "summary": summary,
    }

    print(f"threads per measurement: {args.threads}")
    print(f"{'kernel':<10}{'batch':>6}{'L':>7}{'|S|':>7}{'r':>4}{'sec/step':>12}{'peak MiB':>10}")
    for row in [*ratio.values(), ha_short, ha_long, *grow]:
        name = row["kernel"] + ("*" if row["rows"] != row["L"] else "")
        print(
            f"{name:<10}{row['batch']:>6}{row['L']:>7}{row['vocab']:>7}{row['rank']:>4}"
            f"{row['seconds']:>12.5f}{row['peak_mib']:>10.1f}"
            + (f"  ({row['rows']} query rows)" if row["rows"] != row["L"] else "")
        )
    print(
        f"ha_naive at L={L}: extrapolated from {ha_short['rows']} and {ha_long['rows']} query rows"
        f" (its dense score tensor alone would need"
        f" {ratio['ha_naive']['dense_score_tensor_gib']:.0f} GiB;"
        " it is built in 16-row chunks under checkpointing)"
    )
    print(f"SA_lin factorised speed-up vs naive at L={L}: {summary['sa_speedup']:.0f}x")
    print(f"HyperAttention order 3 speed-up vs naive at L={L}: {summary['ha_speedup']:.0f}x")
    for k in ("sa_fast", "ha_fast"):
        g = summary[f"{k}_growth"]
        print(f"{k} time growth per doubling of L: {g[0]:.2f}x, {g[1]:.2f}x")
    print(f"total {summary['total_seconds']:.0f} s")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
