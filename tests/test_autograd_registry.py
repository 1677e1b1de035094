"""How ops are declared: each ops module registers its Tensor methods (`tensor_method`), the
function forms come from one table (`autograd.api`), and the autograd modules import each
other in one direction only, at the top of each file."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn.autograd import Function, Tensor, api, function_form, gradcheck, tensor_method

AUTOGRAD = Path(tc.autograd.__file__).parent


def test_every_function_form_is_exported_and_calls_its_method():
    x = tc.tensor([[0.5, -1.0, 2.0], [3.0, 0.25, -0.5]])
    for name in api.METHOD_FUNCTIONS + api.REDUCTIONS:
        function = getattr(tc, name)
        assert name in tc.__all__, name
        assert function.__doc__ == getattr(Tensor, name).__doc__, name
        assert next(iter(inspect.signature(function).parameters)) == "input", name
    for name in ("exp", "abs", "relu", "sqrt", "clone", "numel"):
        ours, method = getattr(tc, name)(x.abs()), getattr(x.abs(), name)()
        assert np.array_equal(np.asarray(ours), np.asarray(method)), name
    assert np.array_equal(tc.clamp(x, min=0.0).data, x.clamp(0.0).data)
    assert np.array_equal(tc.exp([0.0, 1.0]).data, tc.tensor([0.0, 1.0]).exp().data)
    assert np.array_equal(tc.sum(x, 1, True).data, x.sum(1, True).data)
    assert np.array_equal(tc.mean(x, axis=0).data, x.mean(dim=0).data)
    values, indices = tc.max(x, 1)
    assert np.array_equal(indices.data, [2, 0])
    assert tc.matmul(x, x.T).shape == (2, 2) and np.array_equal(tc.matmul(x, x.T).data,
                                                                (x @ x.T).data)


def test_reduction_forms_refuse_dim_and_axis_together():
    with pytest.raises(TypeError, match="dim= or axis="):
        tc.sum(tc.ones(2, 3), dim=0, axis=1)


def test_tensor_method_registers_a_method_and_its_aliases_once():
    class Cube(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a ** 3

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return (3 * a * a * grad,)

    def cube_for_test(self):
        """Element-wise x**3."""
        return Cube.apply(self)

    try:
        tensor_method(cube_for_test, also=("cube_alias_for_test",))
        form = function_form("cube_for_test")
        x = tc.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3), requires_grad=True)
        assert np.allclose(x.cube_for_test().data, x.data ** 3)
        assert np.allclose(x.cube_alias_for_test().data, form(x).data)
        assert form.__doc__ == "Element-wise x**3." and form.__name__ == "cube_for_test"
        assert gradcheck(form, [x]) and gradcheck(lambda t: t.cube_for_test(), [x])
        with pytest.raises(TypeError, match="already defined"):
            tensor_method(cube_for_test)
        with pytest.raises(TypeError, match="Tensor.exp is already defined"):
            tensor_method(cube_for_test, name="exp")
    finally:
        for name in ("cube_for_test", "cube_alias_for_test"):
            if name in vars(Tensor):
                delattr(Tensor, name)


def _top_level_imports(path: Path) -> tuple[set[str], list[int]]:
    """The autograd modules ``path`` imports at run time, and the lines of any import written
    inside a function (``if TYPE_CHECKING:`` blocks hold annotations only, so they do not
    count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside_functions = [node.lineno for fn in ast.walk(tree)
                        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                        for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))]
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
            imported |= {n.split(".")[0] for n in names}
    return imported, inside_functions


def test_autograd_imports_run_one_way_and_never_inside_functions():
    modules = {p.stem: p for p in AUTOGRAD.glob("*.py")}
    graph = {}
    for name, path in modules.items():
        imported, inside = _top_level_imports(path)
        assert inside == [], f"{path.name}: imports inside functions at lines {inside}"
        graph[name] = imported & set(modules)
    done: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        assert name not in chain, f"import cycle: {' -> '.join(chain + (name,))}"
        if name not in done:
            for child in graph[name]:
                visit(child, chain + (name,))
            done.add(name)

    for name in graph:
        visit(name, ())
    assert "tensor" not in graph["engine"] and "function" not in graph["tensor"]
