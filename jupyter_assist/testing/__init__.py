"""Helpers for tests and benchmarks (not imported by the product at run time)."""
