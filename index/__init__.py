"""Methodology files, the cvxpy optimizer, capping, index calculation and rebalance outputs."""
