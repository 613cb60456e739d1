"""Memory plans of a streamed run, and the byte bounds of explain's internal batches.

``parse_memory`` reads sizes; ``plan_memory`` grows with the budget, never beyond its
limits, and refuses a budget too small for one signal, naming the smallest one; the
internal batches bounded in bytes (the forward passes' transforms, the null's mask
stacks, the deletion's forward batch) give the same numbers as unbounded ones; and a
chunk planned for a budget stays under it when explained in a fresh process, where the
old batch size would not (issue 22).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from saliency2signal import SSQConfig, explain
from saliency2signal.imaging import ImagingConfig
from saliency2signal.models import ScalogramCNN
from saliency2signal.stream._budget import MemoryPlan, parse_memory, plan_memory

LONG = 1841  # points of a brewed-coffee spectrum
TCFG = SSQConfig(nv=32, dtype="float32")
ICFG = ImagingConfig(size=(64, 64))
PLAN = dict(
    n_times=LONG,
    transform_config=TCFG,
    imaging_config=ICFG,
    method="integrated_gradients",
    n_steps=32,
    n_null=20,
    max_regions=5,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2GB", 2 * 10**9),
        ("2 GB", 2 * 10**9),
        ("512MB", 512 * 10**6),
        ("512mb", 512 * 10**6),
        ("1.5GiB", int(1.5 * 2**30)),
        ("64 MiB", 64 * 2**20),
        ("2e9", 2 * 10**9),
        ("4096", 4096),
        ("3G", 3 * 10**9),
    ],
)
def test_memory_sizes_are_read(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["", "two GB", "2 parsecs", "-1GB", "0", "1e-3", "GB"])
def test_bad_memory_sizes_are_refused_by_name(text):
    with pytest.raises(ValueError, match=f"memory={text!r}"):
        parse_memory(text)


def test_a_memory_size_must_be_text():
    with pytest.raises(TypeError, match="memory=2000000000"):
        parse_memory(2 * 10**9)


def test_plans_grow_with_the_budget_within_their_limits():
    budgets = [parse_memory(f"{g}GB") for g in (1.5, 2, 3, 4, 6, 8, 16, 64)]
    plans = [plan_memory(**PLAN, budget=b, max_batch=16, max_chunk=256) for b in budgets]
    chunks = [p.signals_per_chunk for p in plans]
    batches = [p.batch_size for p in plans]
    assert chunks == sorted(chunks) and chunks[-1] > chunks[0]
    assert batches == sorted(batches) and batches[-1] > batches[0]
    assert max(chunks) <= 256 and max(batches) <= 16
    assert all(p.estimated_peak <= p.budget for p in plans)
    assert all(p.batch_size <= p.signals_per_chunk for p in plans)


def test_short_signals_take_bigger_batches_than_long_ones():
    budget = parse_memory("2GB")
    long = plan_memory(**PLAN, budget=budget)
    short = plan_memory(**{**PLAN, "n_times": 256}, budget=budget)
    assert short.batch_size > long.batch_size
    assert short.signals_per_chunk > long.signals_per_chunk


def test_a_plan_describes_itself_in_one_line():
    plan = plan_memory(**PLAN, budget=parse_memory("2GB"))
    assert isinstance(plan, MemoryPlan)
    text = plan.describe()
    assert text.startswith("2.0 GB budget: ") and "\n" not in text
    assert f"{plan.signals_per_chunk} signals per chunk, batch {plan.batch_size}" in text


def test_a_budget_too_small_is_refused_with_the_smallest_workable_one():
    with pytest.raises(ValueError, match="budget=1000000000 bytes") as info:
        plan_memory(**PLAN, budget=10**9)
    smallest = int(str(info.value).split("smallest workable budget is ")[1].split()[0])
    assert smallest > 10**9
    plan = plan_memory(**PLAN, budget=smallest)
    assert plan.signals_per_chunk == 1 and plan.batch_size == 1
    assert plan.estimated_peak <= smallest


# ------------------------------------------------------------- bounded internal batches
def _tiny_bounds(monkeypatch):
    """Bound every byte-bounded internal batch to one signal, mask or image."""
    monkeypatch.setattr("saliency2signal.forward.WORK_BYTES", 1)
    monkeypatch.setattr("saliency2signal.forward.FORWARD_BYTES", 1)
    monkeypatch.setattr("saliency2signal.faithfulness._curves.WORK_BYTES", 1)
    monkeypatch.setattr("saliency2signal.explanation._core.FORWARD_BYTES", 1)


def test_bounded_internal_batches_give_the_same_explanation(monkeypatch):
    torch.manual_seed(0)
    net = ScalogramCNN(widths=(4, 8), n_classes=3).double().eval()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 128))
    kw = dict(
        transform_config=SSQConfig(nv=8, dtype="float64"),
        imaging_config=ImagingConfig(size=(16, 16)),
        class_names=("a", "b", "c"),
        n_steps=4,
        n_null=3,
        max_regions=2,
        batch_size=2,
    )
    before = explain(net, x, **kw)
    _tiny_bounds(monkeypatch)
    after = explain(net, x, **kw)
    drops = [[r.drop for r in rs] for rs in before.regions]
    assert drops == [[r.drop for r in rs] for rs in after.regions]
    assert [v.top_drop for v in before.verdicts] == [v.top_drop for v in after.verdicts]
    assert [v.level for v in before.verdicts] == [v.level for v in after.verdicts]
    np.testing.assert_array_equal(before.attribution, after.attribution)


# ------------------------------------------------------------- peak resident memory
_CHILD = textwrap.dedent(
    """
    import json, sys, threading, time
    import numpy as np, psutil, torch
    from saliency2signal import SSQConfig, explain
    from saliency2signal.imaging import ImagingConfig
    from saliency2signal.models import ScalogramCNN
    torch.set_num_threads(2)
    # sampled: ru_maxrss would count the parent's memory at the fork
    proc, peak, stop = psutil.Process(), [0], []
    def sample():
        while not stop:
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.005)
    threading.Thread(target=sample, daemon=True).start()
    n, bs, n_steps, n_null = (int(a) for a in sys.argv[1:5])
    torch.manual_seed(0)
    net = ScalogramCNN(widths=(16, 32, 64, 64), n_classes=3).eval()
    t = np.arange({long})
    rng = np.random.default_rng(0)
    x = np.stack([np.exp(-0.5 * ((t - c) / w) ** 2) + 0.05 * rng.standard_normal(t.size)
                  for c, w in zip(rng.uniform(200, 1600, n), rng.uniform(5, 40, n))])
    explain(net, x, transform_config=SSQConfig(nv=32, dtype="float32"),
            imaging_config=ImagingConfig(size=(64, 64)), class_names=("a", "b", "c"),
            batch_size=bs, n_steps=n_steps, n_null=n_null, max_regions=2)
    stop.append(1)
    time.sleep(0.02)
    print(json.dumps({{"peak": max(peak[0], proc.memory_info().rss)}}))
    """
).format(long=LONG)


def _peak_of_explain(n: int, batch_size: int, n_steps: int, n_null: int) -> int:
    """Peak resident bytes of a fresh process explaining ``n`` long synthetic spectra."""
    pytest.importorskip("psutil")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n), str(batch_size), str(n_steps), str(n_null)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return int(json.loads(out.stdout.strip().splitlines()[-1])["peak"])


def _plan(budget: int, n_steps: int, n_null: int, max_chunk: int) -> MemoryPlan:
    return plan_memory(
        **{**PLAN, "n_steps": n_steps, "n_null": n_null, "max_regions": 2},
        budget=budget,
        max_chunk=max_chunk,
    )


def test_a_planned_chunk_stays_under_its_budget():
    budget = parse_memory("1.2GB")
    plan = _plan(budget, n_steps=8, n_null=2, max_chunk=3)
    peak = _peak_of_explain(plan.signals_per_chunk, plan.batch_size, 8, 2)
    assert peak <= plan.estimated_peak <= budget, (peak, plan)


@pytest.mark.slow
def test_the_old_batch_size_exceeds_the_budget_that_the_plan_keeps():
    # explain's defaults (32 steps, 20 null draws) on 8 long spectra: the plan's batch
    # stays under 2 GB, the old batch_size=16 (all 8 in one batch) does not
    budget = parse_memory("2GB")
    plan = _plan(budget, n_steps=32, n_null=20, max_chunk=8)
    assert plan.signals_per_chunk == 8 and plan.batch_size < 8
    planned = _peak_of_explain(plan.signals_per_chunk, plan.batch_size, 32, 20)
    old = _peak_of_explain(plan.signals_per_chunk, 16, 32, 20)
    assert planned <= budget < old, (planned, old, plan)
