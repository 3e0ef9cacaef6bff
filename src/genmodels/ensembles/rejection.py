"""Discriminator rejection sampling (Azadi et al., 2019): a GAN's samples kept as often as its discriminator says.

In an ensemble, members are picked as in the mixture; a GAN member's samples then pass this filter,
and other members' samples are kept as drawn. It assumes a discriminator trained with the logistic
(non-saturating) loss, whose logit estimates log p_data(x) / p_G(x); members trained with the hinge
or Wasserstein loss are refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from genmodels.errors import ConfigError

if TYPE_CHECKING:
    from genmodels.models.gan.base import BaseGAN

PROPOSAL_ROWS = 500
"""Samples drawn (at least) and scored at once."""


def rejection_sample(
    member: BaseGAN, n: int, generator: torch.Generator | None, burn_in: int, percentile: float, **controls: Any
) -> tuple[torch.Tensor, float]:
    """``n`` samples of ``member`` by Algorithm 1 of Azadi et al. (2019), and the acceptance rate.

    Accept x with probability sigmoid(F(x)), F(x) = D(x) - D_M - log(1 - exp(D(x) - D_M - eps)) - gamma,
    where D is the discriminator's logit, D_M the largest seen so far, and gamma the shift that puts
    the ``percentile`` quantile of F on ``burn_in`` samples at acceptance probability 1/2.
    """
    if member.config.loss != "nonsaturating":
        raise ConfigError(
            f"rejection sampling needs a discriminator trained with the nonsaturating loss; this member "
            f"used {member.config.loss!r}, whose critic does not estimate a density ratio"
        )

    def logits(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([member.discriminate(chunk * 2.0 - 1.0) for chunk in images.split(PROPOSAL_ROWS)]).double()

    burn_in_logits = logits(member.sample(burn_in, generator=generator, **controls))
    largest = float(burn_in_logits.max())
    gamma = float(torch.quantile(unshifted_f(burn_in_logits, largest), percentile))
    kept, proposed, accepted = [], 0, 0  # the rate counts every accepted proposal, also those beyond n
    while accepted < n:
        batch = member.sample(max(n - accepted, PROPOSAL_ROWS), generator=generator, **controls)
        scores = logits(batch)
        largest = max(largest, float(scores.max()))
        probability = torch.sigmoid(unshifted_f(scores, largest) - gamma)
        uniform = torch.rand(len(batch), generator=generator, device=batch.device, dtype=torch.float64)
        keep = (uniform < probability).nonzero().flatten()
        kept.append(batch[keep])
        proposed, accepted = proposed + len(batch), accepted + len(keep)
    return torch.cat(kept)[:n], accepted / proposed


def unshifted_f(logits: torch.Tensor, largest: float, epsilon: float = 1e-6) -> torch.Tensor:
    """F(x) of discriminator rejection sampling before the shift gamma."""
    difference = logits - largest
    return difference - torch.log1p(-torch.exp(difference - epsilon))
