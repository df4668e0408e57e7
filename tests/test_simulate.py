"""The cohort simulator: determinism, LD, MAF, planted terms against oracles, files, CLI."""

from __future__ import annotations

import gzip
from itertools import combinations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from genoattn.errors import GenoattnError
from genoattn.simulate import (
    SimConfig,
    fanova_residual,
    raw_term,
    simulate,
    simulate_genotypes,
    write_simulation,
    write_vcf,
)


@pytest.fixture(scope="module")
def sim():
    return simulate(SimConfig(seed=0, triples=["pure"]))


def _onehot(codes: np.ndarray) -> np.ndarray:
    _, inv = np.unique(codes, return_inverse=True)
    out = np.zeros((len(codes), inv.max() + 1))
    out[np.arange(len(codes)), inv] = 1.0
    return out


def interaction_pvalue(y: np.ndarray, ga: np.ndarray, gb: np.ndarray) -> float:
    """Oracle 4-df F-test: 3x3 genotype-cell means vs additive genotype-class main effects."""

    def rss(x):
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        r = y - x @ coef
        return r @ r, np.linalg.matrix_rank(x)

    rss0, p0 = rss(np.hstack([_onehot(ga), _onehot(gb)]))
    rss1, p1 = rss(_onehot(3 * ga + gb))
    df, dfe = p1 - p0, len(y) - p1
    return float(stats.f.sf((rss0 - rss1) / df / (rss1 / dfe), df, dfe))


def parse_vcf_text(path) -> tuple[list[str], np.ndarray, np.ndarray, list[list[str]]]:
    """Independent minimal VCF parser: samples, dosages (n, l), phased alleles (n, l, 2), fields."""
    samples, dos, hap, fields = [], [], [], []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith("##"):
                continue
            parts = line.rstrip("\n").split("\t")
            if line.startswith("#CHROM"):
                samples = parts[9:]
                continue
            fields.append(parts[:9])
            calls = [c.replace("/", "|").split("|") for c in parts[9:]]
            a = np.array([[-1 if x == "." else int(x) for x in c] for c in calls])
            hap.append(a)
            d = a.sum(axis=1)
            d[(a < 0).any(axis=1)] = -1
            dos.append(d)
    return samples, np.array(dos).T, np.array(hap).transpose(1, 0, 2), fields


def test_simulate__same_seed_same_data():
    a = simulate(SimConfig(n_samples=200, n_loci=100, seed=3))
    b = simulate(SimConfig(n_samples=200, n_loci=100, seed=3))
    c = simulate(SimConfig(n_samples=200, n_loci=100, seed=4))
    np.testing.assert_array_equal(a.haplotypes, b.haplotypes)
    np.testing.assert_array_equal(a.trait.values, b.trait.values)
    assert a.truth.equals(b.truth)
    assert a.cohort.loci.equals(b.cohort.loci)
    assert not np.array_equal(a.cohort.states, c.cohort.states)


def test_genotypes__ld_decays_with_distance():
    g = simulate_genotypes(1000, 400, 2, 0.05, 0.5, 40, 0.02, 0.002, np.random.default_rng(1))
    r2 = np.corrcoef(g.dosages.T.astype(float)) ** 2
    adjacent = np.mean([r2[i, i + 1] for i in range(199)])
    distant = np.mean([r2[i, i + 100] for i in range(100)])
    cross = r2[:200, 200:].mean()
    assert adjacent > 0.2
    assert adjacent > 10 * distant
    assert cross < 0.01
    # Phase is kept: dosages are the haplotype sums, positions increase within chromosomes.
    assert g.haplotypes.shape == (1000, 400, 2)
    for c in ("1", "2"):
        assert np.all(np.diff(g.pos[g.chrom == c]) > 0)


def test_genotypes__maf_in_requested_range():
    k = 40
    g = simulate_genotypes(2000, 300, 3, 0.1, 0.4, k, 0.02, 0.0, np.random.default_rng(2))
    assert g.derived_freq.min() >= 0.1 - 0.5 / k and g.derived_freq.max() <= 0.4 + 0.5 / k
    f = g.dosages.mean(axis=0) / 2
    maf = np.minimum(f, 1 - f)
    # Sample frequencies are binomial draws around the founder frequencies (sd ~ 0.01 here).
    assert np.all(np.abs(maf - g.derived_freq) < 0.06)
    assert np.mean((maf >= 0.08) & (maf <= 0.42)) > 0.97
    # ALT is the derived allele about half of the time.
    assert 0.35 < g.alt_is_derived.mean() < 0.65


def test_fanova_residual__equals_double_centering_under_independence():
    # Balanced product design: cell counts n_a[i] * n_b[j], so the loci are exactly independent
    # and the projection must equal weighted double centering f_ij - f_i. - f_.j + f_..
    n_a, n_b = np.array([3, 5, 2]), np.array([4, 1, 6])
    ga = np.repeat(np.repeat([0, 1, 2], n_a), n_b.sum())
    gb = np.tile(np.repeat([0, 1, 2], n_b), n_a.sum())
    table = np.arange(9.0).reshape(3, 3) ** 1.5
    f = table[ga, gb]
    pa, pb = n_a / n_a.sum(), n_b / n_b.sum()
    ra, cb = table @ pb, pa @ table
    expected = table - ra[:, None] - cb[None, :] + pa @ table @ pb
    got = fanova_residual(f, np.column_stack([ga, gb]))
    np.testing.assert_allclose(got, expected[ga, gb], atol=1e-12)


def test_raw_term__hand_values():
    g = np.array([[0, 2], [1, 1], [2, 1], [1, 0]])
    np.testing.assert_array_equal(raw_term(g, "product"), [0, 1, 2, 0])
    np.testing.assert_array_equal(raw_term(g, "dominance"), [0, 1, 1, 0])
    with pytest.raises(GenoattnError, match="unknown interaction kind"):
        raw_term(g, "additive")


def test_pure_terms__zero_lower_order_means(sim):
    dos = sim.cohort.states
    for row in sim.truth.filter(pl.col("kind") == "pure").iter_rows(named=True):
        loci = [row[k] for k in ("locus_a", "locus_b", "locus_c") if row[k] is not None]
        value = sim.components[row["term"]].to_numpy()
        subsets = [s for r in range(1, len(loci)) for s in combinations(loci, r)]
        for s in subsets:  # every lower-order cell: single loci, and pairs for a triple
            cell = (dos[:, list(s)].astype(int) * 3 ** np.arange(len(s))).sum(axis=1)
            for c in np.unique(cell):
                assert abs(value[cell == c].mean()) < 1e-9
        # Parity of heterozygosity survives the projection (the term is not degenerate).
        het = (dos[:, loci] == 1).sum(axis=1) % 2
        assert np.corrcoef(value, het)[0, 1] > 0.3
    assert set(sim.truth.filter(pl.col("kind") == "pure")["order"]) == {2, 3}


def test_variance_shares__as_requested(sim):
    cfg = sim.config
    assert np.var(sim.liability) == pytest.approx(1.0, abs=1e-9)
    for row in sim.truth.filter(pl.col("order") > 1).iter_rows(named=True):
        h2 = cfg.h2_pair if row["order"] == 2 else cfg.h2_triple
        assert np.var(sim.components[row["term"]].to_numpy()) == pytest.approx(h2, abs=1e-9)
        assert row["variance_explained"] == pytest.approx(h2)
        assert 0 < row["variance_epistatic"] <= h2 + 1e-9
    assert np.var(sim.components["additive"].to_numpy()) == pytest.approx(cfg.h2_additive)
    assert np.var(sim.covariate_value) == pytest.approx(cfg.h2_covariates)
    parts = sim.components.sum_horizontal().to_numpy()
    np.testing.assert_allclose(sim.genetic_value, parts, atol=1e-12)
    # The noise is orthogonal to the signal in the sample.
    noise = sim.liability - sim.genetic_value - sim.covariate_value
    assert abs(np.cov(noise, sim.genetic_value + sim.covariate_value)[0, 1]) < 1e-9
    np.testing.assert_array_equal(sim.trait.values, sim.liability)


def test_planted_loci__common_distinct_far_apart(sim):
    inter = sim.truth.filter(pl.col("order") > 1)
    loci = [i for c in ("locus_a", "locus_b", "locus_c") for i in inter[c].drop_nulls()]
    assert len(set(loci)) == len(loci)
    add = sim.truth.filter(pl.col("kind") == "additive")["locus_a"].to_list()
    assert len(add) == sim.config.n_additive and not set(add) & set(loci)
    f = sim.cohort.states[:, loci].mean(axis=0) / 2
    assert np.all((np.minimum(f, 1 - f) >= 0.2) & (np.minimum(f, 1 - f) <= 0.3))
    chrom = sim.cohort.loci["chrom"].to_numpy()
    for a, b in combinations(sorted(loci), 2):
        assert chrom[a] != chrom[b] or b - a >= 20
    for row in inter.filter(pl.col("order") == 2).iter_rows(named=True):
        assert chrom[row["locus_a"]] != chrom[row["locus_b"]]
    # product and dominance count the ALT allele, oriented to be the minor one.
    for row in inter.filter(pl.col("kind") != "pure").iter_rows(named=True):
        assert sim.cohort.states[:, row["locus_a"]].mean() / 2 <= 0.5
    assert sim.truth["id_a"].to_list() == [f"snp{i}" for i in sim.truth["locus_a"]]


def test_default_pairs__detectable_by_4df_interaction_scan():
    s = simulate(SimConfig(seed=0))
    y, dos = s.trait.values, s.cohort.states.astype(int)
    pairs = s.truth.filter(pl.col("order") == 2)
    assert pairs["kind"].to_list() == ["product", "dominance", "pure"]
    for row in pairs.iter_rows(named=True):
        assert interaction_pvalue(y, dos[:, row["locus_a"]], dos[:, row["locus_b"]]) < 1e-6
    # A pair of unplanted loci on different chromosomes shows nothing.
    planted = set(s.truth["locus_a"]) | set(s.truth["locus_b"].drop_nulls())
    free = [i for i in range(s.cohort.n_loci) if i not in planted]
    a, b = free[5], free[-5]
    assert interaction_pvalue(y, dos[:, a], dos[:, b]) > 1e-4


def test_binary_trait__liability_threshold_at_prevalence():
    s = simulate(SimConfig(n_samples=300, n_loci=120, binary=True, prevalence=0.3, seed=5))
    assert s.trait.binary
    assert set(np.unique(s.trait.values)) == {0.0, 1.0}
    assert s.trait.values.sum() == 90
    assert s.liability[s.trait.values == 1].min() > s.liability[s.trait.values == 0].max()


def test_sim_config__rejects_bad_values():
    with pytest.raises(GenoattnError, match=r"pairs must be a list of kinds.*got \['epic'\]"):
        SimConfig(pairs=["epic"])
    with pytest.raises(GenoattnError, match="sum of variance shares"):
        SimConfig(h2_pair=0.3)
    with pytest.raises(GenoattnError, match="maf_min"):
        SimConfig(maf_min=0.3, maf_max=0.2)
    assert SimConfig(pairs="pure, product", triples="none").pairs == ["pure", "product"]


def test_write_vcf__parses_back_to_states(tmp_path):
    s = simulate(SimConfig(n_samples=40, n_loci=30, n_additive=4, seed=2))
    path = write_vcf(s.cohort, s.haplotypes, tmp_path / "c.vcf.gz")
    with open(path, "rb") as f:
        assert f.read(4) == b"\x1f\x8b\x08\x04"  # gzip with the BGZF extra field
    samples, dos, hap, fields = parse_vcf_text(path)
    assert samples == s.cohort.samples.tolist()
    np.testing.assert_array_equal(dos, s.cohort.states)
    np.testing.assert_array_equal(hap, s.haplotypes)
    assert [f[2] for f in fields] == s.cohort.loci["id"].to_list()
    assert [int(f[1]) for f in fields] == s.cohort.loci["pos"].to_list()
    assert {f[8] for f in fields} == {"GT"}
    text = gzip.open(path, "rt").read()
    assert text.startswith("##fileformat=VCFv4.2\n") and "##contig=<ID=2," in text
    assert "\t0|1" in text or "\t1|0" in text


def test_write_vcf__unphased_with_missing(tmp_path):
    s = simulate(SimConfig(n_samples=20, n_loci=20, n_additive=2, pairs=["pure"], seed=1))
    states = s.cohort.states.copy()
    states[3, 4] = -1
    cohort = type(s.cohort)(states, s.cohort.loci, s.cohort.samples)
    path = write_vcf(cohort, None, tmp_path / "u.vcf.gz")
    _, dos, _, _ = parse_vcf_text(path)
    np.testing.assert_array_equal(dos, states)
    assert "./." in gzip.open(path, "rt").read()


def test_write_simulation__read_back_by_project_readers(tmp_path):
    s = simulate(SimConfig(n_samples=60, n_loci=50, n_additive=3, binary=True, seed=9))
    written = write_simulation(s, tmp_path / "out")
    assert set(written) == {"vcf", "pheno", "covar", "truth", "oracle", "config"}
    pheno = pl.read_csv(written["pheno"], separator="\t")
    assert pheno.columns == ["FID", "IID", "trait"]
    np.testing.assert_array_equal(pheno["trait"].to_numpy(), s.trait.values + 1)  # PLINK 1/2
    truth = pl.read_csv(written["truth"], separator="\t", null_values="NA")
    assert truth["id_a"].to_list() == s.truth["id_a"].to_list()
    oracle = pl.read_csv(written["oracle"], separator="\t")
    np.testing.assert_allclose(oracle["genetic_value"].to_numpy(), s.genetic_value, atol=1e-5)
    from genoattn.io.table import read_trait
    from genoattn.io.vcf import read_vcf

    np.testing.assert_array_equal(read_vcf(written["vcf"]).states, s.cohort.states)
    t = read_trait(written["pheno"], "trait", written["covar"])
    assert t.binary and np.array_equal(t.values, s.trait.values)
    np.testing.assert_array_equal(t.covariates, s.trait.covariates)


def test_cli_simulate__writes_all_files_and_config_reproduces(tmp_path, capsys):
    from genoattn.cli.app import run

    args = ["--samples", "80", "--loci", "60", "--additive", "3", "--triples", "product"]
    rc = run(["simulate", "--out", str(tmp_path / "a"), *args, "--seed", "7"])
    assert rc == 0
    names = {p.name for p in (tmp_path / "a").iterdir()}
    assert names == {
        "cohort.vcf.gz",
        "pheno.tsv",
        "covar.tsv",
        "truth.tsv",
        "oracle.tsv",
        "sim.yaml",
    }
    assert "simulated 80 samples x 60 loci" in capsys.readouterr().out
    rc = run(["simulate", "--out", str(tmp_path / "b"), "--config", str(tmp_path / "a/sim.yaml")])
    assert rc == 0
    for name in ("pheno.tsv", "truth.tsv", "oracle.tsv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    truth = pl.read_csv(tmp_path / "a/truth.tsv", separator="\t", null_values="NA")
    assert truth.filter(pl.col("order") == 3)["kind"].to_list() == ["product"]


def test_cli_simulate__unwritable_output_is_one_line_error(tmp_path, capsys):
    from genoattn.cli.app import run

    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = run(
        ["simulate", "--out", str(blocker), "--samples", "20", "--loci", "40", "--additive", "2"]
    )
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a directory" in err[0] and str(blocker) in err[0]
    rc = run(
        [
            "simulate",
            "--out",
            str(blocker / "sub"),
            "--samples",
            "20",
            "--loci",
            "40",
            "--additive",
            "2",
        ]
    )
    assert rc == 2
    rc = run(["simulate", "--out", str(tmp_path / "c"), "--pairs", "bogus"])
    assert rc == 2 and "pairs must be" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def _max_lower_cell_mean(dos: np.ndarray, loci: list[int], value: np.ndarray) -> float:
    """Largest |mean| of a term within any genotype cell of one locus or a pair of its loci."""
    worst = 0.0
    for r in (1, 2):
        for s in combinations(loci, r):
            cell = (dos[:, list(s)].astype(int) * 3 ** np.arange(r)).sum(axis=1)
            worst = max(worst, max(abs(value[cell == c].mean()) for c in np.unique(cell)))
    return worst


@pytest.mark.parametrize("kind", ["product", "dominance"])
def test_triple_lower__project_removes_pairwise_trace_keep_does_not(kind):
    base = dict(n_samples=600, n_loci=60, pairs=[], triples=[kind], n_additive=0, seed=4)
    kept = simulate(SimConfig(**base, triple_lower="keep"))
    proj = simulate(SimConfig(**base, triple_lower="project"))
    row = proj.truth.row(0, named=True)
    loci = [row["locus_a"], row["locus_b"], row["locus_c"]]
    v_keep = kept.components["triple1"].to_numpy()
    v_proj = proj.components["triple1"].to_numpy()
    assert _max_lower_cell_mean(kept.cohort.states, loci, v_keep) > 0.05
    assert _max_lower_cell_mean(proj.cohort.states, loci, v_proj) < 1e-9
    # both hold the requested share; the projected one is all 3-way
    assert np.var(v_proj) == pytest.approx(proj.config.h2_triple)
    assert row["variance_epistatic"] == pytest.approx(proj.config.h2_triple)
    assert kept.truth.row(0, named=True)["variance_epistatic"] < 0.5 * kept.config.h2_triple


def test_sim_config__rejects_bad_triple_lower():
    with pytest.raises(GenoattnError, match="triple_lower"):
        SimConfig(triple_lower="drop")
