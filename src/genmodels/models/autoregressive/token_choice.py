"""How the next token is chosen from a model's logits: temperature, top-k and nucleus (top-p) sampling."""

from __future__ import annotations

from typing import Protocol

import torch

from genmodels.errors import ConfigError


class TokenConstraint(Protocol):
    """Rules on which tokens may come next (e.g. a grammar), kept per row while a batch is generated."""

    def allowed(self) -> torch.Tensor:
        """``(batch, vocab)``: True where a token may come next; at least one per row."""

    def update(self, tokens: torch.Tensor) -> None:
        """Record the tokens ``(batch,)`` just chosen."""


def restrict_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Logits with every token outside the allowed set at ``-inf``; ``(batch, vocab)`` in and out.

    ``top_k`` keeps the k most likely tokens; ``top_p`` keeps the smallest set of most likely tokens
    whose probability reaches p (Holtzman et al., 2020). With both, a token must pass both.
    """
    if top_k is not None:
        if top_k < 1:
            raise ConfigError(f"top_k must be at least 1, got {top_k}")
        kth_largest = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    if top_p is not None:
        if not 0 < top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {top_p}")
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probabilities = sorted_logits.softmax(dim=-1)
        # drop a token when the tokens ranked above it already reach top_p; the most likely always stays
        mass_before = probabilities.cumsum(dim=-1) - probabilities
        drop_sorted = mass_before >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def choose_next_tokens(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token per row of ``(batch, vocab)`` logits; temperature 0 picks the most likely token."""
    if temperature < 0:
        raise ConfigError(f"temperature must be non-negative, got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    probabilities = restrict_logits(logits.float() / temperature, top_k, top_p).softmax(dim=-1)
    return torch.multinomial(probabilities, 1, generator=generator).squeeze(-1)
