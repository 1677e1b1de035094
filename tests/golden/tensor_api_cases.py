"""The Tensor-API cases behind tensor_api.npz, written once for torch and tinyclipnn alike.

COMPOSITIONS: ``fn(lib, *float64 tensors)`` -> tensor; its value and every input's gradient
(of ``sum(out * 1)``) are compared. VALUES: ``fn(lib)`` -> a non-differentiable result
(indices, booleans, constructor output) compared by value and dtype name.
"""

import numpy as np

IDX = np.array([[0, 2], [1, 1], [3, 0]])  # gather index for a (3, 4) input along dim 1
INTS = np.array([[1, -2, 3, 0], [4, 5, -6, 7], [0, 1, 2, 3]])

COMPOSITIONS = {
    "min_all": (lambda lib, x: x.min() * 3.0, [(3, 4)]),
    "max_dim": (lambda lib, x: x.max(dim=1).values ** 2, [(3, 4)]),
    "max_dim_keepdim": (lambda lib, x: x.max(0, keepdim=True).values * x, [(3, 4)]),
    "max_dim_tuple_index": (lambda lib, x: x.max(1)[0] + x.min(-1)[0], [(3, 4)]),
    "min_dim_3d": (lambda lib, x: x.min(dim=2).values, [(2, 3, 4)]),
    "amin": (lambda lib, x: x.amin(dim=1), [(3, 4)]),
    "var_all": (lambda lib, x: x.var(), [(3, 4)]),
    "var_dim": (lambda lib, x: x.var(dim=1), [(3, 4)]),
    "var_biased_keepdim": (lambda lib, x: x.var(0, unbiased=False, keepdim=True) * x, [(3, 4)]),
    "std_dims_correction0": (lambda lib, x: x.std(dim=(0, 1), correction=0), [(2, 3, 4)]),
    "std_dim": (lambda lib, x: x.std(1), [(3, 4)]),
    "gather": (lambda lib, x: x.gather(1, lib.tensor(IDX)) ** 2, [(3, 4)]),
    "gather_dim0": (lambda lib, x: x.gather(0, lib.tensor(IDX[:2, :2].T.copy() % 3)), [(3, 4)]),
    "clone": (lambda lib, x: x.clone() * x, [(3, 4)]),
    "float_roundtrip": (lambda lib, x: (x.float() * 2.0).double() * x, [(3, 4)]),
    "int_times_float": (lambda lib, x: lib.tensor(INTS) * 0.5 + x, [(3, 4)]),
    "int_div": (lambda lib, x: lib.tensor(INTS) / 4 * x, [(3, 4)]),
    "eq_mask": (lambda lib, x: x * (x == x.amax()).double() + x * (x != x.amax()).double() * 2,
                [(3, 4)]),
    "numel_dim_size": (lambda lib, x: x * (x.numel() + x.dim() + x.size(1) + x.size()[0]),
                       [(3, 4)]),
}

VALUES = {
    "argmax_all": lambda lib: lib.tensor(INTS).argmax(),
    "argmax_dim": lambda lib: lib.tensor(INTS).argmax(dim=1),
    "argmin_keepdim": lambda lib: lib.tensor(INTS).argmin(dim=0, keepdim=True),
    "max_dim_indices": lambda lib: lib.tensor(INTS).max(dim=1).indices,
    "min_dim_indices": lambda lib: lib.tensor(INTS).min(0).indices,
    "max_int_values": lambda lib: lib.tensor(INTS).max(1).values,
    "eq": lambda lib: lib.tensor(INTS) == 3,
    "ne_tensor": lambda lib: lib.tensor(INTS) != lib.tensor(INTS[::-1].copy()),
    "lt": lambda lib: lib.tensor(INTS) < 2.5,
    "int_times_half": lambda lib: lib.tensor(INTS) * 0.5,
    "int_plus_int": lambda lib: lib.tensor(INTS) + 2,
    "bool_plus_int": lambda lib: (lib.tensor(INTS) > 0) + 1,
    "bool_times_float": lambda lib: (lib.tensor(INTS) > 0) * 1.5,
    "int_true_div": lambda lib: lib.tensor(INTS) / 2,
    "int_pow_half": lambda lib: lib.tensor(np.abs(INTS)) ** 0.5,
    "int_plus_float_tensor": lambda lib: lib.tensor(INTS) + lib.ones(4),
    "float32_plus_float64": lambda lib: lib.ones(4) + lib.ones(4, dtype=lib.float64),
    "float32_times_float": lambda lib: lib.ones(2) * 0.1,
    "long": lambda lib: (lib.tensor(INTS) * 0.7).long(),
    "double": lambda lib: lib.tensor(INTS).double(),
    "float": lambda lib: lib.tensor(INTS).float(),
    "zeros": lambda lib: lib.zeros(2, 3),
    "ones_tuple": lambda lib: lib.ones((2,)),
    "full_int": lambda lib: lib.full((2, 2), 3),
    "full_float": lambda lib: lib.full((3,), 1.5),
    "full_bool": lambda lib: lib.full((2,), True),
    "arange_int": lambda lib: lib.arange(5),
    "arange_float": lambda lib: lib.arange(0, 1, 0.1),
    "arange_mixed": lambda lib: lib.arange(1, 2.5, 0.5),
    "arange_negative_step": lambda lib: lib.arange(10, 0, -3),
    "zeros_like_int": lambda lib: lib.zeros_like(lib.tensor(INTS)),
    "ones_like_float": lambda lib: lib.ones_like(lib.zeros(2, 2)),
    "full_like": lambda lib: lib.full_like(lib.zeros(3), 2.5),
    "from_numpy": lambda lib: lib.from_numpy(INTS.astype(np.int32)),
    "rand_shape": lambda lib: lib.zeros_like(lib.rand(2, 5)),
    "randn_shape": lambda lib: lib.zeros_like(lib.randn(3, 1)),
}


def inputs(name, shapes):
    rng = np.random.default_rng(sum(name.encode()))
    return [rng.standard_normal(s) for s in shapes]


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


PROMOTION_DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]
PROMOTION_SCALARS = [True, 2, 0.5]
PROMOTION_OPS = ["add", "mul", "sub", "truediv"]


def promotion_table(lib):
    """Result dtype names of ``tensor op tensor`` and ``tensor op scalar`` over every pair of
    PROMOTION_DTYPES / PROMOTION_SCALARS and op (bool subtraction, an error in both, skipped)."""
    import operator

    out = []
    for op_name in PROMOTION_OPS:
        op = getattr(operator, op_name)
        for a in PROMOTION_DTYPES:
            x = lib.tensor(np.ones(3, dtype=a))
            for b in PROMOTION_DTYPES + PROMOTION_SCALARS:
                if op_name == "sub" and (a == "bool" or b == "bool" or b is True):
                    continue
                y = lib.tensor(np.ones(3, dtype=b)) if isinstance(b, str) else b
                out.append(f"{a} {op_name} {b!r}: {dtype_name(op(x, y).dtype)}")
    return out
