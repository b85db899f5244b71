"""Parameter validation shared by the models and the generators (messages name the value and the range)."""

from __future__ import annotations

import math
import operator

import numpy as np

__all__ = ["check_int", "check_real", "short_repr"]


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to about ``limit`` characters (a huge number or string in a one-line message)."""
    try:
        r = repr(value)
    except ValueError:  # an int of more than 4300 digits
        return f"an integer of {value.bit_length()} bits" if isinstance(value, int) else f"a {type(value).__name__}"
    return r if len(r) <= limit else f"{r[:limit - 20]}...({len(r)} characters)"


def check_int(name: str, value: object, lo: int, hi: int, *, context: str = "") -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) in ``[lo, hi]``.

    Raises
    ------
    TypeError
        Not an integer: ``"<name> must be an integer in [lo, hi]<context>, not <value!r>"``.
    ValueError
        Out of range, with the same message.
    """
    msg = f"{name} must be an integer in [{lo}, {hi}]{context}, not {short_repr(value)}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(msg)
    value = operator.index(value)
    if not lo <= value <= hi:
        raise ValueError(msg)
    return value


def check_real(name: str, value: object, lo: float, hi: float, *, lo_open: bool = False, context: str = "") -> float:
    """``value`` as a ``float`` if it is a finite real number (not a bool) in ``[lo, hi]`` (``(lo, hi]`` with
    ``lo_open``).

    Raises
    ------
    TypeError
        Not a real number: ``"<name> must be a finite number in [lo, hi]<context>, not <value!r>"``.
    ValueError
        NaN, infinite or out of range, with the same message.
    """
    msg = (f"{name} must be a finite number in {'(' if lo_open else '['}{lo:.15g}, {hi:.15g}]{context}, "
           f"not {short_repr(value)}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(msg)
    try:
        v = float(value)
    except OverflowError:  # an int beyond float range
        raise ValueError(msg) from None
    if not math.isfinite(v) or v > hi or v < lo or (lo_open and v == lo):
        raise ValueError(msg)
    return v
