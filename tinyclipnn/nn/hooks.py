"""Module hooks with PyTorch's signatures, call order and removable handles.

``register_forward_pre_hook`` (``hook(module, args)`` -> None or new args),
``register_forward_hook`` (``hook(module, args, output)`` -> None or a new output),
``register_full_backward_pre_hook`` (``hook(module, grad_output)`` -> None or new grad_output)
and ``register_full_backward_hook`` (``hook(module, grad_input, grad_output)`` -> None or new
grad_input). Each returns a `RemovableHandle`. Calls follow ``torch.nn.Module._call_impl``:
pre-hooks in registration order (``prepend=True`` puts one first), ``forward``, forward hooks,
then the backward hooks fire during ``backward()`` once the gradients of the module's outputs
(pre-hooks) and of its positional tensor inputs (full hooks) are known.

`HookMixin` is mixed into `Module`; a module without hooks pays one dict look-up per call.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from .._validate import Callback, check
from ..autograd import Function, Tensor, is_grad_enabled

_HOOK = Callback()

_HOOK_DICTS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")


class RemovableHandle:
    """What ``register_*_hook`` returns: ``remove()`` unregisters the hook (removing twice is
    harmless); usable as ``with module.register_forward_hook(f):`` to remove on exit."""

    _ids = itertools.count()

    def __init__(self, *stores: dict | set) -> None:
        self.id = next(self._ids)
        self._stores = stores

    def remove(self) -> None:
        for store in self._stores:
            if isinstance(store, dict):
                store.pop(self.id, None)
            else:
                store.discard(self.id)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


class _Identity(Function):
    """The identity on several tensors; its backward hands the gradients to ``on_backward``
    (which may replace them). Marks where a module's inputs or outputs meet the graph."""

    @staticmethod
    def forward(ctx, *arrays, on_backward):
        ctx.on_backward = on_backward
        return tuple(arrays)

    @staticmethod
    def backward(ctx, *grads):
        return tuple(ctx.on_backward(grads, ctx.needs_input_grad))


def _wrap_tensors(values: tuple, on_backward: Callable) -> tuple[tuple, list[int] | None]:
    """``values`` with every tensor that requires grad passed through one `_Identity` node;
    the positions wrapped (None when nothing was: no grad needed, or grad mode off)."""
    index = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
    if not index or not is_grad_enabled():
        return values, None
    wrapped = _Identity.apply(*(values[i] for i in index), on_backward=on_backward)
    out = list(values)
    for i, t in zip(index, wrapped, strict=True):
        out[i] = t
    return tuple(out), index


def _packed(index: list[int] | None, grads: tuple, n: int) -> tuple:
    """One entry per position (``n``), the gradient where a tensor was wrapped, else None."""
    out: list[Any] = [None] * n
    for i, g in zip(index or (), grads, strict=False):
        out[i] = g
    return tuple(out)


def _checked(result: Any, expected: tuple, what: str) -> tuple:
    """A hook's replacement gradients, as a tuple of arrays of the expected length."""
    result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(result) != len(expected):
        raise RuntimeError(f"Backward hook returned an invalid number of {what}, got "
                           f"{len(result)}, but expected {len(expected)}")
    return tuple(None if r is None else (r.data if isinstance(r, Tensor) else np.asarray(r))
                 for r in result)


class _BackwardHooks:
    """One forward call's backward hooks (as ``torch.utils.hooks.BackwardHook``)."""

    def __init__(self, module: Any, full_hooks: list, pre_hooks: list) -> None:
        self.module, self.full_hooks, self.pre_hooks = module, full_hooks, pre_hooks
        self.grad_outputs: tuple | None = None
        self.n_inputs = self.n_outputs = 0
        self.input_index: list[int] | None = None
        self.output_index: list[int] | None = None

    def setup_inputs(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        if not self.full_hooks:
            return args
        args, self.input_index = _wrap_tensors(args, self._inputs_done)
        return args

    def setup_outputs(self, result: Any) -> Any:
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        self.n_outputs = len(outs)
        outs, self.output_index = _wrap_tensors(outs, self._outputs_done)
        return outs[0] if single else outs

    def _outputs_done(self, grads: tuple, needs: tuple) -> tuple:
        self.grad_outputs = _packed(self.output_index, grads, self.n_outputs)
        for hook in self.pre_hooks:
            res = hook(self.module, self.grad_outputs)
            if res is not None:
                self.grad_outputs = _checked(res, self.grad_outputs, "grad_output")
        if self.input_index is None:  # no input needs a gradient: call the hooks now
            for hook in self.full_hooks:
                res = hook(self.module, (None,) * self.n_inputs, self.grad_outputs)
                if res is not None and not all(r is None for r in _as_tuple(res)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
            return grads
        return tuple(self.grad_outputs[i] for i in self.output_index)

    def _inputs_done(self, grads: tuple, needs: tuple) -> tuple:
        if self.grad_outputs is None:  # the gradient reached the input but not via the output
            return grads
        grad_input = _packed(self.input_index, grads, self.n_inputs)
        for hook in self.full_hooks:
            res = hook(self.module, grad_input, self.grad_outputs)
            if res is not None:
                grad_input = _checked(res, grad_input, "grad_input")
        self.grad_outputs = None
        return tuple(grad_input[i] for i in self.input_index)


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


class HookMixin:
    """The hook half of `Module` (registration and the hooked call)."""

    def _hook_store(self, name: str) -> Any:
        store = self.__dict__.get(name)
        if store is None:
            store = OrderedDict() if name in _HOOK_DICTS else set()
            object.__setattr__(self, name, store)
        return store

    def _add_hook(self, name: str, hook: Callable, prepend: bool,
                  flags: tuple[str, ...] = ()) -> RemovableHandle:
        check(_HOOK, hook, "hook", f"{type(self).__name__}.register hook")
        hooks = self._hook_store(name)
        flag_sets = [self._hook_store(f) for f in flags]
        handle = RemovableHandle(hooks, *flag_sets)
        hooks[handle.id] = hook
        for s in flag_sets:
            s.add(handle.id)
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` (``with_kwargs``: ``hook(module, args, kwargs)``) before
        ``forward``; a non-None return replaces ``args`` (a non-tuple is wrapped in one), or
        with ``with_kwargs`` is ``(args, kwargs)``."""
        return self._add_hook("_forward_pre_hooks", hook, prepend,
                              ("_forward_pre_hooks_with_kwargs",) if with_kwargs else ())

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` (``with_kwargs``: ``hook(module, args, kwargs,
        output)``) after ``forward``; a non-None return replaces the output. ``always_call``:
        also called (with output None) when ``forward`` raises."""
        flags = (("_forward_hooks_with_kwargs",) if with_kwargs else ()) + (
            ("_forward_hooks_always_called",) if always_call else ())
        return self._add_hook("_forward_hooks", hook, prepend, flags)

    def register_full_backward_pre_hook(self, hook: Callable,
                                        prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output)`` once the gradients of the module's outputs are
        known; a non-None return replaces ``grad_output`` (same length)."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` once the gradients of the module's
        positional inputs are known (None for an input that is not a tensor needing a
        gradient); a non-None return replaces ``grad_input`` (same length). Gradients are
        numpy arrays. ``grad_output`` has one entry per output (None for a nested tuple, e.g.
        LSTM's ``(h_n, c_n)``, as in PyTorch)."""
        return self._add_hook("_backward_hooks", hook, prepend)

    def _has_hooks(self) -> bool:
        d = self.__dict__
        return any(d.get(name) for name in _HOOK_DICTS)

    def _call_with_hooks(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        with_kw = d.get("_forward_pre_hooks_with_kwargs") or set()
        for hook_id, hook in list((d.get("_forward_pre_hooks") or {}).items()):
            if hook_id in with_kw:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {res}.")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        full, pre = list((d.get("_backward_hooks") or {}).values()), list(
            (d.get("_backward_pre_hooks") or {}).values())
        bw = _BackwardHooks(self, full, pre) if (full or pre) else None
        if bw is not None:
            args = bw.setup_inputs(args)
        hooks = list((d.get("_forward_hooks") or {}).items())
        called: set[int] = set()
        try:
            result = self.forward(*args, **kwargs)
            fw_kw = d.get("_forward_hooks_with_kwargs") or set()
            for hook_id, hook in hooks:
                called.add(hook_id)
                res = (hook(self, args, kwargs, result) if hook_id in fw_kw
                       else hook(self, args, result))
                if res is not None:
                    result = res
        except Exception:
            always = d.get("_forward_hooks_always_called") or set()
            fw_kw = d.get("_forward_hooks_with_kwargs") or set()
            for hook_id, hook in hooks:
                if hook_id in always and hook_id not in called:
                    hook(self, args, kwargs, None) if hook_id in fw_kw else hook(self, args, None)
            raise
        if bw is not None:
            result = bw.setup_outputs(result)
        return result
