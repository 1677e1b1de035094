"""Sampling text from a character LSTM (``tinyclipnn sample``): temperature sampling, greedy at
temperature 0, and clear errors for arguments and prompts the model cannot take."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import no_grad

__all__ = ["check_sampling", "generate"]


def check_sampling(n_chars: Any, temperature: Any) -> None:
    """``ValueError`` naming ``--length`` / ``--temperature`` for values out of range."""
    if isinstance(n_chars, bool) or not isinstance(n_chars, (int, np.integer)) or n_chars < 0:
        raise ValueError(f"--length must be an integer >= 0, got {n_chars!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"--temperature must be a finite number >= 0 (0: always the most "
                         f"likely character), got {temperature!r}")


def _check_prompt(prompt: str, stoi: dict[str, int]) -> None:
    unknown = sorted(set(prompt) - set(stoi))
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise ValueError(f"--prompt has characters the model never saw in training: {shown}; "
                         f"use only characters of its vocabulary ({len(stoi)} characters)")


def generate(model: Any, vocab: Any, n_chars: int, prompt: str = "",
             temperature: float = 0.8, seed: int = 0) -> str:
    """``prompt`` followed by ``n_chars`` characters from ``model`` (a `charlm.CharLM`).
    ``temperature`` 0 picks the most likely character each time (deterministic); an empty
    prompt starts from a newline (or the first character of the vocabulary)."""
    check_sampling(n_chars, temperature)
    _check_prompt(prompt, vocab.stoi)
    rng = np.random.default_rng(seed)
    prompt = prompt or ("\n" if "\n" in vocab.stoi else vocab.itos[0])
    out: list[str] = []
    with no_grad():
        logits, state = model(vocab.encode(prompt)[:, None])
        for _ in range(n_chars):
            z = logits.data[-1, 0].astype(np.float64)
            if temperature == 0:
                i = int(np.argmax(z))
            else:
                z = z / temperature
                p = np.exp(z - z.max())
                i = int(rng.choice(len(p), p=p / p.sum()))
            out.append(vocab.itos[i])
            logits, state = model(np.array([[i]]), state)
    return prompt + "".join(out)
