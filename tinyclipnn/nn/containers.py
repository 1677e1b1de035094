"""Containers that register their modules: `Sequential`, `ModuleList`, `ModuleDict`.

A plain Python list of layers assigned to a module registers nothing (no parameters reach the
optimizer); these containers register each entry under its index or key, giving PyTorch's
dotted parameter names (``"layers.0.weight"``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._validate import Kind, check
from .module import Module

_MODULE = Kind(Module, "a Module")
_KEY = Kind(str, "a string")


def _check_module(owner: str, m: Any) -> Module:
    return check(_MODULE, m, "module", owner)


class _Numbered(Module):
    """Modules registered under their positions ``"0"``, ``"1"``, ... (`Sequential`,
    `ModuleList`)."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> _Numbered:
        self.add_module(str(len(self)), _check_module(type(self).__name__, module))
        return self


class Sequential(_Numbered):
    """Modules applied in order; children named "0", "1", ... (or by an OrderedDict)."""

    def __init__(self, *modules: Module | OrderedDict) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, _check_module("Sequential", m))
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), _check_module("Sequential", m))

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return Sequential(OrderedDict(list(self._modules.items())[i]))
        return list(self._modules.values())[i]


class ModuleList(_Numbered):
    """A list of modules, each registered under its index (``"0"``, ``"1"``, ...), as
    ``torch.nn.ModuleList``: indexing, slicing, ``len``, iteration, ``append``, ``extend``,
    ``insert``, ``del`` (later entries are renumbered). It has no ``forward``."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, idx: int) -> int:
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for a ModuleList of {n}")
        return idx % n

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(self._index(idx))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self._modules[str(self._index(idx))] = _check_module("ModuleList", module)

    def __delitem__(self, idx: int | slice) -> None:
        kept = list(self._modules.values())
        del kept[idx if isinstance(idx, slice) else self._index(idx)]
        self._modules.clear()
        self.extend(kept)

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) and not isinstance(modules, _Numbered):
            raise TypeError(f"ModuleList.extend: modules must be an iterable of Modules, got "
                            f"{type(modules).__name__} (a single Module: use append)")
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, _check_module("ModuleList", module))
        self._modules.clear()
        self.extend(items)

    def __repr__(self) -> str:
        """As PyTorch: runs of identical entries print once, as ``(0-2): 3 x Linear(...)``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return "ModuleList()"
        lines, start = [], 0
        for i in range(1, len(reprs) + 1):
            if i == len(reprs) or reprs[i] != reprs[start]:
                body = reprs[start].replace("\n", "\n  ")
                if i - start == 1:
                    lines.append(f"  ({start}): {body}")
                else:
                    lines.append(f"  ({start}-{i - 1}): {i - start} x {body}")
                start = i
        return "ModuleList(\n" + "\n".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of modules, each registered under its key, as ``torch.nn.ModuleDict``:
    ``d[key]``, ``d[key] = m``, ``del``, ``in``, ``len``, iteration over keys, ``keys()``,
    ``values()``, ``items()``, ``update()``, ``pop()``, ``clear()``."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
                 ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        check(_KEY, key, "key", "ModuleDict")
        self.add_module(key, _check_module("ModuleDict", module))

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, m in pairs:
            self[key] = m

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def clear(self) -> None:
        self._modules.clear()
