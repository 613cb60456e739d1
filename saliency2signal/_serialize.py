"""Dictionary / JSON round trips for the frozen configuration dataclasses.

Internal: :class:`JSONDataclass` is the mixin of ``SSQConfig``, ``ImagingConfig`` and
the scalogram-PNG geometry. May import: the standard library, ``_validation``; never
another module of the package.
"""

from __future__ import annotations

import dataclasses
import json

from ._validation import check_instance

__all__ = ["JSONDataclass"]


class JSONDataclass:
    """Mixin for frozen dataclasses: ``to_dict``/``from_dict``/``to_json``/``from_json``.

    Fields named in ``_TUPLE_FIELDS`` hold tuples (hashable) and travel as JSON lists;
    unknown keys are refused with a ``ValueError`` naming them.
    """

    _TUPLE_FIELDS: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """Plain-Python dictionary (JSON-compatible)."""
        d = dataclasses.asdict(self)
        for key in self._TUPLE_FIELDS:
            if isinstance(d.get(key), tuple):
                d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict):
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        check_instance(d, dict, f"{cls.__name__} record")
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s): {sorted(unknown)}")
        d = dict(d)
        for key in cls._TUPLE_FIELDS:
            if isinstance(d.get(key), list):
                d[key] = tuple(d[key])
        return cls(**d)

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str):
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))
