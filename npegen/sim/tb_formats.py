"""cocotb testbench of :class:`npegen.hw.formats.Decoder` and :class:`~npegen.hw.formats.Encoder`,
bit-exact against :meth:`Format.decompose` and :meth:`Format.encode_fields`.

Environment: ``PARAM_FORMAT`` (a :func:`npegen.models.formats.parse` spec), ``PARAM_UNIT``
(``decoder`` or ``encoder``), ``PARAM_FRAC_IN`` and ``PARAM_SCALE_BITS`` (encoder), ``NPEGEN_SEED``.

Both units are combinational: each vector is applied, then sampled 1 ns later.

Tests
-----
test_decoder_all_codes
    Every code of the format (65,536 for Posit(16,1)).
test_encoder_structured
    :func:`encoder_stimulus`: every representable value, every rounding boundary (midpoint), each
    with the last ``frac_in`` bit moved by -1/+1 or the sticky bit set, both signs; scales beyond both
    ends (saturation); zero and NaR flags; random fill.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from ..models.formats import Format, Posit, parse
from .util import rng_from_env

_UNIT = os.environ.get("PARAM_UNIT", "")


def _points(fmt: Format) -> np.ndarray:
    """Positive rounding-relevant magnitudes: every value and every boundary between neighbours."""
    if isinstance(fmt, Posit):  # boundaries are the (n+1)-bit posit values: even codes = values, odd = midpoints
        wide = Posit(fmt.nbits + 1, fmt.es)
        v = wide.decode(np.arange(1, 1 << fmt.nbits))
    else:
        vals = np.unique(np.abs(fmt.decode(np.arange(fmt.n_codes))))
        vals = vals[vals > 0]
        v = np.concatenate([vals, (vals[:-1] + vals[1:]) / 2, [vals[0] / 2, vals[0] * 0.75]])
    return np.unique(v)


def encoder_stimulus(fmt: Format, frac_in: int, scale_bits: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Structured encoder inputs (see the module docstring) as arrays ``sign, zero, nar, scale, sig, sticky``."""
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


@cocotb.test(skip=_UNIT != "decoder")
async def test_decoder_all_codes(dut):
    from cocotb.triggers import Timer

    fmt = parse(os.environ["PARAM_FORMAT"])
    codes = np.arange(fmt.n_codes)
    d = fmt.decompose(codes)
    want = np.stack([d.sign.astype(np.int64), d.zero.astype(np.int64), d.nar.astype(np.int64), d.scale,
                     d.sig.astype(np.int64)], axis=1)
    got = np.empty_like(want)
    h_code, outs = dut.code, (dut.sign, dut.zero, dut.nar, dut.scale, dut.sig)
    for c in codes.tolist():
        h_code.value = c
        await Timer(1, unit="ns")
        got[c] = [int(outs[0].value), int(outs[1].value), int(outs[2].value), outs[3].value.to_signed(),
                  int(outs[4].value)]
    bad = np.flatnonzero((got != want).any(axis=1))
    assert bad.size == 0, (f"{bad.size} of {codes.size} codes decode wrongly; first code {bad[0]:#x}: rtl "
                           f"(sign, zero, nar, scale, sig)={tuple(got[bad[0]])}, model {tuple(want[bad[0]])}")
    dut._log.info("%s decoder: all %d codes bit-exact", fmt.name, codes.size)


@cocotb.test(skip=_UNIT != "encoder")
async def test_encoder_structured(dut):
    from cocotb.triggers import Timer

    fmt = parse(os.environ["PARAM_FORMAT"])
    frac_in, scale_bits = int(os.environ["PARAM_FRAC_IN"]), int(os.environ["PARAM_SCALE_BITS"])
    stim = encoder_stimulus(fmt, frac_in, scale_bits, rng_from_env(1))
    want = fmt.encode_fields(stim["sign"], stim["scale"], stim["sig"], frac_in=frac_in, sticky=stim["sticky"],
                             zero=stim["zero"], nar=stim["nar"]).astype(np.int64)
    n = want.size
    got = np.empty(n, dtype=np.int64)
    cols = [stim[k].tolist() for k in ("sign", "zero", "nar", "scale", "sig", "sticky")]
    hs = (dut.sign, dut.zero, dut.nar, dut.scale, dut.sig, dut.sticky)
    mask = (1 << scale_bits) - 1
    h_code = dut.code
    for i, (sg, z, nr, sc, sig, st) in enumerate(zip(*cols, strict=True)):
        hs[0].value, hs[1].value, hs[2].value = sg, z, nr
        hs[3].value, hs[4].value, hs[5].value = sc & mask, sig, st
        await Timer(1, unit="ns")
        got[i] = h_code.value.to_unsigned()
    bad = np.flatnonzero(got != want)
    if bad.size:
        i = int(bad[0])
        fields = {k: int(stim[k][i]) for k in stim}
        raise AssertionError(f"{bad.size} of {n} encodings differ; first {fields}: rtl {got[i]:#x}, "
                             f"model {want[i]:#x} ({fmt.name}, frac_in={frac_in})")
    dut._log.info("%s encoder: %d structured vectors bit-exact", fmt.name, n)


def verify_formats(fmt: str | Format, unit: str, *, frac_in: int | None = None, scale_bits: int | None = None,
                   sim: str | None = None, seed: int | None = None, **runner_kwargs):
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
    """
    from ..hw.formats import Decoder, Encoder
    from .runner import resolve_sim, run_cocotb

    sim = resolve_sim(sim)
    f = parse(fmt) if isinstance(fmt, str) else fmt
    if unit not in ("decoder", "encoder"):
        raise ValueError(f"unit must be 'decoder' or 'encoder', not {unit!r}")
    env = {"PARAM_FORMAT": f.name, "PARAM_UNIT": unit}
    if unit == "decoder":
        dut = Decoder(f)
        tag = f.name
    else:
        dut = Encoder(f, frac_in=frac_in, scale_bits=scale_bits)
        env.update(PARAM_FRAC_IN=str(dut.frac_in), PARAM_SCALE_BITS=str(dut.scale_bits))
        tag = f"{f.name}_f{dut.frac_in}_s{dut.scale_bits}"
    top = f"{unit}_{f.name}"
    return run_cocotb(dut, toplevel=top, test_module=__name__, env=env, tag=tag, sim=sim, seed=seed,
                      **runner_kwargs)
