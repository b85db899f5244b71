"""Estimation, workloads, sweeps, plots and reports built on the models and the synthesis records."""
