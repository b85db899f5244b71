"""cocotb testbench of :class:`npegen.hw.formats.Decoder` and :class:`~npegen.hw.formats.Encoder`,
bit-exact against :meth:`Format.decompose` and :meth:`Format.encode_fields`.

Environment: ``PARAM_FORMAT`` (a :func:`npegen.models.formats.parse` spec), ``PARAM_UNIT``
(``decoder`` or ``encoder``), ``PARAM_FRAC_IN`` and ``PARAM_SCALE_BITS`` (encoder), ``NPEGEN_SEED``,
``NPEGEN_N`` (encoder: at most this many structured vectors, a seeded random subset when there are more;
default 65,536; 0 = all).

Both units are combinational (latency 0): each vector is applied through a
:class:`~npegen.sim.stream.StreamDriver` over the unit's input ports and sampled 1 ns later through a
:class:`~npegen.sim.stream.StreamMonitor` over its output ports (:func:`~npegen.sim.stream.apply`), both
packing with layouts built from the unit's own port shapes (``NPEGEN_PORTS``), so no test waits for a result
and none can hang.

Tests
-----
test_decoder_all_codes
    Every code of the format (65,536 for Posit(16,1)) against the model; then the reserved and special
    codes of :func:`decoder_spec_table` (posit 0 and NaR, FP4 -0, INT most negative, the extremes)
    against their documented fields, written from the format definitions rather than the model.
test_encoder_structured
    :func:`encoder_stimulus`: every representable value, every rounding boundary (midpoint), each
    with the last ``frac_in`` bit moved by -1/+1 or the sticky bit set, both signs; scales beyond both
    ends (saturation); zero and NaR flags; random fill. Then the special inputs of
    :func:`encoder_spec_table` (NaR over zero, signed zeros, saturation, never-to-zero, ties and sticky)
    against their documented codes.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from ..models.formats import FP4E2M1, Format, Int, Minifloat, Posit, parse
from .stream import StreamDriver, StreamMonitor, apply
from .util import Ports, rng_from_env, sim_env

#: Default cap on the encoder's structured vectors in one cocotb run (``NPEGEN_N``; 0 = all).
ENCODER_VECTORS = 65536

_UNIT = os.environ.get("PARAM_UNIT", "")


def _points(fmt: Format) -> np.ndarray:
    """Positive rounding-relevant magnitudes: every value and every boundary between neighbours."""
    if isinstance(fmt, Posit):  # boundaries are the (n+1)-bit posit values: even codes = values, odd = midpoints
        wide = Posit(fmt.nbits + 1, fmt.es)
        v = wide.decode(np.arange(1, 1 << fmt.nbits))
    else:
        vals = np.unique(np.abs(fmt.decode(np.arange(fmt.n_codes))))
        vals = vals[np.isfinite(vals) & (vals > 0)]  # minifloat Inf / NaN codes are not rounding targets
        # plus the boundaries below the smallest value and the overflow boundary above the largest
        v = np.concatenate([vals, (vals[:-1] + vals[1:]) / 2, [vals[0] / 2, vals[0] * 0.75],
                            [vals[-1] + (vals[-1] - vals[-2]) / 2]])
    return np.unique(v)


def encoder_stimulus(fmt: Format, frac_in: int, scale_bits: int, rng: np.random.Generator,
                     limit: int = 0) -> dict[str, np.ndarray]:
    """Structured encoder inputs (see the module docstring) as arrays ``sign, zero, nar, scale, sig, sticky``;
    ``limit`` > 0 keeps a random subset of at most that many structured rows (the random tail stays)."""
    pts = _points(fmt)
    m, e = np.frexp(pts)
    scale = e.astype(np.int64) - 1
    sig_f = m * 2.0 ** (frac_in + 1)
    if not np.array_equal(sig_f, np.floor(sig_f)):
        raise ValueError(f"frac_in={frac_in} cannot hold the boundaries of {fmt.name} exactly")
    sig = sig_f.astype(np.int64)
    top = 1 << (frac_in + 1)
    lo_s, hi_s = -(1 << (scale_bits - 1)), (1 << (scale_bits - 1)) - 1

    def variant(delta: int, sticky: int):
        s = sig + delta
        ok = (s >= top // 2) & (s < top)  # stay normalised
        return scale[ok], s[ok], np.full(int(ok.sum()), sticky)

    parts = [variant(0, 0), variant(0, 1), variant(-1, 0), variant(-1, 1), variant(1, 0), variant(1, 1)]
    sc = np.concatenate([p[0] for p in parts])
    sg = np.concatenate([p[1] for p in parts])
    st = np.concatenate([p[2] for p in parts])
    if 0 < limit < sc.size:
        keep = np.sort(rng.choice(sc.size, limit, replace=False))
        sc, sg, st = sc[keep], sg[keep], st[keep]
    k = 4000  # out of range, flags, random
    rnd_scale = rng.integers(lo_s, hi_s, k, endpoint=True)
    rnd_sig = top // 2 + rng.integers(0, top // 2, k)
    sc = np.concatenate([sc, rnd_scale, [lo_s, hi_s, fmt.scale_min - 1, fmt.scale_max + 1]])
    sg = np.concatenate([sg, rnd_sig, [top // 2, top - 1, top - 1, top // 2]])
    st = np.concatenate([st, rng.integers(0, 2, k), [0, 1, 1, 0]])
    total = sc.size
    sign = rng.integers(0, 2, total)
    # zero / NaR flags only on the random tail, so every structured row stays a plain value
    zero = np.zeros(total, dtype=np.int64)
    nar = np.zeros(total, dtype=np.int64)
    tail = np.arange(total - k - 4, total - 4)
    zero[tail] = rng.random(k) < 0.1
    nar[tail] = (rng.random(k) < 0.1) & fmt.has_nar
    return {"sign": sign, "zero": zero, "nar": nar, "scale": sc, "sig": sg, "sticky": st}


def decoder_spec_table(fmt: Format) -> list[tuple[int, tuple[int, int, int, int, int], str]]:
    """Reserved and special codes with their documented decoder outputs ``(sign, zero, nar, scale, sig)``,
    written from the format definitions (not from :meth:`Format.decompose`): zero and NaR have scale and sig 0,
    NaR has sign 0, FP4 -0 has sign 1, the INT most negative code is ``-1.0 * 2**(n-1)``."""
    n = fmt.nbits
    if isinstance(fmt, Posit):
        top, hid = (n - 2) << fmt.es, 1 << fmt.frac_bits
        return [
            (0, (0, 1, 0, 0, 0), "zero"),
            (1 << (n - 1), (0, 0, 1, 0, 0), "NaR (sign 0, no scale or sig)"),
            ((1 << (n - 1)) - 1, (0, 0, 0, top, hid), "maxpos"),
            ((1 << (n - 1)) + 1, (1, 0, 0, top, hid), "-maxpos (next to NaR)"),
            (1, (0, 0, 0, -top, hid), "minpos"),
            ((1 << n) - 1, (1, 0, 0, -top, hid), "-minpos"),
            (1 << (n - 2), (0, 0, 0, 0, hid), "1.0"),
            ((1 << n) - (1 << (n - 2)), (1, 0, 0, 0, hid), "-1.0"),
        ]
    if isinstance(fmt, FP4E2M1):
        return [
            (0x0, (0, 1, 0, 0, 0), "+0"),
            (0x8, (1, 1, 0, 0, 0), "-0 (zero with sign 1)"),
            (0x1, (0, 0, 0, -1, 0b10), "subnormal 0.5"),
            (0x9, (1, 0, 0, -1, 0b10), "subnormal -0.5"),
            (0x7, (0, 0, 0, 2, 0b11), "6 (max)"),
            (0xF, (1, 0, 0, 2, 0b11), "-6"),
        ]
    if isinstance(fmt, Minifloat):
        return _minifloat_decoder_spec(fmt)
    if isinstance(fmt, Int):
        hid = 1 << (n - 1)
        return [
            (0, (0, 1, 0, 0, 0), "zero"),
            (1 << (n - 1), (1, 0, 0, n - 1, hid), "most negative (-2**(n-1), no positive twin)"),
            ((1 << n) - 1, (1, 0, 0, 0, hid), "-1"),
            ((1 << (n - 1)) - 1, (0, 0, 0, n - 2, ((1 << (n - 1)) - 1) << 1), "most positive"),
            (1, (0, 0, 0, 0, hid), "1"),
        ]
    raise TypeError(f"no spec table for {fmt!r}")


def encoder_spec_table(fmt: Format, frac_in: int, scale_bits: int) -> list[tuple[dict[str, int], int, str]]:
    """Special encoder inputs ``{sign, zero, nar, scale, sig, sticky}`` with their documented codes, written from
    the format definitions (not from :meth:`Format.encode_fields`): NaR wins over zero and sign, zeros (FP4 keeps
    the sign), saturation at both ends of the ``scale`` input, posits never round to zero while FP4 / INT do,
    round-half-even ties decided by ``sticky``, ``nar`` ignored by formats without NaR."""
    n, one = fmt.nbits, 1 << frac_in
    lo_s, hi_s = -(1 << (scale_bits - 1)), (1 << (scale_bits - 1)) - 1

    def row(sign=0, zero=0, nar=0, scale=0, sig=one, sticky=0):
        return {"sign": sign, "zero": zero, "nar": nar, "scale": scale, "sig": sig, "sticky": sticky}

    biggest = row(scale=hi_s, sig=2 * one - 1, sticky=1)
    tiniest = row(scale=lo_s, sig=one)
    rows = [(row(zero=1), 0, "+0")]
    if isinstance(fmt, Posit):
        maxpos, nar = (1 << (n - 1)) - 1, 1 << (n - 1)
        rows += [
            (row(sign=1, zero=1, nar=1), nar, "NaR wins over zero and sign"),
            (row(nar=1, scale=3), nar, "NaR ignores the value"),
            (row(sign=1, zero=1), 0, "zero has no sign"),
            (biggest, maxpos, "saturates to maxpos, never NaR"),
            (dict(biggest, sign=1), (1 << n) - maxpos, "saturates to -maxpos"),
            (tiniest, 1, "never rounds to zero: minpos"),
            (dict(tiniest, sign=1), (1 << n) - 1, "never rounds to zero: -minpos"),
            (row(), 1 << (n - 2), "1.0"),
        ]
        return rows
    if isinstance(fmt, FP4E2M1):
        rows += [
            (row(sign=1, zero=1), 0x8, "-0 keeps its sign"),
            (row(nar=1), 0x2, "nar ignored (FP4 has no NaR): 1.0"),
            (biggest, 0x7, "saturates to 6"),
            (dict(biggest, sign=1), 0xF, "saturates to -6"),
            (row(scale=2, sig=2 * one - 1), 0x7, "just below 8 (in the top binade) saturates to 6"),
            (row(sign=1, scale=2, sig=2 * one - 1), 0xF, "just above -8 saturates to -6"),
            (dict(tiniest, sign=1), 0x8, "a tiny negative rounds to -0"),
            (row(scale=-2), 0x0, "0.25: tie between 0 and 0.5 goes to even 0"),
            (row(scale=-2, sticky=1), 0x1, "0.25 + sticky rounds up to 0.5"),
        ]
        if frac_in >= 2:
            rows += [
                (row(sign=1, scale=2, sig=one + one // 4), 0xE, "-5: tie between 4 and 6 goes to even 4"),
                (row(sign=1, scale=2, sig=one + one // 4, sticky=1), 0xF, "-5 + sticky rounds to -6"),
            ]
        return rows
    if isinstance(fmt, Minifloat):
        return rows + _minifloat_encoder_spec(fmt, row, biggest, tiniest)
    if isinstance(fmt, Int):
        most_pos, most_neg = (1 << (n - 1)) - 1, 1 << (n - 1)
        rows += [
            (row(sign=1, zero=1), 0, "zero has no sign"),
            (row(nar=1), 1, "nar ignored (INT has no NaR): 1"),
            (biggest, most_pos, "saturates to 2**(n-1) - 1"),
            (dict(biggest, sign=1), most_neg, "saturates to -2**(n-1)"),
            (row(sign=1, scale=n - 1), most_neg, "-2**(n-1) is exact: the most negative code"),
            (row(scale=n - 1), most_pos, "+2**(n-1) saturates"),
            (dict(tiniest, sign=1), 0, "a tiny negative rounds to 0"),
            (row(scale=-1), 0, "0.5: tie between 0 and 1 goes to even 0"),
            (row(scale=-1, sticky=1), 1, "0.5 + sticky rounds up to 1"),
            (row(sign=1, scale=-1, sticky=1), (1 << n) - 1, "-0.5 - sticky rounds to -1"),
        ]
        return rows
    raise TypeError(f"no spec table for {fmt!r}")


def _minifloat_decoder_spec(fmt: Minifloat) -> list[tuple[int, tuple[int, int, int, int, int], str]]:
    """Special codes of a minifloat ``s | exponent | mantissa`` from its parameters: signed zeros, the smallest
    subnormal, the smallest normal, the largest finite value, NaN (sign 0, like NaR) and Inf (zero, nar, scale
    and sig all 0: the ``inf`` output flags it)."""
    e, mb, n = fmt.exp_bits, fmt.man_bits, fmt.nbits
    emin, hid, s_bit = 1 - fmt.bias, 1 << mb, 1 << (n - 1)
    e_all = ((1 << e) - 1) << mb
    top_e = (1 << e) - 1 - (fmt.inf_nan == "ieee")
    top_m = (1 << mb) - 1 - (fmt.inf_nan == "fn")
    rows = [
        (0, (0, 1, 0, 0, 0), "+0"),
        (s_bit, (1, 1, 0, 0, 0), "-0 (zero with sign 1)"),
        (1 << mb, (0, 0, 0, emin, hid), "smallest normal"),
        ((top_e << mb) | top_m, (0, 0, 0, top_e - fmt.bias, hid | top_m), "largest finite"),
        (s_bit | (top_e << mb) | top_m, (1, 0, 0, top_e - fmt.bias, hid | top_m), "-largest finite"),
    ]
    rows.append((1, (0, 0, 0, emin - mb, hid) if fmt.subnormals else (0, 1, 0, 0, 0), "smallest subnormal code"))
    if fmt.inf_nan == "fn":
        rows += [(e_all | ((1 << mb) - 1), (0, 0, 1, 0, 0), "NaN S.1..1.1..1"),
                 (s_bit | e_all | ((1 << mb) - 1), (0, 0, 1, 0, 0), "-NaN (sign 0, like NaR)")]
    if fmt.inf_nan == "ieee":
        rows += [(e_all, (0, 0, 0, 0, 0), "+Inf (inf flag, no scale or sig)"),
                 (s_bit | e_all, (1, 0, 0, 0, 0), "-Inf"),
                 (e_all | 1, (0, 0, 1, 0, 0), "signalling NaN"),
                 (s_bit | e_all | (1 << (mb - 1)), (0, 0, 1, 0, 0), "-quiet NaN (sign 0, like NaR)")]
    return rows


def decoder_inf_codes(fmt: Format) -> dict[int, int]:
    """Documented ``inf`` output of the codes of :func:`decoder_spec_table` (formats with infinities): 1 exactly
    for the all-ones exponent with mantissa 0, either sign."""
    if not fmt.has_inf:
        return {}
    e_all = ((1 << fmt.exp_bits) - 1) << fmt.man_bits
    return {code: int(code & ~(1 << (fmt.nbits - 1)) == e_all) for code, _, _ in decoder_spec_table(fmt)}


def _minifloat_encoder_spec(fmt: Minifloat, row, biggest, tiniest) -> list[tuple[dict[str, int], int, str]]:
    """Minifloat rows of :func:`encoder_spec_table`, from the format parameters."""
    mb, n = fmt.man_bits, fmt.nbits
    s_bit, emin = 1 << (n - 1), 1 - fmt.bias
    top_e = (1 << fmt.exp_bits) - 1 - (fmt.inf_nan == "ieee")
    max_code = (top_e << mb) | ((1 << mb) - 1 - (fmt.inf_nan == "fn"))
    e_all = ((1 << fmt.exp_bits) - 1) << mb
    if fmt.saturate:
        ovf, what = max_code, "saturates to the largest value"
    elif fmt.inf_nan == "ieee":
        ovf, what = e_all, "overflows to Inf"
    else:
        ovf, what = e_all | ((1 << mb) - 1), "overflows to NaN (no Inf)"
    qnan = e_all | ((1 << mb) - 1 if fmt.inf_nan == "fn" else 1 << (mb - 1))
    one = fmt.bias << mb  # 1.0: biased exponent = bias
    rows = [
        (row(sign=1, zero=1), s_bit, "-0 keeps its sign"),
        (biggest, ovf, what),
        (dict(biggest, sign=1), s_bit | ovf, what + " (negative)"),
        (dict(tiniest, sign=1), s_bit, "a tiny negative rounds to -0"),
    ]
    if fmt.has_nar:
        rows += [(row(sign=1, zero=1, nar=1), qnan, "NaN wins over zero and sign: the canonical quiet NaN")]
    else:
        rows += [(row(nar=1, scale=emin), 1 << mb, "nar ignored (no NaN): the smallest normal")]
    if fmt.subnormals:
        rows += [
            (row(scale=emin - mb - 1), 0, "half the smallest subnormal: tie to even 0"),
            (row(scale=emin - mb - 1, sticky=1), 1, "half the smallest subnormal + sticky: the smallest subnormal"),
        ]
    if 1 <= fmt.bias <= top_e:
        rows += [(row(scale=0), one, "1.0")]
    return rows


def _units(dut) -> tuple[StreamDriver, StreamMonitor]:
    """A driver of the unit's input ports and a monitor of its output ports, each port a field of a layout built from
    the unit's own port shapes (:meth:`~npegen.sim.util.Ports.group`): combinational, no handshake."""
    ports = Ports.from_env()
    flat = dict(name=None, valid=None, ready=None, payload=None)
    return StreamDriver(dut, ports.group("in"), **flat), StreamMonitor(dut, ports.group("out"), **flat)


@cocotb.test(skip=_UNIT != "decoder")
async def test_decoder_all_codes(dut):
    fmt = parse(os.environ["PARAM_FORMAT"])
    codes = np.arange(fmt.n_codes)
    d = fmt.decompose(codes)
    names = ("sign", "zero", "nar", "scale", "sig")
    want = np.stack([d.sign.astype(np.int64), d.zero.astype(np.int64), d.nar.astype(np.int64), d.scale,
                     d.sig.astype(np.int64)], axis=1)
    drv, mon = _units(dut)
    rows = await apply(drv, mon, ({"code": c} for c in codes.tolist()))
    got = np.array([[r[k] for k in names] for r in rows], dtype=np.int64)
    bad = np.flatnonzero((got != want).any(axis=1))
    assert bad.size == 0, (f"{bad.size} of {codes.size} codes decode wrongly; first code {bad[0]:#x}: rtl "
                           f"(sign, zero, nar, scale, sig)={tuple(got[bad[0]])}, model {tuple(want[bad[0]])}")
    if fmt.has_inf:  # the inf output of every code, against the model
        d_inf = d.inf.astype(np.int64)
        got_inf = np.array([r["inf"] for r in rows], dtype=np.int64)
        bad = np.flatnonzero(got_inf != d_inf)
        assert bad.size == 0, f"{bad.size} codes flag inf wrongly; first {bad[0]:#x}: rtl {got_inf[bad[0]]}"
        for code, flag in decoder_inf_codes(fmt).items():
            assert got_inf[code] == flag, f"{fmt.name} decoder, code {code:#x}: rtl inf={got_inf[code]}, want {flag}"
    for code, fields, what in decoder_spec_table(fmt):
        assert tuple(int(x) for x in got[code]) == fields, (
            f"{fmt.name} decoder, code {code:#x} ({what}): rtl (sign, zero, nar, scale, sig)="
            f"{tuple(int(x) for x in got[code])}, documented {fields}")
    dut._log.info("%s decoder: all %d codes bit-exact, special codes as documented", fmt.name, codes.size)


@cocotb.test(skip=_UNIT != "encoder")
async def test_encoder_structured(dut):
    fmt = parse(os.environ["PARAM_FORMAT"])
    frac_in, scale_bits = int(os.environ["PARAM_FRAC_IN"]), int(os.environ["PARAM_SCALE_BITS"])
    limit = int(os.environ.get("NPEGEN_N", str(ENCODER_VECTORS)))
    stim = encoder_stimulus(fmt, frac_in, scale_bits, rng_from_env(1), limit)
    want = fmt.encode_fields(stim["sign"], stim["scale"], stim["sig"], frac_in=frac_in, sticky=stim["sticky"],
                             zero=stim["zero"], nar=stim["nar"]).astype(np.int64)
    n = want.size
    keys = ("sign", "zero", "nar", "scale", "sig", "sticky")
    cols = [stim[k].tolist() for k in keys]
    drv, mon = _units(dut)
    rows = await apply(drv, mon, (dict(zip(keys, row, strict=True)) for row in zip(*cols, strict=True)))
    got = np.array([r["code"] for r in rows], dtype=np.int64)
    bad = np.flatnonzero(got != want)
    if bad.size:
        i = int(bad[0])
        fields = {k: int(stim[k][i]) for k in stim}
        raise AssertionError(f"{bad.size} of {n} encodings differ; first {fields}: rtl {got[i]:#x}, "
                             f"model {want[i]:#x} ({fmt.name}, frac_in={frac_in})")
    table = encoder_spec_table(fmt, frac_in, scale_bits)
    rows = await apply(drv, mon, (fields for fields, _, _ in table))
    for (fields, code, what), row in zip(table, rows, strict=True):
        assert row["code"] == code, (f"{fmt.name} encoder, {what}: inputs {fields} give rtl {row['code']:#x}, "
                                     f"documented {code:#x} (frac_in={frac_in}, scale_bits={scale_bits})")
    dut._log.info("%s encoder: %d structured vectors bit-exact, special inputs as documented", fmt.name, n)


def verify_formats(fmt: str | Format, unit: str, *, frac_in: int | None = None, scale_bits: int | None = None,
                   sim: str | None = None, seed: int | None = None, n_vectors: int | None = None, **runner_kwargs):
    """Emit, build and run the decoder or encoder testbench of one format; raise on any mismatch.

    Parameters
    ----------
    fmt : str or Format
        Format spec (``"posit16_1"``, ``"posit12_3"``, ``"int8"``, ...) or object.
    unit : {"decoder", "encoder"}
    frac_in, scale_bits : int, optional
        Encoder parameters (defaults as :class:`npegen.hw.formats.Encoder`).
    sim, seed, **runner_kwargs
        As :func:`npegen.sim.runner.run_cocotb`.
    n_vectors : int, optional
        Encoder: at most this many structured vectors (default :data:`ENCODER_VECTORS`; 0 = all of them).
    """
    from ..hw.formats import Decoder, Encoder
    from .runner import resolve_sim, run_cocotb

    sim = resolve_sim(sim)
    f = parse(fmt) if isinstance(fmt, str) else fmt
    if unit not in ("decoder", "encoder"):
        raise ValueError(f"unit must be 'decoder' or 'encoder', not {unit!r}")
    env = {"PARAM_FORMAT": f.name, "PARAM_UNIT": unit}
    if n_vectors is not None:
        env["NPEGEN_N"] = str(int(n_vectors))
    if unit == "decoder":
        dut = Decoder(f)
        tag = f.name
    else:
        dut = Encoder(f, frac_in=frac_in, scale_bits=scale_bits)
        env.update(PARAM_FRAC_IN=str(dut.frac_in), PARAM_SCALE_BITS=str(dut.scale_bits))
        tag = f"{f.name}_f{dut.frac_in}_s{dut.scale_bits}"
    top = f"{unit}_{f.name}"
    env.update(sim_env(dut))  # the unit's own port shapes, for the testbench to pack with
    return run_cocotb(dut, toplevel=top, test_module=__name__, env=env, tag=tag, sim=sim, seed=seed,
                      **runner_kwargs)
