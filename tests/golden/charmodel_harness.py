"""Runs charmodel_pytorch.py under PyTorch or, with only its imports swapped, under tinyclipnn,
from the same initial weights; used by tests/test_torch_habits_charmodel.py and
make_torch_habits_golden.py."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np

SCRIPT = Path(__file__).with_name("charmodel_pytorch.py")
TORCH_IMPORTS = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
TINYCLIPNN_IMPORTS = ("import tinyclipnn as torch\nimport tinyclipnn.nn as nn\n"
                      "import tinyclipnn.nn.functional as F\n")


def load(lib):
    """The script as a module namespace; ``lib`` is "torch" or "tinyclipnn"."""
    src = SCRIPT.read_text()
    assert src.count(TORCH_IMPORTS) == 1, "the script's import block changed"
    if lib == "tinyclipnn":
        src = src.replace(TORCH_IMPORTS, TINYCLIPNN_IMPORTS)
    namespace = {"__name__": f"charmodel_{lib}"}
    exec(compile(src, str(SCRIPT), "exec"), namespace)
    return SimpleNamespace(**namespace)


def initial_weights(vocab, embed_dim=8, hidden=16):
    """float32 weights with PyTorch's parameter names, copied into both models."""
    rng = np.random.default_rng(2020)
    shapes = {"embed.weight": (vocab, embed_dim), "lstm.weight_ih_l0": (4 * hidden, embed_dim),
              "lstm.weight_hh_l0": (4 * hidden, hidden), "lstm.bias_ih_l0": (4 * hidden,),
              "lstm.bias_hh_l0": (4 * hidden,), "head.weight": (vocab, hidden),
              "head.bias": (vocab,)}
    return {k: (0.3 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}


def _array(v):
    return np.array(v.detach().numpy() if hasattr(v, "detach") else v)


def run(lib, follow=None):
    """Train, sample and teacher-force; ``follow``: a path of character indices (another
    library's sample) to teacher-force along as well. Returns arrays by name."""
    m = load(lib)
    model = m.CharModel(len(m.CHARS))
    model.load_state_dict({k: m.torch.tensor(v) for k, v in initial_weights(len(m.CHARS)).items()})
    losses, norms, acts = m.train(model)
    m.torch.manual_seed(0)
    picked, probs = m.sample(model)
    out = {"losses": np.array(losses), "norms": np.array(norms), "act_first": acts[0],
           "act_last": acts[-1], "picked": np.array(picked), "probs": np.concatenate(probs),
           "forced": m.teacher_forced_probs(model, picked)}
    if follow is not None:
        out["followed"] = m.teacher_forced_probs(model, list(follow))
    out.update({f"weight/{k}": _array(v) for k, v in model.state_dict().items()})
    return out
