"""saliency2signal: which parts of a 1D signal made a CNN decide what it decided.

The numeric API is re-exported here; importing the package never imports matplotlib.
"""

from __future__ import annotations

from . import inverse, mask
from .inverse import (
    ConsistentInverse,
    RegionDecomposition,
    components,
    consistent_inverse,
    decompose_regions,
    inconsistency,
)
from .mask import AttributionMask, Region, attribution_mask, ridge_band
from .transform import (
    MIN_LENGTH,
    SSQCWT,
    CWTResult,
    Decomposition,
    SSQConfig,
    SSQResult,
    cwt,
    decompose,
    from_ssqueezepy,
    icwt,
    issq_cwt,
    ssq_cwt,
    to_ssqueezepy,
)

__version__ = "0.1.0"

__all__ = [
    "AttributionMask",
    "ConsistentInverse",
    "Region",
    "RegionDecomposition",
    "attribution_mask",
    "components",
    "consistent_inverse",
    "decompose_regions",
    "inconsistency",
    "inverse",
    "mask",
    "ridge_band",
    "MIN_LENGTH",
    "SSQCWT",
    "CWTResult",
    "Decomposition",
    "SSQConfig",
    "SSQResult",
    "__version__",
    "cwt",
    "decompose",
    "from_ssqueezepy",
    "icwt",
    "issq_cwt",
    "ssq_cwt",
    "to_ssqueezepy",
]
