import numpy as np
import pytest

from genoattn.errors import GenoattnError
from genoattn.io.table import binary_coding, read_trait


def test_read_trait__plink_tsv_first_column_by_default(tiny_pheno):
    t = read_trait(tiny_pheno)
    assert t.name == "height" and not t.binary
    assert t.samples.tolist() == ["s1", "s2", "s3", "s4"]
    np.testing.assert_array_equal(t.values, [1.5, np.nan, np.nan, 2.25])  # NA and -9 missing
    assert t.covariates.shape == (4, 0)


def test_read_trait__case_control_1_2_becomes_0_1(tiny_pheno):
    t = read_trait(tiny_pheno, trait="case")
    assert t.binary
    np.testing.assert_array_equal(t.values, [1.0, 0.0, 1.0, 0.0])


def test_read_trait__headerless_whitespace_plink_file(tmp_path):
    p = tmp_path / "p.phen"
    p.write_text("f1  a 0.5   1\nf1 b nan 0\nf2 c . 1\n")
    t = read_trait(p, trait="PHENO2")
    assert t.samples.tolist() == ["a", "b", "c"] and t.binary
    np.testing.assert_array_equal(t.values, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(read_trait(p).values, [0.5, np.nan, np.nan])


def test_read_trait__csv_iid_only_and_covariates(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("IID,bmi\nx,20\ny,31.5\nz,\n")
    c = tmp_path / "c.txt"
    c.write_text("#FID IID age sex site\n1 z 50 1 north\n1 x 40 2 south\n")
    t = read_trait(p, covar_path=c)
    assert t.covariate_names == ("age", "sex")  # the non-numeric column is skipped
    np.testing.assert_array_equal(t.covariates, [[40, 2], [np.nan, np.nan], [50, 1]])
    t2 = read_trait(p, covar_path=c, covar_names=["sex"])
    np.testing.assert_array_equal(t2.covariates[:, 0], [2, np.nan, 1])
    with pytest.raises(GenoattnError, match="unknown covariate column.*available"):
        read_trait(p, covar_path=c, covar_names=["height"])


def test_binary_coding__plink_rules():
    np.testing.assert_array_equal(binary_coding(np.array([1.0, 2.0, np.nan])), [0, 1, np.nan])
    with pytest.raises(GenoattnError, match="ambiguous"):
        binary_coding(np.array([0.0, 1.0, 2.0]))
    assert binary_coding(np.array([0.0, 1.0, 3.0])) is None
    assert binary_coding(np.array([1.0, 1.0])) is None
