"""What a fit route returns (:class:`FitOutcome`), typed, instead of a tuple and an info dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from genoattn.system.predictor import CohortPredictor

if TYPE_CHECKING:
    from genoattn.sparse.records import SparseStages

#: how a run's genetic model is rebuilt on load: from its block counts, or from the config
BLOCK, MODULE = "block", "module"


@dataclass
class AutoChoice:
    """``fit: auto``: the chosen candidate and every candidate's record (for metrics.json).

    ``candidates`` maps a candidate name to ``{"val_loss", "seconds", "train": {...}, ...}`` or
    ``{"skipped": reason}``: the layout of metrics.json's ``auto.candidates``.
    """

    chosen: str
    candidates: dict[str, dict] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"chosen": self.chosen, "candidates": self.candidates}


@dataclass
class FitOutcome:
    """The fitted predictor of one route, its training curve and how the run reloads it.

    Attributes:
        predictor: the fitted readout and genetic model.
        history: training curve (epoch or path step, losses).
        selection: sparse routes only: the penalty path with validation losses.
        form: ``BLOCK`` (a BlockSALin of ``n_pairs`` pair and ``n_triples`` triple blocks) or
            ``MODULE`` (the model the config builds).
        main_effects: sgd route: main-effect tokens of the predictor.
        link_round, link_val_loss: sparse route with a global-epistasis link: the chosen round.
        auto: ``fit: auto`` only: the choice among candidates.
        stages: sparse route: the choices of the fit (``sparse.records.SparseStages``), from
            which a deferred refit on training + validation samples is made without solving
            the path again (``system/choose.py``).
        seconds: sparse route: (wall, CPU) seconds of the fit's stages (run.json:
            ``fit.<stage>``).
    """

    predictor: CohortPredictor
    history: pl.DataFrame
    selection: pl.DataFrame | None = None
    form: str = MODULE
    n_pairs: int = 0
    n_triples: int = 0
    main_effects: int | None = None
    link_round: int | None = None
    link_val_loss: float | None = None
    auto: AutoChoice | None = None
    stages: SparseStages | None = None
    seconds: dict[str, tuple[float, float]] = field(default_factory=dict)

    def run_fields(self) -> dict:
        """The model-form fields of run.json (same keys as format genoattn-run-1 has always had)."""
        out: dict = {"genetic": self.form}
        if self.form == BLOCK:
            out |= {"n_pairs": int(self.n_pairs), "n_triples": int(self.n_triples)}
        if self.main_effects is not None:
            out["main_effects"] = int(self.main_effects)
        if self.link_round is not None:
            out |= {"link_round": int(self.link_round), "link_val_loss": self.link_val_loss}
        if self.auto is not None:
            out["auto_choice"] = self.auto.chosen
        return out
