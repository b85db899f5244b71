"""Bit-exact numpy reference models and design-point descriptions (numpy only: no HDL imports here)."""
