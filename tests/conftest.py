"""Shared test setup: float64 helpers and a fixed seed per test."""

import sys

import pytest

import tinyclipnn as tc

# Modules whose every test compares floating-point results (kernels against references, layers
# against PyTorch, training outcomes): marked ``numerics`` so CI runs them again with every library
# held to a lower instruction set. Single tests elsewhere carry the mark themselves.
NUMERICS_MODULES = {
    "test_autograd_engine", "test_autograd_ops", "test_tensor_api", "test_nn", "test_modules_torch",
    "test_torch_compare", "test_pytorch_bugs", "test_optim", "test_rnn_layers", "test_rnn_kernels",
    "test_rnn_omega", "test_rnn_training", "test_clip_api", "test_clip_bugs", "test_clip_fused",
    "test_clip_inputs", "test_clip_kernels", "test_clip_lowp", "test_clip_lowp_scale",
    "test_clip_reuse", "test_clip_scaler", "test_clip_stateful", "test_clip_group",
    "test_demos_numpy", "test_demos_stack", "test_train_spirals", "test_reproduce",
    "test_lab_charlm", "test_distributed",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rpartition(".")[2] in NUMERICS_MODULES:
            item.add_marker(pytest.mark.numerics)


@pytest.fixture(autouse=True)
def _seed_and_dtype():
    tc.manual_seed(0)
    previous = tc.get_default_dtype()
    yield
    tc.set_default_dtype(previous)
    loop = sys.modules.get("tinyclipnn.lab.loop")
    if loop is not None:  # a simulated Ctrl-C must not stop the loops of later tests
        loop.reset_stop()

