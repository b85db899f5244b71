# amaranth: UnusedElaboratable=no
"""Decoder / Encoder RTL in the Amaranth simulator (``rtl_*``) against the format model (``ref_*``) and, for the
reserved and special codes, against their documented values; parameter validation and Verilator lint.

Both units are combinational (latency 0): every vector is applied and sampled 1 ns later
(:func:`~npegen.sim.amaranth_stream.stream_apply`, each port packed with its own shape), so no wait can hang.
The default design point of each default format (``Encoder(fmt)``: ``frac_in = frac_bits + 2``) is simulated,
not only a wider one, so a bug in a shared path fails there too."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.lib.wiring import In
from amaranth.sim import Simulator

from npegen.hw.formats import Decoder, Encoder
from npegen.hw.verilog import lint_verilog, write_verilog
from npegen.models import formats as F
from npegen.models.formats import Int, Minifloat, Posit
from npegen.sim.amaranth_stream import stream_apply
from npegen.sim.tb_formats import decoder_inf_codes, decoder_spec_table, encoder_spec_table, encoder_stimulus

#: The formats of the SIMD MAC engine and the INT baseline: the default points.
DEFAULT = [F.get("fp4_e2m1"), F.get("posit4_1"), F.get("posit8_0"), F.get("posit16_1"), F.get("int8")]
SMALL = [F.get("fp4_e2m1"), F.get("posit4_1"), F.get("posit8_0"), F.get("posit8_2"), F.get("int8"), F.get("int4"),
         Posit(2, 0), Posit(3, 0), Posit(5, 3), Posit(6, 4), Posit(7, 1), Int(2)]
#: The minifloat family: the named FP8 and FP6 formats and parameter corners (no subnormals, saturation, odd bias,
#: E1 without Inf/NaN, E2 IEEE-like), all built from the type's parameters. BF16 / FP16 decode exhaustively in
#: cocotb (65,536 codes); here their special codes and structured encodes.
MINI = [F.get("fp8_e4m3"), F.get("fp8_e5m2"), F.get("fp6_e3m2"), F.get("fp6_e2m3"),
        Minifloat(3, 2, subnormals=False), Minifloat(4, 3, saturate=True),
        Minifloat(3, 3, bias=5, inf_nan="fn", saturate=True), Minifloat(1, 2, inf_nan="none", saturate=True),
        Minifloat(2, 1), Minifloat(4, 2, inf_nan="fn", subnormals=False)]
WIDE_MINI = [F.get("bf16"), F.get("fp16")]


def _run_apply(unit, payloads, outputs):
    """Each payload (a dict of input field values) applied to ``unit`` through
    :func:`~npegen.sim.amaranth_stream.stream_apply` (each port packed with its own shape), the ``outputs`` sampled
    1 ns later."""
    ins = {name: getattr(unit, name) for name, m in unit.signature.members.items() if m.flow == In}
    outs = {name: getattr(unit, name) for name in outputs}
    got = {}

    async def bench(ctx):
        got["rows"] = await stream_apply(ctx, ins, outs, payloads)

    sim = Simulator(unit)
    sim.add_testbench(bench)
    sim.run()
    return got["rows"]


def rtl_decode(fmt, codes, *, inf=False):
    """``(sign, zero, nar, scale, sig)`` of each code from the RTL decoder (plus ``inf`` as a sixth column)."""
    names = ("sign", "zero", "nar", "scale", "sig") + (("inf",) if inf else ())
    rows = _run_apply(Decoder(fmt), [{"code": int(c)} for c in codes], names)
    return np.array([[r[k] for k in names] for r in rows], dtype=np.int64).reshape(-1, len(names))


def rtl_encode(enc, stim):
    keys = ("sign", "zero", "nar", "scale", "sig", "sticky")
    payloads = [dict(zip(keys, row, strict=True)) for row in zip(*(stim[k].tolist() for k in keys), strict=True)]
    return np.array([r["code"] for r in _run_apply(enc, payloads, ("code",))], dtype=np.int64)


@pytest.mark.parametrize("fmt", SMALL + MINI, ids=lambda f: f.name)
def test_rtl_decoder_all_codes(fmt):
    """Every code decodes to the model's fields (exhaustive; Posit(16,1)'s 65,536 codes run in cocotb)."""
    codes = np.arange(fmt.n_codes)
    d = fmt.decompose(codes)
    ref = np.stack([d.sign, d.zero, d.nar, d.scale, d.sig.astype(np.int64)], axis=1).astype(np.int64)
    np.testing.assert_array_equal(rtl_decode(fmt, codes), ref)


@pytest.mark.parametrize("fmt", DEFAULT + SMALL + MINI + WIDE_MINI, ids=lambda f: f.name)
def test_rtl_decoder_reserved_and_special_codes(fmt):
    """Posit zero and NaR, FP4 -0, the INT most negative code and the extremes decode to their documented fields
    (table written from the format definitions, not from the model)."""
    table = decoder_spec_table(fmt)
    got = rtl_decode(fmt, [code for code, _, _ in table])
    for (code, fields, what), row in zip(table, got.tolist(), strict=True):
        assert tuple(row) == fields, f"{fmt.name} code {code:#x} ({what}): rtl {tuple(row)}, documented {fields}"


@pytest.mark.parametrize("fmt", [f for f in MINI + WIDE_MINI if f.has_inf], ids=lambda f: f.name)
def test_rtl_decoder_inf_flag(fmt):
    """The ``inf`` output: every code of the 8-bit formats against the model, and the special codes of all against
    their documented flag (BF16 / FP16 exhaustively in cocotb)."""
    codes = np.arange(fmt.n_codes) if fmt.nbits <= 8 else np.array(list(decoder_inf_codes(fmt)))
    got = rtl_decode(fmt, codes, inf=True)[:, 5]
    np.testing.assert_array_equal(got, fmt.decompose(codes).inf.astype(np.int64))
    for code, flag in decoder_inf_codes(fmt).items():
        assert got[np.flatnonzero(codes == code)[0]] == flag, (fmt.name, hex(code))


def test_minifloat_decoder_has_no_inf_port_without_inf():
    """Formats without infinities keep the five decoder outputs (FP4 and E4M3 are unchanged)."""
    assert "inf" not in Decoder(F.get("fp8_e4m3")).signature.members
    assert "inf" not in Decoder(F.get("fp4_e2m1")).signature.members
    assert "inf" in Decoder(F.get("bf16")).signature.members


def _check_encoder(enc, stim, fmt):
    ref = fmt.encode_fields(stim["sign"], stim["scale"], stim["sig"], frac_in=enc.frac_in, sticky=stim["sticky"],
                            zero=stim["zero"], nar=stim["nar"])
    got = rtl_encode(enc, stim)
    bad = np.flatnonzero(got != ref)
    if bad.size:
        i = int(bad[0])
        fields = {k: int(v[i]) for k, v in stim.items()}
        raise AssertionError(f"{bad.size} of {got.size} encodings differ; first {fields}: rtl {got[i]:#x}, model "
                             f"{ref[i]:#x} ({fmt.name}, frac_in={enc.frac_in}, scale_bits={enc.scale_bits})")


@pytest.mark.parametrize("fmt", DEFAULT + MINI[:4] + WIDE_MINI, ids=lambda f: f.name)
def test_rtl_encoder_default_point(fmt, seed):
    """``Encoder(fmt)`` with its default ``frac_in`` / ``scale_bits``: the structured vectors (every value and
    rounding boundary, +-1 in the last bit, sticky, out-of-range scales, flags) against the model; Posit(16,1)
    on a seeded subset of 2,000 structured rows (cocotb runs 65,536)."""
    enc = Encoder(fmt)
    stim = encoder_stimulus(fmt, enc.frac_in, enc.scale_bits, np.random.default_rng(seed), limit=2000)
    _check_encoder(enc, stim, fmt)


@pytest.mark.parametrize("fmt", SMALL + MINI + WIDE_MINI, ids=lambda f: f.name)
def test_rtl_encoder_structured(fmt, seed):
    """Wider input (``frac_in = frac_bits + 3``) on more formats: the structured vectors against the model."""
    enc = Encoder(fmt, frac_in=fmt.frac_bits + 3)
    stim = encoder_stimulus(fmt, enc.frac_in, enc.scale_bits, np.random.default_rng(seed), limit=2000)
    _check_encoder(enc, stim, fmt)


@pytest.mark.parametrize("frac", [0, 2], ids=lambda k: f"frac_in+{k}")
@pytest.mark.parametrize("fmt", DEFAULT + SMALL + MINI + WIDE_MINI, ids=lambda f: f.name)
def test_rtl_encoder_special_inputs(fmt, frac):
    """NaR over zero, signed zeros, saturation at both ends of the scale input, posits never to zero (FP4 / INT
    do, keeping FP4's sign), ties decided by sticky, ``nar`` ignored without NaR: the documented codes."""
    enc = Encoder(fmt, frac_in=fmt.frac_bits + frac)
    table = encoder_spec_table(fmt, enc.frac_in, enc.scale_bits)
    stim = {k: np.array([r[k] for r, _, _ in table]) for k in ("sign", "zero", "nar", "scale", "sig", "sticky")}
    got = rtl_encode(enc, stim)
    for (fields, code, what), g in zip(table, got.tolist(), strict=True):
        assert g == code, f"{fmt.name} encoder, {what}: inputs {fields} give rtl {g:#x}, documented {code:#x}"


def test_stimulus_covers_every_value_and_boundary():
    """The structured stimulus holds every Posit(8,0) value and every rounding boundary (the Posit(9,0) values)
    exactly, and scales beyond both ends."""
    fmt = F.get("posit8_0")
    stim = encoder_stimulus(fmt, 7, 6, np.random.default_rng(0))
    exact = (stim["sticky"] == 0) & (stim["zero"] == 0) & (stim["nar"] == 0)
    v = np.ldexp(stim["sig"][exact].astype(float), stim["scale"][exact] - 7)
    wide = Posit(9, 0).decode(np.arange(1, 256))
    assert set(wide.tolist()) <= set(v.tolist())  # all 127 values and 127 boundaries, exactly
    assert stim["scale"].min() < fmt.scale_min and stim["scale"].max() > fmt.scale_max


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: Decoder("posit8_0"), TypeError, "fmt must be a npegen Posit, Minifloat or Int format, not 'posit8_0'"),
        (lambda: Encoder(F.get("posit8_0"), frac_in=4), ValueError,
         r"frac_in must be an integer in \[5, 48\] for posit8_0, not 4"),
        (lambda: Encoder(F.get("posit8_0"), frac_in=49), ValueError, r"frac_in must be .* not 49"),
        (lambda: Encoder(F.get("posit16_1"), scale_bits=5), ValueError,
         r"scale_bits must be an integer in \[6, 16\] for posit16_1, not 5"),
        (lambda: Encoder(F.get("fp4_e2m1"), frac_in=2.0), TypeError, r"frac_in must be an integer .* not 2\.0"),
        (lambda: F.get("posit8_0").encode_fields(0, 0, 3, frac_in=5), ValueError, "sig must be normalised"),
        (lambda: F.get("fp4_e2m1").encode_fields(0, 0, 2, frac_in=1, nar=1), ValueError, "fp4_e2m1 has no NaR"),
    ],
)
def test_unit_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("name", ["fp4_e2m1", "posit4_1", "posit8_0", "posit16_1", "int8", "posit16_2", "fp8_e4m3",
                                  "fp8_e5m2", "bf16", "fp6_e3m2", "fp6_e2m3"])
def test_units_are_verilator_lint_clean(name, tmp_path):
    f = F.get(name)
    for unit in (Decoder(f), Encoder(f), Encoder(f, frac_in=f.frac_bits + 8, scale_bits=f.scale_bits + 4)):
        top = type(unit).__name__.lower()
        lint_verilog(write_verilog(unit, tmp_path / f"{top}.v", name=top), top=top)
