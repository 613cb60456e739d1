"""saliency2signal: which parts of a 1D signal made a CNN decide what it decided.

The numeric API is re-exported here; importing the package never imports matplotlib.

May import: every public module of the package; never ``cli`` or ``plot`` (matplotlib).
"""

from __future__ import annotations

from . import (
    artefacts,
    blackbox,
    datasets,
    designs,
    drawing,
    evaluation,
    explanation,
    forward,
    imaging,
    inverse,
    io,
    limits,
    mask,
    metadata,
    models,
    peaks,
    phase,
    ridges,
    saliency,
    transform,
)
from ._version import __version__
from .artefacts import advise_wavelet, detect_interference, flag_regions
from .blackbox import BlackBox
from .evaluation import Evaluation, evaluate
from .explanation import Explanation, explain
from .imaging import ImagingConfig, pull_back, to_image
from .inverse import (
    ConsistentInverse,
    RegionDecomposition,
    components,
    consistent_inverse,
    decompose_regions,
    inconsistency,
)
from .io import load_model, save_model
from .mask import AttributionMask, Region, attribution_mask
from .phase import retrieve_phase
from .ridges import extract_ridges, ridge_band
from .saliency import attribute, time_gradient
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

__all__ = [
    "BlackBox",
    "Evaluation",
    "blackbox",
    "Explanation",
    "datasets",
    "designs",
    "drawing",
    "forward",
    "metadata",
    "transform",
    "evaluate",
    "evaluation",
    "explain",
    "explanation",
    "ImagingConfig",
    "advise_wavelet",
    "artefacts",
    "attribute",
    "detect_interference",
    "extract_ridges",
    "flag_regions",
    "imaging",
    "io",
    "limits",
    "load_model",
    "models",
    "peaks",
    "phase",
    "pull_back",
    "retrieve_phase",
    "ridges",
    "saliency",
    "save_model",
    "time_gradient",
    "to_image",
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
