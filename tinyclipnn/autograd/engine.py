"""The backward pass: iterative topological sort, hooks, in-place gradient accumulation."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from .grad_mode import no_grad

if TYPE_CHECKING:  # annotations only: tensor.py imports this module
    from .function import Node
    from .tensor import Tensor


def _topo_order(root: Node) -> list[Node]:
    """Nodes reachable from ``root``, each after every node that consumes its outputs.

    Iterative depth-first search (no recursion), so a graph 20,000 ops deep is fine.
    """
    order: list[Node] = []
    seen = {root}  # nodes hash by identity
    stack: list[tuple[Node, int]] = [(root, 0)]
    while stack:
        node, i = stack.pop()
        inputs = node.inputs
        while i < len(inputs):
            t = inputs[i]
            i += 1
            child = t._node if t is not None else None
            if child is not None and child not in seen:
                seen.add(child)
                stack.append((node, i))
                stack.append((child, 0))
                break
        else:
            order.append(node)
    order.reverse()
    return order


def _run_hooks(t: Tensor, grad: np.ndarray) -> np.ndarray:
    for hook in t._hooks:
        new = hook(grad)
        if new is not None:
            new = np.asarray(new)  # a returned Tensor gives its .data (Tensor.__array__)
            if new.shape != grad.shape:
                raise RuntimeError(f"hook returned a gradient of shape {new.shape}, "
                                   f"expected {grad.shape}")
            grad = new
    return grad


def _new_grad(t: Tensor, grad: np.ndarray) -> np.ndarray:
    """A copy of ``grad`` as ``t``'s new ``.grad``: written into the array ``zero_grad`` dropped
    when nothing but this tensor refers to it any more (checked by reference count, as PyTorch
    steals a gradient only it holds), else a new array.

    Why: an optimizer loop drops and re-creates every gradient each step. Refilling the same
    arrays saves the allocation (page faults for large ones) and keeps each ``.grad`` the same
    object step after step, so the clip functions' per-array caches (segment tables) hit: the
    global-norm clip of an MLP's 6 gradients took 61 us on new arrays, 21 us on the same ones."""
    spare, t._spare_grad = t._spare_grad, None
    if (spare is not None and sys.getrefcount(spare) == 2  # `spare` and getrefcount's argument
            and spare.shape == t.data.shape and spare.dtype == t.data.dtype
            and spare.flags.writeable):
        np.copyto(spare, grad, casting="unsafe")
        return spare
    return np.array(grad, dtype=t.data.dtype, copy=True)


def _accumulate_leaf(t: Tensor, grad: np.ndarray) -> None:
    """Add ``grad`` into ``t.grad`` in place (so a ``.grad`` view into a buffer stays valid)."""
    if t._hooks:
        grad = _run_hooks(t, grad)
    if t.grad is None:
        t.grad = _new_grad(t, grad)
    else:
        if t.grad.shape != t.data.shape:
            raise RuntimeError(f"existing .grad has shape {t.grad.shape} but the tensor has "
                               f"shape {t.data.shape}")
        np.add(t.grad, grad, out=t.grad, casting="unsafe")


def backward(root: Tensor, grad: Any = None, retain_graph: bool = False) -> None:
    """Compute d(root)/d(leaf) for every leaf that requires grad and add it to ``leaf.grad``.

    Parameters
    ----------
    root
        The tensor to differentiate (a scalar unless ``grad`` is given).
    grad
        D(loss)/d(root) as an array, same shape as ``root``; defaults to 1 for a scalar
        ``root``.
    retain_graph
        Keep the saved arrays so backward can run through the graph again.
    """
    if not root.requires_grad:
        raise RuntimeError("backward: tensor does not require grad and has no grad_fn")
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for scalar "
                               f"outputs; got shape {root.shape}, pass grad= of that shape")
        grad = np.ones(root.shape, dtype=root.dtype)
    else:
        grad = np.asarray(grad, dtype=root.dtype)
        if grad.shape != root.shape:
            raise RuntimeError(f"backward: grad has shape {grad.shape} but the tensor has "
                               f"shape {root.shape}; they must match")
    if root._node is None:
        _accumulate_leaf(root, grad)
        return
    with no_grad():
        try:
            _backward_graph(root, grad, retain_graph)
        except BaseException:
            for node in _topo_order(root._node):  # leave no half-summed gradients behind
                node.grads = node.holders = None
            raise


def _backward_graph(root: Tensor, grad: np.ndarray, retain_graph: bool) -> None:
    """Run every node's backward in topological order. Per-node work is kept to what a node
    needs (an MLP step's backward is ~40% engine overhead): hooks and retained gradients are
    looked at only on tensors that have them, versions only on inputs that were recorded."""
    order = _topo_order(root._node)
    first = root._node
    first.grads, first.holders = [None] * first.n_outputs, [None] * first.n_outputs
    first.grads[root._out_index], first.holders[root._out_index] = grad, root
    for node in order:
        grads, tensors = node.grads, node.holders
        if grads is None:
            continue
        node.grads = node.holders = None
        if node.freed:
            raise RuntimeError("Trying to backward through the graph a second time (or directly "
                               "access saved tensors after they have already been freed). "
                               "Specify retain_graph=True on the first backward call.")
        for k, t in enumerate(tensors):
            if t is not None and (t._hooks or t._retains_grad) and grads[k] is not None:
                if t._hooks:
                    grads[k] = _run_hooks(t, grads[k])
                if t._retains_grad:
                    t.grad = np.array(grads[k], copy=True)
        inputs = node.inputs
        for k, inp in enumerate(inputs):
            if inp is not None and inp._version != node.versions[k]:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation (input {k} of {node.name}, version "
                    f"{inp._version}; expected {node.versions[k]})")
        ctx = node.ctx
        if node.n_outputs > 1 and any(g is None for g in grads):  # unused outputs: zero grad
            grads = [np.zeros(shape, dtype) if g is None else g
                     for g, (shape, dtype) in zip(grads, ctx.out_meta, strict=True)]
        in_grads = node.fn.backward(ctx, *grads)
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        if not retain_graph:
            ctx.saved_tensors = None
            node.freed = True
        for g, inp, need in zip(in_grads, inputs, ctx.needs_input_grad, strict=False):
            if g is None or not need:
                continue
            if g.dtype != inp.data.dtype:
                g = g.astype(inp.data.dtype)
            child = inp._node
            if child is None:
                _accumulate_leaf(inp, g)
                continue
            j = inp._out_index
            if child.grads is None:
                child.grads = [None] * child.n_outputs
                child.holders = [None] * child.n_outputs
                child.grads[j] = g
            else:
                child.grads[j] = g if child.grads[j] is None else child.grads[j] + g
            child.holders[j] = inp
        # drop this node's gradients now, not when the next node's backward returns: they
        # would stay alive through it (2 MB more at the peak of an RNN's backward)
        grads = tensors = in_grads = g = None
