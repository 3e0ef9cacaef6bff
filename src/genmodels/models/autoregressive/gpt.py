"""A GPT-style decoder-only Transformer (Radford et al., 2018/2019) with a key/value cache for sampling.

Pre-norm blocks, causal self-attention through ``scaled_dot_product_attention`` (fused kernels
where the hardware has them), learned or rotary positions (Su et al., 2021), tied input and
output embeddings (Press & Wolf, 2017), dropout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from genmodels.errors import ConfigError
from genmodels.io.validation import PositiveFloat, PositiveInt, UnitInterval
from genmodels.models.autoregressive.sequence import SequenceConfig, SequenceModel
from genmodels.models.registry import register_model

POSITIONS = ("learned", "rotary")


@dataclass
class GPTConfig(SequenceConfig):
    num_layers: PositiveInt = 4
    num_heads: PositiveInt = 4
    embedding_dim: PositiveInt = 128
    dropout: UnitInterval = 0.0
    positions: str = "learned"
    """``"learned"`` absolute position embeddings, or ``"rotary"`` (RoPE) applied to queries and keys."""
    tie_weights: bool = True
    """Share the token embedding with the output layer."""
    bias: bool = False
    rotary_base: PositiveFloat = 10000.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.embedding_dim % self.num_heads:
            raise ConfigError(f"embedding_dim {self.embedding_dim} must be divisible by num_heads {self.num_heads}")
        if self.positions not in POSITIONS:
            raise ConfigError(f"positions must be one of {', '.join(POSITIONS)}, got {self.positions!r}")
        if self.positions == "rotary" and (self.embedding_dim // self.num_heads) % 2:
            raise ConfigError("rotary positions need an even head dimension")


class LayerCache:
    """One layer's keys and values so far, in buffers sized for the context: ``(batch, heads, length, head_dim)``."""

    def __init__(self, like: torch.Tensor, capacity: int) -> None:
        batch, heads, _, head_dim = like.shape
        self.keys = like.new_empty(batch, heads, capacity, head_dim)
        self.values = like.new_empty(batch, heads, capacity, head_dim)
        self.length = 0

    def extend(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        end = self.length + keys.shape[2]
        if end > self.keys.shape[2]:
            raise ConfigError(f"the key/value cache holds {self.keys.shape[2]} positions; {end} were asked for")
        self.keys[:, :, self.length : end] = keys
        self.values[:, :, self.length : end] = values
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]


class RotaryPositions(nn.Module):
    """Rotate pairs of query/key features (i, i + head_dim / 2) by angles proportional to the position.

    The half-split pairing of GPT-NeoX: two multiplies and a concatenation per tensor.
    """

    def __init__(self, head_dim: int, max_positions: int, base: float) -> None:
        super().__init__()
        frequencies = base ** (-torch.arange(0, head_dim, 2).float() / head_dim)
        angles = torch.outer(torch.arange(max_positions).float(), frequencies).repeat(1, 2)  # (positions, head_dim)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, start: int) -> torch.Tensor:
        cos = self.cos[start : start + x.shape[2]].to(x.dtype)
        sin = self.sin[start : start + x.shape[2]].to(x.dtype)
        first, second = x.chunk(2, dim=-1)
        return x * cos + torch.cat([-second, first], dim=-1) * sin


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig, rotary: RotaryPositions | None) -> None:
        super().__init__()
        self.num_heads, self.dropout = config.num_heads, config.dropout
        self.qkv = nn.Linear(config.embedding_dim, 3 * config.embedding_dim, bias=config.bias)
        self.out = nn.Linear(config.embedding_dim, config.embedding_dim, bias=config.bias)
        self.out_dropout = nn.Dropout(config.dropout)
        self.rotary = rotary

    def forward(self, x: torch.Tensor, start: int = 0, cache: LayerCache | None = None) -> torch.Tensor:
        batch, length, width = x.shape
        # (batch, heads, length, head_dim) each
        queries, keys, values = (
            part.view(batch, length, self.num_heads, -1).transpose(1, 2) for part in self.qkv(x).split(width, dim=2)
        )
        if self.rotary is not None:
            queries, keys = self.rotary(queries, start), self.rotary(keys, start)
        if cache is not None:
            keys, values = cache.extend(keys, values)
        # a whole sequence from its start is causal; one new query sees every cached key
        causal = keys.shape[2] == length
        if not causal and length != 1:
            raise ConfigError("extend a cached context one token at a time")
        attended = F.scaled_dot_product_attention(
            queries, keys, values, dropout_p=self.dropout if self.training else 0.0, is_causal=causal and length > 1
        )
        return self.out_dropout(self.out(attended.transpose(1, 2).reshape(batch, length, width)))


class Block(nn.Module):
    """Pre-norm Transformer block: x + attention(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, config: GPTConfig, rotary: RotaryPositions | None) -> None:
        super().__init__()
        width = config.embedding_dim
        self.attention_norm = nn.LayerNorm(width, bias=config.bias)
        self.attention = CausalSelfAttention(config, rotary)
        self.mlp_norm = nn.LayerNorm(width, bias=config.bias)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width, bias=config.bias),
            nn.GELU(),
            nn.Linear(4 * width, width, bias=config.bias),
            nn.Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor, start: int = 0, cache: LayerCache | None = None) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x), start, cache)
        return x + self.mlp(self.mlp_norm(x))


@register_model("gpt")
class GPT(SequenceModel):
    """Decoder-only Transformer language model with a key/value cache; exact log p(tokens)."""

    config_class = GPTConfig
    part_aliases = {
        "embeddings": ("token_embedding", "position_embedding"),
        "attention": ("blocks.*.attention",),
    }
    block_stack = "blocks"
    lora_targets = ("blocks.*.attention.*", "blocks.*.mlp.*")
    recommended_training = {
        "optimizer": "adamw",
        "learning_rate": 1e-3,
        "betas": (0.9, 0.99),
        "weight_decay": 0.1,
        "batch_size": 64,
        "max_steps": 5000,
        "lr_schedule": "cosine",
        "warmup_steps": 100,
        "gradient_clip_norm": 1.0,
        "val_every": 250,
    }
    recommended_data = {"context_length": 256}

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        width = config.embedding_dim
        self.context_limit = config.context_length
        self.token_embedding = nn.Embedding(config.vocab_size, width)
        self.position_embedding = nn.Embedding(config.context_length, width) if config.positions == "learned" else None
        rotary = (
            RotaryPositions(width // config.num_heads, config.context_length, config.rotary_base)
            if config.positions == "rotary"
            else None
        )
        self.embedding_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config, rotary) for _ in range(config.num_layers))
        self.final_norm = nn.LayerNorm(width, bias=config.bias)
        self.head = nn.Linear(width, config.vocab_size, bias=False)
        if config.tie_weights:
            self.head.weight = self.token_embedding.weight
        self.apply(self._init_weights)
        for block in self.blocks:  # GPT-2: scale residual projections by depth
            for projection in (block.attention.out, block.mlp[2]):
                nn.init.normal_(projection.weight, std=0.02 / math.sqrt(2 * config.num_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _forward(self, tokens: torch.Tensor, start: int = 0, caches: list[LayerCache] | None = None) -> torch.Tensor:
        length = tokens.shape[1]
        if start + length > self.context_limit:
            raise ConfigError(f"{start + length} positions exceed the context length {self.context_limit}")
        x = self.token_embedding(tokens)  # (batch, length, width)
        if self.position_embedding is not None:
            x = x + self.position_embedding(torch.arange(start, start + length, device=tokens.device))
        x = self.embedding_dropout(x)
        for index, block in enumerate(self.blocks):
            x = block(x, start, caches[index] if caches is not None else None)
        return self.head(self.final_norm(x))

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        return self._forward(tokens)

    def start(self, tokens: torch.Tensor) -> tuple[torch.Tensor, list[LayerCache]]:
        config = self.config
        head_dim = config.embedding_dim // config.num_heads
        like = self.token_embedding.weight.new_empty(tokens.shape[0], config.num_heads, 0, head_dim)
        caches = [LayerCache(like, self.context_limit) for _ in self.blocks]
        return self._forward(tokens, 0, caches)[:, -1], caches

    def advance(self, tokens: torch.Tensor, state: list[LayerCache]) -> tuple[torch.Tensor, list[LayerCache]]:
        return self._forward(tokens[:, None], state[0].length, state)[:, -1], state
