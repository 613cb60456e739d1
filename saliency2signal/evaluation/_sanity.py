"""The sanity check: cascading model-parameter randomisation (Adebayo et al. 2018).

- :func:`randomizable_blocks`: the blocks of a model that the check re-draws.
- :func:`randomisation`: re-draw the blocks one after another (top first) or all at
  once, explain again after each step through a callback, compare with the original
  explanation and restore the parameters.

The check knows nothing of how a method explains: the caller passes ``reexplain``.

May import: numpy, torch, ``evaluation._metrics`` (and ``Explanation`` for type
hints); never the modules that explain or orchestrate (``_methods``, ``_core``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from ._metrics import spearman, ssim_1d

if TYPE_CHECKING:
    from ..explanation import Explanation

__all__ = ["RANDOMIZATION_MODES", "randomisation", "randomizable_blocks"]

#: How :func:`randomisation` re-draws the blocks (``'none'``: no check).
RANDOMIZATION_MODES = ("cascade", "full", "none")


def randomizable_blocks(model: torch.nn.Module) -> list[str]:
    """Names of the blocks the cascading randomisation re-draws, input side first.

    The model's children, with ``nn.Sequential`` / ``nn.ModuleList`` children opened one
    level (so a feature extractor's blocks count one by one), keeping those that hold
    parameters. Works on TorchScript modules too.

    Examples
    --------
    >>> from saliency2signal.models import ScalogramCNN
    >>> randomizable_blocks(ScalogramCNN(widths=(8, 8)))
    ['features.0', 'features.1', 'classifier']
    """
    names = []
    for name, child in model.named_children():
        grand = list(child.named_children())
        kind = getattr(child, "original_name", type(child).__name__)
        if kind in ("Sequential", "ModuleList") and grand:
            names += [f"{name}.{g}" for g, gc in grand if any(True for _ in gc.parameters())]
        elif any(True for _ in child.parameters()):
            names.append(name)
    return names


def _randomize_(module: torch.nn.Module, gen: torch.Generator) -> None:
    """Re-draw each parameter from a normal with the tensor's own mean and std."""
    with torch.no_grad():
        for p in module.parameters():
            std = float(p.std()) if p.numel() > 1 else 0.0
            mean = float(p.mean())
            if not std > 0:
                std = max(abs(mean), 1e-2)
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device) * std + mean)


def _one_d(components: np.ndarray, shape) -> np.ndarray:
    """``|recovered component|`` of each signal: the union of its regions."""
    return np.abs(components.sum(1)) if components.shape[1] else np.zeros(shape)


def randomisation(
    model: torch.nn.Module,
    e0: Explanation,
    components0: np.ndarray,
    *,
    mode: str,
    seed: int,
    reexplain: Callable[[], tuple[Explanation, np.ndarray]],
) -> dict:
    """Randomise the model step by step and compare each new explanation with ``e0``.

    Parameters
    ----------
    model : torch.nn.Module
        Changed in place during the check; its parameters are restored afterwards
        (also on error).
    e0 : Explanation
        The original explanation.
    components0 : numpy.ndarray, shape (B, R, N)
        Its region components.
    mode : {'cascade', 'full'}
        One step per block (top first), or all blocks in one step.
    seed : int
        Seeds the re-drawn parameters.
    reexplain : callable
        ``reexplain() -> (explanation, components)`` of the current (randomised) model,
        for the same signals and target classes.

    Returns
    -------
    dict
        ``steps`` (list of str: the blocks randomised so far at each step), and
        ``spearman``, ``ssim`` (1D explanations) and ``spearman_tf`` (time-frequency
        attributions), arrays ``(n_steps, B)``.

    Raises
    ------
    ValueError
        If the model has no parameterised block.
    """
    names = randomizable_blocks(model)
    if not names:
        raise ValueError("the model has no parameterised blocks to randomise")
    order = names[::-1]  # top (output side) first
    steps = [order[: i + 1] for i in range(len(order))] if mode == "cascade" else [order]
    saved = {k: v.detach().clone() for k, v in model.named_parameters()}
    mods = dict(model.named_modules())
    gen = torch.Generator().manual_seed(int(seed))
    one_d0 = _one_d(components0, e0.signals.shape)
    sp, ss, st = [], [], []
    try:
        done = set()
        for step in steps:
            for name in step:
                if name not in done:
                    _randomize_(mods[name], gen)
                    done.add(name)
            e, comps = reexplain()
            one_d = _one_d(comps, e0.signals.shape)
            sp.append([spearman(a, b) for a, b in zip(one_d0, one_d, strict=True)])
            ss.append([ssim_1d(a, b) for a, b in zip(one_d0, one_d, strict=True)])
            st.append(
                [
                    spearman(np.ravel(a), np.ravel(b))
                    for a, b in zip(e0.attribution, e.attribution, strict=True)
                ]
            )
    finally:
        with torch.no_grad():
            for k, v in model.named_parameters():
                v.copy_(saved[k])
    return {
        "steps": [", ".join(s) for s in steps],
        "spearman": np.asarray(sp, np.float64),
        "ssim": np.asarray(ss, np.float64),
        "spearman_tf": np.asarray(st, np.float64),
    }
