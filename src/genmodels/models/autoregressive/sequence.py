"""Autoregressive models over token sequences: exact likelihoods by the chain rule, and text generation.

A subclass supplies three things: ``logits`` over a whole sequence (training, uncached sampling),
``start`` (encode a context, return the next token's logits and a state: a key/value cache or a
recurrent state) and ``advance`` (one token in, the next token's logits out, at the cost of one
step). Everything else (loss, ``log_prob``, sampling controls, stop strings, streaming) lives here.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from genmodels.data.tokenizers import TOKENIZER_FILE, Tokenizer, load_tokenizer
from genmodels.errors import CheckpointError, ConfigError
from genmodels.io.validation import PositiveInt, Sizes
from genmodels.models.autoregressive.token_choice import TokenConstraint, choose_next_tokens
from genmodels.models.base import Batch, GenerativeModel, ModelConfig, evaluation_result

State = Any


@dataclass
class SequenceConfig(ModelConfig):
    data_shape: Sizes = (257,)
    """``(context_length + 1,)``: a training row is a context and the token that follows it."""
    vocab_size: PositiveInt = 66

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.data_shape) != 1 or self.data_shape[0] < 2:
            raise ConfigError(
                f"a sequence model's data_shape is (context_length + 1,), got {self.data_shape}: train it on text data"
            )
        if self.vocab_size < 2:
            raise ConfigError(f"vocab_size must be at least 2, got {self.vocab_size}")

    @property
    def context_length(self) -> int:
        return self.data_shape[0] - 1


class TokenModel(GenerativeModel):
    """A model of token ids ``(batch, length)`` that keeps its tokenizer and saves it beside the weights."""

    score_is_nll = False  # token models score the NLL per token, so rows of different lengths compare

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.tokenizer: Tokenizer | None = None

    def check_tokens(self, tokens: torch.Tensor, name: str = "x", min_length: int = 2) -> torch.Tensor:
        """Token ids ``(batch, length)`` on the model's device; a clear error for anything else."""
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[1] < min_length:
            shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
            raise ConfigError(
                f"{type(self).__name__} expects {name} as token ids of shape (batch, length >= {min_length}), "
                f"got {shape}"
            )
        if tokens.is_floating_point() and not torch.equal(tokens, tokens.round()):
            raise ConfigError(f"{name} must hold integer token ids")
        tokens = tokens.long().to(self.device)
        if tokens.min() < 0 or tokens.max() >= self.config.vocab_size:
            raise ConfigError(f"{name} holds ids outside the vocabulary [0, {self.config.vocab_size})")
        return tokens

    def start_token(self) -> int:
        """The token an empty prompt starts from: a line break where the vocabulary has one."""
        if self.tokenizer is None:
            return 0
        ids = self.tokenizer.encode("\n")
        return int(ids[-1]) if len(ids) else 0

    def save_extras(self, directory: Path) -> list[str]:
        if self.tokenizer is None:
            return []
        self.tokenizer.save(directory)
        return [TOKENIZER_FILE]

    def load_extras(self, directory: Path) -> None:
        if not (Path(directory) / TOKENIZER_FILE).is_file():
            return
        tokenizer = load_tokenizer(directory)
        if tokenizer.vocab_size != self.config.vocab_size:
            raise CheckpointError(
                f"{directory / TOKENIZER_FILE} has {tokenizer.vocab_size} tokens but the model was built for "
                f"{self.config.vocab_size}"
            )
        self.tokenizer = tokenizer


class SequenceModel(TokenModel):
    """p(x_1..x_T | x_0) = prod_t p(x_t | x_<t), exact; ``log_prob`` conditions on each row's first token."""

    config_class = SequenceConfig
    log_prob_kind = "exact"
    context_limit: int | None = None
    """Most tokens the model attends to at once; None for recurrent models, which have no limit."""
    sampling_controls = ("temperature", "top_k", "top_p", "use_cache")

    # --- what a family implements -----------------------------------------------------------
    @abstractmethod
    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Next-token logits at every position: ``(batch, length)`` ids -> ``(batch, length, vocab)``."""

    @abstractmethod
    def start(self, tokens: torch.Tensor) -> tuple[torch.Tensor, State]:
        """Encode a context ``(batch, length)``: the next token's logits ``(batch, vocab)`` and a state to extend."""

    @abstractmethod
    def advance(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Feed one token per row ``(batch,)``: the following token's logits and the extended state."""

    # --- likelihood -------------------------------------------------------------------------
    def token_log_probs(self, tokens: torch.Tensor) -> torch.Tensor:
        """log p(x_t | x_<t) for t = 1..length-1: ``(batch, length - 1)``."""
        tokens = self.check_tokens(tokens)
        if self.context_limit is not None and tokens.shape[1] > self.context_limit + 1:
            raise ConfigError(
                f"rows of {tokens.shape[1]} tokens exceed the context ({self.context_limit}) plus one token"
            )
        logits = self.logits(tokens[:, :-1])
        return -F.cross_entropy(logits.transpose(1, 2).float(), tokens[:, 1:], reduction="none")

    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        """Mean negative log-likelihood per predicted token, in nats."""
        return {"loss": -self.token_log_probs(batch["x"]).mean()}

    @evaluation_result
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x_1, ..., x_T | x_0) of each row, in nats."""
        return self.token_log_probs(x).sum(dim=1)

    @evaluation_result
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per predicted token: rows of different lengths stay comparable."""
        return -self.token_log_probs(x).mean(dim=1)

    # --- generation -------------------------------------------------------------------------
    def generate_tokens(
        self,
        context: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
        constraint: TokenConstraint | None = None,
    ) -> Iterator[torch.Tensor]:
        """Yield the next token of every row ``(batch,)``, ``max_new_tokens`` times, from a ``(batch, length)`` context.

        With ``use_cache`` each token costs one ``advance`` step; without, the whole context is re-run.
        A ``constraint`` removes the tokens it does not allow before each choice (the rest renormalised).
        When the context outgrows ``context_limit``, both keep its last half and re-encode it, so the
        two ways give the same logits and the same tokens.
        """
        limit = self.context_limit
        context = self.check_tokens(context, "context", min_length=1)
        if limit is not None and context.shape[1] > limit:
            context = context[:, -limit:]
        logits, state = self._encode_context(context, use_cache)
        banned = list(self.tokenizer.never_generated) if self.tokenizer is not None else []
        for step in range(max_new_tokens):
            if banned:
                logits[:, banned] = float("-inf")
            if constraint is not None:
                logits = logits.masked_fill(~constraint.allowed(), float("-inf"))
            next_tokens = choose_next_tokens(logits, temperature, top_k, top_p, generator)
            if constraint is not None:
                constraint.update(next_tokens)
            yield next_tokens
            if step == max_new_tokens - 1:
                return
            context = torch.cat([context, next_tokens[:, None]], dim=1)
            if limit is not None and context.shape[1] > limit:
                context = context[:, -(limit // 2 or 1) :]
                logits, state = self._encode_context(context, use_cache)
            elif use_cache:
                logits, state = self.advance(next_tokens, state)
            else:
                logits = self.logits(context)[:, -1]

    def _encode_context(self, context: torch.Tensor, use_cache: bool) -> tuple[torch.Tensor, State]:
        return self.start(context) if use_cache else (self.logits(context)[:, -1], None)

    def _sample(self, n: int, generator: torch.Generator | None, **controls: Any) -> torch.Tensor:
        """``n`` rows of ``context_length + 1`` tokens, each starting from the start token (a line break)."""
        first = torch.full((n, 1), self.start_token(), dtype=torch.long, device=self.device)
        new = list(self.generate_tokens(first, self.config.data_shape[0] - 1, generator=generator, **controls))
        return torch.cat([first, torch.stack(new, dim=1)], dim=1)

    def generate(self, prompt: str = "", max_new_tokens: int = 200, **options: Any) -> str:
        """Text that continues ``prompt`` (prompt included); options as in :meth:`generate_batch`."""
        return self.generate_batch(prompt, max_new_tokens, num_samples=1, **options)[0]

    def generate_batch(
        self,
        prompt: str = "",
        max_new_tokens: int = 200,
        num_samples: int = 1,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        stop: Sequence[str] = (),
        seed: int | None = None,
        use_cache: bool = True,
        on_text: Callable[[str], None] | None = None,
    ) -> list[str]:
        """``num_samples`` continuations of ``prompt``, generated together in one batch.

        Generation ends at ``max_new_tokens`` or, per sample, at the first of the ``stop`` strings
        (cut off, not included). ``on_text`` receives the first sample's new text as it is produced.
        """
        if self.tokenizer is None:
            raise RuntimeError(
                f"{type(self).__name__} has no tokenizer: train it on text or load it with from_pretrained"
            )
        if num_samples < 1 or max_new_tokens < 0:
            raise ConfigError("num_samples must be positive and max_new_tokens non-negative")
        prompt_ids = [int(token) for token in self.tokenizer.encode(prompt)] or [self.start_token()]
        generator = torch.Generator(device=self.device).manual_seed(seed) if seed is not None else None
        context = torch.tensor([prompt_ids] * num_samples, device=self.device)
        new_ids: list[list[int]] = [[] for _ in range(num_samples)]
        texts, done = [""] * num_samples, [False] * num_samples
        shown = 0
        with self.evaluating(), torch.no_grad():
            for tokens in self.generate_tokens(
                context, max_new_tokens, temperature, top_k, top_p, generator, use_cache
            ):
                for row, token in enumerate(tokens.tolist()):
                    if done[row]:
                        continue
                    new_ids[row].append(token)
                    texts[row] = self.tokenizer.decode(new_ids[row])
                    cut = min((texts[row].find(s) for s in stop if s in texts[row]), default=-1)
                    if cut >= 0:
                        texts[row], done[row] = texts[row][:cut], True
                if on_text is not None:
                    ready = _stream_ready(texts[0], stop, done[0])
                    if ready > shown:
                        on_text(texts[0][shown:ready])
                        shown = ready
                if all(done):
                    break
        if on_text is not None and len(texts[0]) > shown:
            on_text(texts[0][shown:])
        return [prompt + text for text in texts]


def _stream_ready(text: str, stop: Sequence[str], finished: bool) -> int:
    """How much of ``text`` is final: hold back a tail that may start a stop string or a split character."""
    if finished:
        return len(text)
    hold = max((len(s) - 1 for s in stop), default=0)
    ready = len(text) - hold
    while ready > 0 and text[ready - 1] == "\ufffd":  # bytes of a character still arriving
        ready -= 1
    return max(ready, 0)
