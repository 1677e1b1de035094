"""Layers and losses with PyTorch's names, shapes and parameter names."""

from . import functional, init, utils
from .activation import GELU, Identity, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .containers import ModuleDict, ModuleList, Sequential
from .layers import Dropout, Embedding, Linear
from .loss import CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module
from .normalization import LayerNorm
from .parameter import Parameter
from .rnn import GRU, LSTM, RNN, RNNBase
from .rnn_cell import GRUCell, LSTMCell, RNNCell

__all__ = [
    "CrossEntropyLoss", "Dropout", "Embedding", "GELU", "Identity", "IncompatibleKeys",
    "L1Loss", "LayerNorm", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleDict", "ModuleList",
    "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional",
    "init", "utils", "GRU", "LSTM", "RNN", "RNNBase", "GRUCell", "LSTMCell", "RNNCell",
]
