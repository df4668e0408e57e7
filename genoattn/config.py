"""Typed configs, one per concern, read from YAML with ``yaml.safe_load``, validated on creation."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import yaml

from genoattn.errors import GenoattnError

T = TypeVar("T")


#: the attention models (``model.kind``, ``fit --model``)
class ModelKind(str, Enum):
    sa = "sa"
    hfa = "hfa"
    ha = "ha"
    rfa = "rfa"
    additive = "additive"


#: the fitting routes (``model.fit``, ``fit --fit``)
class FitMethod(str, Enum):
    auto = "auto"
    sparse = "sparse"
    sgd = "sgd"
    ridge = "ridge"


#: classical interaction tests (``export --test``, ``scan --test``)
class InteractionTest(str, Enum):
    product = "product"
    genotype = "genotype"


#: the route a model kind is fit by when the config names a kind but no route
_USUAL_FIT = {"hfa": "sgd", "rfa": "ridge"}


def default_fit(kind: str | None) -> str:
    """``model.fit`` when none is given: auto without a kind, else the kind's usual route."""
    return "auto" if kind is None else _USUAL_FIT.get(kind, "sparse")


def _check(ok: bool, name: str, expected: str, got: Any) -> None:
    if not ok:
        raise GenoattnError(f"config: {name} must be {expected}, got {got!r}")


def _choice(value: Any, choices: type[Enum], name: str) -> str:
    """The value of enum ``choices`` named by ``value`` (a member, as typer passes it, or a str)."""
    value = getattr(value, "value", value)
    allowed = tuple(c.value for c in choices)
    _check(value in allowed, name, f"one of {allowed}", value)
    return value


@dataclass
class QCConfig:
    """PLINK-style quality control, applied after reading and before encoding is cached.

    maf: drop loci whose minor-allele (minor-state) frequency is below this (PLINK --maf).
    geno: drop loci whose missing-call rate exceeds this (PLINK --geno).
    mind: drop samples whose missing-call rate exceeds this (PLINK --mind).
    drop_monomorphic: drop loci with a single observed state.
    """

    maf: float = 0.0
    geno: float = 1.0
    mind: float = 1.0
    drop_monomorphic: bool = True

    def __post_init__(self):
        _check(0.0 <= self.maf <= 0.5, "qc.maf", "in [0, 0.5]", self.maf)
        _check(0.0 <= self.geno <= 1.0, "qc.geno", "in [0, 1]", self.geno)
        _check(0.0 <= self.mind <= 1.0, "qc.mind", "in [0, 1]", self.mind)


@dataclass
class DataConfig:
    """Which inputs to read and how. Exactly one of vcf / bfile / pfile / fasta / zarr."""

    vcf: str | None = None
    zarr: str | None = None  # VCF-Zarr store (bio2zarr vcf2zarr), read without the cache
    bfile: str | None = None
    pfile: str | None = None  # PLINK 2 .pgen/.pvar/.psam prefix
    fasta: str | None = None
    pheno: str | None = None
    trait: str | None = None
    covar: str | None = None
    alphabet: str | None = None  # FASTA: dna | rna | protein; inferred when None
    cache_dir: str | None = None  # where encoded cohorts are cached; default beside the input
    qc: QCConfig = field(default_factory=QCConfig)

    def __post_init__(self):
        if isinstance(self.qc, dict):
            self.qc = from_dict(QCConfig, self.qc)
        given = [k for k in ("vcf", "bfile", "pfile", "fasta", "zarr") if getattr(self, k)]
        _check(len(given) <= 1, "data", "at most one of vcf / bfile / pfile / fasta / zarr", given)


def from_dict(cls: type[T], d: dict[str, Any] | None) -> T:
    """Build dataclass ``cls`` from a mapping; unknown keys are rejected, known ones listed."""
    d = dict(d or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise GenoattnError(
            f"config: unknown key(s) {unknown} for {cls.__name__}; known: {sorted(known)}"
        )
    try:
        return cls(**d)
    except TypeError as e:
        raise GenoattnError(f"config: {cls.__name__}: {e}") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with ``yaml.safe_load`` (never constructs Python objects)."""
    p = Path(path)
    if not p.is_file():
        raise GenoattnError("config file not found", p)
    try:
        d = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise GenoattnError(f"not valid YAML ({str(e).splitlines()[0]})", p) from None
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise GenoattnError(f"expected a mapping at the top level, got {type(d).__name__}", p)
    return d


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


#: 3-way candidates a sparse HyperAttention fit admits when ``sparse.max_triples`` is 0
HA_DEFAULT_TRIPLES = 200
#: the candidate models of ``fit: auto`` (genoattn/system/choose.py)
AUTO_CANDIDATES = ("additive", "sparse_sa", "sparse_sa_link", "sgd_sa_ge", "sgd_ha_ge")


@dataclass
class SparseFitConfig:
    """Hierarchical group-lasso fit of the SA_lin invariant (see genoattn/sparse/fit.py).

    n_lambda / lambda_min_ratio: the penalty path (geometric, from the smallest all-zero lambda).
    max_candidates: locus pairs admitted by screening. relax: relaxed-lasso factors tried.
    adaptive: exponent of the adaptive pair weights (1 / screening score). max_pair_r2: pairs of
        loci in LD above this are not screened in (their product mimics a main effect).
    max_triples: 3-way candidates admitted (0: none; kind ha defaults to 200): extensions of
        the ``triple_seeds`` best pairs by every third locus, merged with the 3-way screen of
        ``triple_search`` (see genoattn/stats/candidates.py): auto (exhaustive 8-df screen of
        all triples up to 300 loci, the contrast-score screen of all up to 1,000, focus loci
        beyond), exhaustive, contrast, focus (300 loci with pairwise, marginal or variance
        signal), or pairs.
    min_state_count: genotype classes / residues seen in fewer training samples are pooled
        with the mean (contrast 0).
    select_se: pick the sparsest pair model within this many standard errors of the best
        validation loss (0: the best).
    refit_with_validation: once lambda and gamma are chosen, refit the selected groups on the
        training and validation samples together (test samples stay untouched).
    work_budget_mb: a solver working set is materialised as a dense (n, p_work) design when it
        takes at most this many MB; otherwise the solver runs through the blocked operator over
        the int8 states (no design ever exceeds this bound).
    selection: how each penalty is chosen: holdout (the validation samples) or cv (K-fold on
        the training + validation samples, ``cv_folds`` folds seeded by ``cv_seed``; see
        genoattn/sparse/cv.py).
    """

    n_lambda: int = 16
    lambda_min_ratio: float = 0.01
    max_candidates: int = 300
    relax: tuple[float, ...] = (1.0, 0.5, 0.25, 0.1, 0.0)
    max_iter: int = 3000
    tol: float = 1e-5
    screen_block: int = 1024
    adaptive: float = 2.0
    max_pair_r2: float = 0.2
    max_triples: int = 0
    triple_seeds: int = 30
    triple_search: str = "auto"
    min_state_count: int = 3
    select_se: float = 0.0
    refit_with_validation: bool = True
    polish: bool = True  # then mr.ash on the dosages, quantitative genotype traits (polish.py)
    work_budget_mb: float = 256.0
    selection: str = "holdout"
    cv_folds: int = 5
    cv_seed: int = 0

    def __post_init__(self):
        _check(self.selection in ("holdout", "cv"), "sparse.selection", "holdout or cv",
               self.selection)  # fmt: skip
        _check(self.cv_folds >= 2, "sparse.cv_folds", ">= 2", self.cv_folds)
        _check(self.work_budget_mb >= 0, "sparse.work_budget_mb", ">= 0", self.work_budget_mb)
        self.relax = tuple(float(g) for g in self.relax)
        _check(self.n_lambda >= 2, "sparse.n_lambda", ">= 2", self.n_lambda)
        _check(0 < self.lambda_min_ratio < 1, "sparse.lambda_min_ratio", "in (0, 1)",
               self.lambda_min_ratio)  # fmt: skip
        _check(self.max_candidates >= 0, "sparse.max_candidates", ">= 0", self.max_candidates)
        searches = ("auto", "exhaustive", "contrast", "focus", "pairs")
        _check(self.triple_search in searches, "sparse.triple_search", f"one of {searches}",
               self.triple_search)  # fmt: skip
        _check(
            all(0 <= g <= 1 for g in self.relax), "sparse.relax", "factors in [0, 1]", self.relax
        )


@dataclass
class ModelConfig:
    """Which attention model, and its size.

    kind: sa | hfa | ha | rfa | additive (ignored by fit auto, which sets it to the winner's);
        sa when not given.
    fit: when not given, auto if no kind is given either, else the kind's usual route
        (:func:`default_fit`: sgd for hfa, ridge for rfa, sparse otherwise). auto: fit the
        candidates of genoattn/system/choose.py and keep the one with the lowest validation
        loss; sparse (convex group-lasso fit of the SA_lin invariant; sa,
        ha and additive), sgd (Lightning, Adam with weight decay and early stopping; all kinds),
        ridge (rfa only).
    rank: factorised rank r of C (sa, sgd), of the locus attention (hfa), CP rank R (ha);
        0 means full C (sa only).
    global_epistasis: K > 0 adds a learned monotone output nonlinearity with K tanh units on
        the genetic score (for sequence data whose trait saturates): trained jointly by sgd, or
        for sparse fits alternated with the group lasso (genoattn/system/sparse_link.py).
    main_effects: sgd fits of sa / hfa / ha add one main effect per (locus, state) token (the
        diagonal of the invariant), warm-started from the additive fit.
    init_std: sgd fits: std of the attention part's initial score (standardised trait units).
    lr_tuples_ref: sgd fits: attention step size = train.lr * min(1, ref / sqrt(entity tuples)).
    candidates: fit auto only: the candidate names to try (empty: the rule of
        genoattn/system/choose.py).
    """

    kind: str | None = None
    fit: str | None = None
    rank: int = 8
    value_rank: int = 8
    heads: int = 4
    order: int = 3
    rfa_heads: int = 256
    rfa_dim: int = 16
    rfa_mean: float = 0.0
    global_epistasis: int = 0
    main_effects: bool = True
    init_std: float = 0.2
    lr_tuples_ref: float = 40.0
    candidates: tuple[str, ...] = ()
    sparse: SparseFitConfig = field(default_factory=SparseFitConfig)

    def __post_init__(self):
        if isinstance(self.sparse, dict):
            self.sparse = from_dict(SparseFitConfig, self.sparse)
        self.candidates = tuple(str(c) for c in (self.candidates or ()))
        known = AUTO_CANDIDATES
        _check(set(self.candidates) <= set(known), "model.candidates", f"names from {known}",
               list(self.candidates))  # fmt: skip
        # enum members from typer become their values; a missing route follows the kind
        kind = getattr(self.kind, "value", self.kind)
        fit = getattr(self.fit, "value", self.fit) or default_fit(kind)
        self.kind = _choice(kind or ModelKind.sa.value, ModelKind, "model.kind")
        self.fit = _choice(fit, FitMethod, "model.fit")
        if self.fit == "sparse":
            why = "sgd or ridge for hfa / rfa (sparse fits sa, ha and additive)"
            _check(self.kind in ("sa", "ha", "additive"), "model.fit", why, self.fit)
        if self.fit == "ridge":
            _check(self.kind == "rfa", "model.fit", "ridge only with kind rfa", self.kind)
        _check(self.rank >= 0, "model.rank", ">= 0", self.rank)
        _check(self.order >= 2, "model.order", ">= 2", self.order)
        _check(self.global_epistasis >= 0, "model.global_epistasis", ">= 0", self.global_epistasis)
        if self.global_epistasis:
            _check(self.fit in ("sgd", "sparse", "auto"), "model.fit",
                   "sgd or sparse with global_epistasis > 0 (ridge fits no output nonlinearity)",
                   self.fit)  # fmt: skip

    def sparse_settings(self) -> SparseFitConfig:
        """The sparse fit's settings for this kind: no pairs for additive, and triples for ha
        (``HA_DEFAULT_TRIPLES`` unless ``sparse.max_triples`` is set)."""
        out = copy.deepcopy(self.sparse)
        if self.kind == ModelKind.additive.value:
            out.max_candidates = 0
        if self.kind == ModelKind.ha.value and out.max_triples == 0:
            out.max_triples = HA_DEFAULT_TRIPLES
        return out


@dataclass
class TrainConfig:
    """Data split, optimisation and hardware.

    val_fraction / test_fraction: held-out shares of the samples (seeded split, saved with the run).
    weight_decay: sgd fits: lambda of the ridge penalty lambda * ||invariant||_F^2 on the
        attention model's identifiable invariant (SA_lin: C diag(w_V)); AdamW weight decay for
        models without one. grad_clip: gradient norm clipping (0: off).
    devices / strategy: Lightning's; several processes with ``strategy: ddp`` (the command
        line is re-run per rank) or ``ddp_spawn`` (works from library calls too).
    """

    seed: int = 0
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    max_epochs: int = 200
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-3
    patience: int = 10
    grad_clip: float = 1.0
    accelerator: str = "auto"
    devices: str = "auto"
    strategy: str = "auto"
    precision: str = "32-true"
    progress: bool = True

    def __post_init__(self):
        _check(0 < self.val_fraction < 1, "train.val_fraction", "in (0, 1)", self.val_fraction)
        _check(0 <= self.test_fraction < 1, "train.test_fraction", "in [0, 1)", self.test_fraction)
        held_out = self.val_fraction + self.test_fraction
        _check(held_out < 0.9, "train.val_fraction + test_fraction", "< 0.9", held_out)
        _check(self.max_epochs >= 1, "train.max_epochs", ">= 1", self.max_epochs)
        _check(self.batch_size >= 1, "train.batch_size", ">= 1", self.batch_size)
        _check(self.lr > 0, "train.lr", "> 0", self.lr)
        _check(self.weight_decay >= 0, "train.weight_decay", ">= 0", self.weight_decay)
        _check(self.grad_clip >= 0, "train.grad_clip", ">= 0", self.grad_clip)
        _check(self.patience >= 1, "train.patience", ">= 1", self.patience)


@dataclass
class FitConfig:
    """Everything ``genoattn fit`` needs: one YAML file holds the data, model and train sections."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        if isinstance(self.data, dict):
            self.data = from_dict(DataConfig, self.data)
        if isinstance(self.model, dict):
            self.model = from_dict(ModelConfig, self.model)
        if isinstance(self.train, dict):
            self.train = from_dict(TrainConfig, self.train)


@dataclass
class ExportConfig:
    """``genoattn export`` settings: how many interactions, clumping, confirmation test."""

    order: int = 2
    top: int = 50
    clump_r2: float = 0.5
    clump_kb: float = 250.0
    test: str = "genotype"
    block: int = 1024
    condition: str = "cis"  # local main effects in the held-out test: none|selected|all|cis
    screened: bool = True  # sparse fits: rows beyond the model's pairs (interpret/screened.py)

    def __post_init__(self):
        _check(self.order in (2, 3), "export.order", "2 or 3", self.order)
        _check(self.condition in ("none", "selected", "all", "cis"), "export.condition",
               "none, selected, all or cis", self.condition)  # fmt: skip
        _check(self.top >= 1, "export.top", ">= 1", self.top)
        _check(0 < self.clump_r2 <= 1, "export.clump_r2", "in (0, 1]", self.clump_r2)
        self.test = _choice(self.test, InteractionTest, "export.test")


def fit_config(
    raw: dict[str, Any],
    data: DataConfig,
    model: str | None = None,
    fit: str | None = None,
    train: dict[str, Any] | None = None,
    progress: bool = True,
    cv_folds: int | None = None,
) -> FitConfig:
    """The FitConfig of ``genoattn fit``: a YAML mapping (data / model / train sections) with the
    command line on top: its inputs ``data`` (the YAML's ``cache_dir`` kept when none is given),
    ``model`` / ``fit`` (None: the YAML's; a route follows :func:`default_fit`), ``train``
    settings (None values ignored), ``progress`` (unless the YAML sets it), ``cv_folds`` (K-fold
    choice of the sparse penalties)."""
    raw_model = dict(raw.get("model") or {})
    if cv_folds:
        cv = {"selection": "cv", "cv_folds": cv_folds}
        raw_model["sparse"] = {**(raw_model.get("sparse") or {}), **cv}
    for key, value in (("kind", model), ("fit", fit)):
        if value is not None:
            raw_model[key] = getattr(value, "value", value)
    raw_train = dict(raw.get("train") or {})
    raw_train.update({k: v for k, v in (train or {}).items() if v is not None})
    raw_train.setdefault("progress", progress)
    cache_dir = data.cache_dir or (raw.get("data") or {}).get("cache_dir")
    return from_dict(
        FitConfig,
        {"data": {**to_dict(data), "cache_dir": cache_dir}, "model": raw_model, "train": raw_train},
    )
