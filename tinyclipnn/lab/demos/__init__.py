"""Demo implementations; each module exposes ``run(quick, seed, out, quiet) -> DemoResult``.
Registered (and imported lazily) in :mod:`tinyclipnn.lab.registry`."""
