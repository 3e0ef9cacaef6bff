"""Held-out quality of a language model: nats per token, bits per character and perplexity."""

from __future__ import annotations

import math
from typing import Any

import torch

from genmodels.data.text import TextSplit
from genmodels.data.tokenizers import Tokenizer
from genmodels.io.progress import PhaseProgress
from genmodels.models.autoregressive.sequence import SequenceModel


def evaluate_text(
    model: SequenceModel,
    split: TextSplit,
    tokenizer: Tokenizer,
    batch_size: int = 64,
    max_windows: int | None = None,
) -> dict[str, Any]:
    """Exact negative log-likelihood of every token of ``split`` after its first, in consecutive context windows.

    Each token is predicted once, from the tokens before it in its window (0 to context_length - 1
    of them), as in the usual character-level reports. Bits per character divide the total by the
    characters those tokens decode to, so character and BPE models compare on the same scale.
    ``max_windows`` evaluates only the split's first windows (a quick look).
    """
    rows = split.tensors()["x"][:max_windows]  # (rows, context_length + 1)
    total = 0.0
    with model.evaluating(), torch.no_grad(), PhaseProgress("held-out text", len(rows), "windows") as shown:
        for chunk in rows.split(batch_size):
            total -= float(model.token_log_probs(chunk).sum())
            shown.advance(len(chunk))
    predicted = rows[:, 1:].flatten()  # consecutive rows overlap by one token: these are contiguous text
    characters = len(tokenizer.decode(predicted.tolist()))
    nats_per_token = total / len(predicted)
    return {
        "tokens": len(predicted),
        "characters": characters,
        "nats_per_token": nats_per_token,
        "bits_per_token": nats_per_token / math.log(2),
        "bits_per_character": total / characters / math.log(2),
        "perplexity": math.exp(nats_per_token),
        "context_length": rows.shape[1] - 1,
    }
