"""Runs the examples of a docstring as a test."""

import doctest


def assert_docstring_examples_pass(function):
    """Fails unless ``function``'s docstring has examples and every one of
    them prints what it shows (whitespace normalized)."""
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    tests = doctest.DocTestFinder().find(function, function.__name__, globs={})
    assert tests and tests[0].examples
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
