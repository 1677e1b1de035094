"""Shared test setup: float64 helpers and a fixed seed per test."""

import pytest

import tinyclipnn as tc


@pytest.fixture(autouse=True)
def _seed_and_dtype():
    tc.manual_seed(0)
    previous = tc.get_default_dtype()
    yield
    tc.set_default_dtype(previous)

