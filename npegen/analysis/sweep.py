"""Design-space sweeps: every point is generated, synthesised and estimated (and optionally verified),
appended to an on-disk store as it finishes, and skipped when the sweep runs again.

A :class:`Space` names a block, its generator parameters and the estimator's parameters; each may be a
list of values (a grid axis, or the choices of a random/Latin-hypercube sample) or a range
``{"low": .., "high": .., "int": true, "log": false}`` (random and Latin-hypercube samplers only).
``constraints`` are Python expressions over the parameter names (``"stages <= 2 or count >= 64"``) that
a point must satisfy.

Execution goes through a :class:`concurrent.futures.Executor`: a local process pool by default, or
Dask distributed (``distributed.Client(address).get_executor()``) for more than one machine. Results are
written by the process that runs :func:`run_sweep` only (one writer), one CSV row per finished point,
flushed and fsync'ed, so a sweep killed at any moment (``kill -9`` included) loses no finished point;
re-running it computes exactly the points that are missing. A point that raises is recorded with its
error message and the sweep goes on.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import os
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Space", "BLOCKS", "SAMPLERS", "evaluate_point", "run_sweep", "load_results", "pareto_mask",
           "pareto_plot"]

#: Blocks a sweep can generate, synthesise and estimate.
BLOCKS = ("simd-mac", "ternary", "ramp-adc", "int-mac")
SAMPLERS = ("grid", "random", "lhs")
#: Estimator parameters a point may set (the rest are generator parameters of the block).
ESTIMATOR_KEYS = ("workload", "count", "dram_gbps", "clock_mhz", "sram_kib", "precision", "node_nm")
_DEFAULT_WORKLOAD = {"simd-mac": "xr.cls_resnet18_cifar", "ternary": "llm.llama32_1b.decode",
                     "ramp-adc": "rnn.kws_lstm_s", "int-mac": "xr.cls_resnet18_cifar"}
_COLUMNS = ["key", "status", "error", "seconds", "worker", "params", "metrics"]


def _is_range(v) -> bool:
    return isinstance(v, Mapping) and "low" in v and "high" in v


@dataclass(frozen=True)
class Space:
    """A design space.

    Parameters
    ----------
    name : str
    block : {"simd-mac", "ternary", "ramp-adc", "int-mac"}
    params : mapping
        Generator parameters of the block (e.g. ``stages``, ``lanes``, ``packing``, ``n_bits``) and
        estimator parameters (:data:`ESTIMATOR_KEYS`: ``workload``, ``count``, ``dram_gbps``, ...): a
        value, a list of values, or a range mapping.
    sampler : {"grid", "random", "lhs"}
    samples : int
        Points drawn by the random and Latin-hypercube samplers.
    seed : int
    constraints : sequence of str
    verify : bool
        Also run the block's quick cocotb tests for each point (needs a ``verifier``, see
        :func:`run_sweep`).
    """

    name: str
    block: str
    params: Mapping = field(default_factory=dict)
    sampler: str = "grid"
    samples: int = 16
    seed: int = 0
    constraints: tuple[str, ...] = ()
    verify: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"sweep name must be a non-empty string, not {self.name!r}")
        if self.block not in BLOCKS:
            raise ValueError(f"sweep block must be one of {BLOCKS}, not {self.block!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, not {self.sampler!r}")
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or not 1 <= self.samples <= 100000:
            raise ValueError(f"samples must be an integer in [1, 100000], not {self.samples!r}")
        if not isinstance(self.params, Mapping):
            raise TypeError(f"params must be a mapping of name to values, not {self.params!r}")
        for k, v in self.params.items():
            if _is_range(v):
                if self.sampler == "grid":
                    raise ValueError(f"parameter {k!r} is a range: the grid sampler needs a list of values")
                if not (isinstance(v["low"], (int, float)) and isinstance(v["high"], (int, float))
                        and v["low"] <= v["high"]):
                    raise ValueError(f"parameter {k!r}: range needs numbers low <= high, not {dict(v)!r}")
            elif isinstance(v, (list, tuple)) and not v:
                raise ValueError(f"parameter {k!r} has an empty list of values")
        object.__setattr__(self, "params", dict(self.params))
        cons = (self.constraints,) if isinstance(self.constraints, str) else tuple(self.constraints)
        for c in cons:
            try:
                compile(c, "<constraint>", "eval")
            except SyntaxError as exc:
                raise ValueError(f"constraint {c!r} is not a Python expression: {exc.msg}") from None
        object.__setattr__(self, "constraints", cons)

    @classmethod
    def from_dict(cls, d: Mapping) -> Space:
        allowed = {"name", "block", "params", "sampler", "samples", "seed", "constraints", "verify"}
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise ValueError(f"unknown sweep key(s) {unknown}; allowed: {sorted(allowed)}")
        if "name" not in d or "block" not in d:
            raise ValueError("a sweep needs a name and a block")
        return cls(**d)

    @classmethod
    def load(cls, path) -> Space:
        """A space from a YAML or JSON file."""
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"no sweep file {str(p)!r}")
        text = p.read_text()
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
        if not isinstance(data, Mapping):
            raise ValueError(f"{p}: a sweep file is a mapping (name, block, params, ...)")
        return cls.from_dict(data)

    def _ok(self, point: dict) -> bool:
        for c in self.constraints:
            try:
                if not eval(c, {"__builtins__": {}, "math": math}, dict(point)):  # noqa: S307 - user's own sweep
                    return False
            except Exception as exc:
                raise ValueError(f"constraint {c!r} failed on {point}: {exc}") from None
        return True

    def points(self) -> list[dict]:
        """The points of the space (after the constraints), in a reproducible order."""
        keys = list(self.params)
        vals = [v if (isinstance(v, (list, tuple)) or _is_range(v)) else [v] for v in self.params.values()]
        if self.sampler == "grid":
            pts = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*vals)]
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
        return out


def point_key(block: str, point: Mapping) -> str:
    return hashlib.sha256(json.dumps([block, point], sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---- one point ----------------------------------------------------------------------------------------------


def _block_design(block: str, gen: dict, est: dict):
    """(component, top, params, Design, engine kind) of one point."""
    from dataclasses import replace

    from .estimator import CrossbarArray, IntMacArray, SimdArray, TernaryArray, default_design

    d = default_design()
    count = est.get("count")
    if block == "simd-mac":
        from ..hw.simd_mac import SimdMac
        from ..models.simd_mac import SimdMacParams

        if "modes" in gen and isinstance(gen["modes"], str):
            gen["modes"] = tuple(m.strip() for m in gen["modes"].split(","))
        p = SimdMacParams(**gen)
        d = replace(d, simd=SimdArray(count=d.simd.count if count is None else count, params=p))
        return SimdMac.from_params(p), "simd_mac", p, d, "simd"
    if block == "ternary":
        from ..hw.ternary import TernaryEngine
        from ..models.ternary import TernaryParams

        p = TernaryParams(**gen)
        d = replace(d, ternary=TernaryArray(count=d.ternary.count if count is None else count, params=p))
        return TernaryEngine.from_params(p), "ternary", p, d, "ternary"
    if block == "ramp-adc":
        from ..hw.ramp_adc import RampAdc
        from ..models.ramp_adc import RampAdcParams

        p = RampAdcParams(**gen)
        xb = CrossbarArray(count=4 if count is None else count, adc_bits=p.n_bits, adc="ramp", cols_per_ramp=p.n_cols)
        d = replace(d, crossbar=xb)
        return RampAdc.from_params(p), "ramp_adc", p, d, "ramp_adc"
    from ..hw.int_mac import IntMac
    from ..models.int_mac import IntMacParams

    p = IntMacParams(**gen)
    d = replace(d, int_mac=IntMacArray(lanes=64 if count is None else count, params=p))
    return IntMac.from_params(p), "int_mac", p, d, "int_mac"


def evaluate_point(block: str, point: Mapping, verifier: Callable | None = None) -> dict:
    """Generate, synthesise, (verify,) and estimate one point: a flat dict of metrics. Raises on bad input."""
    from dataclasses import replace

    from ..hw.synth import synthesize
    from .estimator import Memory, Tech, estimate
    from .workloads import get_workload

    point = dict(point)
    est = {k: point.pop(k) for k in list(point) if k in ESTIMATOR_KEYS}
    comp, top, params, design, kind = _block_design(block, point, est)
    rep = synthesize(comp, top=top, tag=params.tag, quiet=True)
    m = {"tag": params.tag, "latency": params.latency, "cells": rep.cells, "transistors": rep.transistors,
         "luts": rep.luts, "ffs": rep.ffs, "synth_s": rep.seconds, "synth_cached": rep.cached}
    if verifier is not None:
        res = verifier(block, params)
        m["verified_tests"] = res
    tech = replace(design.tech, **{k: float(est[k]) for k in ("clock_mhz", "node_nm") if k in est}) \
        if {"clock_mhz", "node_nm"} & set(est) else design.tech
    mem = design.memory
    if {"dram_gbps", "sram_kib"} & set(est):
        mem = Memory(sram_kib=float(est.get("sram_kib", mem.sram_kib)),
                     sram_bytes_per_cycle=mem.sram_bytes_per_cycle,
                     dram_gbps=float(est.get("dram_gbps", mem.dram_gbps)))
    areas = {kind: rep.transistors}
    design = replace(design, tech=Tech(tech.node_nm, tech.vdd, tech.clock_mhz), memory=mem,
                     areas=tuple(areas.items()))
    wl = get_workload(est.get("workload", _DEFAULT_WORKLOAD[block]))
    if "precision" in est:  # the SIMD-engine layers only (ternary and analog layers stay where they are)
        from .estimator import SIMD_PRECISIONS

        wl = replace(wl, layers=tuple(ly.with_precision(est["precision"]) if ly.precision in SIMD_PRECISIONS
                                      else ly for ly in wl.layers))
    r = estimate(design, wl)
    s = r.summary
    m.update({"workload": wl.name, "runs_per_s": float(s[f"{s['unit']}s_per_s"]),
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


def _read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            # a row cut short by a kill has missing fields or broken JSON: it is not finished, drop it
            if None in row.values() or any(k not in row for k in _COLUMNS):
                continue
            try:
                json.loads(row["params"])
                json.loads(row["metrics"])
            except (json.JSONDecodeError, TypeError):
                continue
            rows.append(row)
    return rows


def load_results(path) -> pd.DataFrame:
    """The store at ``path`` (a sweep's ``results.csv``) as a DataFrame: one row per finished point, its
    parameters and metrics as columns."""
    rows = _read_rows(Path(path))
    recs = []
    for r in rows:
        rec = {"key": r["key"], "status": r["status"], "error": r["error"], "seconds": float(r["seconds"]),
               "worker": r["worker"]}
        params = json.loads(r["params"])
        rec.update(params)
        rec.update({(f"{k}_result" if k in params else k): v for k, v in json.loads(r["metrics"]).items()})
        recs.append(rec)
    return pd.DataFrame(recs)


def _append(path: Path, row: dict) -> None:
    new = not path.is_file() or path.stat().st_size == 0
    if not new:  # a previous run may have been killed mid-line: start on a fresh line
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                with open(path, "a") as g:
                    g.write("\n")
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=_COLUMNS)
        if new:
            w.writeheader()
        w.writerow(row)
        f.flush()
        os.fsync(f.fileno())


def _synth_only(block: str, gen: dict) -> None:
    """Synthesise one engine configuration into the cache (errors are left to the points to report)."""
    from ..hw.synth import synthesize

    try:
        comp, top, params, _, _ = _block_design(block, dict(gen), {})
        synthesize(comp, top=top, tag=params.tag, quiet=True)
    except Exception:  # noqa: S110 - the point's own evaluation records the error
        pass


def run_sweep(space: Space, out, *, executor: Executor | None = None, workers: int | None = None,
              verifier: Callable | None = None, progress: bool = True, retry_errors: bool = False) -> pd.DataFrame:
    """Run every point of ``space`` that ``out/results.csv`` does not hold yet; return all results.

    Parameters
    ----------
    space : Space
    out : path
        Directory of the store (``results.csv``) and the space (``space.json``).
    executor : concurrent.futures.Executor, optional
        Where points run; default a local process pool of ``workers`` (default: CPU count) processes.
        For Dask: ``distributed.Client(address).get_executor()``.
    verifier : callable, optional
        ``verifier(block, params) -> tests passed``, a picklable module-level function, called when
        ``space.verify`` is set (the CLI passes the cocotb testbenches).
    progress : bool
        Show a progress bar (tqdm) on stderr.
    retry_errors : bool
        Run the points recorded with an error again (a killed synthesis, say); by default an error is a
        result like any other.

    Each distinct engine configuration is synthesised once, before the points that share it run (points
    that differ only in estimator parameters reuse the synthesis cache).

    Returns
    -------
    pandas.DataFrame
        Every finished point of the space (earlier runs included), in the space's order.
    """
    if not isinstance(space, Space):
        raise TypeError(f"space must be a npegen Space, not {space!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / "results.csv"
    (out / "space.json").write_text(json.dumps({**space.__dict__, "constraints": list(space.constraints)},
                                               indent=1, default=str))
    pts = space.points()
    done = {r["key"] for r in _read_rows(store) if not (retry_errors and r["status"] != "ok")}
    todo = [p for p in pts if point_key(space.block, p) not in done]
    engines = {json.dumps({k: v for k, v in p.items() if k not in ESTIMATOR_KEYS}, sort_keys=True, default=str)
               for p in todo}
    if verifier is not None and not space.verify:
        verifier = None
    own = executor is None
    if own:
        executor = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pts), initial=len(pts) - len(todo), desc=f"sweep {space.name}", unit="point")
    try:
        if len(engines) < len(todo):  # several points per engine: synthesise each engine once, first
            for fut in as_completed([executor.submit(_synth_only, space.block, json.loads(e)) for e in engines]):
                fut.result()
        futs = [executor.submit(_run_one, space.block, p, verifier) for p in todo]
        for fut in as_completed(futs):
            row = fut.result()
            _append(store, row)
            if bar is not None:
                bar.update(1)
                if row["status"] != "ok":
                    bar.write(f"point {row['params']}: {row['error']}")
    finally:
        if bar is not None:
            bar.close()
        if own:
            executor.shutdown(cancel_futures=True)
    df = load_results(store)
    order = {point_key(space.block, p): i for i, p in enumerate(pts)}
    if df.empty:
        return df
    df = df[df["key"].isin(order)].copy()
    df["_o"] = df["key"].map(order)
    return df.sort_values("_o").drop(columns="_o").reset_index(drop=True)


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
    fig.savefig(path, dpi=110)
    return path
