"""Real MAVE data: the default ``genoattn fit`` against ridge and global-epistasis baselines.

Every data set of the mavenn 1.1.4 wheel (``mavenn/examples/datasets/*_data.csv.gz``), read from
the wheel with zipfile (mavenn is never imported). Per data set, held-out R^2 on the official test
set of:

* the default fit (``genoattn fit`` with no --model/--fit: auto) and of each auto candidate alone
  (``model.candidates: [name]``), each a whole ``genoattn fit`` on the official training +
  validation sequences (its own seeded validation split of the official validation size, no
  internal test set) followed by a whole ``genoattn predict RUN --fasta test.fa``;
* ridge on one-hot additive features, ridge on additive + pairwise one-hot features, and an
  additive model with a fitted sigmoid link (``mave_baselines.py``, each its own process; fitted
  on the official training set, regularisation chosen on the official validation set);

with wall time and peak resident memory of each command (``/usr/bin/time``).

Data-set notes: ``sortseq`` has read counts in 10 sort bins and no ``y``: its trait is the mean
bin of each sequence; ``nisthal`` (813 sequences) has no ``set`` column: a seeded 60/20/20 split.
``gb1``: 477,854 training sequences; ``--gb1-train`` subsamples them (seeded; validation and test
sets stay whole).

    python benchmarks/bench_mave.py [--wheel PATH] [--datasets mpsa,amyloid] [--gb1-train 50000]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
DATASETS = ("mpsa", "mpsa_replicate", "nisthal", "amyloid", "sortseq", "tdp43", "gb1")
CANDIDATES = ("additive", "sparse_sa", "sparse_sa_link", "sgd_sa_ge", "sgd_ha_ge")
BASELINES = ("ridge_add", "ridge_pair", "add_link")
SPLIT_CODE = {"training": 0, "validation": 1, "test": 2}


def fetch_wheel(path: Path | None, cache: Path) -> Path:
    """The mavenn 1.1.4 wheel: ``path`` if given, else downloaded by pip into ``cache``."""
    if path is not None:
        return path
    found = sorted(cache.glob("mavenn-1.1.4-*.whl"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "mavenn==1.1.4", "-d", cache],
            check=True,
        )
        found = sorted(cache.glob("mavenn-1.1.4-*.whl"))
    return found[0]


def read_dataset(wheel: Path, name: str, seed: int, gb1_train: int | None) -> pl.DataFrame:
    """Columns x (sequence), y (trait), set (training / validation / test)."""
    with zipfile.ZipFile(wheel) as z:
        raw = gzip.decompress(z.read(f"mavenn/examples/datasets/{name}_data.csv.gz"))
    df = pl.read_csv(io.BytesIO(raw))
    rng = np.random.default_rng(seed)
    if name == "sortseq":  # mean sort bin of each sequence's reads
        bins = [c for c in df.columns if c.startswith("ct_")]
        counts = df.select(bins).to_numpy().astype(np.float64)
        y = counts @ np.arange(len(bins)) / counts.sum(1)
        df = df.with_columns(pl.Series("y", y))
    if "set" not in df.columns:
        u = rng.random(df.height)
        df = df.with_columns(
            pl.Series("set", np.where(u < 0.6, "training", np.where(u < 0.8, "validation", "test")))
        )
    df = df.select("x", "y", "set").filter(pl.col("y").is_finite())
    if name == "gb1" and gb1_train:
        tr = np.flatnonzero(df["set"].to_numpy() == "training")
        drop = np.setdiff1d(tr, rng.choice(tr, size=min(gb1_train, len(tr)), replace=False))
        df = df.with_row_index("i").filter(~pl.col("i").is_in(drop)).drop("i")
    return df


def write_inputs(df: pl.DataFrame, d: Path) -> dict:
    d.mkdir(parents=True, exist_ok=True)
    ids = np.array([f"s{i}" for i in range(df.height)])
    split = np.array([SPLIT_CODE[s] for s in df["set"].to_list()], dtype=np.int8)
    x = np.asarray(df["x"].to_list())
    y = df["y"].to_numpy()
    np.savez(d / "data.npz", x=x, y=y, split=split, ids=ids)
    fit_rows, test_rows = np.flatnonzero(split < 2), np.flatnonzero(split == 2)
    for name, rows in (("fit.fa", fit_rows), ("test.fa", test_rows)):
        (d / name).write_text("".join(f">{ids[i]}\n{x[i]}\n" for i in rows))
    pl.DataFrame({"FID": ids[fit_rows], "IID": ids[fit_rows], "y": y[fit_rows]}).write_csv(
        d / "pheno.tsv", separator="\t"
    )
    n_tr, n_va = int((split == 0).sum()), int((split == 1).sum())
    return {"n_train": n_tr, "n_val": n_va, "n_test": len(test_rows), "length": len(x[0])}


def measured(cmd: list[str], log: Path) -> dict:
    """Run ``cmd`` under /usr/bin/time: wall seconds, peak RSS (MB), stdout."""
    t0 = time.perf_counter()
    p = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e %M", *map(str, cmd)], capture_output=True, text=True
    )
    secs = time.perf_counter() - t0
    with open(log, "a") as f:
        f.write(f"$ {' '.join(map(str, cmd))}\n{p.stdout}{p.stderr}\n")
    if p.returncode != 0:
        raise RuntimeError(
            f"failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stderr[-2000:]}"
        )
    tline = [ln for ln in p.stderr.splitlines() if ln.startswith("TIME ")][-1].split()
    return {"seconds": round(secs, 1), "peak_mb": round(int(tline[2]) / 1024), "stdout": p.stdout}


def r2(y: np.ndarray, p: np.ndarray) -> float:
    return float(1 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def genoattn_fit(
    d: Path, tag: str, info: dict, train: dict, candidates: list[str] | None, reuse: bool = False
) -> dict:
    """Whole ``genoattn fit`` (auto, or auto restricted to ``candidates``) + ``predict``;
    ``reuse``: score the run and predictions of an earlier call with the same tag instead."""
    cfg = d / f"{tag}.yaml"
    val_fraction = info["n_val"] / (info["n_train"] + info["n_val"])
    model = {"candidates": candidates} if candidates else {}
    cfg.write_text(
        json.dumps({"model": model, "train": {"val_fraction": val_fraction, "test_fraction": 0.0,
                                               "accelerator": "cpu", **train}})
    )  # fmt: skip
    run, log = d / f"run_{tag}", d / "commands.log"
    saved = d / f"{tag}.measured.json"  # kept with the run: --reuse scores it again
    if reuse and saved.exists() and (d / f"pred_{tag}.tsv").exists():
        return {**scored_run(d, run, d / f"pred_{tag}.tsv"), **json.loads(saved.read_text())}
    exe = [Path(sys.executable).parent / "genoattn"]
    fit = measured(
        [*exe, "fit", "--fasta", d / "fit.fa", "--pheno", d / "pheno.tsv", "--config", cfg,
         "--out", run, "--overwrite", "--no-progress"], log,
    )  # fmt: skip
    pred = measured(
        [*exe, "predict", run, "--fasta", d / "test.fa", "--out", d / f"pred_{tag}.tsv",
         "--no-progress"], log,
    )  # fmt: skip
    cost = {
        "seconds": fit["seconds"] + pred["seconds"],
        "peak_mb": max(fit["peak_mb"], pred["peak_mb"]),
        "closing_line": [ln for ln in fit["stdout"].splitlines() if " | " in ln][-1:],
    }
    saved.write_text(json.dumps(cost))
    return {**scored_run(d, run, d / f"pred_{tag}.tsv"), **cost}


def scored_run(d: Path, run: Path, pred: Path) -> dict:
    """R^2 on the official test set of predictions ``pred`` (FID IID PRED) of the run ``run``,
    and the run's record of its auto candidates."""
    z = np.load(d / "data.npz", allow_pickle=False)
    y = dict(zip(z["ids"].tolist(), z["y"].tolist(), strict=True))
    table = pl.read_csv(pred, separator="\t")
    truth = np.array([y[i] for i in table["IID"].to_list()])
    metrics = json.loads((run / "metrics.json").read_text())
    auto = metrics.get("auto", {})
    return {
        "r2_test": r2(truth, table["PRED"].to_numpy()),
        "r2_val": metrics["val"]["r2"],
        "chosen": auto.get("chosen"),
        "val_loss": {k: v.get("val_loss") for k, v in auto.get("candidates", {}).items()},
        "candidate_r2_val": {
            k: v["val"]["r2"] for k, v in auto.get("candidates", {}).items() if "val" in v
        },
        "candidate_seconds": {
            k: v["seconds"] for k, v in auto.get("candidates", {}).items() if "seconds" in v
        },
    }


def reused_gb1_default(d: Path, src: Path) -> dict:
    """The GB1 default fit measured by ``bench_scale.py gb1`` (the same command on the same
    files: official training + validation, seed 0, the official validation size), read from
    its work folder ``src`` and benchmarks/results/scale.json instead of fitting it twice."""
    rec = json.loads((HERE / "results" / "scale.json").read_text())["gb1"]["fit_default"]
    out = scored_run(d, src / "run_default", src / "pred_default.tsv")
    fit, pred = rec, rec["predict"]
    out["seconds"] = fit["wall_s"] + pred["wall_s"]
    out["cpu_s"] = fit["cpu_s"] + pred["cpu_s"]
    out["peak_mb"] = round(1024 * max(fit["peak_rss_gb"], pred["peak_rss_gb"]))
    out["from"] = "bench_scale.py gb1 (fit_default)"
    return out


def baseline(d: Path, kind: str) -> dict:
    out = measured([sys.executable, HERE / "mave_baselines.py", kind, d], d / "commands.log")
    return {**json.loads(out["stdout"].strip().splitlines()[-1]), **out, "stdout": None}


def run_dataset(wheel: Path, name: str, a: argparse.Namespace) -> dict:
    d = a.work / name
    df = read_dataset(wheel, name, a.seed, a.gb1_train)
    info = {"dataset": name, **write_inputs(df, d)}
    print(f"{name}: {info}", flush=True)
    train = {"seed": a.seed, "max_epochs": a.max_epochs, "patience": a.patience}
    train["batch_size"] = a.batch_size
    info["train"] = train
    if name == "gb1" and a.gb1_default_from is not None:
        rows = {"default": reused_gb1_default(d, a.gb1_default_from)}
    else:
        rows = {"default": genoattn_fit(d, "default", info, train, None, a.reuse)}
    print(f"  default: {rows['default']}", flush=True)
    chosen = rows["default"]["chosen"]
    for c in a.candidates:
        if c == chosen:  # the same fit, same seed and split: reuse the default's numbers
            rows[c] = {**rows["default"], "same_as_default": True}
        else:
            rows[c] = genoattn_fit(d, c, info, train, [c], a.reuse)
        print(f"  {c}: r2_test {rows[c]['r2_test']:.3f} ({rows[c]['seconds']} s)", flush=True)
    for b in BASELINES:
        rows[b] = baseline(d, b)
        print(f"  {b}: r2_test {rows[b]['r2_test']:.3f} ({rows[b]['seconds']} s)", flush=True)
    best_base = max(rows[b]["r2_test"] for b in BASELINES)
    info["default_minus_best_baseline"] = rows["default"]["r2_test"] - best_base
    info["default_minus_additive_link"] = rows["default"]["r2_test"] - rows["add_link"]["r2_test"]
    return {**info, "methods": rows}


def markdown(results: list[dict]) -> str:
    cols = [
        c for c in ("default", *CANDIDATES, *BASELINES) if any(c in r["methods"] for r in results)
    ]
    head = "| data set | n train / val / test | L | " + " | ".join(cols) + " | chosen |"
    lines = [head, "|" + "---|" * (len(cols) + 4)]
    for r in results:
        m = r["methods"]
        cells = [f"{m[c]['r2_test']:.3f}" if c in m else "–" for c in cols]
        lines.append(
            f"| {r['dataset']} | {r['n_train']} / {r['n_val']} / {r['n_test']} | {r['length']} | "
            + " | ".join(cells)
            + f" | {m['default']['chosen']} |"
        )
    lines += [
        "",
        "Validation loss (and validation R^2) of each auto candidate inside the default fit:",
        "",
    ]
    lines.append("| data set | " + " | ".join(CANDIDATES) + " |")
    lines.append("|" + "---|" * (len(CANDIDATES) + 1))
    for r in results:
        d = r["methods"]["default"]
        vl, vr = d.get("val_loss", {}), d.get("candidate_r2_val", {})
        cells = [
            f"{vl[c]:.4f} ({vr[c]:.3f})" + (" *" if c == d["chosen"] else "")
            if vl.get(c) is not None
            else ("skipped" if c in vl else "–")
            for c in CANDIDATES
        ]
        lines.append(f"| {r['dataset']} | " + " | ".join(cells) + " |")
    lines += ["", "| data set | " + " | ".join(f"{c} s / MB" for c in cols) + " |"]
    lines.append("|" + "---|" * (len(cols) + 1))
    for r in results:
        m = r["methods"]
        cells = [f"{m[c]['seconds']:.0f} / {m[c]['peak_mb']}" if c in m else "–" for c in cols]
        lines.append(f"| {r['dataset']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ["default", "ridge_add", "ridge_pair", "add_link"]
    fig, ax = plt.subplots(figsize=(1.6 * len(results) + 2, 3.8))
    w = 0.8 / len(cols)
    for k, c in enumerate(cols):
        vals = [r["methods"][c]["r2_test"] for r in results]
        ax.bar(np.arange(len(results)) + k * w, vals, w, label=c)
    ax.set_xticks(np.arange(len(results)) + 0.4 - w / 2, [r["dataset"] for r in results])
    ax.set_ylabel("held-out R² (official test set)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, ncol=4, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--wheel", type=Path, default=None, help="mavenn-1.1.4 wheel (else pip)")
    ap.add_argument("--cache", type=Path, default=HERE / ".cache")
    ap.add_argument("--work", type=Path, default=HERE / ".cache" / "mave")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--candidates", default=",".join(CANDIDATES), help="'' to skip them")
    ap.add_argument("--gb1-train", type=int, default=50_000, help="0: all training sequences")
    ap.add_argument(
        "--gb1-default-from",
        type=Path,
        default=None,
        help="work folder of bench_scale.py gb1 (its gb1_official/): reuse its default fit",
    )
    ap.add_argument("--reuse", action="store_true", help="score earlier fits in --work again")
    ap.add_argument("--max-epochs", type=int, default=60)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "mave.json")
    ap.add_argument("--report", action="store_true", help="only re-render the table and plot")
    a = ap.parse_args()
    a.candidates = [c for c in a.candidates.split(",") if c]
    if a.report:
        results = json.loads(a.out.read_text())["results"]
        a.out.with_suffix(".md").write_text(markdown(results))
        plot(results, a.out.with_suffix(".png"))
        print(markdown(results))
        return
    wheel = fetch_wheel(a.wheel, a.cache)
    done = {}
    if a.out.exists():  # results of earlier data sets are kept: run them one by one
        done = {r["dataset"]: r for r in json.loads(a.out.read_text())["results"]}
    for name in a.datasets.split(","):
        done[name] = run_dataset(wheel, name, a)
        results = [done[n] for n in DATASETS if n in done]
        settings = {k: str(v) for k, v in vars(a).items()}
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({"settings": settings, "results": results}, indent=1))
        a.out.with_suffix(".md").write_text(markdown(results))
        plot(results, a.out.with_suffix(".png"))
    print(markdown([done[n] for n in DATASETS if n in done]))


if __name__ == "__main__":
    main()
