"""NumPy reference implementations used as test oracles."""
