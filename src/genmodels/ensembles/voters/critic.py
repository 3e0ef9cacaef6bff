"""A critic that tells real data from an ensemble's pooled proposals: one voter that judges every member.

Trained with the logistic loss on real rows (label 1) against fresh samples of the members in
equal shares (label 0: the vote's own proposal pool), its logit estimates log p_data(x) / p_pool(x),
the density-ratio trick behind discriminator rejection sampling (Azadi et al., 2019). Unlike a
GAN member's discriminator it puts every member, VAEs and autoregressive models too, on one
scale, and it ranks low the proposals of regions the pool over-fills (a collapsed mode), where a
likelihood voter prefers whatever is simplest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genmodels.errors import ConfigError


class VoteCritic(nn.Module):
    """A two-hidden-layer MLP on flattened rows: real-versus-pool logits, shape ``(batch,)``."""

    def __init__(self, data_shape: tuple[int, ...], hidden: int = 256, dropout: float = 0.3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(data_shape), hidden),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float()).squeeze(-1)


def critic_votes(critic: VoteCritic, chunks: Sequence[torch.Tensor]) -> torch.Tensor:
    """The critic's real-versus-pool logit of every candidate, the candidates given in ``chunks``: higher looks real."""
    critic.eval()
    with torch.no_grad():
        return torch.cat([critic(chunk) for chunk in chunks])


def fit_vote_critic(
    critic: VoteCritic,
    real: torch.Tensor,
    real_validation: torch.Tensor,
    propose: Callable[[int], torch.Tensor],
    steps: int = 2000,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    check_every: int = 100,
    seed: int = 0,
) -> dict[str, float]:
    """Train ``critic`` from fresh weights on ``real`` against ``propose(n)`` samples; keep the best held-out weights.

    Every step draws a fresh batch of proposals, so only the real rows can be over-fitted; the held-out
    check (``real_validation`` against as many fresh proposals) decides which weights are kept.
    Returns the held-out logistic loss and accuracy of those weights.
    """
    if len(real) < batch_size or len(real_validation) == 0:
        raise ConfigError(f"the critic needs at least {batch_size} real rows and held-out real rows to check on")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    for layer in critic.modules():  # a fresh start from the seed: the same fit whatever ran before
        if isinstance(layer, nn.Linear):
            layer.reset_parameters()
    held_out_fake = propose(len(real_validation))
    optimizer = torch.optim.Adam(critic.parameters(), lr=learning_rate, betas=(0.5, 0.999), weight_decay=1e-4)
    best = {"loss": math.inf, "accuracy": math.nan, "step": 0}
    best_state = {name: value.clone() for name, value in critic.state_dict().items()}
    for step in range(1, steps + 1):
        critic.train()
        rows = real[torch.randint(len(real), (batch_size,), generator=generator)]
        logits = critic(torch.cat([rows, propose(batch_size)]))
        labels = torch.cat([torch.ones(batch_size), torch.zeros(batch_size)]).to(logits.device)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % check_every == 0 or step == steps:
            checked = _held_out(critic, real_validation, held_out_fake)
            if checked["loss"] < best["loss"]:
                best = {**checked, "step": step}
                best_state = {name: value.clone() for name, value in critic.state_dict().items()}
    critic.load_state_dict(best_state)
    critic.eval()
    return best


def _held_out(critic: VoteCritic, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    """Balanced logistic loss and accuracy on held-out real rows and proposals."""
    critic.eval()
    with torch.no_grad():
        real_logits = torch.cat([critic(chunk) for chunk in real.split(1000)])
        fake_logits = torch.cat([critic(chunk) for chunk in fake.split(1000)])
    loss = 0.5 * (
        F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    )
    accuracy = 0.5 * ((real_logits > 0).float().mean() + (fake_logits <= 0).float().mean())
    return {"loss": float(loss), "accuracy": float(accuracy)}
