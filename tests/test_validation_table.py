"""One rule per kind of argument, one message shape, across nn, optim, the schedulers and clip.

Every row is a bad argument: a wrong kind (a string, a bool, a float where an integer goes)
raises ``TypeError``, a value out of range raises ``ValueError``, and the message reads
``[HEAD: ]ARG must be RULE, got VALUE``: HEAD is the class or function (``LSTM``), or PyTorch's
phrase for the same error (``Invalid learning rate``); ARG is the argument's name (with an
index or key for one entry of a list or dict); VALUE ends with the value given. The good rows
show numpy scalars accepted wherever a Python number is, and normalised to a Python number.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinyclipnn as tc
from tinyclipnn import clip as C
from tinyclipnn import nn, optim
from tinyclipnn._validate import show
from tinyclipnn.optim import lr_scheduler as S

NAN = float("nan")


def _p():
    return nn.Parameter(np.zeros(2))


def _opt():
    return optim.SGD([_p()], lr=0.1, momentum=0.9)


def _grads():
    return [np.array([3.0, 4.0])]


def shape(arg: str) -> re.Pattern:
    """The one message shape, for argument ``arg``."""
    return re.compile(rf"^(?:[\w .()]+: )?{re.escape(arg)}(?:\[\d+\]| key \S+)? must be .+, "
                      rf"got .+$", re.S)


# (id, call, exception, argument name, value given)
BAD = [
    # ---- nn layers, the recurrent constructors included
    ("LSTM-hidden_size-str", lambda: nn.LSTM(4, "8"), TypeError, "hidden_size", "8"),
    ("LSTM-hidden_size-0", lambda: nn.LSTM(4, 0), ValueError, "hidden_size", 0),
    ("LSTM-hidden_size-bool", lambda: nn.LSTM(4, True), TypeError, "hidden_size", True),
    ("GRU-num_layers-float", lambda: nn.GRU(4, 8, 1.5), TypeError, "num_layers", 1.5),
    ("RNN-input_size-negative", lambda: nn.RNN(-1, 8), ValueError, "input_size", -1),
    ("LSTM-dropout-1.5", lambda: nn.LSTM(4, 8, dropout=1.5), ValueError, "dropout", 1.5),
    ("GRU-dropout-str", lambda: nn.GRU(4, 8, dropout="0.1"), TypeError, "dropout", "0.1"),
    ("RNN-dropout-bool", lambda: nn.RNN(4, 8, dropout=True), TypeError, "dropout", True),
    ("RNN-nonlinearity", lambda: nn.RNN(4, 8, nonlinearity="gelu"), ValueError,
     "nonlinearity", "gelu"),
    ("LSTM-bptt_clip-negative", lambda: nn.LSTM(4, 8, bptt_clip=-1.0), ValueError,
     "bptt_clip", -1.0),
    ("LSTM-bptt_clip_mode", lambda: nn.LSTM(4, 8, bptt_clip_mode="max"), ValueError,
     "bptt_clip_mode", "max"),
    ("LSTMCell-hidden_size-float", lambda: nn.LSTMCell(4, 8.0), TypeError, "hidden_size", 8.0),
    ("Linear-in_features-float", lambda: nn.Linear(2.5, 3), TypeError, "in_features", 2.5),
    ("Linear-out_features-negative", lambda: nn.Linear(3, -1), ValueError, "out_features", -1),
    ("Linear-bias-int", lambda: nn.Linear(3, 2, bias=1), TypeError, "bias", 1),
    ("Embedding-num_embeddings-bool", lambda: nn.Embedding(True, 3), TypeError,
     "num_embeddings", True),
    ("Embedding-padding_idx-range", lambda: nn.Embedding(5, 3, padding_idx=9), ValueError,
     "padding_idx", 9),
    ("Dropout-p-range", lambda: nn.Dropout(1.5), ValueError, "p", 1.5),
    ("Dropout-p-str", lambda: nn.Dropout("0.5"), TypeError, "p", "0.5"),
    ("LayerNorm-eps-0", lambda: nn.LayerNorm(4, eps=0.0), ValueError, "eps", 0.0),
    ("LayerNorm-eps-bool", lambda: nn.LayerNorm(4, eps=True), TypeError, "eps", True),
    ("CrossEntropyLoss-label_smoothing", lambda: nn.CrossEntropyLoss(label_smoothing=2.0),
     ValueError, "label_smoothing", 2.0),
    ("MSELoss-reduction", lambda: nn.MSELoss(reduction="avg"), ValueError, "reduction", "avg"),
    ("GELU-approximate", lambda: nn.GELU("fast"), ValueError, "approximate", "fast"),
    ("calculate_gain-nonlinearity", lambda: nn.init.calculate_gain("swish"), ValueError,
     "nonlinearity", "swish"),
    ("calculate_gain-param-str", lambda: nn.init.calculate_gain("leaky_relu", "0.2"), TypeError,
     "param", "0.2"),
    # ---- optimizers
    ("SGD-lr-negative", lambda: optim.SGD([_p()], lr=-1.0), ValueError, "lr", -1.0),
    ("SGD-lr-str", lambda: optim.SGD([_p()], lr="0.1"), TypeError, "lr", "0.1"),
    ("SGD-lr-bool", lambda: optim.SGD([_p()], lr=True), TypeError, "lr", True),
    ("SGD-momentum-nan", lambda: optim.SGD([_p()], momentum=NAN), ValueError, "momentum", NAN),
    ("SGD-nesterov-int", lambda: optim.SGD([_p()], momentum=0.9, nesterov=1), TypeError,
     "nesterov", 1),
    ("SGD-clipper", lambda: optim.SGD([_p()], clipper=1.0), TypeError, "clipper", 1.0),
    ("Adam-betas-length", lambda: optim.Adam([_p()], betas=(0.9,)), ValueError, "betas",
     (0.9,)),
    ("Adam-betas-range", lambda: optim.Adam([_p()], betas=(0.9, 1.0)), ValueError, "betas",
     1.0),
    ("Adam-eps-negative", lambda: optim.Adam([_p()], eps=-1e-8), ValueError, "eps", -1e-8),
    ("AdamW-weight_decay-str", lambda: optim.AdamW([_p()], weight_decay="0.01"), TypeError,
     "weight_decay", "0.01"),
    ("RMSprop-alpha-negative", lambda: optim.RMSprop([_p()], alpha=-0.1), ValueError, "alpha",
     -0.1),
    ("RMSprop-centered-str", lambda: optim.RMSprop([_p()], centered="yes"), TypeError,
     "centered", "yes"),
    ("Adagrad-lr_decay-negative", lambda: optim.Adagrad([_p()], lr_decay=-1.0), ValueError,
     "lr_decay", -1.0),
    ("Adagrad-eps-bool", lambda: optim.Adagrad([_p()], eps=False), TypeError, "eps", False),
    ("SGD-step-closure", lambda: optim.SGD([_p()]).step(closure=3), TypeError, "closure", 3),
    # ---- learning-rate schedulers
    ("StepLR-step_size-0", lambda: S.StepLR(_opt(), 0), ValueError, "step_size", 0),
    ("StepLR-step_size-float", lambda: S.StepLR(_opt(), 2.5), TypeError, "step_size", 2.5),
    ("StepLR-step_size-bool", lambda: S.StepLR(_opt(), True), TypeError, "step_size", True),
    ("StepLR-gamma-str", lambda: S.StepLR(_opt(), 3, "0.1"), TypeError, "gamma", "0.1"),
    ("StepLR-optimizer", lambda: S.StepLR("sgd", 3), TypeError, "optimizer", "sgd"),
    ("StepLR-last_epoch", lambda: S.StepLR(_opt(), 3, last_epoch=-2), ValueError,
     "last_epoch", -2),
    ("ExponentialLR-gamma-negative", lambda: S.ExponentialLR(_opt(), -0.5), ValueError, "gamma",
     -0.5),
    ("MultiStepLR-milestones", lambda: S.MultiStepLR(_opt(), [2, -1]), ValueError, "milestones",
     -1),
    ("CosineAnnealingLR-T_max", lambda: S.CosineAnnealingLR(_opt(), 0), ValueError, "T_max", 0),
    ("LinearLR-start_factor", lambda: S.LinearLR(_opt(), start_factor=0.0), ValueError,
     "start_factor", 0.0),
    ("ConstantLR-factor", lambda: S.ConstantLR(_opt(), factor=2.0), ValueError, "factor", 2.0),
    ("PolynomialLR-power-str", lambda: S.PolynomialLR(_opt(), power="2"), TypeError, "power",
     "2"),
    ("LambdaLR-lr_lambda", lambda: S.LambdaLR(_opt(), 3), TypeError, "lr_lambda", 3),
    ("OneCycleLR-max_lr", lambda: S.OneCycleLR(_opt(), 0.0, total_steps=5), ValueError,
     "max_lr", 0.0),
    ("OneCycleLR-pct_start", lambda: S.OneCycleLR(_opt(), 0.1, total_steps=5, pct_start=1.5),
     ValueError, "pct_start", 1.5),
    ("SGDR-T_0", lambda: S.CosineAnnealingWarmRestarts(_opt(), 0), ValueError, "T_0", 0),
    ("ReduceLROnPlateau-factor", lambda: S.ReduceLROnPlateau(_opt(), factor=1.0), ValueError,
     "factor", 1.0),
    ("ReduceLROnPlateau-patience-bool", lambda: S.ReduceLROnPlateau(_opt(), patience=True),
     TypeError, "patience", True),
    ("ReduceLROnPlateau-mode", lambda: S.ReduceLROnPlateau(_opt(), mode="up"), ValueError,
     "mode", "up"),
    ("ReduceLROnPlateau-metrics", lambda: S.ReduceLROnPlateau(_opt()).step("low"), TypeError,
     "metrics", "low"),
    # ---- clip functions and classes
    ("clip_grad_norm_-max_norm-negative", lambda: C.clip_grad_norm_(_grads(), -1.0),
     ValueError, "max_norm", -1.0),
    ("clip_grad_norm_-max_norm-str", lambda: C.clip_grad_norm_(_grads(), "1"), TypeError,
     "max_norm", "1"),
    ("clip_grad_norm_-max_norm-bool", lambda: C.clip_grad_norm_(_grads(), True), TypeError,
     "max_norm", True),
    ("clip_grad_norm_-norm_type", lambda: C.clip_grad_norm_(_grads(), 1.0, 0.5), ValueError,
     "norm_type", 0.5),
    ("clip_grad_norm_-nonfinite", lambda: C.clip_grad_norm_(_grads(), 1.0, nonfinite="drop"),
     ValueError, "nonfinite", "drop"),
    ("clip_grad_value_-clip_value", lambda: C.clip_grad_value_(_grads(), -0.5), ValueError,
     "clip_value", -0.5),
    ("ClipGradNorm-max_norm", lambda: C.ClipGradNorm(-1.0), ValueError, "max_norm", -1.0),
    ("ClipGradValue-clip_value-bool", lambda: C.ClipGradValue(True), TypeError, "clip_value",
     True),
    ("AutoClip-percentile", lambda: C.AutoClip(101), ValueError, "percentile", 101),
    ("ZClip-alpha", lambda: C.ZClip(alpha=1.5), ValueError, "alpha", 1.5),
    ("LossScaler-init_scale", lambda: C.LossScaler(0.0), ValueError, "init_scale", 0.0),
    ("adaptive_clip_grad_-clipping", lambda: C.adaptive_clip_grad_([_p()], 0.0), ValueError,
     "clipping", 0.0),
    ("clip_per_sample_-noise_multiplier",
     lambda: C.clip_per_sample_(np.ones((2, 3)), 1.0, -1.0), ValueError, "noise_multiplier",
     -1.0),
    ("LSTM-bptt_clip-str", lambda: nn.LSTM(4, 8, bptt_clip="1"), TypeError, "bptt_clip", "1"),
    ("RNN-vanishing_penalty-str", lambda: nn.RNN(4, 8, vanishing_penalty="0.1"), TypeError,
     "vanishing_penalty", "0.1"),
    ("GRU-batch_first-str", lambda: nn.GRU(4, 8, batch_first="yes"), TypeError, "batch_first",
     "yes"),
    ("clip_grad_norm_-error_if_nonfinite", lambda: C.clip_grad_norm_(
        _grads(), 1.0, error_if_nonfinite="yes"), TypeError, "error_if_nonfinite", "yes"),
]


def test_the_table_covers_the_four_packages():
    assert len(BAD) >= 40
    ids = " ".join(row[0] for row in BAD)
    for name in ("LSTM", "GRU", "RNN-", "Linear", "SGD", "Adam", "StepLR", "ReduceLROnPlateau",
                 "clip_grad_norm_", "ClipGradNorm"):
        assert name in ids


@pytest.mark.parametrize("call, exc, arg, value", [row[1:] for row in BAD],
                         ids=[row[0] for row in BAD])
def test_a_bad_argument_gets_the_one_shape(call, exc, arg, value):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    assert type(info.value) is exc, f"{type(info.value).__name__}: {info.value}"
    text = str(info.value)
    assert shape(arg).match(text), text
    assert text.endswith(show(value)), text


# ---- the same mistake, the same exception in every package ----------------------------------
A_STRING = [lambda v: nn.LSTM(4, v), lambda v: nn.Dropout(v), lambda v: optim.SGD([_p()], lr=v),
            lambda v: S.StepLR(_opt(), 3, v), lambda v: C.clip_grad_norm_(_grads(), v),
            lambda v: C.ZClip(alpha=v)]


@pytest.mark.parametrize("value, exc", [("0.5", TypeError), (True, TypeError),
                                        (False, TypeError), (np.bool_(True), TypeError),
                                        (NAN, ValueError), (-3, ValueError)])
@pytest.mark.parametrize("make", A_STRING, ids=["nn", "nn-dropout", "optim", "scheduler",
                                                "clip-function", "clip-class"])
def test_the_same_mistake_is_the_same_exception_everywhere(make, value, exc):
    if make is A_STRING[0] and value is NAN:
        value = 2.5  # an integer argument: a float is the wrong kind, not a range error
        exc = TypeError
    with pytest.raises(exc, match=r"must be .+, got "):
        make(value)


# ---- numpy scalars are numbers; results are Python numbers ----------------------------------
def test_numpy_scalars_are_accepted_and_normalised():
    lstm = nn.LSTM(np.int64(3), np.int32(4), num_layers=np.int16(1), dropout=np.float32(0.0))
    assert (lstm.input_size, lstm.hidden_size) == (3, 4) and type(lstm.hidden_size) is int
    cell = nn.GRUCell(np.int64(3), np.uint8(4))
    assert cell.hidden_size == 4
    lin = nn.Linear(np.int64(3), np.int64(2))
    assert type(lin.in_features) is int
    assert nn.Dropout(np.float32(0.25)).p == 0.25
    emb = nn.Embedding(np.int64(5), np.int64(3), padding_idx=np.int64(-1))
    assert emb.padding_idx == 4
    assert type(nn.LayerNorm(np.int64(4), eps=np.float32(1e-3)).eps) is float
    assert nn.CrossEntropyLoss(label_smoothing=np.float64(0.1)).label_smoothing == 0.1
    assert nn.init.calculate_gain("leaky_relu", np.float32(0.5)) == pytest.approx(
        nn.init.calculate_gain("leaky_relu", 0.5))

    opt = optim.SGD([_p()], lr=np.float32(0.5), momentum=np.float64(0.9))
    assert type(opt.param_groups[0]["lr"]) is float and opt.param_groups[0]["lr"] == 0.5
    adam = optim.Adam([_p()], betas=(np.float32(0.5), np.float64(0.99)), eps=np.float64(1e-8))
    assert adam.param_groups[0]["betas"] == (0.5, 0.99)
    rms = optim.RMSprop([_p()], alpha=np.float32(0.5), centered=np.bool_(True))
    assert rms.param_groups[0]["centered"] is True
    assert optim.Adagrad([_p()], lr_decay=np.int64(0)).param_groups[0]["lr_decay"] == 0.0

    sched = S.StepLR(_opt(), np.int64(2), np.float32(0.5))
    assert type(sched.step_size) is int and type(sched.gamma) is float
    assert S.OneCycleLR(_opt(), np.float32(0.5), total_steps=np.int64(10)).total_steps == 10
    plateau = S.ReduceLROnPlateau(_opt(), patience=np.int64(1), min_lr=np.float32(0.0))
    plateau.step(np.float32(1.0))
    plateau.step(np.array(NAN))  # a metric may be NaN (never an improvement)

    norm = C.clip_grad_norm_(_grads(), np.float32(1.0), np.int64(2))
    assert float(norm) == pytest.approx(5.0)
    assert C.ClipGradValue(np.float64(0.5)) is not None


def test_bool_is_never_a_number():
    for make in (lambda: nn.Linear(True, 2), lambda: nn.GRU(3, np.bool_(True)),
                 lambda: nn.Dropout(False), lambda: nn.LayerNorm(3, eps=True),
                 lambda: optim.Adam([_p()], lr=True), lambda: optim.Adam([_p()], betas=(True, 0.9)),
                 lambda: S.ExponentialLR(_opt(), True), lambda: S.StepLR(_opt(), True),
                 lambda: C.clip_grad_norm_(_grads(), np.bool_(True)),
                 lambda: C.ClipGradNorm(max_norm=True), lambda: tc.clip.AutoClip(True)):
        with pytest.raises(TypeError, match=r"must be .+, got (bool|bool_) "):
            make()
