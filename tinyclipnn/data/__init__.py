"""Built-in tasks and corpora (numpy only): Pascanu et al. 2013's pathological problems with
their success criterion, a character corpus built from text on the machine, and 2-D spirals."""

from .charcorpus import CharVocab, load_text, random_windows, stdlib_corpus, train_val_split
from .pathological import (
    TASKS,
    Task,
    addition,
    get_task,
    multiplication,
    noiseless_memorization,
    random_permutation,
    temporal_order,
    temporal_order_3bit,
)
from .spirals import make_spirals
from .success import error_rate, is_solved, sequence_errors

__all__ = [
    "TASKS", "Task", "get_task", "temporal_order", "temporal_order_3bit", "addition",
    "multiplication", "random_permutation", "noiseless_memorization", "error_rate", "is_solved",
    "sequence_errors", "CharVocab", "load_text", "random_windows", "stdlib_corpus",
    "train_val_split", "make_spirals",
]
