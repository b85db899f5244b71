"""Plots of synthesis and estimation results (matplotlib, written to files; no display needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

__all__ = ["area_bars"]


def area_bars(
    df: pd.DataFrame,
    path: str | os.PathLike,
    *,
    label: str = "design point",
    metrics: Sequence[str] = ("transistors", "LUTs", "FFs"),
    title: str = "Area by design point",
) -> Path:
    """One bar panel per area metric (rows of ``df`` on the x axis), saved to ``path`` (PNG, SVG, PDF).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per design point, with a ``label`` column and the ``metrics`` columns.
    path : path
        Output file; its suffix picks the format.
    label, metrics, title
        Column naming each bar, columns plotted (one panel each), figure title.

    Raises
    ------
    ValueError
        A named column is missing, or ``df`` is empty.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    missing = [c for c in (label, *metrics) if c not in df.columns]
    if missing:
        raise ValueError(f"df has no column(s) {missing}; it has {list(df.columns)}")
    if df.empty:
        raise ValueError("df is empty: nothing to plot")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.8), squeeze=False)
    x = range(len(df))
    for ax, metric in zip(axes[0], metrics, strict=True):
        bars = ax.bar(x, df[metric], color="tab:blue")
        ax.bar_label(bars, fmt="%d", fontsize=8)
        ax.set_xticks(list(x), df[label], rotation=30, ha="right", fontsize=8)
        ax.set_xlabel(label)
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.margins(y=0.15)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
