"""Shared test setup: float64 helpers and a fixed seed per test."""

import sys

import pytest

import tinyclipnn as tc


@pytest.fixture(autouse=True)
def _seed_and_dtype():
    tc.manual_seed(0)
    previous = tc.get_default_dtype()
    yield
    tc.set_default_dtype(previous)
    loop = sys.modules.get("tinyclipnn.lab.loop")
    if loop is not None:  # a simulated Ctrl-C must not stop the loops of later tests
        loop.reset_stop()

