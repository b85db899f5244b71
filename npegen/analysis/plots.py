"""Plots of synthesis and estimation results (matplotlib, written to files; no display needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

__all__ = ["area_bars", "subplots"]


def subplots(*args, figsize=(6.4, 4.8), **kw):
    """``(fig, axes)`` like ``pyplot.subplots`` but on a standalone :class:`matplotlib.figure.Figure`: no pyplot
    state and no backend switch (a notebook's inline display keeps working); ``fig.savefig`` writes files."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kw)


def area_bars(
    df: pd.DataFrame,
    path: str | os.PathLike,
    *,
    label: str = "design point",
    metrics: Sequence[str] = ("transistors", "LUTs", "FFs"),
    title: str = "Area by design point",
) -> Path:
    """One horizontal-bar panel per area metric (one bar per row of ``df``), saved to ``path`` (PNG, SVG,
    PDF).

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
    missing = [c for c in (label, *metrics) if c not in df.columns]
    if missing:
        raise ValueError(f"df has no column(s) {missing}; it has {list(df.columns)}")
    if df.empty:
        raise ValueError("df is empty: nothing to plot")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Horizontal bars: design-point names stay readable however many there are; a log axis when the values
    # span more than two decades (a 4-bit decoder next to a MAC engine).
    n = len(df)
    fig, axes = subplots(1, len(metrics), figsize=(4.6 * len(metrics), 1.2 + 0.32 * n), squeeze=False,
                             sharey=True)
    y = list(range(n))
    for ax, metric in zip(axes[0], metrics, strict=True):
        vals = df[metric].astype(float)
        bars = ax.barh(y, vals, color="tab:blue")
        ax.bar_label(bars, fmt="%d", fontsize=7, padding=2)
        positive = vals[vals > 0]
        if len(positive) and positive.max() / positive.min() > 100:
            ax.set_xscale("log")
            ax.set_xlim(right=positive.max() * 8)
        else:
            ax.set_xlim(right=max(vals.max(), 1) * 1.25)
        ax.set_yticks(y, df[label], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(metric)
        ax.set_title(metric)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_ylabel(label)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
