"""Amaranth generators, deterministic Verilog emission and yosys synthesis reports."""
