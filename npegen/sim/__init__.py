"""cocotb testbenches (``tb_<block>``) and the simulator runner (:mod:`npegen.sim.runner`)."""
