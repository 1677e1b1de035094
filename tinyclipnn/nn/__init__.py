"""Layers and losses with PyTorch's names, shapes and parameter names."""

from . import functional, init
from .layers import Dropout, Embedding, Identity, Linear, ReLU, Sequential, Sigmoid, Tanh
from .module import IncompatibleKeys, Module
from .parameter import Parameter
from .rnn import GRU, LSTM, RNN, RNNBase
from .rnn_cell import GRUCell, LSTMCell, RNNCell

__all__ = [
    "Dropout", "Embedding", "Identity", "IncompatibleKeys", "Linear", "Module", "Parameter",
    "ReLU", "Sequential", "Sigmoid", "Tanh", "functional", "init",
    "GRU", "LSTM", "RNN", "RNNBase", "GRUCell", "LSTMCell", "RNNCell",
]
