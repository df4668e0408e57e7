"""Order-3 export: sparse HyperAttention recovers a planted 3-way interaction (300 loci)."""

from __future__ import annotations

import numpy as np
import polars as pl

from genoattn.config import ExportConfig, FitConfig, from_dict
from genoattn.interpret.effects import fanova_pure as fanova_pure3
from genoattn.interpret.export import export as export_triples
from genoattn.simulate import SimConfig, simulate
from genoattn.system.fit import fit
from genoattn.system.rundir import load_run


def test_export_triples__planted_product_triple_ranks_in_top10(tmp_path):
    sim = simulate(
        SimConfig(
            n_samples=2000, n_loci=300, triples=["product"], h2_triple=0.3, h2_pair=0.1, seed=0
        )
    )
    ds = sim.dataset()
    cfg = from_dict(
        FitConfig, {"model": {"kind": "ha", "fit": "sparse"}, "train": {"progress": False}}
    )
    fit(ds, cfg, tmp_path / "run", baseline=False, log=lambda s: None)
    run = load_run(tmp_path / "run")
    ex = export_triples(run, ds, ExportConfig(order=3, top=10), log=lambda s: None)
    planted = sorted(
        sim.truth.filter(pl.col("order") == 3).select("locus_a", "locus_b", "locus_c").row(0)
    )
    found = [sorted(r) for r in ex.pairs.tolist()]
    assert planted in found[:10]
    assert ex.table["heldout_n"][0] == len(run.split["test"])
    # one allele-table row per state combination of every reported triple
    assert ex.alleles.height == 27 * len(found)
    # written in the column convention: three loci, genotypes from REF/ALT
    from genoattn.interpret.outputs import export_tables

    table, alleles = export_tables(ex, ds)
    assert table.columns[:16] == ["RANK"] + [
        f"{f}_{s}" for s in "ABC" for f in ("CHROM", "POS", "ID", "REF", "ALT")
    ]
    assert table["ID_C"].to_list() == ds.cohort.loci["id"].to_numpy()[ex.pairs[:, 2]].tolist()
    assert table["N"][0] == len(run.split["test"]) and table.schema["DF1"] == pl.Int64
    assert {"GENOTYPE_C", "DOSAGE_C"} <= set(
        alleles.columns
    ) and alleles.height == ex.alleles.height


def test_fanova_pure3__removes_every_lower_order_part():
    import torch

    rng = np.random.default_rng(0)
    p = [torch.as_tensor(rng.dirichlet([2, 2, 2])) for _ in range(3)]
    lower = (
        rng.normal(size=(3, 1, 1))
        + rng.normal(size=(1, 3, 1))
        + rng.normal(size=(1, 1, 3))
        + rng.normal(size=(3, 3, 1))
        + rng.normal(size=(1, 3, 3))
    )
    assert torch.allclose(
        fanova_pure3(torch.as_tensor(lower), *p),
        torch.zeros(3, 3, 3, dtype=torch.float64),
        atol=1e-12,
    )
    e = torch.as_tensor(rng.normal(size=(3, 3, 3)))
    pure = fanova_pure3(e, *p)
    # weighted means along each axis vanish
    assert torch.allclose(
        (pure * p[0][:, None, None]).sum(0), torch.zeros(3, 3, dtype=torch.float64), atol=1e-12
    )
    assert torch.allclose(
        (pure * p[1][None, :, None]).sum(1), torch.zeros(3, 3, dtype=torch.float64), atol=1e-12
    )
    assert torch.allclose(
        (pure * p[2][None, None, :]).sum(2), torch.zeros(3, 3, dtype=torch.float64), atol=1e-12
    )
