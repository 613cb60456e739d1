"""The complete decomposition on real FTIR spectra (UCR Coffee, committed in data/)."""

import warnings
from pathlib import Path

import numpy as np
import pytest

from saliency2signal import SSQConfig, decompose, issq_cwt, ssq_cwt

DATA = Path(__file__).resolve().parents[1] / "data" / "coffee.npz"


@pytest.fixture(scope="module")
def spectra():
    with np.load(DATA, allow_pickle=False) as d:
        return np.concatenate([d["X_train"], d["X_test"]])


def test_coffee_file_is_the_ucr_set(spectra):
    assert spectra.shape == (56, 286)
    with np.load(DATA, allow_pickle=False) as d:
        assert sorted(np.unique(d["y_train"]).tolist()) == [0, 1]
        assert d["class_names"].tolist() == ["Arabica", "Robusta"]
        np.testing.assert_array_equal(d["axis"], np.arange(286))


@pytest.mark.parametrize("nv", [32, 64])
def test_lowpass_completes_the_inverse_on_coffee(spectra, nv):
    cfg = SSQConfig(nv=nv, dtype="float64")
    d = decompose(spectra, cfg)
    x = d.x.numpy()
    norm = np.linalg.norm(x, axis=-1)
    # the one-integral inverse alone misses a large part of every spectrum ...
    miss = np.linalg.norm(x - d.oscillatory.numpy(), axis=-1) / norm
    assert miss.min() > 0.35
    # ... which the low-pass term carries: what is left is tiny
    resid = np.linalg.norm(d.residual.numpy(), axis=-1) / norm
    assert resid.max() < 1e-3
    # and the bookkeeping adds up exactly
    np.testing.assert_allclose(
        (d.lowpass + d.oscillatory + d.residual).numpy(), x, rtol=0, atol=1e-12
    )
    fr = d.energy_fractions()
    assert np.all((fr["lowpass"].numpy() > 0.1) & (fr["lowpass"].numpy() < 0.5))


def test_ssqueezepy_misses_what_our_lowpass_carries(spectra):
    ssqueezepy = pytest.importorskip("ssqueezepy")
    x = spectra[:4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.stack(
            [
                ssqueezepy.issq_cwt(
                    ssqueezepy.ssq_cwt(xi, ("gmw", {"dtype": "float64"}), nv=32)[0],
                    ("gmw", {"dtype": "float64"}),
                )
                for xi in x
            ]
        )
    ref_err = np.linalg.norm(x - ref, axis=-1) / np.linalg.norm(x, axis=-1)
    cfg = SSQConfig(nv=32, dtype="float64")
    res = ssq_cwt(x, cfg)
    ours = issq_cwt(res.Tx, cfg).numpy()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9 * np.abs(x).max())
    full = ours + res.lowpass.numpy()
    full_err = np.linalg.norm(x - full, axis=-1) / np.linalg.norm(x, axis=-1)
    assert ref_err.min() > 0.35
    assert full_err.max() < 1e-3


def test_lowpass_row_makes_the_plane_complete(spectra):
    cfg = SSQConfig(nv=32, dtype="float64", lowpass_row=True)
    res = ssq_cwt(spectra[:3], cfg)
    assert res.Tx.shape[-2] == cfg.n_freqs(286) == SSQConfig(nv=32).n_freqs(286) + 1
    assert res.freqs[0] == 0.0 and np.isinf(res.scales[0])
    whole = issq_cwt(res.Tx, cfg).numpy()
    resid = np.linalg.norm(spectra[:3] - whole, axis=-1) / np.linalg.norm(spectra[:3], axis=-1)
    assert resid.max() < 1e-3
    # a mask on row 0 alone gives back exactly the low-pass term
    mask = np.zeros(res.Tx.shape[-2:], dtype=bool)
    mask[0] = True
    np.testing.assert_allclose(
        issq_cwt(res.Tx, cfg, mask=mask).numpy(), res.lowpass.numpy(), rtol=0, atol=1e-12
    )
