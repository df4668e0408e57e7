"""The run directory: what ``fit`` writes and ``predict`` / ``export`` read.

RUN/
  config.yaml          resolved FitConfig (data, model, train)
  run.json             trait, binary, covariate names, model form, format version
  model.safetensors    CohortPredictor weights (never pickled)
  loci.parquet         locus table of the training cohort (contract schema)
  split.tsv            IID, split (train / val / test)
  metrics.json         R^2, Pearson r (AUC) per split, additive baseline, timings
  history.tsv          training curve (epoch or path step, losses)
  selection.tsv        sparse fit only: the penalty path with validation losses
  inputs.json          fingerprint of the inputs and config (written at the start; a resume
                       with other inputs is refused)

A fit writes into RUN.partial/ and renames it to RUN/ when complete, so RUN/ is never half-written.
"""

from __future__ import annotations

import json
import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import polars as pl
import yaml
from safetensors.torch import load_file, save_file

from genoattn.config import FitConfig, from_dict, to_dict
from genoattn.errors import GenoattnError
from genoattn.system.build import Vocab, build_genetic_model, empty_block_model, vocab_of
from genoattn.system.predictor import CohortPredictor
from genoattn.system.split import split_from_labels

FORMAT = "genoattn-run-1"


class _JsonRecord(ABC):
    """Dict-style reads (``info["binary"]``, ``info.get("kind")``) of a record's JSON layout,
    for code written against the dicts these records replace."""

    @abstractmethod
    def to_json(self) -> dict:
        """The record as its JSON file holds it."""

    def __getitem__(self, key: str):
        return self.to_json()[key]

    def __contains__(self, key: str) -> bool:
        return key in self.to_json()

    def get(self, key: str, default=None):
        return self.to_json().get(key, default)


@dataclass
class RunInfo(_JsonRecord):
    """run.json: what the run was fit on and how its genetic model is rebuilt.

    ``genetic`` is "block" (a BlockSALin of ``n_pairs`` / ``n_triples`` blocks) or "module"
    (the model the config builds). Fields absent from an older run.json keep their defaults.
    """

    genetic: str
    trait: str = ""
    binary: bool = False
    covariates: list[str] = field(default_factory=list)
    n_samples: int = 0
    n_loci: int = 0
    kind: str = "genotype"
    n_pairs: int = 0
    n_triples: int = 0
    main_effects: int | None = None
    link_round: int | None = None
    link_val_loss: float | None = None
    auto_choice: str | None = None
    resources: dict | None = None

    #: written only for block models (as format genoattn-run-1 always has)
    _BLOCK_ONLY = ("n_pairs", "n_triples")

    def to_json(self) -> dict:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None or (f.name in self._BLOCK_ONLY and self.genetic != "block"):
                continue
            out[f.name] = list(v) if f.name == "covariates" else v
        return out

    @classmethod
    def from_json(cls, d: dict) -> RunInfo:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Metrics(_JsonRecord):
    """metrics.json: the model's scores per split, the additive baseline's, and fit: auto's.

    ``splits`` maps "train" / "val" / "test" to ``{"n", "r2", "pearson"[, "auc"]}``; on disk
    they sit at the top level beside ``model``, ``fit`` and ``seconds``.
    """

    model: str = ""
    fit: str = ""
    seconds: float = 0.0
    splits: dict[str, dict] = field(default_factory=dict)
    additive: dict[str, dict] | None = None
    auto: dict | None = None

    def to_json(self) -> dict:
        out: dict = {"model": self.model, "fit": self.fit, "seconds": self.seconds}
        if self.auto is not None:
            out["auto"] = self.auto
        out |= self.splits
        if self.additive is not None:
            out["additive"] = self.additive
        return out

    @classmethod
    def from_json(cls, d: dict) -> Metrics:
        known = ("model", "fit", "seconds", "additive", "auto")
        splits = {k: v for k, v in d.items() if k not in known}
        return cls(d.get("model", ""), d.get("fit", ""), d.get("seconds", 0.0), splits,
                   d.get("additive"), d.get("auto"))  # fmt: skip


@dataclass
class Run:
    """A loaded run: its config, model, training loci, samples and split."""

    path: Path
    cfg: FitConfig
    info: RunInfo
    predictor: CohortPredictor
    loci: pl.DataFrame
    samples: np.ndarray
    split: dict[str, np.ndarray]
    metrics: Metrics

    @property
    def vocab(self) -> Vocab:
        return vocab_of(self.loci)


def launched_rank() -> int:
    """Global rank of this process as set by a DDP launcher (0 for the launching process).

    Lightning's ``ddp`` strategy re-runs the command line with LOCAL_RANK / NODE_RANK set; torchrun
    and SLURM set RANK / SLURM_PROCID. A process started none of these ways is rank 0.
    """
    for key in ("RANK", "SLURM_PROCID"):
        if os.environ.get(key, "").isdigit() and int(os.environ[key]) > 0:
            return int(os.environ[key])
    local = int(os.environ.get("LOCAL_RANK", "0") or 0)
    node = int(os.environ.get("NODE_RANK", "0") or 0)
    return local + node * 1_000  # any non-zero value marks a worker


def partial_dir(run_dir: Path) -> Path:
    return run_dir.with_name(run_dir.name + ".partial")


def check_destination(run_dir: Path, overwrite: bool) -> None:
    """Cheap checks of --out, made before any input is loaded.

    RUN must not exist unless overwriting, and its parent folder must exist (as for PLINK's
    --out: a typo in the folder name is an error, not a new folder tree).
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not overwrite:
        raise GenoattnError(
            "run directory exists; choose another --out or pass --overwrite", run_dir
        )
    parent = run_dir.absolute().parent
    if not parent.is_dir():
        raise GenoattnError(f"output folder {parent} does not exist", run_dir)


def prepare_run_dir(run_dir: Path, overwrite: bool, resume: bool) -> Path:
    """Check the destination and return the working (partial) directory."""
    run_dir = Path(run_dir)
    check_destination(run_dir, overwrite)
    work = partial_dir(run_dir)
    if work.exists() and not resume:
        shutil.rmtree(work)
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GenoattnError(f"cannot create the run directory ({e.strerror})", run_dir) from None
    return work


#: train settings a resume may change: they do not alter what the finished fit computes
#: (more epochs continue the same trajectory; devices and progress bars change no numbers)
_RESUMABLE = ("max_epochs", "progress", "accelerator", "devices", "strategy")


def fingerprint(ds, cfg: FitConfig) -> dict:
    """sha256 of the data (samples sorted by ID, so row order does not matter) and the config.

    Args:
        ds: the aligned Dataset (genotype states, trait, covariates, sample and locus IDs).
    """
    import hashlib

    order = np.argsort(np.asarray([str(s) for s in ds.cohort.samples]), kind="stable")
    h = hashlib.sha256()
    for s in np.asarray(ds.cohort.samples)[order]:
        h.update(str(s).encode() + b"\0")
    for i in ds.cohort.loci["id"].to_list():
        h.update(str(i).encode() + b"\0")
    for i in range(0, len(order), 4096):
        h.update(np.ascontiguousarray(np.asarray(ds.cohort.states)[order[i : i + 4096]]).data)
    h.update(np.ascontiguousarray(ds.y[order], dtype=np.float64).data)
    h.update(np.ascontiguousarray(ds.covariates[order], dtype=np.float64).data)
    c = to_dict(cfg)
    c.pop("data", None)  # file names may move; their content is hashed above
    for key in _RESUMABLE:
        c["train"].pop(key, None)
    conf = hashlib.sha256(json.dumps(_plain(c), sort_keys=True, default=str).encode())
    return {"data_sha256": h.hexdigest(), "config_sha256": conf.hexdigest()}


def check_resume(work: Path, fp: dict, resume: bool) -> None:
    """Record the fingerprint of a new fit; on resume, refuse one whose inputs differ."""
    path = work / "inputs.json"
    if resume and path.is_file():
        saved = json.loads(path.read_text())
        for key, what in (("data_sha256", "input data"), ("config_sha256", "model/train config")):
            if saved.get(key) != fp[key]:
                raise GenoattnError(
                    f"cannot resume: the {what} differ from the interrupted fit's "
                    f"(fingerprint {str(saved.get(key))[:12]} vs {fp[key][:12]}); "
                    "rerun without --resume",
                    work,
                )
        return
    path.write_text(json.dumps(fp, indent=2))


def save_run(
    work: Path,
    cfg: FitConfig,
    info: RunInfo,
    predictor: CohortPredictor,
    loci: pl.DataFrame,
    samples: np.ndarray,
    split_labels: np.ndarray,
    metrics: Metrics,
    history: pl.DataFrame,
    selection: pl.DataFrame | None = None,
) -> None:
    """Write every file of the run into the working directory ``work``."""
    (work / "config.yaml").write_text(yaml.safe_dump(_plain(to_dict(cfg)), sort_keys=False))
    write_run_info(work, info)
    state = {k: v.detach().cpu().contiguous() for k, v in predictor.state_dict().items()}
    save_file(state, str(work / "model.safetensors"), metadata={"format": FORMAT})
    loci.write_parquet(work / "loci.parquet")
    pl.DataFrame({"IID": [str(s) for s in samples], "split": list(split_labels)}).write_csv(
        work / "split.tsv", separator="\t"
    )
    (work / "metrics.json").write_text(json.dumps(metrics.to_json(), indent=2))
    history.write_csv(work / "history.tsv", separator="\t")
    if selection is not None:
        selection.write_csv(work / "selection.tsv", separator="\t")


def write_run_info(work: Path, info: RunInfo) -> None:
    """(Re)write run.json of the working directory."""
    (work / "run.json").write_text(json.dumps({"format": FORMAT, **info.to_json()}, indent=2))


def finish_run(work: Path, run_dir: Path) -> None:
    """Atomically publish the run: replace RUN/ by the completed working directory."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    os.replace(work, run_dir)


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def load_run(run_dir: str | Path) -> Run:
    """Load a finished run; problems are reported against the run directory."""
    p = Path(run_dir)
    if not p.is_dir():
        raise GenoattnError("run directory not found (make one with `genoattn fit`)", p)
    for name in ("config.yaml", "run.json", "model.safetensors", "loci.parquet", "split.tsv"):
        if not (p / name).is_file():
            raise GenoattnError(f"not a complete run: {name} is missing", p)
    try:
        raw_info = json.loads((p / "run.json").read_text())
        cfg = from_dict(FitConfig, yaml.safe_load((p / "config.yaml").read_text()))
        loci = pl.read_parquet(p / "loci.parquet")
        split_df = pl.read_csv(p / "split.tsv", separator="\t", schema_overrides={"IID": pl.String})
        state = load_file(str(p / "model.safetensors"))
    except (OSError, ValueError, yaml.YAMLError, pl.exceptions.PolarsError) as e:
        raise GenoattnError(f"cannot read run ({type(e).__name__}: {e})", p) from None
    if raw_info.get("format") != FORMAT:
        raise GenoattnError(f"unknown run format {raw_info.get('format')!r}, expected {FORMAT}", p)
    info = RunInfo.from_json(raw_info)
    vocab = vocab_of(loci)
    if info.genetic == "block":
        genetic = empty_block_model(vocab, info.n_pairs, info.n_triples)
    else:
        genetic = build_genetic_model(cfg.model, vocab, cfg.train.seed)
    pred = CohortPredictor(
        genetic,
        len(info.covariates),
        bool(info.binary),
        global_epistasis=cfg.model.global_epistasis,
        n_main=int(state["main"].shape[0]) if "main" in state else 0,
    )
    try:
        pred.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise GenoattnError(f"model.safetensors does not match the run's config ({e})", p) from None
    pred.eval()
    m = p / "metrics.json"
    metrics = Metrics.from_json(json.loads(m.read_text())) if m.exists() else Metrics()
    return Run(
        p,
        cfg,
        info,
        pred,
        loci,
        split_df["IID"].to_numpy(),
        split_from_labels(split_df["split"].to_numpy()),
        metrics,
    )
