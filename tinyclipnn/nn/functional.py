"""Losses and activations as functions (``tinyclipnn.nn.functional``, as ``torch.nn.functional``)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._validate import OneOf, Real, check
from ..autograd import Function, InputError, Tensor
from ..autograd.errors import int_arg
from ..autograd.ops_reduce import log_softmax_array
from ._checks import check_same_dtype
from .layers import Dropout, _LinearFn

REDUCTION = OneOf("mean", "sum", "none")
LABEL_SMOOTHING = Real(0, 1)
GELU_APPROXIMATE = OneOf("none", "tanh")


def check_reduction(reduction: str, owner: str | None = None) -> str:
    """``reduction``: "mean", "sum" or "none" (ValueError otherwise)."""
    return check(REDUCTION, reduction, "reduction", owner)


def _targets(target: Any, input_shape: tuple[int, ...]) -> np.ndarray:
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"target must hold integer class indices, got dtype {t.dtype}")
    expected = input_shape[:1] + input_shape[2:] if len(input_shape) > 1 else ()
    if t.shape != expected:
        raise ValueError(f"target has shape {t.shape}; for input of shape {input_shape} it "
                         f"must have shape {expected}")
    return t


def _class_weights(weight: Any, n_classes: int) -> np.ndarray | None:
    if weight is None:
        return None
    w = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    if w.shape != (n_classes,):
        raise ValueError(f"weight should be a 1D tensor of size C = {n_classes} (one per "
                         f"class), got shape {w.shape}")
    return w


def _target_index(lp: np.ndarray, safe: np.ndarray) -> tuple | None:
    """Index of each entry's target class in ``lp`` (N, C) (fancy indexing beats numpy's
    ``*_along_axis`` helpers, ~7 us each, on the small batches of an MLP); None for more dims."""
    return (np.arange(lp.shape[0]), safe) if lp.ndim == 2 else None


ROW_KERNEL_MIN = 32_768  # logits at least this large use the compiled rows (kernels.cpu.losses)
_ROW_KERNELS: list = []  # [kernels.cpu.losses, or None without numba], found on first use


def _row_kernels(logits: np.ndarray, weight: Any, valid: np.ndarray) -> Any:
    """The compiled cross-entropy rows for a large (N, C) float batch with every entry counted
    once (no class weights, nothing ignored), else None (the numpy path)."""
    if (logits.ndim != 2 or logits.size < ROW_KERNEL_MIN or weight is not None
            or logits.dtype not in (np.float32, np.float64) or not valid.all()):
        return None
    if not _ROW_KERNELS:
        try:
            from ..kernels.cpu import losses
        except Exception:  # noqa: BLE001 - no numba: numpy does it
            losses = None
        _ROW_KERNELS.append(losses)
    return _ROW_KERNELS[0]


class _NLL(Function):
    """Negative log-likelihood of log-probabilities (N, C, ...) at integer targets (N, ...),
    each entry weighted by its class's ``weight`` ("mean" divides by the summed weights).

    With no ``weight`` and no ignored entry (the usual case) every entry weighs 1 and no
    per-entry weight array is built: the same numbers, fewer numpy calls."""

    @staticmethod
    def forward(ctx, logp, target, ignore_index, reduction, from_logits, weight=None):
        rows = _row_kernels(logp, weight, target != ignore_index) if from_logits else None
        ctx.rows = None
        if rows is not None:
            n_classes = logp.shape[1]
            if target.size and (target.min() < 0 or target.max() >= n_classes):
                raise IndexError(f"target values must be in [0, {n_classes}) or ignore_index, "
                                 f"got range [{target.min()}, {target.max()}]")
            x, t = np.ascontiguousarray(logp), np.ascontiguousarray(target, dtype=np.int64)
            shift, lse, picked = (np.empty(x.shape[0], x.dtype) for _ in range(3))
            rows.logsumexp_rows(x, t, shift, lse, picked)
            ctx.save_for_backward(x)  # the logits, not an (N, C) log-softmax
            ctx.rows = (rows, t, shift, lse)
            ctx.safe, ctx.entry_w, ctx.total_w, ctx.at = t, None, float(t.size), None
            ctx.reduction, ctx.from_logits, ctx.unbatched = reduction, True, False
            return _NLL._reduce(-picked, float(t.size), reduction, x.dtype, True)
        if from_logits:
            logp = log_softmax_array(logp, axis=1 if logp.ndim > 1 else 0)
        lp = logp if logp.ndim > 1 else logp[None]
        t = target if logp.ndim > 1 else target[None]
        valid = t != ignore_index
        n_classes = lp.shape[1]
        uniform = weight is None and valid.all()
        safe = t if uniform else np.where(valid, t, 0)
        if (t.size if uniform else valid.any()) and (safe.min() < 0 or safe.max() >= n_classes):
            raise IndexError(f"target values must be in [0, {n_classes}) or ignore_index, got "
                             f"range [{t[valid].min()}, {t[valid].max()}]")
        at = _target_index(lp, safe)
        picked = (lp[at] if at is not None
                  else np.take_along_axis(lp, np.expand_dims(safe, 1), axis=1).squeeze(1))
        if uniform:
            entry_w, total_w = None, float(t.size)
            losses = -picked
        else:
            entry_w = valid if weight is None else np.where(valid, weight[safe], 0)
            entry_w = entry_w.astype(lp.dtype)
            losses = np.where(valid, -picked * entry_w, 0).astype(lp.dtype)
            total_w = float(entry_w.sum())
        ctx.save_for_backward(logp)
        ctx.safe, ctx.entry_w, ctx.total_w, ctx.at = safe, entry_w, total_w, at
        ctx.reduction, ctx.from_logits, ctx.unbatched = reduction, from_logits, logp.ndim == 1
        return _NLL._reduce(losses, total_w, reduction, lp.dtype, logp.ndim > 1)

    @staticmethod
    def _reduce(losses: np.ndarray, total_w: float, reduction: str, dtype: Any,
                batched: bool) -> np.ndarray:
        if reduction == "none":
            return losses if batched else losses[0]
        total = losses.sum()
        if reduction == "sum":
            return np.asarray(total, dtype=dtype)
        with np.errstate(invalid="ignore", divide="ignore"):  # nothing counted: nan, as PyTorch
            return np.asarray(total / total_w if total_w else np.nan, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        if ctx.rows is not None:  # the compiled rows: softmax * w - onehot * w in one pass
            rows, t, shift, lse = ctx.rows
            (x,) = ctx.saved_tensors
            if ctx.reduction == "none":
                w = grad
            else:
                w = grad / ctx.total_w if ctx.reduction == "mean" else grad
            w = np.ascontiguousarray(np.broadcast_to(np.asarray(w, dtype=x.dtype), t.shape))
            g = np.empty_like(x)
            rows.softmax_grad_rows(x, t, shift, lse, w, g)
            return g, None
        (logp,) = ctx.saved_tensors
        lp = logp if not ctx.unbatched else logp[None]
        shape = ctx.safe.shape
        if ctx.reduction == "none":
            w = grad if not ctx.unbatched else grad[None]
        elif ctx.reduction == "sum":
            w = grad if ctx.entry_w is None else np.broadcast_to(grad, shape)
        else:
            w = grad / (ctx.total_w or 1.0)
            w = w if ctx.entry_w is None else np.broadcast_to(w, shape)
        if ctx.entry_w is not None:
            w = (w * ctx.entry_w).astype(lp.dtype)
        w = np.asarray(w, dtype=lp.dtype)
        wc = np.expand_dims(w, 1) if w.ndim else w  # per entry, broadcast over the classes
        at = ctx.at
        if ctx.from_logits:  # d/dlogits of -logp[t] = softmax - onehot, weighted
            g = np.exp(lp)  # built in place: one (N, C) array, not four
            g *= wc
            if at is not None:
                g[at] -= w
            else:
                idx = np.expand_dims(ctx.safe, 1)
                np.put_along_axis(g, idx, np.take_along_axis(g, idx, axis=1) - wc, axis=1)
        else:
            g = np.zeros_like(lp)
            if at is not None:
                g[at] = -w
            else:
                np.put_along_axis(g, np.expand_dims(ctx.safe, 1), -np.broadcast_to(
                    wc, np.expand_dims(ctx.safe, 1).shape), axis=1)
        return (g[0] if ctx.unbatched else g), None


def cross_entropy(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits ``input`` (N, C) / (N, C, d1, ...) / (C,) at integer
    class indices ``target`` (N,) / (N, d1, ...) / (); entries equal to ``ignore_index`` count
    for nothing (and "mean" divides by the number of the others). One fused graph node.

    ``weight`` (C,): a (constant) weight per class; "mean" then divides by the summed weights
    of the counted entries. ``label_smoothing=eps`` mixes the one-hot target with the uniform
    distribution, as PyTorch: ``(1 - eps) * nll + eps / C * sum_c(-w_c * log_softmax_c)``.

    A float ``target`` of ``input``'s shape holds class probabilities (soft labels), as in
    PyTorch: ``-sum_c w_c * target_c * log_softmax_c`` per entry, "mean" over the entries
    (not the weights); ``label_smoothing`` mixes the target with the uniform distribution."""
    check_reduction(reduction)
    label_smoothing = LABEL_SMOOTHING(label_smoothing, "label_smoothing")
    ignore_index = int_arg("cross_entropy", "ignore_index", ignore_index)
    class_dim = 1 if input.ndim > 1 else 0
    if np.shape(target.data if isinstance(target, Tensor) else target) == input.shape:
        return _cross_entropy_probs(input, target, weight, ignore_index, reduction,
                                    label_smoothing)
    t = _targets(target, input.shape)
    w = _class_weights(weight, input.shape[class_dim])
    nll = _NLL.apply(input, t, ignore_index=ignore_index, reduction=reduction, from_logits=True,
                     weight=w)
    if not label_smoothing:
        return nll
    valid = t != ignore_index
    logp = input.log_softmax(class_dim)
    if w is not None:
        logp = logp * w.reshape((-1,) + (1,) * (input.ndim - class_dim - 1)).astype(input.dtype)
    smooth = -logp.sum(axis=class_dim) * valid.astype(input.dtype)
    if reduction == "sum":
        smooth = smooth.sum()
    elif reduction == "mean":
        denom = float(valid.sum() if w is None else w[np.where(valid, t, 0)][valid].sum())
        smooth = smooth.sum() / (denom or np.nan)
    n_classes = input.shape[class_dim]
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / n_classes)


def _cross_entropy_probs(input: Tensor, target: Any, weight: Any, ignore_index: int,
                         reduction: str, label_smoothing: float) -> Tensor:
    """`cross_entropy` against class probabilities ``target`` (same shape as ``input``),
    composed from differentiable ops (a target that requires grad gets its gradient too)."""
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    if t.dtype.kind != "f":
        raise InputError(f"cross_entropy: Expected floating point type for target with class "
                         f"probabilities, got {t.dtype}")
    if ignore_index != -100:
        raise InputError("cross_entropy: ignore_index is not supported for floating point "
                         "target")
    class_dim = 1 if input.ndim > 1 else 0
    n_classes = input.shape[class_dim]
    w = _class_weights(weight, n_classes)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / n_classes
    logp = input.log_softmax(class_dim)
    if w is not None:
        logp = logp * w.reshape((-1,) + (1,) * (input.ndim - class_dim - 1)).astype(input.dtype)
    losses = -(logp * t).sum(axis=class_dim)
    if reduction == "none":
        return losses
    total = losses.sum()
    return total if reduction == "sum" else total / max(input.numel() // max(n_classes, 1), 1)


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, ...) at class indices;
    ``weight`` (C,) weights each class (as `cross_entropy`)."""
    check_reduction(reduction)
    ignore_index = int_arg("nll_loss", "ignore_index", ignore_index)
    w = _class_weights(weight, input.shape[1 if input.ndim > 1 else 0])
    return _NLL.apply(input, _targets(target, input.shape), ignore_index=ignore_index,
                      reduction=reduction, from_logits=False, weight=w)


def _regression_target(input: Tensor, target: Any) -> Tensor:
    """``target`` as a Tensor; warns as PyTorch when its shape differs from ``input``'s (the
    two broadcast, which is rarely what was meant: (4, 1) against (4,) gives (4, 4))."""
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target, dtype=input.dtype))
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({tuple(target.shape)}) that is different to the "
                      f"input size ({tuple(input.shape)}). This will likely lead to incorrect "
                      f"results due to broadcasting. Please ensure they have the same size.",
                      UserWarning, stacklevel=3)
        try:
            np.broadcast_shapes(target.shape, input.shape)
        except ValueError:
            raise InputError(f"target of shape {tuple(target.shape)} does not broadcast with "
                             f"input of shape {tuple(input.shape)}") from None
    return target


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or summed) squared error; ``target`` should have ``input``'s shape (it broadcasts,
    with PyTorch's warning when the shapes differ)."""
    check_reduction(reduction)
    diff = input - _regression_target(input, target)
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or summed) absolute error (gradient ``sign(input - target)``, 0 at a tie); warns
    as `mse_loss` when the shapes differ."""
    check_reduction(reduction)
    return _reduce((input - _regression_target(input, target)).abs(), reduction)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding (a new last dim of ``num_classes``; -1: ``max + 1``) of integer
    class indices, as ``torch.nn.functional.one_hot``."""
    idx = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    num_classes = int_arg("one_hot", "num_classes", num_classes)
    if idx.dtype.kind not in "iu":
        raise InputError(f"one_hot is only applicable to index tensor of type LongTensor (an "
                         f"integer dtype), got {idx.dtype}")
    if num_classes == -1:
        if idx.size == 0:
            raise InputError("one_hot: Can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    elif num_classes < -1:
        raise InputError(f"one_hot: num_classes must be -1 or >= 0, got {num_classes}")
    if idx.size and idx.min() < 0:
        raise InputError("one_hot: Class values must be non-negative.")
    if idx.size and idx.max() >= num_classes:
        raise InputError(f"one_hot: Class values must be smaller than num_classes "
                         f"({num_classes}), got {int(idx.max())}.")
    out = (idx[..., None] == np.arange(num_classes)).astype(np.int64)
    return Tensor._wrap(out, False)


def check_gelu_approximate(approximate: str, owner: str | None = None) -> str:
    """GELU's ``approximate``: "none" or "tanh" (ValueError otherwise)."""
    return check(GELU_APPROXIMATE, approximate, "approximate", owner)


class _Gelu(Function):
    """``x * Phi(x)``, exact (erf, from scipy, imported on first use) or tanh-approximated."""

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            k = np.sqrt(2 / np.pi).astype(x.dtype)
            inner = np.tanh(k * (x + 0.044715 * x ** 3))
            ctx.inner = inner
            return (0.5 * x * (1 + inner)).astype(x.dtype, copy=False)
        from scipy.special import erf

        return (0.5 * x * (1 + erf(x / np.sqrt(2)))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            k, inner = np.sqrt(2 / np.pi), ctx.inner
            d = 0.5 * (1 + inner) + 0.5 * x * (1 - inner ** 2) * k * (1 + 3 * 0.044715 * x ** 2)
        else:
            from scipy.special import erf

            d = 0.5 * (1 + erf(x / np.sqrt(2))) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
        return ((grad * d).astype(x.dtype, copy=False),)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate="tanh"`` for the tanh form."""
    check_gelu_approximate(approximate)
    return _Gelu.apply(input, approximate=approximate)


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims (biased variance), then scale by
    ``weight`` and shift by ``bias`` (each of shape ``normalized_shape``), as PyTorch."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape or len(shape) > input.ndim:
        raise ValueError(f"layer_norm: input of shape {tuple(input.shape)} must end in "
                         f"normalized_shape={list(shape)}")
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    centred = input - input.mean(axes, keepdims=True)
    var = (centred * centred).mean(axes, keepdims=True)
    out = centred / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    return input.log_softmax(dim)


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def relu(input: Tensor) -> Tensor:
    return input.relu()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` as one graph node; ``input`` and ``weight`` must share a
    dtype (as in PyTorch)."""
    check_same_dtype("linear", "input", input.dtype, weight.dtype)

    return _LinearFn.apply(input, weight, bias)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    d = Dropout(p)
    d.training = training
    return d(input)
