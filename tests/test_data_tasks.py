import numpy as np
import pytest

from tinyclipnn.data import (
    TASKS,
    addition,
    error_rate,
    get_task,
    is_solved,
    multiplication,
    noiseless_memorization,
    random_permutation,
    sequence_errors,
    temporal_order,
    temporal_order_3bit,
)


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_shapes_dtypes_and_one_hot(name):
    task = TASKS[name]
    x, y = task(7, 30, rng())
    assert x.dtype == np.float32 and x.ndim == 3 and x.shape[1:] == (7, task.n_in)
    if task.kind == "last_real":
        assert y.shape == (7, 1) and y.dtype == np.float32
        assert 30 <= x.shape[0] < 33
    elif task.kind == "last_class":
        assert y.shape == (7,) and y.dtype == np.int64 and y.max() < task.n_out
        np.testing.assert_array_equal(x.sum(-1), 1.0)
    else:
        assert y.shape == (x.shape[0], 7) and y.max() < task.n_out
        np.testing.assert_array_equal(x.sum(-1), 1.0)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_deterministic_given_seed(name):
    a = TASKS[name](5, 40, rng(3))
    b = TASKS[name](5, 40, rng(3))
    c = TASKS[name](5, 40, rng(4))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def _decode_temporal(x, windows, length):
    sym = x.argmax(-1)  # (T, B)
    width = int(length * 0.1)
    labels = []
    for b in range(sym.shape[1]):
        rel = np.flatnonzero(sym[:, b] < 2)
        assert len(rel) == len(windows)
        label = 0
        for bit, (p, start) in enumerate(zip(rel, windows, strict=True)):
            lo = int(length * start)
            assert lo <= p < lo + width
            label += int(sym[p, b]) << bit
        labels.append(label)
    return np.array(labels)


def test_temporal_order_labels_follow_symbols():
    x, y = temporal_order(64, 50, rng(1))
    np.testing.assert_array_equal(_decode_temporal(x, (0.1, 0.5), 50), y)
    assert set(np.unique(y)) == {0, 1, 2, 3}


def test_temporal_order_3bit_labels_follow_symbols():
    x, y = temporal_order_3bit(128, 60, rng(2))
    np.testing.assert_array_equal(_decode_temporal(x, (0.1, 0.3, 0.6), 60), y)
    assert set(np.unique(y)) == set(range(8))


def test_temporal_order_hand_checked():
    x, y = temporal_order(1, 20, rng(0))
    sym = x[:, 0].argmax(-1)
    # A=0/B=1 at one step of [2, 4) and one of [10, 12); label = first + 2 * second
    first = sym[2:4][sym[2:4] < 2][0]
    second = sym[10:12][sym[10:12] < 2][0]
    assert y[0] == first + 2 * second


@pytest.mark.parametrize("fn,combine", [(addition, lambda a, b: (a + b) / 2),
                                        (multiplication, lambda a, b: a * b)])
def test_addition_and_multiplication_targets(fn, combine):
    x, y = fn(32, 100, rng(5))
    l = x.shape[0]
    for b in range(32):
        marks = np.flatnonzero(x[:, b, 0] == 1.0)
        assert len(marks) == 2
        assert marks[0] < int(l * 0.1) <= marks[1] < int(l * 0.5)
        a, c = x[marks, b, 1]
        assert y[b, 0] == pytest.approx(combine(a, c), rel=1e-6)
    assert ((x[:, :, 1] >= 0) & (x[:, :, 1] < 1)).all()


def test_random_permutation_recall_first_symbol():
    x, y = random_permutation(50, 30, rng(6))
    sym = x.argmax(-1)
    np.testing.assert_array_equal(sym[0], y)
    assert (sym[1:] >= 2).all() and set(np.unique(y)) == {0, 1}


def test_noiseless_memorization_layout():
    x, y = noiseless_memorization(4, 15, rng(7))
    assert x.shape == (35, 4, 7) and y.shape == (35, 4)
    sym = x.argmax(-1)
    np.testing.assert_array_equal(sym[15 + 10], 6)  # trigger
    assert (sym[10:25] == 5).all() and (sym[26:] == 5).all()
    np.testing.assert_array_equal(y[-10:], sym[:10])  # replay the pattern
    assert (y[:-10] == 5).all()


def test_get_task_aliases_and_errors():
    assert get_task("torder") is TASKS["temporal_order"]
    assert get_task("mem").kind == "all_class"
    with pytest.raises(ValueError, match="task must be one of"):
        get_task("nope")
    with pytest.raises(ValueError, match="length"):
        temporal_order(2, 3, rng())


def test_sequence_errors_criteria():
    add = get_task("addition")
    y = np.array([[0.5], [0.5], [0.5]], np.float32)
    out = np.array([[0.5], [0.69], [0.71]])  # squared errors 0, 0.0361, 0.0441
    np.testing.assert_array_equal(sequence_errors(add, out, y), [False, False, True])
    to = get_task("temporal_order")
    logits = np.eye(4)[[0, 1, 2]]
    np.testing.assert_array_equal(sequence_errors(to, logits, np.array([0, 2, 2])),
                                  [False, True, False])
    mem = get_task("mem")
    tgt = np.zeros((3, 2), np.int64)
    out = np.zeros((3, 2, 6))
    out[:, :, 0] = 1
    out[1, 1, 3] = 2  # one wrong step makes sequence 1 wrong
    np.testing.assert_array_equal(sequence_errors(mem, out, tgt), [False, True])


def test_error_rate_with_oracle_and_guesser():
    task = get_task("temporal_order")
    oracle = lambda x: np.eye(4)[_decode_temporal(x, (0.1, 0.5), x.shape[0])]  # noqa: E731
    assert error_rate(task, oracle, 30, rng(8), n_sequences=2000) == 0.0
    const = lambda x: np.tile(np.eye(4)[0], (x.shape[1], 1))  # noqa: E731
    rate = error_rate(task, const, 30, rng(8), n_sequences=2000)
    assert 0.7 < rate < 0.8
    assert is_solved(0.009) and not is_solved(0.01)


def test_non_finite_outputs_count_as_wrong():
    add = get_task("addition")
    y = np.array([[0.5], [0.5]], np.float32)
    np.testing.assert_array_equal(sequence_errors(add, np.array([[np.nan], [np.inf]]), y),
                                  [True, True])
    to = get_task("temporal_order")
    out = np.full((2, 4), np.nan)
    np.testing.assert_array_equal(sequence_errors(to, out, np.array([0, 1])), [True, True])
