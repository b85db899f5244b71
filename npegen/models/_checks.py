"""Parameter validation shared by the models and the generators (messages name the value and the range)."""

from __future__ import annotations

import operator

import numpy as np

__all__ = ["check_int"]


def check_int(name: str, value: object, lo: int, hi: int, *, context: str = "") -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) in ``[lo, hi]``.

    Raises
    ------
    TypeError
        Not an integer: ``"<name> must be an integer in [lo, hi]<context>, not <value!r>"``.
    ValueError
        Out of range, with the same message.
    """
    msg = f"{name} must be an integer in [{lo}, {hi}]{context}, not {value!r}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(msg)
    value = operator.index(value)
    if not lo <= value <= hi:
        raise ValueError(msg)
    return value
