"""A variational autoencoder of whole token sequences (Gomez-Bombarelli et al., 2018; the VAE of MOSES).

Each row is one sequence framed by line breaks, ``[break, s_1 .. s_L, break, break ...]``, as
``DataSpec(line_rows=True)`` builds them. A bidirectional GRU reads ``s_1 .. s_L, break`` into
q(z | s); a GRU decoder, started from z and fed z at every step, predicts the same tokens one at
a time. Only the tokens up to the first closing break count; the padding after it never does.

As in MOSES, the KL term is weighted by ``beta`` (0.05 there), reached by a linear warm-up: a
small weight keeps the latent space informative for optimisation, at the price of a looser ELBO.
``log_prob`` is the importance-weighted estimate of log p(s) (Burda et al., 2016), a stochastic
lower bound whatever ``beta`` the model trained with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from genmodels.errors import ConfigError
from genmodels.io.validation import ImportanceSamples, NonNegativeFloat, NonNegativeInt, PositiveInt, Sizes
from genmodels.models.autoregressive.sequence import TokenModel
from genmodels.models.autoregressive.token_choice import choose_next_tokens
from genmodels.models.base import Batch, ModelConfig, evaluation_result
from genmodels.models.registry import register_model
from genmodels.nn.gaussian import (
    gaussian_kl_per_dim,
    importance_weighted_bound,
    kl_warmup_weight,
    posterior_samples,
    reparameterize,
)


@dataclass
class SmilesVAEConfig(ModelConfig):
    data_shape: Sizes = (101,)
    """``(context_length + 1,)``: the longest sequence plus its two framing line breaks, padded."""
    vocab_size: PositiveInt = 40
    embedding_dim: PositiveInt = 64
    encoder_dim: PositiveInt = 256
    """Hidden size of each direction of the encoder's GRU."""
    decoder_dim: PositiveInt = 512
    decoder_layers: PositiveInt = 2
    latent_dim: PositiveInt = 64
    beta: NonNegativeFloat = 0.05
    """Weight of the KL term after the warm-up (MOSES: 0.05; 1 is the ELBO)."""
    kl_warmup_steps: NonNegativeInt = 2000
    importance_samples: ImportanceSamples = 100
    """Samples of the importance-weighted ``log_prob`` estimate."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.data_shape) != 1 or self.data_shape[0] < 3:
            raise ConfigError(f"a SMILES VAE's data_shape is (context_length + 1,), got {self.data_shape}")
        if self.vocab_size < 2 or self.latent_dim < 1 or self.decoder_layers < 1:
            raise ConfigError("vocab_size must be at least 2, latent_dim and decoder_layers at least 1")
        if self.beta < 0 or self.kl_warmup_steps < 0 or self.importance_samples < 1:
            raise ConfigError("beta and kl_warmup_steps must not be negative, importance_samples at least 1")


@register_model("smiles-vae")
class SmilesVAE(TokenModel):
    """Sequence VAE with ``encode``/``decode`` between token rows (or strings) and a continuous latent space."""

    config_class = SmilesVAEConfig
    log_prob_kind = "importance_weighted"
    score_is_nll = False  # the score is the NLL per counted token, so sequences of different lengths compare
    part_aliases = {"encoder": ("embedding", "encoder", "z_mean", "z_log_var")}
    recommended_training = {
        "learning_rate": 1e-3,
        "batch_size": 128,
        "max_steps": 5000,
        "gradient_clip_norm": 50.0,
        "monitor": "negative_elbo",
        "val_every": 250,
    }
    recommended_data = {"line_rows": True, "context_length": 100}
    sampling_controls = ("temperature",)

    def __init__(self, config: SmilesVAEConfig) -> None:
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
        self.encoder = nn.GRU(config.embedding_dim, config.encoder_dim, batch_first=True, bidirectional=True)
        self.z_mean = nn.Linear(2 * config.encoder_dim, config.latent_dim)
        self.z_log_var = nn.Linear(2 * config.encoder_dim, config.latent_dim)
        self.initial_state = nn.Linear(config.latent_dim, config.decoder_layers * config.decoder_dim)
        self.decoder = nn.GRU(
            config.embedding_dim + config.latent_dim, config.decoder_dim, config.decoder_layers, batch_first=True
        )
        self.head = nn.Linear(config.decoder_dim, config.vocab_size)
        self.register_buffer("training_steps", torch.zeros((), dtype=torch.long))

    # --- rows -------------------------------------------------------------------------------
    def _targets(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows cut to the longest sequence of the batch, and the mask of tokens that count ``(batch, length - 1)``."""
        tokens = self.check_tokens(x)
        if tokens.shape[1] != self.config.data_shape[0]:
            window = self.config.data_shape[0]
            raise ConfigError(f"{type(self).__name__} expects rows of {window} tokens, got {tuple(x.shape)}")
        line_break = self.start_token()
        if not torch.all(tokens[:, 0] == line_break):
            raise ConfigError("every row must start with a line break, as DataSpec(line_rows=True) builds them")
        is_break = tokens[:, 1:] == line_break
        if not torch.all(is_break.any(dim=1)):
            raise ConfigError("every row must end its sequence with a line break within the row")
        counted = (is_break.long().cumsum(dim=1) - is_break.long()) == 0  # up to and including the first break
        longest = int(counted.sum(dim=1).max())
        return tokens[:, : longest + 1], counted[:, :longest]

    # --- latent space -----------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``(z_mean, z_log_var)`` of q(z | row), each ``(batch, latent_dim)``."""
        tokens, counted = self._targets(x)
        return self._encode(tokens, counted)

    def _encode(self, tokens: torch.Tensor, counted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = counted.sum(dim=1).cpu()
        packed = pack_padded_sequence(self.embedding(tokens[:, 1:]), lengths, batch_first=True, enforce_sorted=False)
        _, final = self.encoder(packed)  # (2, batch, encoder_dim): the last state of each direction
        features = torch.cat([final[0], final[1]], dim=-1)
        return self.z_mean(features), self.z_log_var(features)

    def _decoder_state(self, z: torch.Tensor) -> torch.Tensor:
        layers, size = self.config.decoder_layers, self.config.decoder_dim
        return torch.tanh(self.initial_state(z)).view(-1, layers, size).transpose(0, 1).contiguous()

    def _token_log_probs(self, tokens: torch.Tensor, counted: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(row | z) for codes ``z`` of shape ``(..., batch, latent)``, teacher-forced, over counted tokens."""
        leading = z.shape[:-1]
        flat_z = z.reshape(-1, z.shape[-1])
        repeats = flat_z.shape[0] // tokens.shape[0]
        inputs = tokens[:, :-1].repeat(repeats, 1)
        steps = inputs.shape[1]
        features = torch.cat([self.embedding(inputs), flat_z[:, None, :].expand(-1, steps, -1)], dim=-1)
        outputs, _ = self.decoder(features, self._decoder_state(flat_z))
        logits = self.head(outputs)
        targets = tokens[:, 1:].repeat(repeats, 1)
        log_probs = -F.cross_entropy(logits.transpose(1, 2).float(), targets, reduction="none")
        return (log_probs * counted.repeat(repeats, 1)).sum(dim=1).view(leading)

    def decode(
        self, z: torch.Tensor, temperature: float = 0.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Rows for codes ``(batch, latent_dim)``: greedy at temperature 0, else sampled; a row that never ends
        has no closing break (decode it with :meth:`rows_to_strings`, which returns it as an empty string)."""
        window = self.config.data_shape[0]
        line_break = self.start_token()
        banned = list(self.tokenizer.never_generated) if self.tokenizer is not None else []
        z = z.to(self.device, torch.get_default_dtype())
        rows = torch.full((len(z), window), line_break, dtype=torch.long, device=self.device)
        ended = torch.zeros(len(z), dtype=torch.bool, device=self.device)
        state, previous = self._decoder_state(z), rows[:, 0]
        with self.evaluating(), torch.no_grad():
            for position in range(1, window):
                features = torch.cat([self.embedding(previous), z], dim=-1)[:, None, :]
                outputs, state = self.decoder(features, state)
                logits = self.head(outputs[:, 0])
                if banned:
                    logits[:, banned] = float("-inf")
                previous = choose_next_tokens(logits, temperature, generator=generator)
                previous = torch.where(ended, line_break, previous)
                rows[:, position] = previous
                ended |= previous == line_break
                if ended.all():
                    break
            # a row that never ended gets no closing break, whatever it drew last
            rows[~ended, -1] = (line_break + 1) % self.config.vocab_size
        return rows

    # --- likelihoods and bounds -------------------------------------------------------------
    @evaluation_result
    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """Evidence lower bound on log p(row) in nats, one reparameterised sample, ``(batch,)``."""
        tokens, counted = self._targets(x)
        z_mean, z_log_var = self._encode(tokens, counted)
        z = reparameterize(z_mean, z_log_var)
        return self._token_log_probs(tokens, counted, z) - gaussian_kl_per_dim(z_mean, z_log_var).sum(dim=-1)

    def log_prob(self, x: torch.Tensor, max_rows: int = 20000) -> torch.Tensor:
        """Importance-weighted estimate of log p(row) with ``config.importance_samples`` samples (eval mode)."""
        samples = self.config.importance_samples
        with self.evaluating(), torch.no_grad():
            tokens, counted = self._targets(x)
            z_mean, z_log_var = self._encode(tokens, counted)
            chunk = max(1, max_rows // len(tokens))
            log_weights = []
            for start in range(0, samples, chunk):
                z, latent_log_weights = posterior_samples(z_mean, z_log_var, min(chunk, samples - start))
                log_weights.append(self._token_log_probs(tokens, counted, z) + latent_log_weights)
            return importance_weighted_bound(torch.cat(log_weights))

    @evaluation_result
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood estimate per counted token: sequences of different lengths stay comparable."""
        _, counted = self._targets(x)
        return -self.log_prob(x) / counted.sum(dim=1)

    def kl_weight(self) -> float:
        """The KL weight now: ``beta``, ramped up linearly over ``kl_warmup_steps`` training steps."""
        return kl_warmup_weight(self.config.beta, int(self.training_steps), self.config.kl_warmup_steps)

    # --- interface --------------------------------------------------------------------------
    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        """Per sequence: reconstruction NLL plus the weighted KL; ``negative_elbo`` is the unweighted bound."""
        if self.training and torch.is_grad_enabled():
            self.training_steps += 1
        tokens, counted = self._targets(batch["x"])
        z_mean, z_log_var = self._encode(tokens, counted)
        z = reparameterize(z_mean, z_log_var)
        reconstruction = -self._token_log_probs(tokens, counted, z).mean()
        kl = gaussian_kl_per_dim(z_mean, z_log_var).sum(dim=-1).mean()
        return {
            "loss": reconstruction + self.kl_weight() * kl,
            "negative_elbo": reconstruction + kl,
            "reconstruction": reconstruction,
            "kl": kl,
        }

    def _sample(self, n: int, generator: torch.Generator | None, temperature: float = 1.0) -> torch.Tensor:
        """Sequences decoded from prior codes; ``temperature`` 0 decodes greedily."""
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=self.device)
        return self.decode(z, temperature, generator)

    # --- strings ----------------------------------------------------------------------------
    def strings_to_rows(self, strings: Sequence[str]) -> torch.Tensor:
        """Rows for the model from text, one sequence each; refuses a sequence longer than the window."""
        if self.tokenizer is None:
            raise RuntimeError("the model has no tokenizer: train it on a line corpus first")
        window, line_break = self.config.data_shape[0], self.start_token()
        rows = np.full((len(strings), window), line_break, dtype=np.int64)
        for index, text in enumerate(strings):
            ids = self.tokenizer.encode(text)
            if "\n" in text or len(ids) > window - 2:
                raise ConfigError(f"{text!r} is not one line of at most {window - 2} tokens")
            rows[index, 1 : len(ids) + 1] = ids
        return torch.from_numpy(rows)

    def rows_to_strings(self, rows: torch.Tensor) -> list[str]:
        """The sequence of each row; a row without its closing break comes back empty."""
        line_break = self.start_token()
        strings = []
        for row in rows.cpu().numpy():
            stops = np.flatnonzero(row[1:] == line_break)
            strings.append(self.tokenizer.decode(row[1 : stops[0] + 1]) if len(stops) else "")
        return strings

    def encode_strings(self, strings: Sequence[str]) -> torch.Tensor:
        """Posterior means of the given sequences, ``(len(strings), latent_dim)``."""
        with self.evaluating(), torch.no_grad():
            return self.encode(self.strings_to_rows(strings))[0]

    def decode_strings(
        self, z: torch.Tensor, temperature: float = 0.0, generator: torch.Generator | None = None
    ) -> list[str]:
        return self.rows_to_strings(self.decode(z, temperature, generator))
