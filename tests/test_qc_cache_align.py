import shutil
import subprocess

import numpy as np
import pytest
from conftest import random_calls, write_vcf

from genoattn.config import DataConfig, QCConfig
from genoattn.contract import Cohort, Trait, make_loci
from genoattn.data.align import align
from genoattn.data.load import load_dataset, load_genotypes
from genoattn.encode import cache as cache_mod
from genoattn.encode.cache import load_cohort
from genoattn.encode.qc import apply_qc, minor_frequency
from genoattn.errors import GenoattnError


def _cohort(states, kind="genotype", labels=None):
    st = np.asarray(states, dtype=np.int8)
    l = st.shape[1]
    labels = labels or [["0", "1", "2"]] * l
    loci = make_loci(
        ["1"] * l, range(1, l + 1), [f"v{j}" for j in range(l)], ["A"] * l, ["G"] * l, labels
    )
    return Cohort(st, loci, np.asarray([f"s{i}" for i in range(st.shape[0])], dtype=object), kind)


def test_apply_qc__hand_built_counts():
    # 5 samples x 6 loci. s4 misses 4/6 calls (> mind 0.5).
    # After removing s4: v0 missing 2/4 (> geno 0.3); v1 maf = 1/8 (< 0.2); v2 monomorphic (all 1:
    # maf 0.5 passes --maf, one genotype class); v3, v4, v5 pass.
    m = -1
    st = [
        [0, 0, 1, 0, 2, 1],
        [m, 0, 1, 1, 1, 0],
        [m, 0, 1, 2, 0, 1],
        [1, 1, 1, 1, 1, 2],
        [m, m, m, m, 1, 0],
    ]
    out, rep = apply_qc(_cohort(st), QCConfig(maf=0.2, geno=0.3, mind=0.5))
    assert (rep.removed_mind, rep.removed_geno, rep.removed_maf, rep.removed_monomorphic) == (
        1,
        1,
        1,
        1,
    )
    assert (rep.n_samples_out, rep.n_loci_out) == (4, 3)
    assert out.loci["id"].to_list() == ["v3", "v4", "v5"]
    assert out.samples.tolist() == ["s0", "s1", "s2", "s3"]
    assert len(rep.lines()) == 6 and "1 samples removed" in rep.lines()[1]
    same, rep0 = apply_qc(_cohort(st), QCConfig(drop_monomorphic=False))
    assert rep0.n_loci_out == 6 and same.n_samples == 5


def test_minor_frequency__multiallelic_and_sequence():
    counts = np.array([[2, 1, 1]])  # classes 0/0 x2, 0/1 x1, 1/2 x1: alleles 0:5, 1:2, 2:1
    mf = minor_frequency(counts, [["0/0", "0/1", "1/2"]], np.array([False]), "genotype")
    assert mf[0] == pytest.approx(2 / 8)
    mf = minor_frequency(np.array([[5, 3, 2]]), [["A", "C", "T"]], np.array([False]), "sequence")
    assert mf[0] == pytest.approx(3 / 10)


@pytest.mark.plink
@pytest.mark.skipif(shutil.which("plink1.9") is None, reason="plink1.9 not installed")
def test_apply_qc__matches_plink19_filters(tmp_path):
    calls = random_calls(n=60, l=80, missing=0.1, seed=5)
    calls[:, :6] = -1  # six samples with every call missing would fail --mind
    calls[:, 6:9][np.random.default_rng(1).random((80, 3)) < 0.5] = -1
    vcf = write_vcf(tmp_path / "q.vcf", calls)
    from genoattn.io.vcf import read_vcf

    cohort = read_vcf(vcf)
    qc = QCConfig(maf=0.1, geno=0.12, mind=0.3, drop_monomorphic=False)
    out, rep = apply_qc(cohort, qc)
    subprocess.run(
        [
            "plink1.9",
            "--vcf",
            str(vcf),
            "--keep-allele-order",
            "--double-id",
            "--maf",
            "0.1",
            "--geno",
            "0.12",
            "--mind",
            "0.3",
            "--make-bed",
            "--out",
            str(tmp_path / "p"),
        ],
        check=True,
        capture_output=True,
    )
    fam = [ln.split()[1] for ln in (tmp_path / "p.fam").read_text().splitlines()]
    bim = [ln.split()[3] for ln in (tmp_path / "p.bim").read_text().splitlines()]
    assert out.samples.tolist() == fam
    assert [str(p) for p in out.loci["pos"].to_list()] == bim
    assert rep.removed_mind >= 6 and rep.removed_geno > 0 and rep.removed_maf > 0


def test_load_cohort__cache_hit_skips_parsing(tmp_path, monkeypatch):
    calls = random_calls(n=20, l=30, seed=2)
    vcf = write_vcf(tmp_path / "c.vcf.gz", calls)
    cfg = DataConfig(vcf=str(vcf), qc=QCConfig(maf=0.05))
    logs = []
    a, rep_a = load_cohort(cfg, log=logs.append)
    assert "parsed" in logs[-1]

    import genoattn.io.vcf as vcf_mod

    def boom(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr(vcf_mod, "read_vcf", boom)
    b, rep_b = load_cohort(cfg, log=logs.append)
    assert "loaded" in logs[-1]
    assert isinstance(b.states, np.memmap)
    np.testing.assert_array_equal(np.asarray(a.states), np.asarray(b.states))
    assert a.loci.equals(b.loci) and a.samples.tolist() == b.samples.tolist()
    assert rep_a == rep_b
    cache_dir = tmp_path / "c.vcf.gz.genoattn_cache"
    assert [p.name for p in cache_dir.iterdir() if p.name.startswith(".tmp")] == []
    # A different QC setting is a different key: it must parse (and so hit the patched reader).
    with pytest.raises(AssertionError, match="parsed again"):
        load_cohort(DataConfig(vcf=str(vcf), qc=QCConfig(maf=0.2)), log=logs.append)


def test_load_cohort__qc_subset_streamed_equals_in_memory_qc(tmp_path):
    calls = random_calls(n=25, l=40, missing=0.2, seed=9)
    vcf = write_vcf(tmp_path / "c.vcf", calls)
    qc = QCConfig(maf=0.1, geno=0.25, mind=0.3)
    cached, rep = load_cohort(
        DataConfig(vcf=str(vcf), qc=qc, cache_dir=str(tmp_path / "cc")), log=print
    )
    from genoattn.io.vcf import read_vcf

    ref, rep_ref = apply_qc(read_vcf(vcf), qc)
    assert rep == rep_ref and rep.n_loci_out < 40
    np.testing.assert_array_equal(np.asarray(cached.states), ref.states)
    assert cached.loci.equals(ref.loci) and cached.samples.tolist() == ref.samples.tolist()


def test_load_cohort__input_change_invalidates_and_fallback_home(tmp_path, monkeypatch):
    fa = tmp_path / "s.fa"
    fa.write_text(">a\nACGT\n>b\nACGA\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    real = cache_mod._writable
    monkeypatch.setattr(
        cache_mod, "_writable", lambda d: str(d).startswith(str(tmp_path / "home")) and real(d)
    )
    c1, _ = load_cohort(DataConfig(fasta=str(fa)), log=lambda s: None)
    assert c1.n_loci == 1  # three monomorphic columns dropped
    assert list((tmp_path / "home" / ".cache" / "genoattn").iterdir())
    fa.write_text(">a\nACGT\n>b\nTCGA\n>c\nACGT\n")
    c2, _ = load_cohort(DataConfig(fasta=str(fa)), log=lambda s: None)
    assert c2.n_samples == 3 and c2.n_loci == 2


def test_align__intersection_keeps_genotype_order_and_drops_missing():
    cohort = _cohort(np.zeros((5, 2)))  # samples s0..s4
    trait = Trait(
        samples=np.array(["s4", "s2", "s0", "zz", "s1"], dtype=object),
        values=np.array([4.0, np.nan, 0.0, 9.0, 1.0]),
        name="t",
        binary=False,
        covariates=np.array([[1.0], [2.0], [np.nan], [3.0], [5.0]]),
        covariate_names=("age",),
    )
    data, rep = align(cohort, trait, "g.vcf", "p.tsv")
    assert data.cohort.samples.tolist() == ["s1", "s4"]
    np.testing.assert_array_equal(data.y, np.array([1.0, 4.0], dtype=np.float32))
    np.testing.assert_array_equal(data.covariates, [[5.0], [1.0]])
    assert (rep.n_genotype, rep.n_phenotype, rep.n_overlap, rep.n_used) == (5, 5, 4, 2)
    assert (rep.n_missing_trait, rep.n_missing_covariates) == (1, 1)
    assert "genotype file had 5" in rep.summary()


def test_load_dataset__end_to_end_logs_two_lines(tmp_path, tiny_vcf, tiny_pheno):
    cfg = DataConfig(vcf=str(tiny_vcf), pheno=str(tiny_pheno), trait="height")
    logs = []
    data = load_dataset(cfg, log=logs.append)
    assert data.cohort.samples.tolist() == ["s1", "s4"]
    np.testing.assert_array_equal(data.y, np.array([1.5, 2.25], dtype=np.float32))
    assert logs[-2].startswith("QC:") and logs[-1].startswith("samples:")
    g = load_genotypes(DataConfig(vcf=str(tiny_vcf)), log=logs.append)
    assert g.n_samples == 4 and g.n_loci == 5
    with pytest.raises(GenoattnError, match="pheno"):
        load_dataset(DataConfig(vcf=str(tiny_vcf)), log=logs.append)
