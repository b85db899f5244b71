"""Design-space sweeps: every point is generated, synthesised and estimated (and optionally verified),
appended to an on-disk store as it finishes, and skipped when the sweep runs again.

A :class:`Space` names a block, its generator parameters and the estimator's parameters; each may be a
list of values (a grid axis, or the choices of a random/Latin-hypercube sample) or a range
``{"low": .., "high": .., "int": true, "log": false}`` (random and Latin-hypercube samplers only). Every field
is checked when the space is built, before any work: unknown parameters of the block (the fields of its
parameter dataclass plus :data:`ESTIMATOR_KEYS`) are refused with the allowed names listed, the name must be a
plain file name, ``verify`` a real boolean, numbers finite, and the number of points at most ``max_points``
(:data:`MAX_POINTS` unless raised explicitly), counted arithmetically before any point exists.

Constraints
-----------
``constraints`` are expressions over the parameter names that a point must satisfy
(``"stages <= 2 or count >= 64"``). They are **never executed as Python**: each is parsed with :mod:`ast` and
only this grammar is accepted (anything else is a ``ValueError`` naming the constraint and the construct)::

    expr     := expr "or" expr | expr "and" expr | "not" expr
              | expr "if" expr "else" expr
              | sum (CMP sum)*                       CMP: == != < <= > >= in "not in"
    sum      := sum ("+" | "-" | "*" | "/" | "//" | "%") sum | sum "**" sum | ("-" | "+") sum
    atom     := NAME | NUMBER | STRING | True | False | None | "[" expr, ... "]" | "(" expr, ... ")"
              | FUNC "(" expr, ... ")" | atom "." METHOD "(" STRING? ")" | "(" expr ")"
    NAME     := a parameter of the space
    FUNC     := abs | min | max | round | log2 | len
    METHOD   := split | startswith | endswith          (on strings)

Limits (:data:`CONSTRAINT_LIMITS`): 1000 characters, 256 syntax nodes and 32 levels of nesting per constraint,
64 constraints; integer literals within ±2**63, strings of at most 1000 characters, lists of at most 256 items;
``**`` takes an exponent within ±64 (checked when the space is built if the exponent has no names); every
intermediate integer stays within ±2**256 and every string or list within 1000 items; syntax nodes x points at
most 100 per allowed point (``max_points``), checked when the space is built; arithmetic takes numbers
(``+`` also joins strings). There is no attribute access other than the three string methods, no subscript, no
comprehension, no lambda, no f-string, no ``:=``, no keyword argument, no ``is``.

Execution goes through a :class:`concurrent.futures.Executor`: a local process pool by default, or
Dask distributed (``distributed.Client(address).get_executor()``) for more than one machine. Results are
written by the process that runs :func:`run_sweep` only (one writer), one CSV row per finished point,
flushed and fsync'ed, so a sweep killed at any moment (``kill -9`` included) loses no finished point;
re-running it computes exactly the points that are missing. A point that raises is recorded with its
error message and the sweep goes on. The store directory is locked (``fcntl.flock`` on ``DIR/.lock``) while a
sweep runs: a second sweep on the same store is refused, naming the holder's pid. Loading a store keeps the
first row of each point and reports (:class:`SweepWarning`) how many duplicate rows it dropped.
"""

from __future__ import annotations

import ast
import csv
import fcntl
import hashlib
import itertools
import json
import math
import operator
import os
import re
import signal
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Space", "Constraint", "SweepStoreError", "SweepWarning", "SAMPLERS", "ESTIMATOR_KEYS", "METRICS",
           "NUMERIC_METRICS", "MAX_POINTS", "CONSTRAINT_LIMITS", "block_parameters", "evaluate_point", "run_sweep",
           "load_results", "pareto_mask", "pareto_plot", "connect_dask", "pareto_axes", "summarize",
           "BLOCKS"]  # noqa: F822 - from the module __getattr__ (read from the block registry when asked)

SAMPLERS = ("grid", "random", "lhs")
#: Estimator parameters a point may set (the rest are generator parameters of the block).
ESTIMATOR_KEYS = ("workload", "count", "dram_gbps", "clock_mhz", "sram_kib", "precision", "node_nm")
#: Metrics :func:`evaluate_point` returns for every point (``verified_tests`` too when the space verifies).
METRICS = ("tag", "latency", "cells", "transistors", "luts", "ffs", "synth_s", "synth_cached", "workload",
           "runs_per_s", "energy_per_run_J", "energy_per_op_pJ", "power_W", "TOPS_per_W", "area_mm2",
           "GOPS_per_mm2", "GOPS")
#: The numeric metrics (what a Pareto front can be drawn over).
NUMERIC_METRICS = tuple(m for m in METRICS if m not in ("tag", "workload", "synth_cached"))
#: Default cap on the points of a space (grid size or samples); ``Space(max_points=...)`` / ``--max-points``.
MAX_POINTS = 100_000
#: Hard ceiling of ``max_points`` itself.
_MAX_POINTS_CEILING = 10**8
#: Bounds of the constraint language (see the module docstring).
CONSTRAINT_LIMITS = {"chars": 1000, "nodes": 256, "depth": 32, "constraints": 64, "string": 1000, "items": 256,
                     "exponent": 64}
#: Budget of constraint evaluation: syntax nodes x points, per allowed point (at most about 5 s at the default cap).
_CONSTRAINT_WORK_PER_POINT = 100
_COLUMNS = ["key", "status", "error", "seconds", "worker", "params", "metrics"]
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_SPACE_KEYS = ("name", "block", "params", "sampler", "samples", "seed", "constraints", "verify")
#: Largest sweep file read (bytes).
_MAX_FILE_BYTES = 1 << 20
_RANGE_KEYS = {"low", "high", "int", "log"}


def __getattr__(name: str):
    if name == "BLOCKS":  # the blocks a sweep accepts, read from the registry when asked (it may grow)
        return _sweep_blocks()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _blocks():
    """:mod:`npegen.blocks`, imported here (it sits above ``npegen.sim``; analysis imports it lazily)."""
    from .. import blocks

    return blocks


def _sweep_blocks() -> tuple[str, ...]:
    """The blocks a sweep can generate, synthesise and estimate (``BLOCKS``): those registered with ``sweep``."""
    return _blocks().sweep_names()


def _spec(block: str):
    """The registry entry of a sweepable ``block``; a ``ValueError`` naming the allowed blocks otherwise."""
    if not isinstance(block, str) or block not in _sweep_blocks():
        raise ValueError(f"sweep block must be one of {_sweep_blocks()}, not {_short(block, 60)}")
    return _blocks().get(block)


class SweepWarning(UserWarning):
    """Something in a sweep store was repaired (duplicate rows dropped); the message names the store."""


def _short(value, n: int = 100) -> str:
    """``repr(value)``, cut to about ``n`` characters."""
    r = repr(value)
    return r if len(r) <= n else r[: n - 3] + "..."


# ---- the constraint language --------------------------------------------------------------------------------


def _round(x, ndigits=None):
    if ndigits is not None and (isinstance(ndigits, bool) or not isinstance(ndigits, int) or abs(ndigits) > 32):
        raise ValueError(f"round() takes ndigits an integer in [-32, 32], not {ndigits!r}")
    return round(x) if ndigits is None else round(x, ndigits)


def _len(x):
    if not isinstance(x, (str, list, tuple)):
        raise TypeError(f"len() takes a string or a list, not {x!r}")
    return len(x)


_FUNCTIONS: dict[str, Callable] = {"abs": abs, "min": min, "max": max, "round": _round, "log2": math.log2,
                                   "len": _len}
_METHODS = {"split": (0, 1), "startswith": (1, 1), "endswith": (1, 1)}  # name: (min, max) string arguments
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
           ast.Pow: "**"}
_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
           ast.NotIn: "not in"}
_BINFN = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
          "%": operator.mod}
_CMPFN = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
          ast.GtE: operator.ge}
_FORBIDDEN = [((ast.Attribute,), "attribute access"), ((ast.Subscript, ast.Slice), "subscripts"),
              ((ast.Lambda,), "lambda"),
              ((ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension), "comprehensions"),
              ((ast.JoinedStr, ast.FormattedValue), "f-strings"), ((ast.NamedExpr,), "assignment (:=)"),
              ((ast.Starred,), "starred arguments"), ((ast.Dict,), "dict literals"), ((ast.Set,), "set literals"),
              ((ast.Await, ast.Yield, ast.YieldFrom), "await/yield"), ((ast.keyword,), "keyword arguments")]
_ALLOWED_HINT = ("allowed: parameter names, numbers, strings, comparisons, and/or/not, + - * / // % **, "
                 "in/not in, abs/min/max/round/log2/len, str.split/startswith/endswith")


class Constraint:
    """One sweep constraint, parsed into a checked syntax tree and evaluated by a small interpreter.

    Parameters
    ----------
    source : str
        The expression (grammar and limits in the module docstring).
    names : iterable of str
        The parameter names it may use.

    Raises
    ------
    TypeError
        ``source`` is not a string.
    ValueError
        A syntax error, a construct outside the grammar, an unknown name or a literal beyond the limits; the
        message names the constraint and the construct.
    """

    def __init__(self, source: str, names) -> None:
        if not isinstance(source, str):
            raise TypeError(f"a constraint must be a string, not {source!r}")
        lim = CONSTRAINT_LIMITS
        self.source = source
        self._names = frozenset(names)
        if len(source) > lim["chars"]:
            raise ValueError(f"constraint {_short(source)} is {len(source)} characters long; "
                             f"the limit is {lim['chars']}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"constraint {_short(source)} is not a Python expression: {exc.msg}") from None
        except (ValueError, MemoryError, RecursionError) as exc:
            raise ValueError(f"constraint {_short(source)} is not a Python expression: {exc}") from None
        self.nodes = self._check(tree)
        self._tree = tree.body

    def _fail(self, what: str) -> ValueError:
        return ValueError(f"constraint {_short(self.source)} uses {what}, which sweep constraints do not allow "
                          f"({_ALLOWED_HINT})")

    def _check(self, tree: ast.Expression) -> int:
        """Refuse anything outside the grammar; the number of syntax nodes (the cost of one evaluation)."""
        lim = CONSTRAINT_LIMITS
        stack, n = [(tree.body, 1)], 0
        while stack:
            node, depth = stack.pop()
            n += 1
            if n > lim["nodes"]:
                raise ValueError(f"constraint {_short(self.source)} has more than {lim['nodes']} syntax nodes")
            if depth > lim["depth"]:
                raise ValueError(f"constraint {_short(self.source)} nests deeper than {lim['depth']} levels")
            children = []
            if isinstance(node, ast.Constant):
                self._check_literal(node.value)
            elif isinstance(node, ast.Name):
                if node.id in _FUNCTIONS:
                    raise self._fail(f"the function {node.id!r} without calling it")
                if node.id not in self._names:
                    raise ValueError(f"constraint {_short(self.source)} names {node.id!r}, which is not a parameter "
                                     f"of this space; parameters: {', '.join(sorted(self._names)) or 'none'}")
            elif isinstance(node, ast.BoolOp):
                children = node.values
            elif isinstance(node, ast.UnaryOp):
                if not isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
                    raise self._fail("the operator '~'")
                children = [node.operand]
            elif isinstance(node, ast.BinOp):
                if type(node.op) not in _BINOPS:
                    raise self._fail(f"the operator {type(node.op).__name__}")
                children = [node.left, node.right]
            elif isinstance(node, ast.Compare):
                for op in node.ops:
                    if type(op) not in _CMPOPS:
                        raise self._fail("identity comparisons (is / is not)")
                children = [node.left, *node.comparators]
            elif isinstance(node, ast.IfExp):
                children = [node.test, node.body, node.orelse]
            elif isinstance(node, (ast.List, ast.Tuple)):
                if len(node.elts) > lim["items"]:
                    raise ValueError(f"constraint {_short(self.source)} has a list of more than {lim['items']} items")
                children = list(node.elts)
            elif isinstance(node, ast.Call):
                if node.keywords:
                    raise self._fail("keyword arguments")
                f = node.func
                if isinstance(f, ast.Name) and f.id in _FUNCTIONS:
                    pass
                elif isinstance(f, ast.Attribute) and f.attr in _METHODS:
                    lo, hi = _METHODS[f.attr]
                    if not lo <= len(node.args) <= hi:
                        raise ValueError(f"constraint {_short(self.source)}: .{f.attr}() takes {lo} to {hi} "
                                         f"arguments, not {len(node.args)}")
                    children.append(f.value)
                elif isinstance(f, ast.Name):
                    raise self._fail(f"a call to {f.id!r} (functions: {', '.join(_FUNCTIONS)})")
                elif isinstance(f, ast.Attribute):
                    raise self._fail(f"attribute access ('.{f.attr}'; the only methods are "
                                     f"{', '.join('.' + m for m in _METHODS)} on strings)")
                else:
                    raise self._fail("a call of a computed function")
                children.extend(node.args)
            else:
                for types, what in _FORBIDDEN:
                    if isinstance(node, types):
                        raise self._fail(what)
                raise self._fail(type(node).__name__)
            stack.extend((c, depth + 1) for c in children)
        for node in ast.walk(tree):  # an exponent without names is known now: refuse it before any work
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) \
                    and not any(isinstance(n, ast.Name) for n in ast.walk(node.right)):
                try:
                    e = self._eval(node.right, {})
                except (ArithmeticError, TypeError, ValueError) as exc:
                    raise ValueError(f"constraint {_short(self.source)}: {exc}") from None
                if not isinstance(e, (int, float)) or abs(e) > lim["exponent"]:
                    raise ValueError(f"constraint {_short(self.source)} raises to the power {repr(e)[:40]}; "
                                     f"'**' takes exponents within ±{lim['exponent']}")
        return n

    def _check_literal(self, v) -> None:
        lim = CONSTRAINT_LIMITS
        if v is None or isinstance(v, bool):
            return
        if isinstance(v, int):
            if abs(v) > 2**63:
                raise ValueError(f"constraint {_short(self.source)} has an integer literal beyond 2**63")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError(f"constraint {_short(self.source)} has a literal that is not a finite number")
        elif isinstance(v, str):
            if len(v) > lim["string"]:
                raise ValueError(f"constraint {_short(self.source)} has a string literal longer than "
                                 f"{lim['string']} characters")
        else:
            raise self._fail(f"a {type(v).__name__} literal")

    def __call__(self, point: Mapping) -> bool:
        """Whether ``point`` satisfies the constraint; a ``ValueError`` naming the constraint and the point if it
        cannot be evaluated (a type mismatch, a division by zero, a value beyond the limits)."""
        try:
            return bool(self._eval(self._tree, point))
        except (ArithmeticError, TypeError, ValueError, RecursionError, MemoryError) as exc:
            raise ValueError(f"constraint {_short(self.source)} failed on {_short(dict(point), 160)}: "
                             f"{exc}") from None

    def __repr__(self) -> str:
        return f"Constraint({self.source!r})"

    @staticmethod
    def _bound(v):
        lim = CONSTRAINT_LIMITS
        if isinstance(v, bool) or v is None or isinstance(v, float):
            return v
        if isinstance(v, int):
            if abs(v) > 2**256:
                raise ValueError("an intermediate integer exceeds 2**256")
            return v
        if isinstance(v, (str, list, tuple)):
            if len(v) > lim["string"]:
                raise ValueError(f"an intermediate string or list exceeds {lim['string']} items")
            return v
        raise TypeError(f"the value {v!r} is not a number, string, boolean or list")

    @staticmethod
    def _num(v, op: str):
        if isinstance(v, (int, float)):  # bool is an int
            return v
        raise TypeError(f"'{op}' takes numbers, not {v!r}")

    def _eval(self, node, env):  # noqa: C901 - one branch per node type of the grammar
        ev = self._eval
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.BoolOp):
            and_ = isinstance(node.op, ast.And)
            v = None
            for sub in node.values:
                v = ev(sub, env)
                if bool(v) != and_:
                    return v
            return v
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand, env)
            if isinstance(node.op, ast.Not):
                return not v
            return self._bound(-self._num(v, "-") if isinstance(node.op, ast.USub) else +self._num(v, "+"))
        if isinstance(node, ast.BinOp):
            a, b, op = ev(node.left, env), ev(node.right, env), _BINOPS[type(node.op)]
            if op == "+" and isinstance(a, str) and isinstance(b, str):
                return self._bound(a + b)
            a, b = self._num(a, op), self._num(b, op)
            if op == "**":
                if abs(b) > CONSTRAINT_LIMITS["exponent"]:
                    raise ValueError(f"the exponent {b!r} of '**' is beyond ±{CONSTRAINT_LIMITS['exponent']}")
                r = a**b
                if isinstance(r, complex):
                    raise ValueError(f"{a!r} ** {b!r} is not a real number")
                return self._bound(r)
            return self._bound(_BINFN[op](a, b))
        if isinstance(node, ast.Compare):
            left = ev(node.left, env)
            for op, sub in zip(node.ops, node.comparators, strict=True):
                right = ev(sub, env)
                if isinstance(op, (ast.In, ast.NotIn)):
                    if not isinstance(right, (str, list, tuple)):
                        raise TypeError(f"'in' needs a string or a list on its right, not {right!r}")
                    if isinstance(right, str) and not isinstance(left, str):
                        raise TypeError(f"'in' a string needs a string on its left, not {left!r}")
                    ok = (left in right) == isinstance(op, ast.In)
                else:
                    ok = _CMPFN[type(op)](left, right)
                if not ok:
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return ev(node.body, env) if ev(node.test, env) else ev(node.orelse, env)
        if isinstance(node, ast.List):
            return [ev(e, env) for e in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(ev(e, env) for e in node.elts)
        # a call: checked to be a known function or string method
        args = [ev(a, env) for a in node.args]
        if isinstance(node.func, ast.Name):
            return self._bound(_FUNCTIONS[node.func.id](*args))
        target, meth = ev(node.func.value, env), node.func.attr
        if not isinstance(target, str) or not all(isinstance(a, str) for a in args):
            raise TypeError(f".{meth}() works on strings with string arguments, not {target!r}")
        if meth == "split" and args and not args[0]:
            raise ValueError("split() needs a non-empty separator")
        return self._bound(getattr(str, meth)(target, *args))


# ---- the space --------------------------------------------------------------------------------------------------


def block_parameters(block: str) -> tuple[str, ...]:
    """The parameter names a sweep of ``block`` may set: the fields of its parameter dataclass (e.g.
    :class:`npegen.models.int_mac.IntMacParams`) and :data:`ESTIMATOR_KEYS`."""
    return _spec(block).parameters + ESTIMATOR_KEYS


def _params_class(block: str):
    return _spec(block).params_class


def _is_range(v) -> bool:
    return isinstance(v, Mapping) and "low" in v and "high" in v


def _is_real(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _check_value(key: str, v, nested: bool = False) -> None:
    """A single parameter value: a finite number, a bool, None, a short string, or (one level) a short list of
    those."""
    if v is None or isinstance(v, (bool, np.bool_)):
        return
    if _is_real(v):
        if not math.isfinite(v) or abs(v) > 2**63:
            raise ValueError(f"parameter {key!r}: value {v!r} is not a finite number within ±2**63")
        return
    if isinstance(v, str):
        if len(v) > CONSTRAINT_LIMITS["string"]:
            raise ValueError(f"parameter {key!r}: a string value longer than {CONSTRAINT_LIMITS['string']} "
                             "characters")
        return
    if isinstance(v, (list, tuple)) and not nested:
        if len(v) > 64:
            raise ValueError(f"parameter {key!r}: a list value of more than 64 items")
        for x in v:
            _check_value(key, x, nested=True)
        return
    raise TypeError(f"parameter {key!r}: value {_short(v, 60)} is not a number, string, boolean, null"
                    + ("" if nested else " or a list of those"))


def _check_estimator_value(key: str, v) -> None:
    if key == "workload":
        from .workloads import WORKLOADS

        if not isinstance(v, str) or v not in WORKLOADS:
            raise ValueError(f"parameter 'workload': unknown workload {_short(v, 60)}; see 'npegen workloads'")
    elif key == "precision":
        if not isinstance(v, str):
            raise TypeError(f"parameter 'precision' must be a format name, not {v!r}")
    elif key == "count":
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"parameter 'count' must be a positive integer, not {v!r}")
    elif not _is_real(v) or not v > 0:
        raise ValueError(f"parameter {key!r} must be a positive number, not {v!r}")


@dataclass(frozen=True)
class Space:
    """A design space.

    Parameters
    ----------
    name : str
        A plain name (letters, digits, ``_ - .``, at most 64 characters, not starting with ``.`` or ``-``): the
        CLI's default store is ``build/sweeps/<name>``.
    block : str
        A block of the registry (:func:`npegen.blocks.sweep_names`: ``int-mac``, ``simd-mac``, ``ternary``,
        ``ramp-adc`` and any registered since).
    params : mapping
        Generator parameters of the block (the fields of its parameter dataclass, e.g. ``stages``, ``lanes``,
        ``packing``, ``n_bits``) and estimator parameters (:data:`ESTIMATOR_KEYS`: ``workload``, ``count``,
        ``dram_gbps``, ...): a value, a list of values, or a range mapping ``{low, high, int, log}``.
    sampler : {"grid", "random", "lhs"}
    samples : int
        Points drawn by the random and Latin-hypercube samplers, 1..``max_points``.
    seed : int
        0 <= seed < 2**63.
    constraints : str or sequence of str
        Expressions in the constraint language of this module (never executed as Python).
    verify : bool
        Also run the block's quick cocotb tests for each point (its registry entry's verify function and
        quick tests, unless :func:`run_sweep` is given another ``verifier``).
    max_points : int
        Cap on the points (grid size or samples), :data:`MAX_POINTS` by default. Not part of a sweep file: the
        CLI's ``--max-points`` sets it.

    Raises
    ------
    TypeError, ValueError
        Any field of the wrong kind or out of range, an unknown parameter, a constraint outside the grammar, or
        more points than ``max_points``; the message names the value and what is allowed.
    """

    name: str
    block: str
    params: Mapping = field(default_factory=dict)
    sampler: str = "grid"
    samples: int = 16
    seed: int = 0
    constraints: tuple[str, ...] = ()
    verify: bool = False
    max_points: int = field(default=MAX_POINTS, compare=False, repr=False)

    def __post_init__(self) -> None:  # noqa: C901 - one check per field
        mp = self.max_points
        if isinstance(mp, bool) or not isinstance(mp, int) or not 1 <= mp <= _MAX_POINTS_CEILING:
            raise ValueError(f"max_points must be an integer in [1, {_MAX_POINTS_CEILING}], not {mp!r}")
        if not isinstance(self.name, str):
            raise TypeError(f"sweep name must be a string, not {_short(self.name, 60)}")
        if not _NAME_RE.fullmatch(self.name):
            raise ValueError(f"sweep name must be a plain name (letters, digits, '_', '-', '.', at most 64 "
                             f"characters, not starting with '.' or '-'), not {_short(self.name, 80)}")
        _spec(self.block)  # a ValueError naming the sweepable blocks
        if not isinstance(self.sampler, str) or self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, not {_short(self.sampler, 60)}")
        hi = mp if self.sampler != "grid" else max(mp, MAX_POINTS)  # (the grid ignores samples)
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or not 1 <= self.samples <= hi:
            raise ValueError(f"samples must be an integer in [1, {hi}], not {_short(self.samples, 60)}"
                             + (" (the point limit; raise it with --max-points)" if isinstance(self.samples, int)
                                and not isinstance(self.samples, bool) and self.samples > hi else ""))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be an integer in [0, 2**63), not {_short(self.seed, 60)}")
        if not isinstance(self.verify, bool):
            raise TypeError(f"verify must be true or false, not {_short(self.verify, 60)}")
        if not isinstance(self.params, Mapping):
            raise TypeError(f"params must be a mapping of name to values, not {_short(self.params, 60)}")
        allowed = block_parameters(self.block)
        for k in self.params:
            if not isinstance(k, str) or k not in allowed:
                raise ValueError(f"unknown parameter {_short(k, 60)} for a {self.block} sweep; "
                                 f"allowed: {', '.join(allowed)}")
        object.__setattr__(self, "params", dict(self.params))
        n = self.size()  # counted before the values are checked one by one, let alone combined
        if n > mp:
            what = "grid has" if self.sampler == "grid" else "sample has"
            raise ValueError(f"sweep {self.name!r}: the {what} {n:,} points, more than the limit of {mp:,}; "
                             "raise it with --max-points N (Space(max_points=N))")
        for k, v in self.params.items():
            self._check_param(k, v)
        cons = self.constraints
        if cons is None:
            cons = ()
        elif isinstance(cons, str):
            cons = (cons,)
        elif not isinstance(cons, (list, tuple)):
            raise TypeError(f"constraints must be a string or a list of strings, not {_short(cons, 60)}")
        if len(cons) > CONSTRAINT_LIMITS["constraints"]:
            raise ValueError(f"a sweep has at most {CONSTRAINT_LIMITS['constraints']} constraints, not {len(cons)}")
        parsed = tuple(Constraint(c, self.params) for c in cons)
        object.__setattr__(self, "constraints", tuple(cons))
        object.__setattr__(self, "_parsed", parsed)
        work, budget = n * sum(c.nodes for c in parsed), _CONSTRAINT_WORK_PER_POINT * mp
        if work > budget:
            raise ValueError(f"sweep {self.name!r}: {len(parsed)} constraints of {sum(c.nodes for c in parsed)} "
                             f"syntax nodes on {n:,} points is {work:,} node evaluations, more than the limit of "
                             f"{budget:,} ({_CONSTRAINT_WORK_PER_POINT} per allowed point); simplify the "
                             "constraints or the space")

    def _check_param(self, k: str, v) -> None:
        est = k in ESTIMATOR_KEYS
        if isinstance(v, Mapping):
            if not _is_range(v) or set(v) - _RANGE_KEYS:
                raise ValueError(f"parameter {k!r}: a mapping must be a range with keys low, high and optionally "
                                 f"int, log; not {_short(dict(v), 80)}")
            if self.sampler == "grid":
                raise ValueError(f"parameter {k!r} is a range: the grid sampler needs a list of values")
            lo, hi = v["low"], v["high"]
            if not (_is_real(lo) and _is_real(hi) and math.isfinite(lo) and math.isfinite(hi) and lo <= hi
                    and abs(lo) <= 2**53 and abs(hi) <= 2**53):
                raise ValueError(f"parameter {k!r}: a range needs finite numbers low <= high within ±2**53, "
                                 f"not {_short(dict(v), 80)}")
            for flag in ("int", "log"):
                if not isinstance(v.get(flag, False), bool):
                    raise TypeError(f"parameter {k!r}: range {flag!r} must be true or false, not {v[flag]!r}")
            if v.get("log") and lo <= 0:
                raise ValueError(f"parameter {k!r}: a log range needs low > 0, not {lo!r}")
            if est and k in ("workload", "precision"):
                raise ValueError(f"parameter {k!r} takes names, not a range")
            if k == "count" and not v.get("int"):
                raise ValueError("parameter 'count': a range of counts needs int: true")
            if est and k != "count" and not lo > 0:
                raise ValueError(f"parameter {k!r} must be a positive number, not a range from {lo!r}")
            return
        values = v if isinstance(v, (list, tuple)) else [v]
        if not values:
            raise ValueError(f"parameter {k!r} has an empty list of values")
        if len(values) > self.max_points:  # the choices of a random/lhs sample (a grid is counted above)
            raise ValueError(f"parameter {k!r} has {len(values):,} values, more than the point limit "
                             f"{self.max_points:,}")
        for x in values:
            _check_value(k, x)
            if est:
                _check_estimator_value(k, x)

    def size(self) -> int:
        """The number of points drawn before the constraints (the grid's size or ``samples``), counted without
        building any point."""
        if self.sampler != "grid":
            return self.samples
        return math.prod(len(v) if isinstance(v, (list, tuple)) else 1 for v in self.params.values())

    @classmethod
    def from_dict(cls, d: Mapping, *, max_points: int = MAX_POINTS) -> Space:
        """A space from a mapping with the keys of a sweep file (``name``, ``block``, ``params``, ``sampler``,
        ``samples``, ``seed``, ``constraints``, ``verify``)."""
        if not isinstance(d, Mapping):
            raise TypeError(f"a sweep is a mapping (name, block, params, ...), not {_short(d, 60)}")
        unknown = sorted(repr(k) for k in d if k not in _SPACE_KEYS)
        if unknown:
            raise ValueError(f"unknown sweep key(s) {', '.join(unknown)[:80]}; allowed: "
                             f"{', '.join(_SPACE_KEYS)}")
        if "name" not in d or "block" not in d:
            raise ValueError("a sweep needs a name and a block")
        return cls(**d, max_points=max_points)

    @classmethod
    def load(cls, path, *, max_points: int = MAX_POINTS) -> Space:
        """A space from a YAML or JSON file (at most 1 MiB)."""
        p = Path(path)
        try:
            if not p.is_file():
                raise ValueError(f"no sweep file {str(p)!r}")
            if p.stat().st_size > _MAX_FILE_BYTES:
                raise ValueError(f"{p}: a sweep file is at most {_MAX_FILE_BYTES} bytes")
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read the sweep file {str(p)!r}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{p}: not a UTF-8 text file") from None
        try:
            if p.suffix in (".yaml", ".yml"):
                import yaml

                try:
                    data = yaml.safe_load(text)
                except yaml.YAMLError as exc:
                    raise ValueError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
            else:
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{p}: not valid JSON ({exc})") from None
        except (RecursionError, MemoryError):
            raise ValueError(f"{p}: nested too deeply to read") from None
        if not isinstance(data, Mapping):
            raise ValueError(f"{p}: a sweep file is a mapping (name, block, params, ...)")
        try:
            return cls.from_dict(data, max_points=max_points)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{p}: {exc}") from None

    def _ok(self, point: dict) -> bool:
        return all(c(point) for c in self._parsed)

    def points(self) -> list[dict]:
        """The points of the space (after the constraints), in a reproducible order.

        Raises
        ------
        ValueError
            A constraint cannot be evaluated on a point (the message names both).
        """
        cached = self.__dict__.get("_points")
        if cached is not None:
            return [dict(p) for p in cached]
        keys = list(self.params)
        vals = [v if (isinstance(v, (list, tuple)) or _is_range(v)) else [v] for v in self.params.values()]
        if self.sampler == "grid":
            pts = (dict(zip(keys, combo, strict=True)) for combo in itertools.product(*vals))
        else:
            rng = np.random.default_rng(self.seed)
            n, d = self.samples, len(keys)
            if self.sampler == "random":
                u = rng.random((n, d))
            else:
                from scipy.stats import qmc

                u = qmc.LatinHypercube(d=max(d, 1), seed=rng).random(n)[:, :d]
            pts = []
            for row in u:
                p = {}
                for k, v, x in zip(keys, vals, row, strict=True):
                    if _is_range(v):
                        lo, hi = float(v["low"]), float(v["high"])
                        val = math.exp(math.log(lo) + x * (math.log(hi) - math.log(lo))) if v.get("log") \
                            else lo + x * (hi - lo)
                        p[k] = int(round(val)) if v.get("int") else val
                    else:
                        p[k] = v[min(int(x * len(v)), len(v) - 1)]
                pts.append(p)
        out, seen = [], set()
        for p in pts:
            k = point_key(self.block, p)
            if k not in seen and self._ok(p):
                seen.add(k)
                out.append(p)
        object.__setattr__(self, "_points", out)
        return [dict(p) for p in out]

    def to_dict(self) -> dict:
        """The sweep-file form of the space (what ``space.json`` holds)."""
        return {k: (list(getattr(self, k)) if k == "constraints" else getattr(self, k)) for k in _SPACE_KEYS}


def point_key(block: str, point: Mapping) -> str:
    return hashlib.sha256(json.dumps([block, point], sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---- one point ----------------------------------------------------------------------------------------------


def _block_design(block: str, gen: dict, est: dict):
    """(registry entry, design point, Design or None) of one point."""
    spec = _spec(block)
    p = spec.new_params(gen)
    return spec, p, (spec.design(p, est.get("count")) if spec.design is not None else None)


def _quick_verify(block: str, params) -> int:
    """The default verifier: the block's quick cocotb tests (module-level, so worker processes unpickle it)."""
    return _blocks().quick_verify(block, params)


def evaluate_point(block: str, point: Mapping, verifier: Callable | None = None) -> dict:
    """Generate, synthesise, (verify,) and estimate one point: a flat dict of metrics. Raises on bad input."""
    from dataclasses import replace

    from ..flow import synthesise
    from .estimator import Memory, Tech, estimate
    from .workloads import get_workload

    point = dict(point)
    est = {k: point.pop(k) for k in list(point) if k in ESTIMATOR_KEYS}
    spec, params, design = _block_design(block, point, est)
    rep = synthesise(spec, params, quiet=True)
    m = {"tag": params.tag, "latency": params.latency, "cells": rep.cells, "transistors": rep.transistors,
         "luts": rep.luts, "ffs": rep.ffs, "synth_s": rep.seconds, "synth_cached": rep.cached}
    if verifier is not None:
        res = verifier(block, params)
        m["verified_tests"] = res
    if design is None:  # the estimator does not know this block (yet): synthesis (and verification) only
        return m
    tech = replace(design.tech, **{k: float(est[k]) for k in ("clock_mhz", "node_nm") if k in est}) \
        if {"clock_mhz", "node_nm"} & set(est) else design.tech
    mem = design.memory
    if {"dram_gbps", "sram_kib"} & set(est):
        mem = Memory(sram_kib=float(est.get("sram_kib", mem.sram_kib)),
                     sram_bytes_per_cycle=mem.sram_bytes_per_cycle,
                     dram_gbps=float(est.get("dram_gbps", mem.dram_gbps)))
    design = replace(design, tech=Tech(tech.node_nm, tech.vdd, tech.clock_mhz), memory=mem,
                     areas=((spec.area_kind, rep.transistors),))
    wl = get_workload(est.get("workload", spec.workload))
    if "precision" in est:  # the number-format layers only (ternary and analog layers stay where they are)
        from .workloads import is_format_precision

        wl = replace(wl, layers=tuple(ly.with_precision(est["precision"]) if is_format_precision(ly.precision)
                                      else ly for ly in wl.layers))
    r = estimate(design, wl)
    s = r.summary
    m.update({"workload": wl.name, "runs_per_s": float(s["runs_per_s"]),
              "energy_per_run_J": float(s["energy_per_run_J"]),
              "energy_per_op_pJ": float(s["energy_per_run_J"]) * 1e12 / (2 * wl.macs),
              "power_W": float(s["power_W_at_max_rate"]), "TOPS_per_W": float(s["TOPS_per_W"]),
              "area_mm2": float(s["area_mm2"]), "GOPS_per_mm2": float(s["GOPS_per_mm2"]),
              "GOPS": float(s["GOPS"])})
    return m


def _run_one(block: str, point: dict, verifier) -> dict:
    """Worker entry: never raises, the error travels back as data."""
    t0 = time.perf_counter()
    try:
        metrics = evaluate_point(block, point, verifier)
        status, err = "ok", ""
    except Exception as exc:  # a bad point is a result, not the end of the sweep
        metrics, status = {}, "error"
        err = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if not isinstance(exc, (TypeError, ValueError)):
            err += " | " + traceback.format_exc(limit=2).strip().splitlines()[-1]
    return {"key": point_key(block, point), "status": status, "error": err,
            "seconds": round(time.perf_counter() - t0, 3), "worker": f"{os.uname().nodename}:{os.getpid()}",
            "params": json.dumps(point, sort_keys=True, default=str), "metrics": json.dumps(metrics, default=str)}


# ---- the store ------------------------------------------------------------------------------------------------


class SweepStoreError(ValueError):
    """The store directory cannot be used: not a directory, not writable, not a sweep store, or in use by another
    sweep. The message names the store."""


def _valid_row(row: dict) -> bool:
    # a row cut short by a kill has missing fields or broken JSON: it is not finished
    if None in row or None in row.values() or any(k not in row for k in _COLUMNS):
        return False
    try:
        float(row["seconds"])
        return isinstance(json.loads(row["params"]), dict) and isinstance(json.loads(row["metrics"]), dict)
    except (ValueError, TypeError, RecursionError):
        return False


def _read_store(path: Path) -> tuple[list[dict], int]:
    """(the finished rows, the first of each key; how many duplicate rows were dropped)."""
    if not path.exists():
        return [], 0
    if not path.is_file():
        raise SweepStoreError(f"sweep store {path} is not a file")
    rows, seen, dup = [], set(), 0
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is not None and list(reader.fieldnames) != _COLUMNS:
                raise SweepStoreError(f"{path} is not a sweep store (its header is not {','.join(_COLUMNS)})")
            for row in reader:
                if not _valid_row(row):
                    continue
                if row["key"] in seen:
                    dup += 1
                    continue
                seen.add(row["key"])
                rows.append(row)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise SweepStoreError(f"{path} is not a readable sweep store ({exc})") from None
    except OSError as exc:
        raise SweepStoreError(f"cannot read the sweep store {path}: {exc.strerror or exc}") from None
    return rows, dup


def _read_rows(path: Path) -> list[dict]:
    return _read_store(path)[0]


def _dropped_message(path, n: int) -> str:
    return f"sweep store {path}: dropped {n} duplicate row(s), keeping the first row of each point"


def load_results(path) -> pd.DataFrame:
    """The store at ``path`` (a sweep's ``results.csv``) as a DataFrame: one row per finished point, its
    parameters and metrics as columns.

    A point stored more than once (two sweeps that ran on one store before stores were locked) keeps its first
    row; the number dropped is in ``df.attrs["duplicates_dropped"]`` and reported with a :class:`SweepWarning`.

    Raises
    ------
    SweepStoreError
        ``path`` is not a readable sweep store.
    """
    path = Path(path)
    rows, dup = _read_store(path)
    if dup:
        warnings.warn(_dropped_message(path, dup), SweepWarning, stacklevel=2)
    recs = []
    for r in rows:
        rec = {"key": r["key"], "status": r["status"], "error": r["error"], "seconds": float(r["seconds"]),
               "worker": r["worker"]}
        params = json.loads(r["params"])
        rec.update(params)
        rec.update({(f"{k}_result" if k in params else k): v for k, v in json.loads(r["metrics"]).items()})
        recs.append(rec)
    df = pd.DataFrame(recs)
    df.attrs["duplicates_dropped"] = dup
    return df


def _atomic_write(path: Path, write) -> None:
    """``path`` holds either its old content or all of ``write`` (text, or ``write(tmp)``), never a part (a kill or
    Ctrl-C included): :func:`npegen.flow.write_atomic`."""
    from ..flow import write_atomic

    write_atomic(path, write)


def _append(path: Path, row: dict) -> None:
    new = not path.is_file() or path.stat().st_size == 0
    if not new:
        _drop_partial_row(path)
    with open(path, "a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=_COLUMNS)
        if new:
            w.writeheader()
        w.writerow(row)
        f.flush()
        os.fsync(f.fileno())


def _drop_partial_row(path: Path) -> None:
    """A previous run killed mid-write may have left a row without its newline (perhaps inside a quoted field):
    cut the file back to its last newline, so the next row starts clean."""
    with open(path, "rb+") as f:
        end = f.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:
            step = min(pos, 1 << 16)
            f.seek(pos - step)
            i = f.read(step).rfind(b"\n")
            if i >= 0:
                pos = pos - step + i + 1
                break
            pos -= step
        if pos != end:
            f.truncate(pos)
            f.flush()
            os.fsync(f.fileno())


def _compact(path: Path, rows: list[dict]) -> None:
    import io

    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=_COLUMNS)
    w.writeheader()
    w.writerows({k: r[k] for k in _COLUMNS} for r in rows)
    _atomic_write(path, buf.getvalue())


#: Lock descriptors this process holds: closed in every forked child (the process pool's workers), so a worker
#: that outlives a killed sweep never keeps its store locked (an flock belongs to the open file, which a fork
#: shares).
_HELD_LOCK_FDS: set[int] = set()


def _close_held_locks_in_child() -> None:
    for fd in list(_HELD_LOCK_FDS):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_LOCK_FDS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_locks_in_child)


class _StoreLock:
    """An exclusive, non-blocking ``flock`` on ``DIR/.lock`` holding the owner's pid, for one sweep at a time
    (not inherited by the worker processes the sweep forks)."""

    def __init__(self, out: Path):
        self.out = out
        self.fd = None

    def __enter__(self):
        try:
            fd = os.open(self.out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SweepStoreError(f"cannot write the sweep store {self.out}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            except OSError:
                pid = ""
            os.close(fd)
            holder = f" (pid {pid})" if pid.isdigit() else ""
            raise SweepStoreError(f"sweep store {self.out} is in use by another sweep{holder}; wait for it to finish "
                                  "or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        _HELD_LOCK_FDS.add(fd)
        return self

    def __exit__(self, *exc) -> None:
        _HELD_LOCK_FDS.discard(self.fd)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _prepare_store(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SweepStoreError(f"sweep store {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SweepStoreError(f"cannot create the sweep store {out}: {exc.strerror or exc}") from None
    for name in ("results.csv", "space.json"):
        if (out / name).exists() and not (out / name).is_file():
            raise SweepStoreError(f"sweep store {out}: {name} is not a file")
    if not os.access(out, os.W_OK | os.X_OK):
        raise SweepStoreError(f"cannot write the sweep store {out}: permission denied")


def _synth_only(block: str, gen: dict) -> None:
    """Synthesise one engine configuration into the cache (errors are left to the points to report)."""
    from ..flow import synthesise

    try:
        spec, params, _ = _block_design(block, dict(gen), {})
        synthesise(spec, params, quiet=True)
    except Exception:  # noqa: S110 - the point's own evaluation records the error
        pass


def _worker_init() -> None:
    """Local workers leave Ctrl-C to the sweep process, which stops them (no traceback from every worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _local_executor(workers: int) -> Executor:
    return ProcessPoolExecutor(max_workers=workers, initializer=_worker_init)


def _stop_workers(executor: Executor) -> None:
    stop = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if stop is not None:
        stop()
        return
    for proc in list((getattr(executor, "_processes", None) or {}).values()):
        proc.terminate()


def run_sweep(space: Space, out, *, executor: Executor | None = None, workers: int | None = None,
              verifier: Callable | None = None, progress: bool = True, retry_errors: bool = False) -> pd.DataFrame:
    """Run every point of ``space`` that ``out/results.csv`` does not hold yet; return all results.

    Parameters
    ----------
    space : Space
    out : path
        Directory of the store (``results.csv``), the space (``space.json``) and the lock (``.lock``).
    executor : concurrent.futures.Executor, optional
        Where points run; default a local process pool of ``workers`` (default: CPU count) processes.
        For Dask: ``distributed.Client(address).get_executor()``.
    workers : int, optional
        1..1024.
    verifier : callable, optional
        ``verifier(block, params) -> tests passed``, a picklable module-level function, called when
        ``space.verify`` is set; default: the block's quick cocotb tests from its registry entry
        (:func:`npegen.blocks.quick_verify`).
    progress : bool
        Show a progress bar (tqdm) on stderr; it counts the engine syntheses and the points.
    retry_errors : bool
        Run the points recorded with an error again (a killed synthesis, say); by default an error is a
        result like any other.

    Each distinct engine configuration is synthesised once, before the points that share it run (points
    that differ only in estimator parameters reuse the synthesis cache). The store is locked for the whole
    run; duplicate rows found in it are dropped (the first row of each point kept, a :class:`SweepWarning`
    says how many). On ``KeyboardInterrupt`` the local workers are stopped and the interrupt re-raised: every
    row in the store is a whole finished point.

    Returns
    -------
    pandas.DataFrame
        Every finished point of the space (earlier runs included), in the space's order.

    Raises
    ------
    TypeError
        ``space`` is not a :class:`Space`.
    ValueError
        A constraint fails on a point, or ``workers`` is out of range.
    SweepStoreError
        ``out`` cannot be used as a store (not a directory, not writable, not a sweep store, in use).
    """
    if not isinstance(space, Space):
        raise TypeError(f"space must be a npegen Space, not {space!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 1024):
        raise ValueError(f"workers must be an integer in [1, 1024], not {workers!r}")
    pts = space.points()  # constraint errors before anything is written
    out = Path(out)
    _prepare_store(out)
    store = out / "results.csv"
    with _StoreLock(out):
        rows, dup = _read_store(store)
        if dup:
            _compact(store, rows)
            warnings.warn(_dropped_message(store, dup), SweepWarning, stacklevel=2)
        _atomic_write(out / "space.json", json.dumps(space.to_dict(), indent=1, default=str))
        done = {r["key"] for r in rows if not (retry_errors and r["status"] != "ok")}
        todo = [p for p in pts if point_key(space.block, p) not in done]
        engines = {json.dumps({k: v for k, v in p.items() if k not in ESTIMATOR_KEYS}, sort_keys=True,
                              default=str) for p in todo}
        presynth = len(engines) < len(todo)  # several points per engine: synthesise each engine once, first
        verifier = (verifier or _quick_verify) if space.verify else None
        _run_points(space, todo, len(pts), sorted(engines) if presynth else [], store, executor, workers, verifier,
                    progress)
        df = load_results(store)
    order = {point_key(space.block, p): i for i, p in enumerate(pts)}
    if df.empty:
        return df
    df = df[df["key"].isin(order)].copy()
    df["_o"] = df["key"].map(order)
    return df.sort_values("_o").drop(columns="_o").reset_index(drop=True)


def _run_points(space: Space, todo: list[dict], n_points: int, engines: list[str], store: Path,
                executor: Executor | None, workers: int | None, verifier, progress: bool) -> None:
    own = executor is None
    if own:
        executor = _local_executor(workers or os.cpu_count() or 1)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_points + len(engines), initial=n_points - len(todo), unit="step",
                   desc=f"sweep {space.name}: synthesising {len(engines)} engine(s)" if engines
                   else f"sweep {space.name}")
    futs, interrupted = [], False
    try:
        if engines:
            futs = [executor.submit(_synth_only, space.block, json.loads(e)) for e in engines]
            for fut in as_completed(futs):
                fut.result()
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.set_description(f"sweep {space.name}")
        futs = [executor.submit(_run_one, space.block, p, verifier) for p in todo]
        for fut in as_completed(futs):
            row = fut.result()
            try:
                _append(store, row)
            except OSError as exc:
                raise SweepStoreError(f"cannot write the sweep store {store}: {exc.strerror or exc}") from None
            if bar is not None:
                bar.update(1)
                if row["status"] != "ok":
                    bar.write(f"point {row['params']}: {row['error']}")
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if bar is not None:
            bar.close()
        if own:
            if interrupted:  # stop them first: the pool then fails the pending futures itself (cancelling them
                _stop_workers(executor)  # too trips Python 3.11's manager thread)
            executor.shutdown(wait=True, cancel_futures=not interrupted)
        else:
            for fut in futs:
                fut.cancel()


# ---- Pareto -----------------------------------------------------------------------------------------------------


def pareto_mask(df: pd.DataFrame, objectives: Mapping[str, str]) -> pd.Series:
    """True for the rows no other row dominates; ``objectives`` maps a column to ``"min"`` or ``"max"``."""
    for c, sense in objectives.items():
        if c not in df.columns:
            raise ValueError(f"no column {c!r} to optimise; columns: {list(df.columns)}")
        if sense not in ("min", "max"):
            raise ValueError(f"objective {c!r} must be 'min' or 'max', not {sense!r}")
    v = np.column_stack([df[c].to_numpy(float) * (1 if s == "min" else -1) for c, s in objectives.items()])
    ok = np.isfinite(v).all(axis=1)
    mask = np.zeros(len(df), dtype=bool)
    for i in np.flatnonzero(ok):
        others = v[ok]
        dominated = ((others <= v[i]).all(axis=1) & (others < v[i]).any(axis=1)).any()
        mask[i] = not dominated
    return pd.Series(mask, index=df.index, name="pareto")


def pareto_plot(df: pd.DataFrame, x: str, y: str, path, *, objectives: Mapping[str, str] | None = None,
                color: str | None = None, label: str | None = None, title: str = "Design space") -> Path:
    """Scatter of ``y`` against ``x`` with the Pareto-optimal points (by ``objectives``, default minimise
    ``x`` and ``y``) coloured and the dominated ones greyed; saved to ``path``."""
    from .plots import subplots

    objectives = objectives or {x: "min", y: "min"}
    ok = df[df.get("status", pd.Series("ok", index=df.index)) == "ok"] if "status" in df else df
    front = pareto_mask(ok, objectives)
    fig, ax = subplots(figsize=(6.5, 4.5))
    dom = ok[~front]
    ax.scatter(dom[x], dom[y], color="0.75", s=25, label="dominated")
    best = ok[front].sort_values(x)
    if color and color in best:
        for val, grp in best.groupby(color):
            ax.scatter(grp[x], grp[y], s=45, label=f"Pareto, {color}={val}")
    else:
        ax.scatter(best[x], best[y], color="tab:red", s=45, label="Pareto-optimal")
    if set(objectives) == {x, y}:  # the front is a staircase in these two axes
        ax.plot(best[x], best[y], color="tab:red", lw=0.8, alpha=0.6)
    if label and label in best:
        for _, r in best.iterrows():
            ax.annotate(str(r[label]), (r[x], r[y]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    _atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png"))
    return path


# ---- running and summarising a sweep (npegen sweep) --------------------------------------------------------------


def connect_dask(address: str):
    """A ``distributed.Client`` of the Dask scheduler at ``address`` (its ``get_executor()`` runs a sweep's points
    on the cluster); a one-line ``ValueError`` when the ``distributed`` package is missing or the scheduler cannot be
    reached within 10 s."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--dask needs the 'distributed' package (pip install distributed)") from None
    try:
        return Client(address, timeout="10s")
    except Exception as exc:  # noqa: BLE001 - any failure to connect is one line
        msg = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"cannot reach the Dask scheduler at {address!r}: {msg}") from None


def pareto_axes(spec: str) -> tuple[str, str]:
    """The metrics ``(x, y)`` of a Pareto plot named ``"X,Y"`` (two of :data:`NUMERIC_METRICS`); a ``ValueError``
    naming the choices otherwise."""
    x, sep, y = str(spec).partition(",")
    if not sep or x not in NUMERIC_METRICS or y not in NUMERIC_METRICS:
        raise ValueError(f"--pareto must be two metrics X,Y from {', '.join(NUMERIC_METRICS)}; not {spec!r}")
    return x, y


def summarize(df: pd.DataFrame, name: str, out, *, pareto: tuple[str, str] = ("area_mm2", "energy_per_op_pJ"),
              seconds: float | None = None) -> tuple[str, int]:
    """What ``npegen sweep`` prints about ``df`` (:func:`run_sweep`'s result for sweep ``name`` in the store ``out``),
    and the number of failed points.

    The text: how many points are ok (in ``seconds``), the failed points' errors, the Pareto plot of the two
    ``pareto`` metrics (written to ``out/pareto.png`` when the ok points have them) and a table of the ok points.
    """
    out = Path(out)
    ok = df[df["status"] == "ok"] if not df.empty else df
    n_bad = len(df) - len(ok)
    took = "" if seconds is None else f" in {seconds:.0f} s"
    lines = [f"{len(ok)} of {len(df)} points ok{took}; results {out / 'results.csv'}"]
    if n_bad:
        lines.append(df[df["status"] != "ok"][["key", "error"]].to_string(index=False))
    if len(ok):
        x, y = pareto
        if x in ok and y in ok:
            lines.append(f"Pareto plot {pareto_plot(ok, x, y, out / 'pareto.png', label='tag', title=f'sweep {name}')}")
        cols = [c for c in ("tag", "transistors", "area_mm2", "runs_per_s", "energy_per_op_pJ", "TOPS_per_W")
                if c in ok]
        lines.append(ok[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return "\n".join(lines), n_bad
