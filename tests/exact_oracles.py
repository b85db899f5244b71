"""Independent exact-rational oracles shared by the tests: posit(n, es) values decoded bit by bit from the
standard's rules, and rounding of an exact value by the (n+1)-bit midpoint rule. Written from the posit standard,
not from npegen (nothing here imports npegen)."""

from __future__ import annotations

import bisect
from fractions import Fraction
from functools import cache

__all__ = ["frac_op", "frac_posit_values", "frac_round"]


@cache
def frac_posit_values(n: int, es: int) -> tuple:
    """Exact value of every code (None for NaR), decoded bit by bit from the spec rules."""
    out = []
    for code in range(1 << n):
        if code == 0:
            out.append(Fraction(0))
            continue
        if code == 1 << (n - 1):
            out.append(None)
            continue
        neg = code >> (n - 1)
        c = ((1 << n) - code) if neg else code
        bits = format(c, f"0{n}b")[1:]
        r0 = bits[0]
        m = len(bits) - len(bits.lstrip(r0))
        k = m - 1 if r0 == "1" else -m
        rest = bits[m + 1:]
        e = int(rest[:es].ljust(es, "0"), 2) if es else 0
        fbits = rest[es:]
        f = Fraction(int(fbits, 2), 1 << len(fbits)) if fbits else Fraction(0)
        v = Fraction(2) ** (k * (1 << es) + e) * (1 + f)
        out.append(-v if neg else v)
    return tuple(out)


@cache
def _positive_table(n: int, es: int):
    vals = frac_posit_values(n, es)
    pos = [vals[c] for c in range(1, 1 << (n - 1))]  # codes 1 .. 2**(n-1)-1, increasing
    wide = frac_posit_values(n + 1, es)
    mids = [wide[2 * c + 1] for c in range(1, (1 << (n - 1)) - 1)]  # between code c and c+1
    return pos, mids


def frac_round(x: Fraction, n: int, es: int) -> int:
    """Code of exact x: (n+1)-bit midpoint rule, ties to the even code, saturate, never round to zero."""
    if x == 0:
        return 0
    pos, mids = _positive_table(n, es)
    a = abs(x)
    if a >= pos[-1]:
        c = len(pos)
    elif a <= pos[0]:
        c = 1
    else:
        i = bisect.bisect_right(pos, a) - 1  # pos[i] <= a < pos[i+1]; codes i+1, i+2
        lo = i + 1
        mid = mids[i]
        c = lo + 1 if a > mid else lo if a < mid else (lo if lo % 2 == 0 else lo + 1)
    return ((1 << n) - c) if x < 0 else c


def frac_op(n, es, op, a, b) -> int:
    vals = frac_posit_values(n, es)
    va, vb = vals[a], vals[b]
    if va is None or vb is None:
        return 1 << (n - 1)
    return frac_round(op(va, vb), n, es)
