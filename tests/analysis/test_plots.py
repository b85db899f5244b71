"""Area plots: written to file, labelled, with clear errors for bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from npegen.analysis.plots import area_bars


def test_area_bars_writes_a_png(tmp_path):
    df = pd.DataFrame({"design point": ["a", "b"], "transistors": [10, 20], "LUTs": [1, 2], "FFs": [3, 4]})
    path = area_bars(df, tmp_path / "sub" / "area.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_area_bars_rejects_missing_columns_and_empty(tmp_path):
    with pytest.raises(ValueError, match=r"no column\(s\) \['LUTs', 'FFs'\]"):
        area_bars(pd.DataFrame({"design point": ["a"], "transistors": [1]}), tmp_path / "x.png")
    with pytest.raises(ValueError, match="empty"):
        area_bars(pd.DataFrame(columns=["design point", "transistors", "LUTs", "FFs"]), tmp_path / "x.png")
