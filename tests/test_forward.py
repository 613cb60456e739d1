"""Tests of saliency2signal.forward: the probabilities of signals, in memory-bounded chunks."""

from __future__ import annotations

import pytest
import torch
from test_explanation import ICFG, TCFG, make_model, toy_data

from saliency2signal import _runtime
from saliency2signal.forward import probabilities
from saliency2signal.imaging import to_image


@pytest.fixture(scope="module")
def model():
    return make_model()


@pytest.mark.parametrize("group_bytes", [None, 1, 3])
@pytest.mark.parametrize("forward_batch", [None, 1, 3, 7, 11, 50])
def test_probabilities_forward_batches(model, forward_batch, group_bytes, monkeypatch):
    x, _ = toy_data(11, seed=7)
    xt = torch.as_tensor(x)
    ref = probabilities(model, xt, transform_config=TCFG, imaging_config=ICFG, batch_size=11)
    if group_bytes is not None:  # transforms held at once: one batch, or 3 batches
        plane = TCFG.n_freqs(xt.shape[-1]) * xt.shape[-1] * 2 * xt.element_size()
        monkeypatch.setattr(_runtime, "GROUP_BYTES", group_bytes * plane * 2)
    got = probabilities(
        model,
        xt,
        transform_config=TCFG,
        imaging_config=ICFG,
        batch_size=2,
        forward_batch=forward_batch,
    )
    assert got.shape == (11, 2)
    torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-7)


def test_a_spectrum_classifier_pickled_before_clamp_existed_runs_unclamped():
    import pickle

    from saliency2signal.models import ScalogramCNN, SpectrumClassifier

    torch.manual_seed(0)
    clf = SpectrumClassifier(ScalogramCNN(widths=(4, 8)), imaging_config=ICFG).eval()
    del clf.__dict__["clamp"]  # what unpickling a 0.1 object gives: no such attribute
    old = pickle.loads(pickle.dumps(clf))
    coef = torch.randn(2, 40, 64, dtype=torch.complex64)
    with torch.no_grad():
        torch.testing.assert_close(old(coef), clf.net(to_image(coef, ICFG)))
    assert old.clamp is False
