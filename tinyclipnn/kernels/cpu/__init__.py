"""Numba CPU kernels (``@njit(cache=True)``). Import the submodules lazily: importing one
imports numba, but nothing is compiled until a kernel is first called."""
