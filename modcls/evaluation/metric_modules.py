"""The local ``evaluate`` metric modules shipped with modcls, loaded by path (the hub is never asked).

Each metric is a folder ``metrics/<name>/<name>.py`` inside this package (installed as package data);
``eval/metrics`` in the repository points at the same folders.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

#: Folder holding one sub-folder per metric module.
METRICS_DIR = Path(__file__).parent / "metrics"

#: The metric modules, by name.
METRIC_NAMES = ("topic_classification", "sensitivity_detection", "review_routing", "calibration_error")


@functools.cache
def load_metric(name: str) -> Any:
    """The ``evaluate`` module ``name``, loaded from its folder (kept in memory, no cache files)."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric module {name!r}; expected one of {', '.join(METRIC_NAMES)}")
    import evaluate

    return evaluate.load(str(METRICS_DIR / name), keep_in_memory=True)


def compute(name: str, **inputs: Any) -> dict[str, Any]:
    """Run metric module ``name`` on ``inputs`` (its features and its keyword options)."""
    return load_metric(name).compute(**inputs)
