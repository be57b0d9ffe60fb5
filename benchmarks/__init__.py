"""Benchmarks of tf_lattice (run as scripts; see README.md)."""
