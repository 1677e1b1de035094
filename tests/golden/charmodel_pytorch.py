"""A character-level LSTM language model, written from PyTorch habit alone (issue 20).

tests/test_torch_habits_charmodel.py runs this very file twice: as it is (PyTorch), and with
the three import lines below swapped for their tinyclipnn equivalents (nothing else changes):

    import tinyclipnn as torch
    import tinyclipnn.nn as nn
    import tinyclipnn.nn.functional as F
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

TEXT = "the quick brown fox jumps over the lazy dog. " * 3
CHARS = sorted(set(TEXT))
STOI = {c: i for i, c in enumerate(CHARS)}


class CharModel(nn.Module):
    def __init__(self, vocab_size, embed_dim=8, hidden_size=16):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx, state=None):
        out, state = self.lstm(self.embed(idx), state)
        return self.head(out), state


def batches(seq_len=12, offsets=(0, 5, 17, 29)):
    data = torch.tensor([STOI[c] for c in TEXT], dtype=torch.long)
    x = torch.stack([data[o:o + seq_len] for o in offsets])
    y = torch.stack([data[o + 1:o + seq_len + 1] for o in offsets])
    return x, y


def train(model, steps=6, lr=1e-2, max_norm=0.2):
    """Adam with step(closure), gradients clipped through nn.utils; a forward hook records
    the LSTM's outputs. Returns the losses, the gradient norms and the recorded activations."""
    x, y = batches()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    activations, norms = [], []
    hook = model.lstm.register_forward_hook(
        lambda module, inputs, output: activations.append(output[0].detach().numpy().copy()))
    losses = []
    for _ in range(steps):
        def closure():
            optimizer.zero_grad()
            logits, _ = model(x)
            loss = criterion(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            loss.backward()
            norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
            norms.append(norm.item())
            return loss

        loss = optimizer.step(closure)
        losses.append(loss.item())
    hook.remove()
    return losses, norms, activations


@torch.inference_mode()
def sample(model, start="t", length=20, temperature=0.8):
    """Sample ``length`` characters after ``start`` at ``temperature``; returns the indices
    and the probabilities each draw was made from."""
    model.eval()
    idx = torch.tensor([[STOI[start]]])
    state = None
    picked, probs_seen = [STOI[start]], []
    for _ in range(length):
        logits, state = model(idx, state)
        probs = F.softmax(logits[:, -1, :] / temperature, dim=-1)
        probs_seen.append(probs.numpy().copy())
        idx = torch.multinomial(probs, num_samples=1)
        picked.append(idx.item())
    return picked, probs_seen


@torch.inference_mode()
def teacher_forced_probs(model, picked, temperature=0.8):
    """The probabilities of each next character along the path ``picked`` (one forward pass)."""
    model.eval()
    logits, _ = model(torch.tensor([picked[:-1]]))
    return F.softmax(logits[0] / temperature, dim=-1).numpy().copy()
