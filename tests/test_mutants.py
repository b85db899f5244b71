"""The committed mutant list of `make mutate` stays applicable as the code changes: every mutant's line is found
exactly once, the mutated file compiles and differs, and the list covers every block in hw and models.
(Running the mutants is `make mutate`, opt-in; this only checks the list.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("npegen_mutate", HERE / "mutants" / "mutate.py")
mutate = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = mutate
_spec.loader.exec_module(mutate)

BLOCKS = {"formats", "int-mac", "simd-mac", "ternary", "ramp-adc"}
MUTANTS = mutate.load()


def test_at_least_30_mutants_over_every_block_in_hw_and_models():
    assert len(MUTANTS) >= 30, f"only {len(MUTANTS)} mutants"
    assert {m.block for m in MUTANTS} >= BLOCKS
    for block in BLOCKS:
        files = {m.file for m in MUTANTS if m.block == block}
        assert any(f.startswith("npegen/hw/") for f in files), f"{block}: no mutant of its generator"
        assert any(f.startswith("npegen/models/") for f in files), f"{block}: no mutant of its model"


@pytest.mark.parametrize("m", MUTANTS, ids=lambda m: m.id)
def test_mutant_applies(m):
    src, line = m.mutated()
    assert src.splitlines()[line - 1] != (mutate.ROOT / m.file).read_text().splitlines()[line - 1]
    for t in m.tests:
        path = t.split("::")[0]
        assert (mutate.ROOT / path).is_file(), f"mutant {m.id}: test file {path} does not exist"


def test_named_killers_exist():
    """A mutant's named killing tests are real test functions (``file::name`` or ``file::name[param]``)."""
    for m in MUTANTS:
        for t in m.tests:
            if "::" in t:
                path, name = t.split("::", 1)
                func = name.split("[")[0].split("::")[-1]
                assert f"def {func}(" in (mutate.ROOT / path).read_text(), f"mutant {m.id}: no test {t}"


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ("block: x\ntests: [tests/a.py]\nmutants: [{id: a, file: ../etc/passwd.py, find: a, replace: b, why: c}]",
         "file must be a .py under"),
        ("block: x\ntests: [tests/a.py]\nmutants: [{id: A B, file: npegen/hw/a.py, find: a, replace: b, why: c}]",
         "not a plain name"),
        ("block: x\ntests: []\nmutants: []", "non-empty list"),
        ("block: x\ntests: [t]\nmutants: [{id: a, file: npegen/hw/a.py, find: a, replace: b}]", "each mutant has"),
        ("- just a list", "needs exactly the keys"),
    ],
)
def test_bad_mutant_files_are_refused(tmp_path, doc, match):
    (tmp_path / "bad.yaml").write_text(doc)
    with pytest.raises(ValueError, match=match):
        mutate.load(tmp_path)
