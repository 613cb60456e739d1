"""The verdict on one explanation: does deleting its regions hurt more than chance does.

:class:`Verdict` turns the per-signal scores of :func:`~._scores.curve_scores` into a
plain judgement with its numbers, and :func:`verdicts` makes one per signal.

The rule (``level = 0.95`` by default): the explanation *beats its null* on the top
region when the top region's deletion lowers the explained class's probability by
more than at least ``level`` of the matched random regions do (``top_beaten``), and on
the deletion curve when its area is lower than at least ``level`` of the null curves'
(mid-rank percentile ``auc_percentile``). Both: ``'better than chance'``; one:
``'mixed'``; neither: ``'not better than chance'``. A top region whose deletion *raises*
the probability is flagged ``contradicted``. With ``n_null`` draws the finest step is
``1 / n_null``: at least 20 draws are needed for a 95 % level to be reachable.

Internal: plain names for the modules of :mod:`saliency2signal.faithfulness`.
May import: numpy, ``_validation``; never another module of the package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import finite_or_none

__all__ = ["LEVELS", "Verdict", "verdicts"]

#: The possible ``Verdict.level`` values.
LEVELS = ("better than chance", "mixed", "not better than chance", "no regions")


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


@dataclass(frozen=True)
class Verdict:
    """The faithfulness verdict on one signal's explanation, with its numbers.

    Attributes
    ----------
    level : str
        One of :data:`LEVELS` (see the module docstring for the rule).
    top_drop : float or None
        Probability drop of the explained class when the top region is deleted.
    null_top_drop : float or None
        Median drop over the top region's matched random regions.
    top_beaten : float or None
        Share of those random regions whose drop is strictly smaller.
    deletion_auc, null_deletion_auc : float or None
        Area under the deletion curve of the regions (most relevant first) and the
        median area of the null curves.
    auc_percentile : float or None
        Mid-rank percentile (0–100) of the deletion area among the null's, lower area
        counting as better (100: lower than every null curve).
    contradicted : bool
        Deleting the top region *raises* the explained class's probability.
    n_null : int
        Random regions per region.
    level_threshold : float
        The share a test must reach (default 0.95).
    reference : str
        What filled the deleted cells: ``'zero'`` (removal) or a reference's name.
    """

    level: str
    top_drop: float | None
    null_top_drop: float | None
    top_beaten: float | None
    deletion_auc: float | None
    null_deletion_auc: float | None
    auc_percentile: float | None
    contradicted: bool
    n_null: int
    level_threshold: float = 0.95
    reference: str = "zero"

    @property
    def better_than_chance(self) -> bool:
        """Whether both tests beat the null."""
        return self.level == LEVELS[0]

    def sentence(self, class_name: str | None = None, *, quantity: str | None = None) -> str:
        """Return the verdict in one plain sentence (what the report prints).

        Examples
        --------
        >>> v = Verdict("not better than chance", 0.01, 0.02, 0.3, 0.6, 0.62, 55.0,
        ...             False, 20)
        >>> v.sentence("class 1")  # doctest: +NORMALIZE_WHITESPACE
        'Not better than chance: deleting the top region lowers p(class 1) by 0.010,
        more than only 30 % of 20 equally energetic random regions; the deletion
        curve is lower than 55 % of its null curves.'
        """
        if self.level == "no regions":
            return "No region to test: the mask kept nothing."
        if quantity is not None:
            p = quantity
        else:
            p = f"p({class_name})" if class_name else "the class probability"
        verb = "raises" if self.top_drop < 0 else "lowers"
        head = self.level[0].upper() + self.level[1:]
        text = (
            f"{head}: deleting the top region {verb} {p} by {abs(self.top_drop):.3f}, "
            f"more than {'only ' if self.top_beaten < self.level_threshold else ''}"
            f"{100 * self.top_beaten:.0f} % of {self.n_null} equally energetic random "
            f"regions"
        )
        if self.auc_percentile is not None:
            text += (
                f"; the deletion curve is lower than {self.auc_percentile:.0f} % of its "
                f"null curves"
            )
        if self.reference != "zero":
            text += f" (deleted cells filled from the {self.reference} reference)"
        return text + "."

    def to_dict(self, class_name: str | None = None, *, quantity: str | None = None) -> dict:
        """JSON-compatible record (the ``verdict`` of a report's sample).

        ``message`` is :meth:`sentence` with ``class_name`` (or ``quantity``: what a
        regression's deletion changes, e.g. the output's name).
        """
        return {
            "level": self.level,
            "message": self.sentence(class_name, quantity=quantity),
            "better_than_chance": self.better_than_chance,
            "contradicted": bool(self.contradicted),
            "top_drop": finite_or_none(self.top_drop),
            "null_top_drop": finite_or_none(self.null_top_drop),
            "top_beaten": finite_or_none(self.top_beaten),
            "deletion_auc": finite_or_none(self.deletion_auc),
            "null_deletion_auc": finite_or_none(self.null_deletion_auc),
            "auc_percentile": finite_or_none(self.auc_percentile),
            "n_null": int(self.n_null),
            "level_threshold": float(self.level_threshold),
            "reference": self.reference,
        }


def verdicts(
    scores: dict, n_regions, *, n_null: int, level: float = 0.95, reference: str = "zero"
) -> tuple[Verdict, ...]:
    """One :class:`Verdict` per signal from the scores of ``curve_scores``.

    Parameters
    ----------
    scores : dict of str to numpy.ndarray, shape (B,)
        ``top_drop``, ``null_top_drop``, ``top_drop_beaten``, ``deletion_auc``,
        ``null_deletion_auc`` and ``deletion_auc_percentile``.
    n_regions : array_like of int, shape (B,)
    n_null : int
    level : float
        Share of the null a test must beat (default 0.95).
    reference : str
        Recorded in each verdict.

    Returns
    -------
    tuple of Verdict

    Examples
    --------
    >>> import numpy as np
    >>> s = {"top_drop": np.array([0.5, -0.1]), "null_top_drop": np.array([0.0, 0.0]),
    ...      "top_drop_beaten": np.array([1.0, 0.0]), "deletion_auc": np.array([0.2, 0.9]),
    ...      "null_deletion_auc": np.array([0.8, 0.8]),
    ...      "deletion_auc_percentile": np.array([97.5, 10.0])}
    >>> [v.level for v in verdicts(s, [1, 1], n_null=20)]
    ['better than chance', 'not better than chance']
    >>> verdicts(s, [1, 1], n_null=20)[1].contradicted
    True
    """
    out = []
    for b, r in enumerate(np.asarray(n_regions).reshape(-1)):
        if int(r) < 1:
            out.append(Verdict("no regions", None, None, None, None, None, None, False, n_null))
            continue
        top = float(scores["top_drop_beaten"][b])
        pct = _num(float(scores["deletion_auc_percentile"][b]))
        passed = (top >= level) + (pct is not None and pct >= 100 * level)
        out.append(
            Verdict(
                level=LEVELS[2 - passed],
                top_drop=float(scores["top_drop"][b]),
                null_top_drop=_num(float(scores["null_top_drop"][b])),
                top_beaten=top,
                deletion_auc=_num(float(scores["deletion_auc"][b])),
                null_deletion_auc=_num(float(scores["null_deletion_auc"][b])),
                auc_percentile=pct,
                contradicted=bool(scores["top_drop"][b] < 0),
                n_null=int(n_null),
                level_threshold=float(level),
                reference=reference,
            )
        )
    return tuple(out)
