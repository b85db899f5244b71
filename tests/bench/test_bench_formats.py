"""`make bench`: number-format model throughput against SoftPosit's Python API, measured in the same run
and printed as a table of ops/s and their ratio (the model on 1,000,000 operands per call, SoftPosit's
object API on 50,000; per-operation cost is flat in both)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import softposit as sp

from npegen.models import formats as F

pytestmark = pytest.mark.bench

P16 = F.get("posit16_1")
RNG = np.random.default_rng(0)
N = 1_000_000
A = RNG.integers(0, 65536, N).astype(np.uint16)
B = RNG.integers(0, 65536, N).astype(np.uint16)
NS = 50_000  # SoftPosit loops are timed on a slice (per-op cost is flat)
SA = [sp.posit16(bits=int(x)) for x in A[:NS]]
SB = [sp.posit16(bits=int(x)) for x in B[:NS]]
K = 256
DA = RNG.integers(0, 65536, (4000, K)).astype(np.uint16)
DB = RNG.integers(0, 65536, (4000, K)).astype(np.uint16)
SDA = [[sp.posit16(bits=int(x)) for x in row] for row in DA[:20]]
SDB = [[sp.posit16(bits=int(x)) for x in row] for row in DB[:20]]


def _sp_mul():
    return [x * y for x, y in zip(SA, SB, strict=True)]


def _sp_add():
    return [x + y for x, y in zip(SA, SB, strict=True)]


def _sp_dot():
    out = []
    for ra, rb in zip(SDA, SDB, strict=True):
        q = sp.quire16()
        for x, y in zip(ra, rb, strict=True):
            q.qma(x, y)
        out.append(q.toPosit())
    return out


def _rate(fn, ops, reps=3):
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return ops * reps / (time.perf_counter() - t0)


def test_posit16_speedup_table(capsys):
    rows = [
        ("posit16 mul", _rate(lambda: P16.mul(A, B), N), _rate(_sp_mul, NS)),
        ("posit16 add", _rate(lambda: P16.add(A, B), N), _rate(_sp_add, NS)),
        ("posit16 dot (K=256, MAC/s)", _rate(lambda: P16.dot(DA, DB), DA.size, reps=1), _rate(_sp_dot, 20 * K, reps=1)),
    ]
    # the results agree (spot check in the same run)
    assert [r.v.v for r in _sp_mul()[:1000]] == P16.mul(A[:1000], B[:1000]).tolist()
    assert [r.v.v for r in _sp_dot()] == P16.dot(DA[:20], DB[:20]).tolist()
    with capsys.disabled():
        print("\n\nnpegen format model vs SoftPosit 0.3.4 Python API (same run, this machine)")
        print(f"{'operation':<28}{'npegen ops/s':>16}{'SoftPosit ops/s':>18}{'ratio':>10}")
        for name, ours, theirs in rows:
            print(f"{name:<28}{ours:>16.3g}{theirs:>18.3g}{ours / theirs:>9.0f}x")
