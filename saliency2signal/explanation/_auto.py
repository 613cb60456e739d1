"""``method='auto'``: choose the attribution method by evidence, on a subset.

:func:`select_method` explains a small, evenly spread subset of the signals with each
candidate method, runs every explanation's deletion test against its matched random
null (the verdict of :mod:`saliency2signal.faithfulness`) and picks the method whose
explanations beat the null most often: first by the share of ``'better than chance'``
verdicts, then by the mean share of random regions the top region beats, then by the
mean percentile of the deletion curve's area. A candidate that fails on the model (a
method it does not support) is recorded with its error and skipped. The record says
which method was chosen, on which signals, and every candidate's numbers.

Internal: plain names for the modules of :mod:`saliency2signal.explanation`.
May import: numpy and its sibling ``_result`` (for type hints); never ``_explain`` (it
imports this).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["AUTO_CANDIDATES", "select_method", "subset_indices"]

#: The methods ``method='auto'`` compares by default.
AUTO_CANDIDATES = ("integrated_gradients", "input_x_gradient", "saliency", "gradient_shap")


def subset_indices(n_signals: int, n_subset: int) -> np.ndarray:
    """``n_subset`` indices spread evenly over ``0 .. n_signals - 1`` (all if fewer).

    Examples
    --------
    >>> subset_indices(10, 4).tolist()
    [0, 3, 6, 9]
    >>> subset_indices(3, 8).tolist()
    [0, 1, 2]
    """
    if n_signals <= n_subset:
        return np.arange(n_signals)
    return np.unique(np.round(np.linspace(0, n_signals - 1, n_subset)).astype(np.int64))


def _score(e) -> dict:
    """Return a candidate's numbers on the subset, from its explanations' verdicts."""
    vs = [v for v in e.verdicts if v.level != "no regions"]
    n = len(e.verdicts)
    top = [v.top_beaten for v in vs]
    pct = [v.auc_percentile for v in vs if v.auc_percentile is not None]
    return {
        "better_than_chance_share": sum(v.better_than_chance for v in e.verdicts) / n,
        "mean_top_beaten": float(np.mean(top)) if top else 0.0,
        "mean_auc_percentile": float(np.mean(pct)) if pct else 0.0,
        "contradicted": int(sum(v.contradicted for v in e.verdicts)),
    }


def select_method(
    explain_subset: Callable[[str], object],
    candidates: Sequence[str],
    subset: np.ndarray,
) -> dict:
    """Explain the subset with every candidate and choose the most faithful method.

    Parameters
    ----------
    explain_subset : callable
        ``explain_subset(method)`` returns the subset's Explanation, with verdicts.
    candidates : sequence of str
    subset : numpy.ndarray of int
        Which signals of the run the subset holds (recorded).

    Returns
    -------
    dict
        ``chosen``, ``reason``, ``subset`` (indices), ``candidates`` (per method:
        its scores, or ``error``) — JSON-compatible.

    Raises
    ------
    ValueError
        If every candidate failed.
    """
    scores: dict[str, dict] = {}
    for method in candidates:
        try:
            scores[method] = _score(explain_subset(method))
        except (ValueError, TypeError, RuntimeError) as exc:
            scores[method] = {"error": f"{type(exc).__name__}: {exc}"}
    ok = [m for m in candidates if "error" not in scores[m]]
    if not ok:
        reasons = "; ".join(f"{m}: {scores[m]['error']}" for m in candidates)
        raise ValueError(f"method='auto': every candidate failed ({reasons})")

    def key(m):
        s = scores[m]
        return (s["better_than_chance_share"], s["mean_top_beaten"], s["mean_auc_percentile"])

    chosen = max(ok, key=key)  # the first candidate wins a tie
    s = scores[chosen]
    reason = (
        f"{chosen}: {100 * s['better_than_chance_share']:.0f} % of {len(subset)} "
        f"explanations better than chance (top region beats {100 * s['mean_top_beaten']:.0f} "
        "% of its random regions on average); "
        + ", ".join(
            f"{m} {100 * scores[m]['better_than_chance_share']:.0f} %" for m in ok if m != chosen
        )
    )
    return {
        "chosen": chosen,
        "reason": reason,
        "subset": [int(i) for i in subset],
        "candidates": scores,
    }
