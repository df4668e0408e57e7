"""Byte-level language modelling with small causal Transformers that differ only in attention.

Axis legend: b batch, l context length, d model width, h heads, r query/key rank per head,
p value rank per head, e head output width (d / h), v vocabulary (256 bytes).

Attention blocks (built from the pure kernels of ``genoattn.models.kernels``):

* ``SA``: softmax self-attention, q, k, v of width e per head (``softmax_attention``);
* ``HFA``: HyperFeatureAttention with two features, softmax over the Hadamard product of the two
  score matrices, values the Hadamard product of two value projections (``hadamard_attention``);
* ``HA``: order-3 HyperAttention, one softmax jointly over key pairs (j1, j2 <= i), CP-factorised
  values V_{j1 j2} = (v1_{j1} * v2_{j2}) C (``hyper_attention``).

The ranks of HFA and HA are chosen so every block has (nearly) the same parameter count as SA's
4 d^2; the exact counts are reported. Everything else (embeddings, pre-LayerNorm, MLP, tied
output layer, optimiser, data order) is shared.

Corpus: the source text of a fixed list of standard-library modules (``inspect.getsource``), so
nothing is downloaded; or any file given with ``--text``. The last tenth is the validation split.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genoattn.bench.common import (
    markdown_table,
    new_figure,
    save_figure,
    seed_everything,
    timer,
    write_outputs,
)
from genoattn.errors import GenoattnError, require_file

VARIANTS = ("SA", "HFA", "HA")
STDLIB_MODULES = (
    "textwrap", "argparse", "collections", "json.decoder", "json.encoder", "pathlib",
    "functools", "dataclasses", "inspect", "typing", "string", "shlex", "fractions", "heapq",
    "bisect", "csv", "enum", "configparser", "difflib", "calendar",
)  # fmt: skip


@dataclass(frozen=True)
class LMSettings:
    d_model: int = 96
    heads: int = 4
    layers: int = 2
    context: int = 48
    batch: int = 24
    steps: int = 600
    lr: float = 3e-3
    seeds: int = 3
    max_bytes: int = 1_500_000
    val_windows: int = 256

    @classmethod
    def for_mode(cls, quick: bool) -> LMSettings:
        if quick:
            return cls(
                d_model=48,
                heads=2,
                layers=1,
                context=32,
                batch=16,
                steps=200,
                seeds=1,
                max_bytes=200_000,
                val_windows=64,
            )
        return cls()


def stdlib_corpus(max_bytes: int) -> bytes:
    """UTF-8 source of ``STDLIB_MODULES``, concatenated, truncated to ``max_bytes``."""
    import importlib

    parts = [inspect.getsource(importlib.import_module(name)) for name in STDLIB_MODULES]
    return "\n".join(parts).encode("utf-8")[:max_bytes]


def load_corpus(text: Path | None, max_bytes: int) -> tuple[np.ndarray, str]:
    """Bytes as uint8 (n,) and a description; ``text`` None = the stdlib corpus."""
    if text is None:
        data, name = stdlib_corpus(max_bytes), f"stdlib source of {len(STDLIB_MODULES)} modules"
    else:
        data, name = require_file(text).read_bytes()[:max_bytes], str(text)
    if len(data) < 20 * 64:
        raise GenoattnError(f"corpus too short for the benchmark ({len(data)} bytes)", text)
    return np.frombuffer(data, dtype=np.uint8).copy(), name


def _block_ranks(variant: str, d: int, h: int) -> dict[str, int]:
    """Per-head ranks that give ~4 d^2 attention parameters (SA's q, k, v, o of width d)."""
    if variant == "SA":
        return {"r": d // h, "p": d // h}
    if variant == "HFA":  # 2 q + 2 k of rank r, 2 v of width p, o: d h (4 r + 2 p) + h p d
        x = max(1, round(4 * d / (7 * h)))
        return {"r": x, "p": x}
    # HA: q, k1, k2 of rank r, v1, v2 of rank p, c (p, e), o (h e, d)
    x = max(1, round((3 * d * d - (d // h)) / (5 * d * h)))
    return {"r": x, "p": x}


def build_model(variant: str, cfg: LMSettings):
    """A causal byte-level Transformer with the given attention variant (torch.nn.Module)."""
    import torch
    from torch import nn

    from genoattn.models import kernels

    d, h = cfg.d_model, cfg.heads
    e = d // h
    ranks = _block_ranks(variant, d, h)
    r, p = ranks["r"], ranks["p"]

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            n_qk = {"SA": 2, "HFA": 4, "HA": 3}[variant]
            n_v = {"SA": 1, "HFA": 2, "HA": 2}[variant]
            self.qk = nn.Linear(d, n_qk * h * r, bias=False)
            self.v = nn.Linear(d, n_v * h * p, bias=False)
            out_in = h * (e if variant == "HA" else p)
            self.c = nn.Parameter(torch.randn(p, e) / math.sqrt(p)) if variant == "HA" else None
            self.o = nn.Linear(out_in, d, bias=False)

        def forward(self, x):  # x (b, l, d)
            b, l, _ = x.shape
            qk = self.qk(x).view(b, l, -1, h, r).permute(2, 0, 3, 1, 4)  # (n_qk, b, h, l, r)
            vs = self.v(x).view(b, l, -1, h, p).permute(2, 0, 3, 1, 4)  # (n_v, b, h, l, p)
            scale = r**-0.5
            if variant == "SA":
                y = kernels.softmax_attention(qk[0] * scale, qk[1], vs[0], causal=True)
            elif variant == "HFA":
                qs, ks = [qk[0] * scale, qk[1] * scale], [qk[2], qk[3]]
                y = kernels.hadamard_attention(qs, ks, list(vs), softmax=True, causal=True)
            else:
                y = kernels.hyper_attention(
                    qk[0] * scale, [qk[1], qk[2]], list(vs), self.c, causal=True, softmax=True
                )
            return self.o(y.transpose(1, 2).reshape(b, l, -1))  # (b, l, d)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.attn = Attention()
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class ByteLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(256, d)
            self.pos = nn.Parameter(0.02 * torch.randn(cfg.context, d))
            self.blocks = nn.ModuleList(Block() for _ in range(cfg.layers))
            self.ln = nn.LayerNorm(d)

        def forward(self, idx):  # idx (b, l) int64 -> logits (b, l, 256)
            x = self.tok(idx) + self.pos[: idx.shape[1]]
            for blk in self.blocks:
                x = blk(x)
            return self.ln(x) @ self.tok.weight.T  # tied output layer

    return ByteLM()


def _attention_params(model) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if ".attn." in n)


def _windows(data, starts, context: int):
    import torch

    idx = np.stack([data[s : s + context + 1] for s in starts]).astype(np.int64)
    t = torch.as_tensor(idx)
    return t[:, :-1], t[:, 1:]


def train_and_eval(variant: str, data: np.ndarray, cfg: LMSettings, seed: int) -> dict[str, Any]:
    """Train one model; return validation perplexity, tokens/s and parameter counts."""
    import torch
    import torch.nn.functional as F

    seed_everything(seed)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    rng = np.random.default_rng(seed)
    model = build_model(variant, cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps)
    curve = []
    with timer() as tt:
        for step in range(cfg.steps):
            starts = rng.integers(0, len(train) - cfg.context - 1, size=cfg.batch)
            x, y = _windows(train, starts, cfg.context)
            loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            if step % max(1, cfg.steps // 20) == 0 or step == cfg.steps - 1:
                curve.append((step, float(loss.detach())))
    # Fixed validation windows (the same for every variant and seed).
    starts = np.linspace(0, len(val) - cfg.context - 1, cfg.val_windows).astype(np.int64)
    model.eval()
    with torch.no_grad():
        losses = []
        for chunk in np.array_split(starts, max(1, len(starts) // 64)):
            x, y = _windows(val, chunk, cfg.context)
            losses.append(F.cross_entropy(model(x).flatten(0, 1), y.flatten(), reduction="sum"))
    val_nll = float(sum(losses)) / (len(starts) * cfg.context)
    return {
        "val_perplexity": math.exp(val_nll),
        "tokens_per_s": cfg.steps * cfg.batch * cfg.context / tt["s"],
        "params_total": sum(p.numel() for p in model.parameters()),
        "params_attention": _attention_params(model),
        "ranks": _block_ranks(variant, cfg.d_model, cfg.heads),
        "loss_curve": curve,
    }


def unigram_perplexity(data: np.ndarray) -> float:
    """Validation perplexity of the add-one byte unigram model of the training split."""
    split = int(0.9 * len(data))
    counts = np.bincount(data[:split], minlength=256) + 1.0
    logp = np.log(counts / counts.sum())
    return float(np.exp(-logp[data[split:]].mean()))


def run_lm(quick: bool, out_dir: Path, seed: int = 0, text: Path | None = None) -> dict[str, Any]:
    """Train SA, HFA and HA byte LMs over ``cfg.seeds`` seeds; write perplexities and timings."""
    import torch

    cfg = LMSettings.for_mode(quick)
    data, corpus = load_corpus(text, cfg.max_bytes)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with timer() as total:
        for s in range(cfg.seeds):
            for variant in VARIANTS:
                runs[variant].append(train_and_eval(variant, data, cfg, seed + s))
    summary = {}
    rows = []
    for variant in VARIANTS:
        ppl = np.array([r["val_perplexity"] for r in runs[variant]])
        tps = np.array([r["tokens_per_s"] for r in runs[variant]])
        first = runs[variant][0]
        summary[variant] = {
            "val_ppl_mean": float(ppl.mean()),
            "val_ppl_std": float(ppl.std(ddof=1)) if len(ppl) > 1 else 0.0,
            "tokens_per_s": float(tps.mean()),
            "params_total": first["params_total"],
            "params_attention": first["params_attention"],
            "ranks": first["ranks"],
        }
        sm = summary[variant]
        rows.append([variant, sm["val_ppl_mean"], sm["val_ppl_std"], sm["tokens_per_s"]])
        rows[-1] += [sm["params_total"], sm["params_attention"]]
    unigram = unigram_perplexity(data)
    rows.append(["byte unigram", unigram, 0.0, "", "", ""])
    header = ["attention", "val ppl (mean)", "val ppl (std)", "train tokens/s", "params"]
    header.append("attn params")
    order = sorted(VARIANTS, key=lambda v: summary[v]["val_ppl_mean"])
    table_md = markdown_table(header, rows) + f"\nOrder by perplexity: {' < '.join(order)}\n"
    results = {"summary": summary, "runs": runs, "unigram_perplexity": unigram, "order": order}
    results["total_seconds"] = total["s"]
    _plot(runs, out_dir)
    settings = {**asdict(cfg), "quick": quick, "seed": seed, "corpus": corpus}
    settings.update(corpus_bytes=len(data), torch_threads=torch.get_num_threads())
    return write_outputs(out_dir, "lm", settings, results, table_md)


def _plot(runs: dict[str, list[dict[str, Any]]], out_dir: Path) -> None:
    fig, axes = new_figure(ncols=2, width=4.6)
    for variant, rs in runs.items():
        for i, r in enumerate(rs):
            steps, losses = zip(*r["loss_curve"], strict=True)
            axes[0].plot(
                steps,
                losses,
                color=f"C{VARIANTS.index(variant)}",
                label=variant if i == 0 else None,
                alpha=0.8,
            )
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("train cross-entropy (nats/byte)")
    axes[0].legend()
    ppl = [[r["val_perplexity"] for r in runs[v]] for v in VARIANTS]
    axes[1].boxplot(ppl)
    axes[1].set_xticks(range(1, len(VARIANTS) + 1), VARIANTS)
    axes[1].set_ylabel("validation perplexity")
    save_figure(fig, out_dir / "lm.png")
