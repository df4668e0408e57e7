"""Summarise benchmarks/bench_startup.sh output: medians per tree and the paired saving.

usage: python benchmarks/bench_startup_summary.py OUTFILE [BEFORE_LABEL AFTER_LABEL]
"""

import re
import statistics
import sys
from collections import defaultdict

med = statistics.median


def main() -> None:
    rows = defaultdict(dict)  # (label, rep) -> step -> (wall, cpu, rss_mb)
    for line in open(sys.argv[1]):
        f = line.split()
        kv = dict(re.findall(r"(\w+)=([\d.]+)", line))
        rows[(f[0], int(f[2]))][f[1]] = (
            float(kv["wall"]),
            float(kv["user"]) + float(kv["sys"]),
            int(kv["maxrss_kb"]) / 1024,
        )
    labels = sorted({k[0] for k in rows})
    for lab in labels:
        reps = [v for k, v in rows.items() if k[0] == lab and len(v) == 2]
        for step in ("fit", "export"):
            w, c, m = zip(*(r[step] for r in reps), strict=True)
            print(
                f"{lab} {step}: wall {med(w):.2f} s, CPU {med(c):.2f} s,"
                f" peak RSS {max(m):.0f} MiB (n={len(reps)})"
            )
        tot = [r["fit"][0] + r["export"][0] for r in reps]
        cpu = [r["fit"][1] + r["export"][1] for r in reps]
        print(f"{lab} fit+export: wall {med(tot):.2f} s, CPU {med(cpu):.2f} s")
    if len(sys.argv) == 4:
        a, b = sys.argv[2], sys.argv[3]
        common = sorted({k[1] for k in rows if k[0] == a} & {k[1] for k in rows if k[0] == b})
        dw = [
            sum(rows[(a, r)][s][0] - rows[(b, r)][s][0] for s in ("fit", "export")) for r in common
        ]
        dc = [
            sum(rows[(a, r)][s][1] - rows[(b, r)][s][1] for s in ("fit", "export")) for r in common
        ]
        print(
            f"saving {a} -> {b}, paired per rep (n={len(common)}): wall median {med(dw):.2f} s"
            f" (min {min(dw):.2f}), CPU median {med(dc):.2f} s (min {min(dc):.2f})"
        )


if __name__ == "__main__":
    main()
