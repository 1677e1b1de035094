"""`Module`: the base class of layers, with PyTorch's registration and state-dict rules."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from ..autograd import zero_grads
from .hooks import HookMixin
from .parameter import Parameter


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module(HookMixin):
    """Base class: assign `Parameter` and `Module` objects as attributes and they are registered.

    ``named_parameters()`` gives PyTorch's dotted names (``"0.weight"``, ``"rnn.weight_hh_l0"``),
    so a ``state_dict`` moves between PyTorch and tinyclipnn as numpy arrays.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign attributes before Module.__init__() is called")
        for store in (self._parameters, self._modules, self._buffers):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            if isinstance(value, (list, tuple)) and any(isinstance(v, Module) for v in value):
                warnings.warn(f"{type(self).__name__}.{name}: a Python {type(value).__name__} "
                              f"of Modules registers none of their parameters; use "
                              f"nn.ModuleList", UserWarning, stacklevel=2)
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_modules", "_buffers"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._modules, self._buffers):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: np.ndarray | None) -> None:
        """A non-trainable array saved in the state dict (like BatchNorm's running stats)."""
        self._buffers[name] = value

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    # ---- traversal --------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module ("") and every descendant, depth first in
        registration order; a module reachable twice is given once unless
        ``remove_duplicate=False``."""
        stack = [(prefix, self)]
        seen = set() if memo is None else memo
        while stack:
            name, mod = stack.pop()
            if remove_duplicate:
                if mod in seen:
                    continue
                seen.add(mod)
            yield name, mod
            children = [(f"{name}.{k}" if name else k, m)
                        for k, m in mod._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator[Module]:
        for m in self._modules.values():
            if m is not None:
                yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for k, m in self._modules.items():
            if m is not None:
                yield k, m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else iter([(prefix, self)])
        for mname, mod in mods:
            for pname, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for mname, mod in self.named_modules():
            for bname, b in mod._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn(m)`` on every submodule, children before parents, then on ``self``
        (e.g. custom initialisation); returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` ("" is self)."""
        mod = self
        for part in target.split(".") if target else []:
            if part not in mod._modules or mod._modules[part] is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r} "
                                     f"(in {target!r})")
            mod = mod._modules[part]
        return mod

    # ---- modes and gradients -------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear gradients. A ``.grad`` that is a view into a shared buffer (``GradBuffer``)
        is zeroed in place, never dropped, so the buffer stays wired."""
        zero_grads(self.parameters(), set_to_none)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # ---- state ---------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Parameter and buffer arrays by dotted name (copies, safe to keep)."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, p in self.named_parameters():
            out[name] = p.data.copy()
        for name, b in self.named_buffers():
            out[name] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (numpy, or anything ``np.asarray`` takes, e.g. CPU torch tensors) into
        the parameters in place, keeping each parameter's dtype. Every key, shape and dtype is
        checked (and every array converted) before anything is written, so a bad state dict
        leaves the model untouched."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"load_state_dict: state_dict must be a dict of arrays, got "
                            f"{type(state_dict).__name__}")

        def _converted(key: str, value: Any, target: np.ndarray) -> np.ndarray:
            """``value`` as an array of ``target``'s shape and dtype, or ValueError / TypeError."""
            arr = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"load_state_dict: '{key}' has dtype {arr.dtype} in the state dict; "
                                f"the model needs numbers for its {target.dtype} array")
            if arr.shape != target.shape:
                raise ValueError(f"load_state_dict: '{key}' has shape {arr.shape} in the state "
                                 f"dict but {target.shape} in the model")
            return arr.astype(target.dtype, copy=False)

        own = dict(self.named_parameters())
        buffers = dict(self.named_buffers())
        missing = [k for k in list(own) + list(buffers) if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own and k not in buffers]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected}; pass strict=False to ignore them")
        arrays = {k: _converted(k, v, own[k].data if k in own else buffers[k])
                  for k, v in state_dict.items() if k in own or k in buffers}
        for k, arr in arrays.items():
            if k in own:
                own[k].copy_(arr)
            else:
                np.copyto(buffers[k], arr)
        return IncompatibleKeys(missing, unexpected)

    def to(self, dtype: Any) -> Module:
        """Cast every parameter (and its gradient) to the float ``dtype``, in place; returns self.

        Layers compute in float32 and float64; a float16/bfloat16 model can hold and clip its
        gradients, but calling a layer then raises a TypeError naming the layer. ``to("cpu")``
        is accepted and does nothing (there is only the CPU)."""
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        rule = ("a float dtype (np.float32, np.float64; np.float16 or bfloat16 to store) or "
                "'cpu'")
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{type(self).__name__}.to: dtype must be {rule}, got "
                            f"{type(dtype).__name__} {dtype!r}") from None
        if dtype.kind != "f" and dtype.name != "bfloat16":
            raise TypeError(f"{type(self).__name__}.to: dtype must be {rule}, got dtype {dtype}")
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            if p.grad is not None:
                p.grad = p.grad.astype(dtype)
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # ---- calling -------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._has_hooks():  # forward / backward hooks (`hooks.HookMixin`)
            return self._call_with_hooks(*args, **kwargs)
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self.named_children():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return lines[0] + (")" if len(lines) == 1 else "\n" + "\n".join(lines[1:]) + "\n)")

